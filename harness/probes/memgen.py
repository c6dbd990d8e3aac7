"""Generated memory probes: Hypothesis draws one access (address expression over shl / mul by
2^k / add, nested; static offset; width and kind, load or store; the instruction consuming a
loaded value; operands near 0, the end of memory, 2^31, 2^32 and whole GiB past the
memory; memory size), `render` makes a one-function module, and `judge` compares what an
engine did with harness.probes.memmodel's answer and with the canaries beside the guest
(a second Store and a host buffer holding secrets, see wasmtime_child.op_memprobe).

Words: `escaped` (a value where the model says trap, a value other than the one planted
there, a write outside the expected bytes, a canary secret read or a canary changed),
`out-of-bounds-access` (a bounds trap where the model says in bounds: the engine's access
left linear memory), `host-crashed`, `trapped`/`denied` (what the model says), and
`not-tested`/`inconclusive` with the reason.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from hypothesis import strategies as st

from harness.probes import memmodel as mm
from harness.runtimes.wasmtime_child import HOST_BUFFER, diffs, fill
from harness.runtimes.wasmtime_py import CONFIGS
from harness.toolchain import cache_root

PROBE_NAME = "mem-generated"  # the name records and advisories.yaml use
N_PARAMS = 3
OFFSETS = (0, 1, 4, 16, 0xFFF, 0x1000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)
PAGES = (1, 1, 2, 3, 16)

# The engine configurations of wasmtime-py rows (one list, kept with the engine).
ENGINE_CONFIGS = CONFIGS


# -- drawing ------------------------------------------------------------------------------------

def operands() -> st.SearchStrategy[int]:
    """u32 operands: near 0, the end of a page, 2^31, 2^32; indices whose shl/mul by 2..8
    wraps 2^32 back into memory (CVE-2023-26489's shape); and whole GiB (4..32) scaled down by
    2^k, which reach past the guard region where other mappings (a canary Store) live."""
    near = st.sampled_from((0, mm.PAGE - 4, mm.PAGE, 1 << 31, 1 << 32)).flatmap(
        lambda e: st.integers(max(0, e - 64), min(mm.M32, e + 64)))
    return st.one_of(near, _wrapping(), _gib_strides(), st.integers(0, mm.M32))


def _wrapping() -> st.SearchStrategy[int]:
    """Indices whose shl/mul by 2^k (k 1..3) wraps 2^32 back into the first pages."""
    return st.builds(lambda k, high, low: ((high << (32 - k)) | low) & mm.M32,
                     st.integers(1, 3), st.integers(1, 7), st.integers(0, 0x1000))


def _gib_strides() -> st.SearchStrategy[int]:
    """Whole GiB (4..32) scaled down by 2^k: unwrapped, they reach past the guard region."""
    return st.builds(lambda g, k, low: (((g << 30) >> k) + low) & mm.M32,
                     st.integers(4, 32), st.integers(1, 3), st.integers(0, 0x200))


def _address_exprs() -> st.SearchStrategy:
    leaf = st.one_of(st.builds(mm.Param, st.integers(0, N_PARAMS - 1)), st.builds(mm.Const, operands()))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(mm.Shl, inner, st.one_of(st.integers(1, 3), st.integers(0, 31))),
        st.builds(mm.Mul, inner, st.integers(1, 3)),
        st.builds(mm.Add, inner, inner)), max_leaves=3)


@st.composite
def accesses(draw) -> tuple[mm.Access, tuple[int, ...]]:
    """(access, i32 arguments): mostly the folding shapes (shl/mul of a parameter, optionally
    plus something), sometimes any nested expression."""
    shaped = st.builds(mm.Shl, st.builds(mm.Param, st.just(0)), st.integers(1, 3))
    expr = draw(st.one_of(shaped, st.builds(mm.Add, shaped, st.builds(mm.Param, st.just(1))), _address_exprs()))
    if draw(st.booleans()):
        op = draw(st.sampled_from(sorted(mm.STORES)))
        consumer = "id"
    else:
        op = draw(st.sampled_from(sorted(mm.LOADS)))
        consumer = draw(st.sampled_from(sorted(mm.CONSUMERS[mm.LOADS[op][1]])))
    offset = draw(st.one_of(st.sampled_from((0, 0, 4, 16)), st.sampled_from(OFFSETS), st.integers(0, mm.M32)))
    acc = mm.Access(op, expr, offset, draw(st.sampled_from(PAGES)), consumer, draw(st.integers(0, mm.M64)))
    first = draw(st.one_of(_wrapping(), _gib_strides(), operands()))  # the shifted parameter: the folding inputs first
    args = (first, *(draw(operands()) for _ in range(N_PARAMS - 1)))
    return acc, args


# The named case, always run first: i32.load (i32.shl x 3) with x*8 wrapping to 0x1000.
CVE_2023_26489 = (mm.Access("i32.load", mm.Shl(mm.Param(0), 3), 0, 1), (0x20000200, 0, 0))


# -- rendering ----------------------------------------------------------------------------------

def _wat_expr(e) -> str:
    if isinstance(e, mm.Param):
        return f"(local.get $p{e.index})"
    if isinstance(e, mm.Const):
        return f"(i32.const {e.value & mm.M32})"
    if isinstance(e, mm.Shl):
        return f"(i32.shl {_wat_expr(e.expr)} (i32.const {e.k}))"
    if isinstance(e, mm.Mul):
        return f"(i32.mul {_wat_expr(e.expr)} (i32.const {1 << e.k}))"
    return f"(i32.add {_wat_expr(e.left)} {_wat_expr(e.right)})"


_CONSUME = {  # value type -> consumer -> WAT for the two i64 results (X: the loaded value)
    "i32": {"id": "X", "add": "(i32.add X (i32.const 0x12345))", "xor": "(i32.xor X (i32.const 0x5A5A5A5A))",
            "popcnt": "(i32.popcnt X)", "clz": "(i32.clz X)", "rotl": "(i32.rotl X (i32.const 7))", "eqz": "(i32.eqz X)"},
    "i64": {"id": "X", "popcnt": "(i64.popcnt X)", "shr_u": "(i64.shr_u X (i64.const 17))",
            "wrap": "(i64.extend_i32_u (i32.wrap_i64 X))", "mul": "(i64.mul X (i64.const 0x9E3779B97F4A7C15))"},
    "f32": {"bits": "X", "abs": "(f32.abs X)", "neg": "(f32.neg X)"},
    "f64": {"bits": "X", "abs": "(f64.abs X)", "neg": "(f64.neg X)"},
}


def _consume(vtype: str, consumer: str, load: str) -> str:
    if vtype == "v128":
        t = "(local.get $t)"
        first = f"(local.set $t {load})" + (f" (local.set $t (v128.not {t}))" if consumer == "not" else "")
        pair = {"lanes": f"(i64x2.extract_lane 0 {t}) (i64x2.extract_lane 1 {t})",
                "not": f"(i64x2.extract_lane 0 {t}) (i64x2.extract_lane 1 {t})",
                "i8_lane5": f"(i64.extend_i32_u (i8x16.extract_lane_u 5 {t})) (i64.const 0)",
                "i32_lane2": f"(i64.extend_i32_u (i32x4.extract_lane 2 {t})) (i64.const 0)"}[consumer]
        return f"{first} {pair}"
    if vtype == "i32" and consumer == "f64.convert_i32_u":
        return f"(i64.reinterpret_f64 (f64.convert_i32_u {load})) (i64.const 0)"
    if vtype == "i32" and consumer == "f32.convert_i32_s":
        return f"(i64.extend_i32_u (i32.reinterpret_f32 (f32.convert_i32_s {load}))) (i64.const 0)"
    body = _CONSUME[vtype][consumer].replace("X", load)
    widen = {"i32": f"(i64.extend_i32_u {body})", "i64": body,
             "f32": f"(i64.extend_i32_u (i32.reinterpret_f32 {body}))", "f64": f"(i64.reinterpret_f64 {body})"}[vtype]
    return f"{widen} (i64.const 0)"


def access_wat(acc: mm.Access) -> str:
    """The access as one WAT instruction sequence (what a finding names as its input)."""
    addr = _wat_expr(acc.expr)
    if acc.is_store:
        value = {"v128.store": "(i64x2.splat (local.get $v))"}.get(
            acc.op, "(local.get $v)" if acc.op.startswith("i64") else "(i32.wrap_i64 (local.get $v))")
        return f"({acc.op} offset={acc.offset} {addr} {value}) (i64.const 0) (i64.const 0)"
    return _consume(mm.LOADS[acc.op][1], acc.consumer, f"({acc.op} offset={acc.offset} {addr})")


def probe_func(acc: mm.Access) -> str:
    """The probe function: the access, its two i64 results (a v128 local only where the access
    needs one, so an engine without SIMD still runs the scalar probes)."""
    params = " ".join(f"(param $p{i} i32)" for i in range(N_PARAMS))
    simd = " (local $t v128)" if "v128" in access_wat(acc) else ""
    return f'(func $probe (export "probe") {params} (param $v i64) (result i64 i64){simd}\n    {access_wat(acc)})'


def render(acc: mm.Access) -> str:
    return f'(module (memory (export "memory") {acc.pages})\n  {probe_func(acc)})\n'


def build(acc: mm.Access) -> str:
    """The module's path (assembled once, cached by content hash)."""
    import wasmtime

    text = render(acc)
    out = cache_root() / "memprobes" / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.wasm"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(wasmtime.wat2wasm(text))
        tmp.replace(out)
    return str(out)


def request(acc: mm.Access, args, nonce: bytes, secret: bytes, config: str, timeout_s: float = 10.0) -> dict:
    return {"op": "memprobe", "module": build(acc), "args": [*args, acc.value], "nonce": nonce.hex(),
            "secret": secret.hex(), "config": {"name": config, "knobs": ENGINE_CONFIGS[config]}, "timeout_s": timeout_s}


def describe(acc: mm.Access, args) -> str:
    return f"{access_wat(acc)} with args {', '.join(hex(a) for a in args)}, value {acc.value:#x}, memory {acc.pages} page(s)"


# -- judging ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    outcome: str
    finding: int  # 1 = counts against SAFETY-2
    reason: str


def _canary_source(raw: bytes, secret: bytes, memory_size: int) -> str | None:
    """Which canary's secret holds these bytes (8+ bytes only: shorter ones match by chance)."""
    if len(raw) < 8:
        return None
    if raw in fill(secret + b"store", memory_size):
        return "the canary Store's secret memory"
    if raw in fill(secret + b"host", HOST_BUFFER):
        return "the host buffer's secret"
    return None


def _raw_loaded(acc: mm.Access, results) -> bytes | None:
    if acc.is_store or acc.consumer not in mm.RAW_CONSUMERS:
        return None
    return (results[0] | (results[1] << 64)).to_bytes(16, "little")[:acc.width]


def _memory_is(reply: dict, expected_memory: bytes, expected_diffs: list) -> bool:
    """Whether memory after the access is what the spec says: the child host reports the
    changed bytes, a command-line engine a digest of all of memory (harness.probes.memcli)."""
    if "memory_digest" in reply:
        from harness.probes.memcli import digest

        return reply["memory_digest"] == digest(expected_memory)
    return (reply.get("diffs") or []) == expected_diffs


def _changes(reply: dict) -> str:
    return str(reply["diffs"][:3]) if reply.get("diffs") else f"memory (digest {reply.get('memory_digest', 0):#x})"


def judge(acc: mm.Access, args, reply: dict, nonce: bytes, secret: bytes) -> Verdict:
    ea = acc.effective_address(args)
    where = f"ea {ea:#x} ({acc.width} bytes) in a {acc.memory_size:#x}-byte memory"
    if reply.get("unsupported"):
        return Verdict("not-tested", 0, reply["unsupported"])
    if reply.get("died"):
        sig = reply.get("signal")
        return Verdict("host-crashed", 1, f"the engine process died ({f'signal {sig}' if sig else reply.get('exit_code')}) at {where}")
    if reply.get("timed_out"):
        return Verdict("inconclusive", 0, f"no answer within the deadline at {where}")
    if reply.get("error"):
        return Verdict("inconclusive", 0, f"could not run: {reply['error'][:200]}")
    if not reply.get("canary_store_intact", True) or not reply.get("host_buffer_intact", True):
        hit = "the canary Store's memory" if not reply.get("canary_store_intact", True) else "the host buffer"
        return Verdict("escaped", 1, f"{acc.op} at {where} changed {hit}")
    memory = fill(nonce, acc.memory_size)
    want = mm.expect(acc, args, memory)
    trap, results = reply.get("trap"), reply.get("results")
    if want.trap:
        if trap:
            return Verdict("trapped", 0, f"trap {trap}, as the spec says ({where})")
        raw = _raw_loaded(acc, results or [0, 0])
        source = _canary_source(raw, secret, acc.memory_size) if raw else None
        what = f"returned {results}" + (f", bytes of {source}" if source else "") if not acc.is_store else "wrote and returned"
        return Verdict("escaped", 1, f"{acc.op} {what} where the spec says trap: {where} is past the end")
    if trap:
        if "bounds" in trap:
            return Verdict("out-of-bounds-access", 1, f"trap {trap} where the spec says in bounds: {where} "
                                                      f"(wrapped address {mm.address(acc.expr, args):#x}); the access left linear memory")
        return Verdict("inconclusive", 0, f"unexpected trap {trap} at {where}")
    if acc.is_store:
        after = bytearray(memory)
        at, data = want.write
        after[at:at + len(data)] = data
        expected = diffs(memory, bytes(after))
        if not _memory_is(reply, bytes(after), expected):
            return Verdict("escaped", 1, f"{acc.op} at {where} changed {_changes(reply)}, not {expected[:3]}: it wrote elsewhere")
        return Verdict("denied", 0, "stored where the spec says")
    if tuple(results or ()) != want.results:
        raw = _raw_loaded(acc, results)
        source = _canary_source(raw, secret, acc.memory_size) if raw else None
        return Verdict("escaped", 1, f"{acc.op}/{acc.consumer} at {where} returned {[hex(r) for r in results]}, not "
                                     f"{[hex(r) for r in want.results]}" + (f": bytes of {source}" if source else ": it read elsewhere"))
    if not _memory_is(reply, memory, []):
        return Verdict("escaped", 1, f"a load at {where} changed memory: {_changes(reply)}")
    return Verdict("denied", 0, "returned what the spec says")


def memory_host(rt):
    """(the row that serves memprobe requests, None) or (None, why this runtime has none)."""
    if callable(getattr(rt, "request", None)):
        return rt, None
    if callable(getattr(rt, "child", None)):
        return rt.child(), None
    return None, (f"{rt.name}: generated memory probes need an engine host that places a second Store and a host "
                  "buffer beside the guest (wasmtime-py rows have one; this runtime is driven through its CLI)")
