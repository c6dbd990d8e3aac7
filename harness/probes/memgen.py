"""Generated memory probes: Hypothesis draws one memory instruction from the whole memory
instruction set (every load and store width and kind, alignment immediates 1..natural, SIMD
extending / splat / zero / lane loads and lane stores, memory.fill / copy / init with
data.drop), its address expression (shl / mul by 2^k / rotl / add / sub / and / or, nested),
static offset, a memory.grow before it, the memory's size (1 .. hundreds of pages), the
instruction consuming a loaded value (every unary and binary numeric op of its type with a
constant or run-time operand on either side, comparisons, conversions, reinterpret, splat,
select) and operands near 0, the end of memory, 2^31, 2^32 and whole GiB past the memory.
`render` makes a one-function module, and `judge` compares what an engine did with
harness.probes.memmodel's answer and with the canaries beside the guest (a second Store, a
host buffer holding secrets and, under a pooling allocator, the slot's previous tenant; see
wasmtime_child.op_memprobe). `coverage` names what each example exercised, so a record
says what a "held" rests on.

Words: `escaped` (a value where the model says trap, a value other than the one planted
there, a write outside the expected bytes, a canary secret read or a canary changed, a
previous tenant's bytes seen), `out-of-bounds-access` (a bounds trap where the model says in
bounds: the engine's access left linear memory), `host-crashed`, `trapped`/`denied` (what
the model says), and `not-tested`/`inconclusive` with the reason.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from harness.probes import calls, findings, guests
from harness.probes import memmodel as mm
from harness.runtimes.wasmtime_child import HOST_BUFFER, TENANT_GROW_PAGES, diffs, fill
from harness.runtimes.wasmtime_py import CONFIGS, with_features

PROBE_NAME = "mem-generated"  # the name records and advisories.yaml use
N_PARAMS = 3
OFFSETS = (0, 1, 4, 16, 0xFFF, 0x1000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)
PAGES = (1, 1, 1, 1, 1, 2, 2, 3, 16, 16, 64, 200)  # a 200-page probe costs ~20 1-page ones
GROWS = (0, 0, 0, 1, 2, 17)

# The engine configurations of wasmtime-py rows (one list, kept with the engine).
ENGINE_CONFIGS = CONFIGS

# Edge operands per type, as bits: zeros, ones, extremes, shift counts past the width, and for
# floats signed zeros, infinities, quiet and signalling NaNs with payloads, subnormals, and
# values at the integer conversions' limits.
_INT_EDGES = {32: (0, 1, 2, 7, 31, 32, 33, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE),
              64: (0, 1, 2, 31, 63, 64, 65, 0xFF, 0x7FFFFFFFFFFFFFFF, 1 << 63, mm.M64, 0xFFFFFFFF, 1 << 32)}
_FLOAT_EDGES = {32: (0, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00001,
                     0x00000001, 0x7F7FFFFF, 0x3F000000, 0x4F000000, 0xCF000000, 0x5F800000, 0x3FC00000),
                64: (0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x7FF0000000000000, 0xFFF0000000000000,
                     0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000001, 1, 0x7FEFFFFFFFFFFFFF,
                     0x3FE0000000000000, 0x41E0000000000000, 0xC1E0000000000000, 0x43F0000000000000, 0x3FF8000000000000)}


# -- drawing ------------------------------------------------------------------------------------

@functools.cache
def operands() -> st.SearchStrategy[int]:
    """u32 operands: near 0, the end of a page, 2^31, 2^32; indices whose shl/mul by 2..8
    wraps 2^32 back into memory (CVE-2023-26489's shape); and whole GiB (4..32) scaled down by
    2^k, which reach past the guard region where other mappings (a canary Store) live."""
    near = st.sampled_from((0, mm.PAGE - 4, mm.PAGE, 1 << 31, 1 << 32)).flatmap(
        lambda e: st.integers(max(0, e - 64), min(mm.M32, e + 64)))
    return st.one_of(near, _wrapping(), _gib_strides(), st.integers(0, mm.M32))


@functools.cache
def _wrapping() -> st.SearchStrategy[int]:
    """Indices whose shl/mul by 2^k (k 1..3) wraps 2^32 back into the first pages."""
    return st.builds(lambda k, high, low: ((high << (32 - k)) | low) & mm.M32,
                     st.integers(1, 3), st.integers(1, 7), st.integers(0, 0x1000))


@functools.cache
def _gib_strides() -> st.SearchStrategy[int]:
    """Whole GiB (4..32) scaled down by 2^k: unwrapped, they reach past the guard region."""
    return st.builds(lambda g, k, low: (((g << 30) >> k) + low) & mm.M32,
                     st.integers(4, 32), st.integers(1, 3), st.integers(0, 0x200))


@functools.cache
def _address_exprs() -> st.SearchStrategy:
    leaf = st.one_of(st.builds(mm.Param, st.integers(0, N_PARAMS - 1)), st.builds(mm.Const, operands()))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(mm.Shl, inner, st.one_of(st.integers(1, 3), st.integers(0, 31))),
        st.builds(mm.Mul, inner, st.integers(1, 3)),
        st.builds(mm.Rotl, inner, st.integers(0, 31)),
        st.builds(mm.Add, inner, inner), st.builds(mm.Sub, inner, inner),
        st.builds(mm.And, inner, inner), st.builds(mm.Or, inner, inner)), max_leaves=3)


@functools.cache
def _edge_operand(t: str) -> st.SearchStrategy:
    bits = mm.TYPE_BITS[t]
    if t == "v128":
        return st.tuples(st.just("const"), st.one_of(st.integers(0, mm.M128), st.sampled_from((0, mm.M128, mm.splat(0x80, 1)))))
    edges = _FLOAT_EDGES[bits] if t.startswith("f") else _INT_EDGES[bits]
    return st.one_of(st.tuples(st.just("const"), st.one_of(st.sampled_from(edges), st.integers(0, (1 << bits) - 1))),
                     st.just(("param",)))


@functools.cache
def _param_value(t: str | None) -> st.SearchStrategy[int]:
    """The i64 parameter $v: a store's value, a run-time operand, a lane vector's halves."""
    if t in ("f32", "f64"):
        return st.one_of(st.sampled_from(_FLOAT_EDGES[mm.TYPE_BITS[t]]), st.integers(0, mm.M64))
    return st.one_of(st.sampled_from(_INT_EDGES[64]), st.integers(0, mm.M64))


_LOADS_BY_TYPE = {t: sorted(op for op, (_, vt, _) in mm.LOADS.items() if vt == t) for t in ("i32", "i64", "f32", "f64")}
_LOADS_BY_TYPE["v128"] = sorted(mm.SIMD_LOADS) + ["v128.load"]
# Float and SIMD loads twice as often: their x86-64 lowering goes through XMM instructions whose
# memory operands can be 16 bytes wide (a load folded into one may read more than its width).
_KINDS = ("i32", "i64", "f32", "f32", "f64", "f64", "v128", "v128", "store", "bulk", "atomic")
# strategies built once (building them inside every draw costs more than the probe)
_S = {"kind": st.sampled_from(_KINDS), "pages": st.sampled_from(PAGES), "grow": st.sampled_from(GROWS),
      "bulk": st.sampled_from(mm.BULK), "store": st.sampled_from(sorted(mm.STORES)),
      "atomic": st.sampled_from(sorted(mm.ATOMICS)), "cas": st.sampled_from(("cas-hit", "cas-miss")),
      # a first memory before the probed one (multi-memory): smaller, larger or equal (0: none)
      "decoy": st.sampled_from((0, 0, 0, 0, 0, 0, 1, 2, 16, 200)),
      # memory64: the i64 address's high bits (None: an i32 memory), and u64 offsets past 2^32 and near 2^64
      "addr64": st.sampled_from((None, None, None, None, None, None, 0, 0, 1, 0xFFFFFFFF)),
      "offset64": st.one_of(st.sampled_from(OFFSETS), st.sampled_from((1 << 32, (1 << 32) + 8, 1 << 48, 1 << 63, mm.M64 - 15, mm.M64)),
                            st.integers(0, mm.M64)),
      "length": st.one_of(st.sampled_from((0, 1, 7, 8, 16, 33)), st.integers(0, 0x200), st.sampled_from((mm.PAGE, 1 << 31, mm.M32))),
      "init_source": st.one_of(st.integers(0, len(mm.DATA)), st.sampled_from((len(mm.DATA) + 1, mm.M32))),
      "reinit": st.sampled_from(("id", "reinit")), "sink": st.sampled_from(("return", "store")),
      "end_expr": st.sampled_from((mm.Param(0), mm.Add(mm.Param(0), mm.Param(1)), mm.Sub(mm.Param(0), mm.Param(1)))),
      "end_offset": st.sampled_from((0, 0, 1, 8, 16, 0x1000)),
      "slack": st.one_of(st.integers(-16, 0), st.integers(-16, 0), st.integers(-16, 0), st.integers(1, 16)),
      "other": st.integers(0, 0x100),
      "offset": st.one_of(st.sampled_from((0, 0, 4, 16)), st.sampled_from(OFFSETS), st.integers(0, mm.M32))}
_S.update({f"op:{t}": st.sampled_from(ops) for t, ops in _LOADS_BY_TYPE.items()})
_S.update({f"consumer:{t}": st.sampled_from(sorted(mm.CONSUMERS[t])) for t in mm.CONSUMERS})
_S.update({f"align:{n}": st.one_of(st.none(), st.integers(0, n)) for n in range(5)})
_S.update({f"lane:{w}": st.integers(0, 16 // w - 1) for w in (1, 2, 4, 8)})


@functools.cache
def _copy_sources() -> st.SearchStrategy:
    return st.one_of(st.builds(mm.Param, st.just(1)), st.builds(mm.Const, operands()))


@functools.cache
def _folding_exprs() -> st.SearchStrategy:
    shaped = st.builds(mm.Shl, st.builds(mm.Param, st.just(0)), st.integers(1, 3))
    return st.one_of(shaped, st.builds(mm.Add, shaped, st.builds(mm.Param, st.just(1))), _address_exprs())


@functools.cache
def _first_operands() -> st.SearchStrategy:
    return st.one_of(_wrapping(), _gib_strides(), operands())


@st.composite
def accesses(draw, atomics: bool = True, multi_memory: bool = True, memory64: bool = True,
             simd: bool = True) -> tuple[mm.Access, tuple[int, ...]]:
    """(access, i32 arguments). The instruction's kind first (each value type's loads, stores,
    bulk memory; see _KINDS: the many integer opcodes do not crowd out the few float ones),
    then its opcode, consumer and operands; the address is, half the time, steered to
    within 16 bytes of the end of memory, mostly still in bounds (where an access that reads
    more than its width shows), else the folding shapes (shl/mul of a parameter, optionally plus something) or
    any nested expression."""
    skip = ("atomic",) * (not atomics) + ("v128",) * (not simd)
    kind = draw(_S["kind"].filter(lambda k: k not in skip) if skip else _S["kind"])
    pages, grow = draw(_S["pages"]), draw(_S["grow"])
    fields: dict = {}
    if kind == "atomic":  # natural alignment only (validation); misaligned addresses come from the operands
        op = draw(_S["atomic"])
        t = mm.ATOMICS[op][1]
        value = draw(_param_value(t))
        if mm.ATOMICS[op][2] == "cmpxchg":
            fields.update(consumer=draw(_S["cas"]), operand=("const", draw(_edge_operand(t).filter(lambda o: o[0] == "const"))[1]))
    elif kind == "bulk":
        op = draw(_S["bulk"])
        fields["length"] = draw(_S["length"])
        if op == "memory.copy":
            fields["source"] = draw(_copy_sources())
        elif op == "memory.init":
            fields["source"] = draw(_S["init_source"])
            fields["consumer"] = draw(_S["reinit"])
        value = draw(_param_value(None))
    elif kind == "store":
        op = draw(_S["store"] if simd else _S["store"].filter(lambda o: not o.startswith("v128")))
        value = draw(_param_value(mm.STORES[op][1]))
    else:
        op = draw(_S[f"op:{kind}"])
        consumer = draw(_S[f"consumer:{kind}"] if simd else
                        _S[f"consumer:{kind}"].filter(lambda c: mm.CONSUMERS[kind][c].result != "v128"))
        fields.update(consumer=consumer)
        if mm.CONSUMERS[kind][consumer].arity == 2:
            fields.update(operand=draw(_edge_operand(kind)), swap=draw(st.booleans()))
        fields["sink"] = draw(_S["sink"])
        value = draw(_param_value(kind))
    if op.endswith("_lane"):
        fields["lane"] = draw(_S[f"lane:{mm.width_of(op)}"])
    if op not in mm.BULK and op not in mm.ATOMICS:
        fields["align"] = draw(_S[f"align:{mm.width_of(op).bit_length() - 1}"])
    if multi_memory and kind != "atomic":
        fields["decoy"] = draw(_S["decoy"])
    if memory64 and kind not in ("atomic", "bulk") and not fields.get("decoy"):
        fields["addr64"] = draw(_S["addr64"])
    acc = mm.Access(op, mm.Const(0), 0, pages, value=value, grow=grow, **fields)
    if draw(st.booleans()):  # steered to the end of memory
        expr, offset = draw(_S["end_expr"]), draw(_S["end_offset"])
        slack, other = draw(_S["slack"]), draw(_S["other"])
        target = acc.memory_size - max(acc.width, 1) + slack - offset
        first = (target - other if isinstance(expr, mm.Add) else target + other if isinstance(expr, mm.Sub) else target) & mm.M32
        args = (first, other, draw(operands()))
    else:
        expr = draw(_folding_exprs())
        offset = draw(_S["offset64"] if fields.get("addr64") is not None else _S["offset"])
        first = draw(_first_operands())  # the shifted parameter: the folding inputs first
        args = (first, *(draw(operands()) for _ in range(N_PARAMS - 1)))
    if op in mm.BULK:
        offset = 0  # bulk instructions have no memarg
    return mm.Access(op, expr, offset, pages, value=value, grow=grow, **fields), args


# The named case, always run first: i32.load (i32.shl x 3) with x*8 wrapping to 0x1000.
CVE_2023_26489 = (mm.Access("i32.load", mm.Shl(mm.Param(0), 3), 0, 1), (0x20000200, 0, 0))
# Families a row may not run at all: family -> (an in-bounds access the model answers, what it
# is, the accesses() switch). Each row is asked once; a family it cannot run is not drawn there.
FEATURE_CHECKS = {
    "atomic": ((mm.Access("i32.atomic.rmw.add", mm.Param(0), 0, 1, value=5), (8, 0, 0)),
               "an in-bounds i32.atomic.rmw.add on a shared memory", "atomics"),
    "multi-memory": ((mm.Access("i64.load", mm.Param(0), 0, 1, decoy=2), (8, 0, 0)),
                     "an in-bounds i64.load from a second memory", "multi_memory"),
    "memory64": ((mm.Access("i64.load", mm.Param(0), 0, 1, addr64=0), (8, 0, 0)),
                 "an in-bounds i64.load from an i64-indexed memory", "memory64"),
    "simd": ((mm.Access("v128.load", mm.Param(0), 0, 1), (8, 0, 0)), "an in-bounds v128.load", "simd"),
}


def families_not_run(probe, nonce: bytes, secret: bytes) -> dict[str, str]:
    """family -> why this row does not run it (its answer to the family's check); `probe(acc, args)`."""
    out = {}
    for family, (case, what, _) in FEATURE_CHECKS.items():
        check = judge(*case, probe(*case), nonce, secret)
        if check.outcome != "denied":
            out[family] = f"{what}: {check.outcome}: {check.reason}"[:300]
    return out


def drawn(not_drawn: dict) -> dict[str, bool]:
    """accesses() switches for a row, from families_not_run."""
    return {switch: family not in not_drawn for family, (_, _, switch) in FEATURE_CHECKS.items()}


def could_draw(acc: mm.Access, switches: dict[str, bool]) -> bool:
    """Whether accesses(**switches) could have drawn this access (a saved finding replays only there)."""
    uses = {"atomics": acc.is_atomic, "multi_memory": bool(acc.decoy), "memory64": acc.addr64 is not None,
            "simd": "v128" in render(acc)}
    return all(switches.get(k, True) or not used for k, used in uses.items())


# Regression replays: a published advisory's exact shape, name -> (advisory, access, args).
# Run by the security suite as their own `replay-...` probes, never mixed into the generated
# probes' records (what the generator finds unaided is the evidence).
REPLAYS = {
    # wasmtime tests/misc_testsuite/f64-copysign.wast: the sunk f64.load read 16 bytes near the end
    "replay-ghsa-vc8c-j3xm-xj73-f64-copysign-load": (
        "GHSA-vc8c-j3xm-xj73",
        mm.Access("f64.load", mm.Const(32), 65491, 1, "f64.copysign", operand=("const", 0), align=0, sink="store"), (0, 0, 0)),
    # f64x2.splat of an f64.load in the last 8 bytes, stored: without SSE3 the splat's pshufd took the load as a 16-byte operand
    "replay-ghsa-qqfj-4vcm-26hv-f64x2-splat-load": (
        "GHSA-qqfj-4vcm-26hv", mm.Access("f64.load", mm.Param(0), 0, 1, "f64x2.splat", sink="store"), (mm.PAGE - 8, 0, 0)),
}


# -- reproducers ----------------------------------------------------------------------------------

FINDINGS_DIR = findings.FINDINGS_DIR
_EXPRS = {c.__name__: c for c in (mm.Param, mm.Const, mm.Shl, mm.Mul, mm.Rotl, mm.Add, mm.Sub, mm.And, mm.Or)}


def _expr_json(e):
    if e is None or isinstance(e, int):
        return e
    return [type(e).__name__, *(_expr_json(getattr(e, f.name)) for f in dataclasses.fields(e))]


def _expr_from(j):
    if j is None or isinstance(j, int):
        return j
    return _EXPRS[j[0]](*(_expr_from(x) for x in j[1:]))


def case_json(acc: mm.Access, args) -> dict:
    d = {f.name: getattr(acc, f.name) for f in dataclasses.fields(acc)}
    d.update(expr=_expr_json(acc.expr), source=_expr_json(acc.source), operand=list(acc.operand) if acc.operand else None)
    return {"access": d, "args": list(args)}


def case_from(j: dict) -> tuple[mm.Access, tuple]:
    d = dict(j["access"])
    d.update(expr=_expr_from(d["expr"]), source=_expr_from(d["source"]), operand=tuple(d["operand"]) if d["operand"] else None)
    return mm.Access(**d), tuple(j["args"])


def keep_finding(acc: mm.Access, args, runtime: str, config: str, verdict: "Verdict", root: Path = FINDINGS_DIR) -> Path:
    """reports/findings/memgen-<hash>/ (harness.probes.findings): probe.wat, case.json (the
    access and arguments, what the next run replays first), command.txt and result.json."""
    note = f"probe.wat takes (export \"probe\") args {', '.join(hex(a) for a in args)}, {acc.value:#x}"
    return findings.keep("memgen", case_json(acc, args), render(acc), runtime, config, verdict.outcome, verdict.reason,
                         describe(acc, args), findings.command("test_generated_memory", runtime, config, note), root)


def saved_findings(root: Path = FINDINGS_DIR) -> list[tuple[mm.Access, tuple]]:
    """The cases earlier runs kept (replayed first by the next run; unreadable ones skipped)."""
    return findings.saved("memgen", case_from, root)


def coverage(acc: mm.Access) -> list[str]:
    """What one example exercised: its family, opcode, consumer, alignment, address ops and
    whether memory grew (the record's `details.coverage` sums these)."""
    out = [f"family:{mm.family(acc.op)}", acc.op, *mm.address_ops(acc.expr)]
    if not acc.is_bulk:
        out.append(f"align={1 << (acc.align if acc.align is not None else acc.natural_align)}")
        if acc.align is not None and acc.align < acc.natural_align:
            out.append("align:under-natural")
    if acc.vtype is not None and acc.consumer != "id":
        c = mm.CONSUMERS[acc.vtype][acc.consumer]
        out.append(c.name)
        if c.arity == 2:
            out.append(f"operand:{'param' if acc.operand[0] == 'param' else 'const'}-{'left' if acc.swap else 'right'}")
    if acc.vtype is not None:
        out.append(f"sink:{acc.sink}")
    if acc.op == "memory.init":
        out.append("data.drop")
    if acc.is_atomic and acc.consumer != "id":
        out.append(acc.consumer)
    if acc.decoy:
        out.append("multi-memory")
    if acc.addr64 is not None:
        out.append("memory64" + ("" if acc.offset <= mm.M32 else ":offset>2^32"))
    if acc.grow:
        out.append("memory.grow")
    out.append(f"pages:{'1-3' if acc.pages <= 3 else '16' if acc.pages <= 16 else '100+'}")
    return out


def coverage_details(counts: Counter) -> dict:
    """{"families": {...}, "opcodes": {...}} from summed coverage tags, most frequent first."""
    fam = {k.removeprefix("family:"): n for k, n in counts.most_common() if k.startswith("family:")}
    ops = {k: n for k, n in counts.most_common() if not k.startswith("family:")}
    return {"families": fam, "opcodes": ops}


# -- rendering ----------------------------------------------------------------------------------

_ADDR_WAT = {mm.Add: "i32.add", mm.Sub: "i32.sub", mm.And: "i32.and", mm.Or: "i32.or"}


def _wat_expr(e) -> str:
    if isinstance(e, mm.Param):
        return f"(local.get $p{e.index})"
    if isinstance(e, mm.Const):
        return f"(i32.const {e.value & mm.M32})"
    if isinstance(e, mm.Shl):
        return f"(i32.shl {_wat_expr(e.expr)} (i32.const {e.k}))"
    if isinstance(e, mm.Mul):
        return f"(i32.mul {_wat_expr(e.expr)} (i32.const {1 << e.k}))"
    if isinstance(e, mm.Rotl):
        return f"(i32.rotl {_wat_expr(e.expr)} (i32.const {e.k}))"
    return f"({_ADDR_WAT[type(e)]} {_wat_expr(e.left)} {_wat_expr(e.right)})"


_V = "(local.get $v)"
_FROM_V = {"i64": _V, "i32": f"(i32.wrap_i64 {_V})", "f64": f"(f64.reinterpret_i64 {_V})",
           "f32": f"(f32.reinterpret_i32 (i32.wrap_i64 {_V}))", "v128": f"(i64x2.splat {_V})"}


def _const(t: str, bits: int) -> str:
    if t == "v128":
        return f"(v128.const i64x2 {bits & mm.M64} {bits >> 64})"
    if t in ("f32", "f64"):
        it = "i32" if t == "f32" else "i64"
        return f"({t}.reinterpret_{it} ({it}.const {bits}))"
    return f"({t}.const {bits})"


def _widen(rtype: str, r: str) -> str:
    """A result as the probe's two i64 results."""
    if rtype == "v128":
        return f"(local.set $t {r}) (i64x2.extract_lane 0 (local.get $t)) (i64x2.extract_lane 1 (local.get $t))"
    return {"i32": f"(i64.extend_i32_u {r})", "i64": r, "f32": f"(i64.extend_i32_u (i32.reinterpret_f32 {r}))",
            "f64": f"(i64.reinterpret_f64 {r})"}[rtype] + " (i64.const 0)"


def _sink(rtype: str, r: str, m: str = "", it: str = "i32") -> str:
    """A result stored as its own type at address 0 (of the probed memory `m`, indexed by `it`)
    and read back as the two i64 results."""
    z, z8 = f"({it}.const 0)", f"({it}.const 8)"
    if rtype == "v128":
        return f"(v128.store{m} align=1 {z} {r}) (i64.load{m} {z}) (i64.load{m} {z8})"
    back = f"(i64.load{m} {z})" if mm.TYPE_BITS[rtype] == 64 else f"(i64.extend_i32_u (i32.load{m} {z}))"
    return f"({rtype}.store{m} align=1 {z} {r}) {back} (i64.const 0)"


def _mem(acc: mm.Access) -> str:
    """The probed memory's name where another memory comes before it (multi-memory), else ""."""
    return " $m" if acc.decoy else ""


def _memarg(acc: mm.Access) -> str:
    align = f" align={1 << acc.align}" if acc.align is not None else ""
    lane = f" {acc.lane}" if acc.op.endswith("_lane") else ""
    return f"{_mem(acc).strip()} offset={acc.offset}{align}{lane}".lstrip()


def access_wat(acc: mm.Access) -> str:
    """The access as one WAT instruction sequence (what a finding names as its input)."""
    m, it = _mem(acc), "i64" if acc.addr64 is not None else "i32"
    grow = f"(drop (memory.grow{m} ({it}.const {acc.grow}))) " if acc.grow else ""
    addr = _address(acc)
    zeros = "(i64.const 0) (i64.const 0)"
    if acc.op == "memory.fill":
        return f"{grow}(memory.fill{m} {addr} (i32.const {acc.value & 0xFF}) (i32.const {acc.length & mm.M32})) {zeros}"
    if acc.op == "memory.copy":
        return f"{grow}(memory.copy{m}{m} {addr} {_wat_expr(acc.source)} (i32.const {acc.length & mm.M32})) {zeros}"
    if acc.op == "memory.init":
        again = (acc.source, acc.length) if acc.consumer == "reinit" else (0, 0)
        return (f"{grow}(memory.init{m} $d {addr} (i32.const {acc.source & mm.M32}) (i32.const {acc.length & mm.M32})) (data.drop $d) "
                f"(memory.init{m} $d {addr} (i32.const {again[0] & mm.M32}) (i32.const {again[1] & mm.M32})) {zeros}")
    if acc.is_atomic:
        _, t, kind = mm.ATOMICS[acc.op]
        op = f"({acc.op} {_memarg(acc)} {addr}"
        if kind == "store":
            return f"{grow}{op} {_FROM_V[t]}) {zeros}"
        if kind == "cmpxchg":
            expected = f"({mm.atomic_load_of(acc.op)} {_memarg(acc)} {addr})" if acc.consumer == "cas-hit" else _FROM_V[t]
            return grow + _widen(t, f"{op} {expected} {_const(t, acc.operand[1] & ((1 << mm.TYPE_BITS[t]) - 1))})")
        return grow + _widen(t, op + ("" if kind == "load" else f" {_FROM_V[t]}") + ")")
    if acc.is_store:
        t = mm.STORES[acc.op][1]
        return f"{grow}({acc.op} {_memarg(acc)} {addr} {_FROM_V[t]}) {zeros}"
    vector = f" {_FROM_V['v128']}" if acc.op.endswith("_lane") else ""
    load = f"({acc.op} {_memarg(acc)} {addr}{vector})"
    c = mm.CONSUMERS[acc.vtype][acc.consumer]
    y = _FROM_V[acc.vtype] if acc.operand and acc.operand[0] == "param" else _const(acc.vtype, acc.operand_bits())
    x, y = (y, load) if acc.swap and c.arity == 2 else (load, y)
    body = c.wat.replace("C", "(local.get $p2)").replace("X", "\x00").replace("Y", y).replace("\x00", x)
    return grow + (_sink(c.result, body, m, it) if acc.sink == "store" else _widen(c.result, body))


def probe_func(acc: mm.Access) -> str:
    """The probe function: the access, its two i64 results (a v128 local only where the access
    needs one, so an engine without SIMD still runs the scalar probes)."""
    params = " ".join(f"(param $p{i} i32)" for i in range(N_PARAMS))
    simd = " (local $t v128)" if "$t" in access_wat(acc) else ""
    return f'(func $probe (export "probe") {params} (param $v i64) (result i64 i64){simd}\n    {access_wat(acc)})'


def data_segment(acc: mm.Access) -> str:
    """The passive data segment memory.init reads (only where the access uses one)."""
    if acc.op != "memory.init":
        return ""
    return '\n  (data $d "' + "".join(f"\\{b:02x}" for b in mm.DATA) + '")'


def features(acc: mm.Access) -> tuple[str, ...]:
    """The proposals an access needs turned on beyond a configuration (wasmtime_py.FEATURE_KNOBS)."""
    return ("threads",) * acc.is_atomic + ("memory64",) * (acc.addr64 is not None)


def memory_decl(acc: mm.Access) -> str:
    """The memory's limits: a shared memory (with the maximum it needs) for atomics, i64-indexed
    for memory64."""
    if acc.is_atomic:
        return f"{acc.pages} {acc.pages + acc.grow} shared"
    return f"i64 {acc.pages}" if acc.addr64 is not None else f"{acc.pages}"


def _address(acc: mm.Access) -> str:
    """The access's address operand: the i32 expression, or under memory64 that expression
    zero-extended with the high bits OR'ed in."""
    addr = _wat_expr(acc.expr)
    if acc.addr64 is None:
        return addr
    return f"(i64.or (i64.extend_i32_u {addr}) (i64.const {(acc.addr64 & mm.M32) << 32}))"


def render(acc: mm.Access) -> str:
    """The probe module; with a decoy, a memory of other size and zero contents comes first, so
    the probed memory (still exported as "memory") has index 1 (multi-memory)."""
    decoy = f"(memory $decoy {acc.decoy}) " if acc.decoy else ""
    name = "$m " if acc.decoy else ""
    return f'(module {decoy}(memory {name}(export "memory") {memory_decl(acc)})\n  {probe_func(acc)}{data_segment(acc)})\n'


def build(acc: mm.Access) -> str:
    """The module's path (assembled once, cached by content hash)."""
    return guests.assemble(render(acc), "memprobe")


def request(acc: mm.Access, args, nonce: bytes, secret: bytes, config: str, timeout_s: float = 10.0) -> dict:
    """A memprobe request; atomics run on a shared memory, which the engine must be told to allow."""
    knobs = with_features(ENGINE_CONFIGS[config], features(acc))
    return {"op": "memprobe", "module": build(acc), "args": [*args, acc.value], "nonce": nonce.hex(),
            "secret": secret.hex(), "config": {"name": config, "knobs": knobs}, "timeout_s": timeout_s}


def describe(acc: mm.Access, args) -> str:
    grown = f" grown by {acc.grow}" if acc.grow else ""
    return (f"{access_wat(acc)} with args {', '.join(hex(a) for a in args)}, value {acc.value:#x}, "
            f"memory {acc.pages} page(s){grown}")


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
    if raw in fill(secret + b"tenant", memory_size + TENANT_GROW_PAGES * mm.PAGE):
        return "the previous tenant's memory (pooling slot)"
    return None


def _raw_loaded(acc: mm.Access, results) -> bytes | None:
    if acc.op not in mm.LOADS or acc.consumer not in mm.RAW_CONSUMERS or not results:
        return None
    return (results[0] | (results[1] << 64)).to_bytes(16, "little")[:acc.width]


class _LazyAfter:
    """Linear memory after the access as the spec says (built only where a digest of all of
    it is needed: memories of hundreds of pages are not copied for every probe)."""

    def __init__(self, memory: bytes, grown: int, writes: list):
        self.memory, self.grown, self.writes = memory, grown, writes

    def bytes(self) -> bytes:
        after = bytearray(self.memory + bytes(self.grown))
        for at, data in self.writes:
            after[at:at + len(data)] = data
        return bytes(after)


def _diffs_of(memory: bytes, writes: list) -> list:
    """The changed ranges these writes make (diffs' format), computed over the written window only."""
    if not writes:
        return []
    lo, hi = min(at for at, _ in writes), max(at + len(d) for at, d in writes)
    window = bytearray(memory[lo:hi].ljust(hi - lo, b"\0"))  # grown pages are zeros
    before = bytes(window)
    for at, data in writes:
        window[at - lo:at - lo + len(data)] = data
    return [[a + lo, b + lo, h] for a, b, h in diffs(before, bytes(window))]


def _memory_is(reply: dict, expected: "_LazyAfter", expected_diffs: list) -> bool:
    """Whether memory after the access is what the spec says: the child host reports the
    changed bytes, a command-line engine a digest of all of memory (harness.probes.calls)."""
    if "memory_digest" in reply:
        return reply["memory_digest"] == calls.digest(expected.bytes())
    return (reply.get("diffs") or []) == expected_diffs


def _changes(reply: dict) -> str:
    return str(reply["diffs"][:3]) if reply.get("diffs") else f"memory (digest {reply.get('memory_digest', 0):#x})"


def _fresh_slot(acc: mm.Access, reply: dict) -> str | None:
    """Why a new instance did not start as the spec says (zeroed memory of its declared size),
    where the engine host checked (a pooling slot reused after a previous tenant)."""
    tenant = reply.get("tenant") or {}
    slot = " in a reused pooling slot" if tenant.get("slot_reused") else ""
    if reply.get("fresh_nonzero") is not None:
        return f"a new instance's memory{slot} held non-zero bytes at {reply['fresh_nonzero']:#x} before it ran: the previous tenant's data"
    if reply.get("fresh_size") not in (None, acc.initial_size):
        return f"a new instance's memory{slot} started at {reply['fresh_size']:#x} bytes, not its declared {acc.initial_size:#x}"
    if reply.get("tenant_bytes") is not None:
        return f"pages grown{slot} held the previous tenant's bytes at {reply['tenant_bytes']:#x}, not zeros"
    return None


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
    stale = _fresh_slot(acc, reply)
    if stale:
        return Verdict("escaped", 1, stale)
    memory = fill(nonce, acc.initial_size)
    want = mm.expect(acc, args, memory)
    trap, results = reply.get("trap"), reply.get("results")
    writes = []
    for at, data in want.writes:
        if data is None:  # a NaN result stored: whichever NaN the engine returned (checked below)
            width = mm.TYPE_BITS[mm.CONSUMERS[acc.vtype][acc.consumer].result] // 8
            data = ((results or [0])[0] & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        writes.append((at, data))
    expected_diffs = _diffs_of(memory, writes)
    after = _LazyAfter(memory, acc.grow * mm.PAGE, writes)
    if want.trap:
        if trap:
            if want.trap_kind == "arith" and "bounds" in trap:
                return Verdict("out-of-bounds-access", 1, f"trap {trap} where the spec says an arithmetic trap after an "
                                                          f"in-bounds load: {where}; the access left linear memory")
            seen = "diffs" in reply or "memory_digest" in reply  # a CLI row's memory ends with its trap: unseen
            if want.writes and seen and not _memory_is(reply, after, expected_diffs):
                return Verdict("escaped", 1, f"{acc.op} at {where} trapped ({trap}) but memory is {_changes(reply)}, "
                                             f"not {expected_diffs[:3]}")
            return Verdict("trapped", 0, f"trap {trap}, as the spec says ({where})" +
                           ("" if seen or not want.writes else "; the writes before it are not observable on this row"))
        if want.trap_kind == "misaligned":
            return Verdict("spec-deviation", 0, f"{acc.op} at {where} is not aligned to its width, yet it did not trap")
        raw = _raw_loaded(acc, results or [0, 0])
        source = _canary_source(raw, secret, acc.memory_size) if raw else None
        what = f"returned {results}" + (f", bytes of {source}" if source else "") if not (acc.is_store or acc.is_bulk) else "wrote and returned"
        return Verdict("escaped", 1, f"{acc.op} {what} where the spec says trap: {where} is past the end")
    if trap:
        if "bounds" in trap:
            return Verdict("out-of-bounds-access", 1, f"trap {trap} where the spec says in bounds: {where} "
                                                      f"(wrapped address {mm.address(acc.expr, args):#x}); the access left linear memory")
        return Verdict("inconclusive", 0, f"unexpected trap {trap} at {where}")
    if acc.is_store or acc.is_bulk:
        if not _memory_is(reply, after, expected_diffs):
            return Verdict("escaped", 1, f"{acc.op} at {where} changed {_changes(reply)}, not {expected_diffs[:3]}: it wrote elsewhere")
        return Verdict("denied", 0, "stored where the spec says")
    if results is None or tuple(results) != want.results:
        raw = _raw_loaded(acc, results)
        source = _canary_source(raw, secret, acc.memory_size) if raw else None
        got = [hex(r) for r in results] if results else results
        return Verdict("escaped", 1, f"{acc.op}/{acc.consumer} at {where} returned {got}, not "
                                     f"{[hex(r) if isinstance(r, int) else r for r in want.results]}" +
                       (f": bytes of {source}" if source else ": it read elsewhere or computed a wrong value"))
    if not _memory_is(reply, after, expected_diffs):
        return Verdict("escaped", 1, f"a load at {where} changed memory: {_changes(reply)}, not {expected_diffs[:3]}")
    return Verdict("denied", 0, "returned what the spec says")


def memory_host(rt):
    """(the row that serves memprobe requests, None) or (None, why this runtime has none)."""
    if callable(getattr(rt, "request", None)):
        return rt, None
    if callable(getattr(rt, "child", None)):
        return rt.child(), None
    return None, (f"{rt.name}: generated memory probes need an engine host that places a second Store and a host "
                  "buffer beside the guest (wasmtime-py rows have one; this runtime is driven through its CLI)")
