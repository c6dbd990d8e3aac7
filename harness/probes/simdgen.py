"""Generated SIMD value probes: Hypothesis draws one v128 instruction (integer and float lane
arithmetic, saturating ops, shifts by constant and run-time counts, narrow / extend, dot
products, swizzle and shuffle, bitselect, lane-wise comparisons and conversions) and its
operands (lane edge values, splats, random bits; each operand a run-time value or a constant,
since compilers lower constant operands differently), `render` makes a one-function module,
and `judge` compares the engine's 16 result bytes with a lane-exact NumPy model. Float lanes
follow the spec's NaN rules: where the model's lane is a NaN, any NaN is right (arithmetic
may return any NaN); everything else must match bit for bit. A wrong lane is a miscompile
(a finding), not noise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from harness.probes import calls, findings, guests
from harness.probes import memmodel as mm

PROBE_NAME = "simd-generated"
M64 = mm.M64
_DT = {"i8x16": (np.int8, np.uint8), "i16x8": (np.int16, np.uint16), "i32x4": (np.int32, np.uint32),
       "i64x2": (np.int64, np.uint64), "f32x4": (np.float32, np.uint32), "f64x2": (np.float64, np.uint64)}


def lanes(v: bytes, shape: str, signed: bool = True) -> np.ndarray:
    return np.frombuffer(v, dtype=_DT[shape][0 if signed else 1]).copy()


def _b(a: np.ndarray) -> bytes:
    return a.tobytes()


def _sat(values, shape: str, signed: bool) -> np.ndarray:
    info = np.iinfo(_DT[shape][0 if signed else 1])
    return np.clip(values, info.min, info.max).astype(_DT[shape][0 if signed else 1])


def _wide(a: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) if a.dtype.itemsize < 8 else a.astype(object)


def _fmin(a, b):
    out = np.where(a < b, a, b)
    out = np.where((a == 0) & (b == 0), np.where(np.signbit(a), a, b), out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out).astype(a.dtype)


def _fmax(a, b):
    out = np.where(a > b, a, b)
    out = np.where((a == 0) & (b == 0), np.where(np.signbit(a), b, a), out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out).astype(a.dtype)


def _mask(cond: np.ndarray, shape: str) -> bytes:
    return _b(np.where(cond, -1, 0).astype(_DT[shape][0]))


def _trunc_sat(f: np.ndarray, signed: bool) -> np.ndarray:
    lo, hi = (-(1 << 31), (1 << 31) - 1) if signed else (0, (1 << 32) - 1)
    x = np.nan_to_num(f.astype(np.float64), nan=0.0, posinf=hi, neginf=lo)
    return np.clip(np.trunc(x), lo, hi).astype(np.int64).astype(np.int32 if signed else np.uint32)


@dataclass(frozen=True)
class Op:
    name: str
    arity: int  # v128 operands (a shift also takes the i32 count)
    fn: object  # (a, b, c, n) -> 16 bytes
    float_shape: str | None = None  # result lanes where a model NaN means "any NaN"
    imm: bool = False  # takes the shuffle's lane immediates


def _int_ops() -> dict[str, Op]:
    ops = {}

    def add(name, arity, fn, **kw):
        ops[name] = Op(name, arity, fn, **kw)

    for sh in ("i8x16", "i16x8", "i32x4", "i64x2"):
        add(f"{sh}.add", 2, lambda a, b, c, n, sh=sh: _b(lanes(a, sh) + lanes(b, sh)))
        add(f"{sh}.sub", 2, lambda a, b, c, n, sh=sh: _b(lanes(a, sh) - lanes(b, sh)))
        add(f"{sh}.neg", 1, lambda a, b, c, n, sh=sh: _b(-lanes(a, sh)))
        add(f"{sh}.abs", 1, lambda a, b, c, n, sh=sh: _b(np.abs(lanes(a, sh))))
        add(f"{sh}.eq", 2, lambda a, b, c, n, sh=sh: _mask(lanes(a, sh) == lanes(b, sh), sh))
        add(f"{sh}.lt_s", 2, lambda a, b, c, n, sh=sh: _mask(lanes(a, sh) < lanes(b, sh), sh))
        bits = np.dtype(_DT[sh][0]).itemsize * 8
        add(f"{sh}.shl", 1, lambda a, b, c, n, sh=sh, bits=bits: _b(lanes(a, sh, False) << np.array(n % bits).astype(_DT[sh][1])))
        add(f"{sh}.shr_s", 1, lambda a, b, c, n, sh=sh, bits=bits: _b(lanes(a, sh) >> np.array(n % bits).astype(_DT[sh][0])))
        add(f"{sh}.shr_u", 1, lambda a, b, c, n, sh=sh, bits=bits: _b(lanes(a, sh, False) >> np.array(n % bits).astype(_DT[sh][1])))
        if sh != "i64x2":
            add(f"{sh}.lt_u", 2, lambda a, b, c, n, sh=sh: _mask(lanes(a, sh, False) < lanes(b, sh, False), sh))
            add(f"{sh}.min_s", 2, lambda a, b, c, n, sh=sh: _b(np.minimum(lanes(a, sh), lanes(b, sh))))
            add(f"{sh}.max_u", 2, lambda a, b, c, n, sh=sh: _b(np.maximum(lanes(a, sh, False), lanes(b, sh, False))))
        if sh in ("i8x16", "i16x8"):
            for s in ("s", "u"):
                add(f"{sh}.add_sat_{s}", 2, lambda a, b, c, n, sh=sh, s=s: _b(_sat(_wide(lanes(a, sh, s == "s")) + _wide(lanes(b, sh, s == "s")), sh, s == "s")))
                add(f"{sh}.sub_sat_{s}", 2, lambda a, b, c, n, sh=sh, s=s: _b(_sat(_wide(lanes(a, sh, s == "s")) - _wide(lanes(b, sh, s == "s")), sh, s == "s")))
            add(f"{sh}.avgr_u", 2, lambda a, b, c, n, sh=sh: _b(((_wide(lanes(a, sh, False)) + _wide(lanes(b, sh, False)) + 1) >> 1).astype(_DT[sh][1])))
    add("i16x8.mul", 2, lambda a, b, c, n: _b(lanes(a, "i16x8") * lanes(b, "i16x8")))
    add("i32x4.mul", 2, lambda a, b, c, n: _b(lanes(a, "i32x4") * lanes(b, "i32x4")))
    add("i64x2.mul", 2, lambda a, b, c, n: _b(lanes(a, "i64x2") * lanes(b, "i64x2")))
    add("i16x8.q15mulr_sat_s", 2, lambda a, b, c, n: _b(_sat((_wide(lanes(a, "i16x8")) * _wide(lanes(b, "i16x8")) + 0x4000) >> 15, "i16x8", True)))
    add("i32x4.dot_i16x8_s", 2, lambda a, b, c, n: _b((_wide(lanes(a, "i16x8")) * _wide(lanes(b, "i16x8"))).reshape(4, 2).sum(1).astype(np.int32)))
    add("i8x16.narrow_i16x8_s", 2, lambda a, b, c, n: _b(_sat(np.concatenate([lanes(a, "i16x8"), lanes(b, "i16x8")]), "i8x16", True)))
    add("i8x16.narrow_i16x8_u", 2, lambda a, b, c, n: _b(_sat(np.concatenate([lanes(a, "i16x8"), lanes(b, "i16x8")]), "i8x16", False)))
    add("i16x8.narrow_i32x4_s", 2, lambda a, b, c, n: _b(_sat(np.concatenate([lanes(a, "i32x4"), lanes(b, "i32x4")]), "i16x8", True)))
    for wide, narrow in (("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")):
        half = 16 // np.dtype(_DT[wide][0]).itemsize
        for part, sl in (("low", slice(0, half)), ("high", slice(half, 2 * half))):
            for s in ("s", "u"):
                add(f"{wide}.extend_{part}_{narrow}_{s}", 1,
                    lambda a, b, c, n, w=wide, nr=narrow, sl=sl, s=s: _b(lanes(a, nr, s == "s")[sl].astype(_DT[w][0 if s == "s" else 1])))
    add("i16x8.extadd_pairwise_i8x16_u", 1, lambda a, b, c, n: _b(_wide(lanes(a, "i8x16", False)).reshape(8, 2).sum(1).astype(np.uint16)))
    add("i32x4.extmul_low_i16x8_s", 2, lambda a, b, c, n: _b((_wide(lanes(a, "i16x8")[:4]) * _wide(lanes(b, "i16x8")[:4])).astype(np.int32)))
    add("i8x16.popcnt", 1, lambda a, b, c, n: _b(np.array([bin(x).count("1") for x in lanes(a, "i8x16", False)], dtype=np.uint8)))
    add("i8x16.swizzle", 2, lambda a, b, c, n: _b(np.array([lanes(a, "i8x16", False)[i] if i < 16 else 0
                                                            for i in lanes(b, "i8x16", False)], dtype=np.uint8)))
    add("v128.bitselect", 3, lambda a, b, c, n: _b((lanes(a, "i64x2", False) & lanes(c, "i64x2", False)) |
                                                 (lanes(b, "i64x2", False) & ~lanes(c, "i64x2", False))))
    add("v128.andnot", 2, lambda a, b, c, n: _b(lanes(a, "i64x2", False) & ~lanes(b, "i64x2", False)))
    add("i8x16.shuffle", 2, lambda a, b, c, n: _b(np.concatenate([lanes(a, "i8x16", False), lanes(b, "i8x16", False)])[list(n)]), imm=True)
    return ops


def _float_ops() -> dict[str, Op]:
    ops = {}

    def add(name, arity, fn, nan=True, shape=None):
        ops[name] = Op(name, arity, fn, float_shape=shape if nan else None)

    for sh in ("f32x4", "f64x2"):
        for name, f in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)):
            add(f"{sh}.{name}", 2, lambda a, b, c, n, sh=sh, f=f: _b(f(lanes(a, sh), lanes(b, sh))), shape=sh)
        add(f"{sh}.min", 2, lambda a, b, c, n, sh=sh: _b(_fmin(lanes(a, sh), lanes(b, sh))), shape=sh)
        add(f"{sh}.max", 2, lambda a, b, c, n, sh=sh: _b(_fmax(lanes(a, sh), lanes(b, sh))), shape=sh)
        add(f"{sh}.pmin", 2, lambda a, b, c, n, sh=sh: _b(np.where(lanes(b, sh) < lanes(a, sh), lanes(b, sh), lanes(a, sh))), nan=False)
        add(f"{sh}.pmax", 2, lambda a, b, c, n, sh=sh: _b(np.where(lanes(a, sh) < lanes(b, sh), lanes(b, sh), lanes(a, sh))), nan=False)
        for name, f in (("sqrt", np.sqrt), ("ceil", np.ceil), ("floor", np.floor), ("trunc", np.trunc), ("nearest", np.rint)):
            add(f"{sh}.{name}", 1, lambda a, b, c, n, sh=sh, f=f: _b(f(lanes(a, sh))), shape=sh)
        sign = np.array(1 << (np.dtype(_DT[sh][1]).itemsize * 8 - 1), dtype=_DT[sh][1])
        add(f"{sh}.abs", 1, lambda a, b, c, n, sh=sh, s=sign: _b(lanes(a, sh, False) & ~s), nan=False)
        add(f"{sh}.neg", 1, lambda a, b, c, n, sh=sh, s=sign: _b(lanes(a, sh, False) ^ s), nan=False)
        add(f"{sh}.lt", 2, lambda a, b, c, n, sh=sh: _mask(lanes(a, sh) < lanes(b, sh), "i32x4" if sh == "f32x4" else "i64x2"), nan=False)
    add("i32x4.trunc_sat_f32x4_s", 1, lambda a, b, c, n: _b(_trunc_sat(lanes(a, "f32x4"), True)), nan=False)
    add("i32x4.trunc_sat_f32x4_u", 1, lambda a, b, c, n: _b(_trunc_sat(lanes(a, "f32x4"), False)), nan=False)
    add("i32x4.trunc_sat_f64x2_s_zero", 1, lambda a, b, c, n: _b(np.concatenate([_trunc_sat(lanes(a, "f64x2"), True), np.zeros(2, np.int32)])), nan=False)
    add("f32x4.convert_i32x4_s", 1, lambda a, b, c, n: _b(np.array([mm._int_to_float(int(x), 32) for x in lanes(a, "i32x4")], np.uint32)), nan=False)
    add("f32x4.convert_i32x4_u", 1, lambda a, b, c, n: _b(np.array([mm._int_to_float(int(x), 32) for x in lanes(a, "i32x4", False)], np.uint32)), nan=False)
    add("f64x2.convert_low_i32x4_u", 1, lambda a, b, c, n: _b(lanes(a, "i32x4", False)[:2].astype(np.float64)), nan=False)
    add("f64x2.promote_low_f32x4", 1, lambda a, b, c, n: _b(lanes(a, "f32x4")[:2].astype(np.float64)), shape="f64x2")
    add("f32x4.demote_f64x2_zero", 1, lambda a, b, c, n: _b(np.concatenate([lanes(a, "f64x2").astype(np.float32), np.zeros(2, np.float32)])), shape="f32x4")
    return ops


OPS = {**_int_ops(), **_float_ops()}


@dataclass(frozen=True)
class Case:
    op: str
    a: bytes
    b: bytes = bytes(16)
    c: bytes = bytes(16)
    n: object = 0  # a shift's count (i32) or a shuffle's 16 lane indices
    const: tuple = (False, False, False)  # which operands are v128.const instead of run-time values


def expect(case: Case) -> bytes:
    with np.errstate(all="ignore"):
        return OPS[case.op].fn(case.a, case.b, case.c, case.n)


def _lane_ok(got: np.ndarray, want: np.ndarray, nan_any: bool) -> np.ndarray:
    same = got.view(np.uint8).reshape(len(got), -1) == want.view(np.uint8).reshape(len(want), -1)
    ok = same.all(axis=1)
    return ok | (np.isnan(want) & np.isnan(got)) if nan_any else ok


def wrong_lanes(case: Case, results) -> list[int]:
    """Result lanes that differ from the model (NaN lanes: any NaN is right where the op may
    return one); [] when the engine's 16 bytes are right."""
    got = ((results[0] & M64) | ((results[1] & M64) << 64)).to_bytes(16, "little")
    want = expect(case)
    shape = OPS[case.op].float_shape
    if shape:
        ok = _lane_ok(lanes(got, shape), lanes(want, shape), True)
    else:
        ok = _lane_ok(np.frombuffer(got, np.uint8), np.frombuffer(want, np.uint8), False)
    return [i for i, good in enumerate(ok) if not good]


# -- drawing ------------------------------------------------------------------------------------

_EDGE_BYTES = (b"\x00" * 16, b"\xff" * 16, b"\x80" * 16, b"\x7f" * 16, b"\x01" * 16,
               bytes.fromhex("0000c07f" * 4), bytes.fromhex("000000000000f87f" * 2), bytes.fromhex("0000807f" "000080ff" "00000080" "01000000"),
               bytes.fromhex("ffff7f4f" * 4), bytes.fromhex("000000cf" * 4), bytes.fromhex("0000e0ffffffdf41" * 2))


@functools.cache
def vectors() -> st.SearchStrategy[bytes]:
    """Lane edges (zeros, ones, the sign bit, NaNs, infinities, the integer conversions'
    limits), splats of any lane, and random bits."""
    splat = st.builds(lambda w, x: (x & ((1 << (8 * w)) - 1)).to_bytes(w, "little") * (16 // w),
                      st.sampled_from((1, 2, 4, 8)), st.integers(0, M64))
    mixed = st.lists(st.sampled_from(_EDGE_BYTES).map(lambda b: b[:4]), min_size=4, max_size=4).map(b"".join)
    return st.one_of(st.sampled_from(_EDGE_BYTES), splat, mixed, st.binary(min_size=16, max_size=16))


@st.composite
def cases(draw) -> Case:
    op = draw(st.sampled_from(sorted(OPS)))
    spec = OPS[op]
    a, b, c = draw(vectors()), draw(vectors()), draw(vectors())
    if spec.imm:
        n = tuple(draw(st.lists(st.integers(0, 31), min_size=16, max_size=16)))
    else:
        n = draw(st.one_of(st.integers(0, 70), st.sampled_from((0x7FFFFFFF, 0x80000000, 0xFFFFFFFF))))
    const = tuple(draw(st.booleans()) for _ in range(3))
    return Case(op, a, b, c, n, const)


# -- rendering ----------------------------------------------------------------------------------

def _operand(case: Case, i: int) -> str:
    data = (case.a, case.b, case.c)[i]
    if case.const[i]:
        return "(v128.const i8x16 " + " ".join(str(x) for x in data) + ")"
    return f"(i64x2.replace_lane 1 (i64x2.splat (local.get $v{i}l)) (local.get $v{i}h))"


def body(case: Case) -> str:
    spec = OPS[case.op]
    operands = " ".join(_operand(case, i) for i in range(spec.arity))
    if spec.imm:
        return f"(i8x16.shuffle {' '.join(str(x) for x in case.n)} {operands})"
    if case.op.split(".")[1].startswith(("shl", "shr")):
        count = f"(i32.const {case.n & mm.M32})" if case.const[1] else "(local.get $n)"
        return f"({case.op} {operands} {count})"
    return f"({case.op} {operands})"


def render(case: Case) -> str:
    params = " ".join(f"(param $v{i}l i64) (param $v{i}h i64)" for i in range(3))
    return (f'(module (memory (export "memory") 1)\n  (func $probe (export "probe") {params} (param $n i32) (result i64 i64) (local $t v128)\n'
            f"    (local.set $t {body(case)}) (i64x2.extract_lane 0 (local.get $t)) (i64x2.extract_lane 1 (local.get $t))))\n")


def args(case: Case) -> list[int]:
    out = []
    for v in (case.a, case.b, case.c):
        out += [int.from_bytes(v[:8], "little"), int.from_bytes(v[8:], "little")]
    return out + [case.n & mm.M32 if isinstance(case.n, int) else 0]


def build(case: Case) -> str:
    return guests.assemble(render(case), "simdprobe")


def describe(case: Case) -> str:
    return f"{body(case)} with a={case.a.hex()} b={case.b.hex()} c={case.c.hex()} n={case.n}"


def case_json(case: Case) -> dict:
    return {"op": case.op, "a": case.a.hex(), "b": case.b.hex(), "c": case.c.hex(),
            "n": list(case.n) if isinstance(case.n, tuple) else case.n, "const": list(case.const)}


def case_from(j: dict) -> Case:
    n = tuple(j["n"]) if isinstance(j["n"], list) else int(j["n"])
    return Case(j["op"], bytes.fromhex(j["a"]), bytes.fromhex(j["b"]), bytes.fromhex(j["c"]), n, tuple(j["const"]))


def keep_finding(case: Case, runtime: str, config: str, verdict: "Verdict", root=findings.FINDINGS_DIR):
    """reports/findings/simdgen-<hash>/ (harness.probes.findings), replayed first next run."""
    note = f"probe.wat takes (func $probe) args {', '.join(hex(a) for a in args(case))}"
    return findings.keep("simdgen", case_json(case), render(case), runtime, config, verdict.outcome, verdict.reason,
                         describe(case), findings.command("test_simd_values", runtime, config, note), root)


def saved_findings(root=findings.FINDINGS_DIR) -> list[Case]:
    return findings.saved("simdgen", case_from, root)


def coverage(case: Case) -> list[str]:
    return [case.op, f"family:{case.op.split('.')[0]}", *(["const-operand"] if any(case.const[:OPS[case.op].arity]) else [])]


# Whether a row runs SIMD at all: one lane-wise add the model answers.
CHECK = Case("i8x16.add", bytes(range(16)), bytes(range(16, 32)), bytes(16), 0, (True, True, False))


def call(case: Case) -> calls.Call:
    """The probe as a call for a command-line row (harness.probes.calls): the same module and
    arguments as the child host's request."""
    return calls.Call(render(case), ("i64",) * 6 + ("i32",), tuple(args(case)), 2)


def request(case: Case, config: str, timeout_s: float = 10.0) -> dict:
    from harness.runtimes.wasmtime_py import CONFIGS

    return {"op": "call", "module": build(case), "args": args(case), "timeout_s": timeout_s,
            "config": {"name": config, "knobs": CONFIGS[config]}}


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "same" (the model's lanes), "mismatch" (a miscompile), "host-crashed", "not-tested", "inconclusive"
    finding: int
    reason: str


def judge(case: Case, reply: dict) -> Verdict:
    if reply.get("unsupported"):
        return Verdict("not-tested", 0, reply["unsupported"])
    if reply.get("died"):
        return Verdict("host-crashed", 1, f"the engine process died (signal {reply.get('signal')}) on {case.op}")
    if reply.get("timed_out") or reply.get("error"):
        return Verdict("inconclusive", 0, f"no answer: {reply.get('error') or 'timed out'}"[:200])
    if reply.get("trap"):
        return Verdict("mismatch", 1, f"{case.op} trapped ({reply['trap']}); it cannot trap")
    bad = wrong_lanes(case, reply["results"])
    if bad:
        got = ((reply["results"][0] & M64) | ((reply["results"][1] & M64) << 64)).to_bytes(16, "little").hex()
        return Verdict("mismatch", 1, f"{case.op}: lanes {bad} wrong: got {got}, the model says {expect(case).hex()}")
    return Verdict("same", 0, "every lane as the model says")
