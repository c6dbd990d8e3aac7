"""A small model of Wasm memory semantics, independent of any engine: what one memory
instruction must do (the value it returns, the bytes it writes, or a trap) in a linear memory
of a given size filled with known bytes, and what the instruction consuming a loaded value
makes of it. The generated memory probes (harness.probes.memgen) are judged against it.

Spec points it encodes: address arithmetic is i32 (wraps mod 2^32); the effective address is
the u32 address plus the memarg offset *without* wrapping (a 33-bit value); an access of
`width` bytes at ea is in bounds iff ea + width <= memory size, else it traps and a store
writes nothing; the alignment immediate is a hint and never changes the result; loads are
little-endian and sign/zero-extend by kind; SIMD extending, splat, zero and lane loads read
`width` bytes only; bulk memory checks the whole range before writing anything, copies as if
through a buffer (overlap), and a dropped data segment has length 0; memory.grow adds zeroed
pages. Consumers follow the numeric instructions' definitions; where the spec lets a result
be any NaN (arithmetic on floats, promote/demote), the model answers `AnyNaN`, which equals
any NaN bit pattern of that width and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

M32, M64, M128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
PAGE = 1 << 16


# -- address expressions ---------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    index: int  # one of the probe function's i32 parameters


@dataclass(frozen=True)
class Const:
    value: int


@dataclass(frozen=True)
class Shl:
    expr: object
    k: int


@dataclass(frozen=True)
class Mul:
    expr: object
    k: int  # multiplies by 2^k (the form compilers strength-reduce to shl)


@dataclass(frozen=True)
class Rotl:
    expr: object
    k: int


@dataclass(frozen=True)
class Add:
    left: object
    right: object


@dataclass(frozen=True)
class Sub:
    left: object
    right: object


@dataclass(frozen=True)
class And:
    left: object
    right: object


@dataclass(frozen=True)
class Or:
    left: object
    right: object


_BINARY_ADDR = {Add: lambda a, b: a + b, Sub: lambda a, b: a - b, And: lambda a, b: a & b, Or: lambda a, b: a | b}


def address(expr, args) -> int:
    """The i32 value an address expression computes (mod 2^32, as the spec says)."""
    if isinstance(expr, Param):
        return args[expr.index] & M32
    if isinstance(expr, Const):
        return expr.value & M32
    if isinstance(expr, Shl):
        return (address(expr.expr, args) << (expr.k & 31)) & M32
    if isinstance(expr, Mul):
        return (address(expr.expr, args) * (1 << expr.k)) & M32
    if isinstance(expr, Rotl):
        return _rotl(address(expr.expr, args), expr.k, 32)
    if type(expr) in _BINARY_ADDR:
        return _BINARY_ADDR[type(expr)](address(expr.left, args), address(expr.right, args)) & M32
    raise TypeError(f"not an address expression: {expr!r}")


def address_ops(expr) -> list[str]:
    """The i32 instructions an address expression uses (for coverage counts)."""
    if isinstance(expr, (Param, Const)):
        return []
    name = {Shl: "i32.shl", Mul: "i32.mul", Rotl: "i32.rotl", Add: "i32.add", Sub: "i32.sub", And: "i32.and", Or: "i32.or"}[type(expr)]
    inner = [expr.expr] if hasattr(expr, "expr") else [expr.left, expr.right]
    return [name, *(op for e in inner for op in address_ops(e))]


# -- instructions ------------------------------------------------------------------------------

# scalar load -> (width in bytes, value type, sign-extend?)
LOADS = {
    "i32.load": (4, "i32", False), "i32.load8_s": (1, "i32", True), "i32.load8_u": (1, "i32", False),
    "i32.load16_s": (2, "i32", True), "i32.load16_u": (2, "i32", False),
    "i64.load": (8, "i64", False), "i64.load8_s": (1, "i64", True), "i64.load8_u": (1, "i64", False),
    "i64.load16_s": (2, "i64", True), "i64.load16_u": (2, "i64", False), "i64.load32_s": (4, "i64", True),
    "i64.load32_u": (4, "i64", False), "f32.load": (4, "f32", False), "f64.load": (8, "f64", False),
    "v128.load": (16, "v128", False),
}
# SIMD loads that read fewer than 16 bytes -> (width, how the v128 is made, lane bytes, signed)
SIMD_LOADS = {
    "v128.load8x8_s": (8, "extend", 1, True), "v128.load8x8_u": (8, "extend", 1, False),
    "v128.load16x4_s": (8, "extend", 2, True), "v128.load16x4_u": (8, "extend", 2, False),
    "v128.load32x2_s": (8, "extend", 4, True), "v128.load32x2_u": (8, "extend", 4, False),
    "v128.load8_splat": (1, "splat", 1, False), "v128.load16_splat": (2, "splat", 2, False),
    "v128.load32_splat": (4, "splat", 4, False), "v128.load64_splat": (8, "splat", 8, False),
    "v128.load32_zero": (4, "zero", 4, False), "v128.load64_zero": (8, "zero", 8, False),
    "v128.load8_lane": (1, "lane", 1, False), "v128.load16_lane": (2, "lane", 2, False),
    "v128.load32_lane": (4, "lane", 4, False), "v128.load64_lane": (8, "lane", 8, False),
}
# store -> (width, the value's type)
STORES = {
    "i32.store": (4, "i32"), "i32.store8": (1, "i32"), "i32.store16": (2, "i32"), "i64.store": (8, "i64"),
    "i64.store8": (1, "i64"), "i64.store16": (2, "i64"), "i64.store32": (4, "i64"), "f32.store": (4, "f32"),
    "f64.store": (8, "f64"), "v128.store": (16, "v128"), "v128.store8_lane": (1, "v128"),
    "v128.store16_lane": (2, "v128"), "v128.store32_lane": (4, "v128"), "v128.store64_lane": (8, "v128"),
}
# atomic instruction (threads proposal, on a shared memory) -> (width, value type, what it does:
# "load", "store", an RMW operator or "cmpxchg"); every one needs an effective address that is a
# multiple of its width (else it traps) and takes exactly its natural alignment immediate
ATOMIC_RMW = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "and": lambda a, b: a & b,
              "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b, "xchg": lambda a, b: b}
ATOMICS = {}
for _t, _tw in (("i32", 4), ("i64", 8)):
    for _suffix, _w in [("", _tw)] + [(str(8 * w), w) for w in (1, 2, 4) if w < _tw]:
        _u = "_u" if _suffix else ""
        ATOMICS[f"{_t}.atomic.load{_suffix}{_u}"] = (_w, _t, "load")
        ATOMICS[f"{_t}.atomic.store{_suffix}"] = (_w, _t, "store")
        for _kind in (*ATOMIC_RMW, "cmpxchg"):
            ATOMICS[f"{_t}.atomic.rmw{_suffix}.{_kind}{_u}"] = (_w, _t, _kind)


def atomic_load_of(op: str) -> str:
    """The atomic load of the same type and width (cmpxchg's expected value when it must match)."""
    w, t, _ = ATOMICS[op]
    return next(o for o, (w2, t2, k) in ATOMICS.items() if (w2, t2, k) == (w, t, "load"))


BULK = ("memory.fill", "memory.copy", "memory.init")
DATA = bytes((i * 37 + 11) & 0xFF for i in range(48))  # the passive data segment memory.init copies from
TYPE_BITS = {"i32": 32, "i64": 64, "f32": 32, "f64": 64, "v128": 128}


def width_of(op: str) -> int:
    return (LOADS.get(op) or SIMD_LOADS.get(op) or STORES.get(op) or ATOMICS.get(op) or (0,))[0]


def family(op: str) -> str:
    if op in BULK:
        return "bulk"
    if op in ATOMICS:
        return "atomic-" + ATOMICS[op][2] if ATOMICS[op][2] in ("load", "store") else "atomic-rmw"
    if op in STORES:
        return "store-lane" if op.endswith("_lane") else "store"
    if op in SIMD_LOADS:
        return f"simd-load-{SIMD_LOADS[op][1]}"
    return f"load-{LOADS[op][1]}"


def loaded_type(op: str) -> str | None:
    """The type of the value an instruction leaves for its consumer (None: stores, bulk)."""
    if op in LOADS:
        return LOADS[op][1]
    return "v128" if op in SIMD_LOADS else None


# -- numeric helpers -------------------------------------------------------------------------

class AnyNaN:
    """Any NaN of `bits` width: compares equal to exactly the NaN bit patterns (the spec lets
    arithmetic produce any NaN, so the model cannot name one)."""

    def __init__(self, bits: int):
        self.bits = bits

    def __eq__(self, other):
        if isinstance(other, AnyNaN):
            return other.bits == self.bits
        if not isinstance(other, int):
            return NotImplemented
        exp, frac = (0xFF << 23, (1 << 23) - 1) if self.bits == 32 else (0x7FF << 52, (1 << 52) - 1)
        return other >> self.bits == 0 and other & exp == exp and other & frac != 0

    def __hash__(self):
        return hash(("AnyNaN", self.bits))

    def __repr__(self):
        return f"<any f{self.bits} NaN>"


class Trap(Exception):
    """The instruction traps (e.g. integer division by zero): not a bounds trap."""


def _rotl(v: int, k: int, n: int) -> int:
    k %= n
    mask = (1 << n) - 1
    return ((v << k) | (v >> (n - k))) & mask if k else v & mask


def _signed(v: int, n: int) -> int:
    return v - (1 << n) if v >> (n - 1) & 1 else v


def _sext(v: int, from_bits: int, n: int) -> int:
    return _signed(v & ((1 << from_bits) - 1), from_bits) & ((1 << n) - 1)


def _ftype(n: int):
    return (np.float32, np.uint32) if n == 32 else (np.float64, np.uint64)


def _to_float(bits: int, n: int):
    f, u = _ftype(n)
    return np.array([bits], dtype=u).view(f)[0]


def _from_float(x, n: int):
    f, u = _ftype(n)
    x = f(x)
    if np.isnan(x):
        return AnyNaN(n)
    return int(np.array([x], dtype=f).view(u)[0])


def _float_op(fn, n: int, *bits):
    with np.errstate(all="ignore"):
        return _from_float(fn(*(_to_float(b, n) for b in bits)), n)


def _fmin(a, b):
    if np.isnan(a) or np.isnan(b):
        return a + b
    if a == b == 0:
        return a if np.signbit(a) else b
    return min(a, b)


def _fmax(a, b):
    if np.isnan(a) or np.isnan(b):
        return a + b
    if a == b == 0:
        return b if np.signbit(a) else a
    return max(a, b)


def _sign_bit(n: int) -> int:
    return 1 << (n - 1)


def _copysign(a: int, b: int, n: int) -> int:
    s = _sign_bit(n)
    return (a & ~s & ((1 << n) - 1)) | (b & s)


def _round_sig(v: int, bits: int) -> int:
    """v > 0 rounded to `bits` significant bits, ties to even (exact int -> float conversion)."""
    extra = v.bit_length() - bits
    if extra <= 0:
        return v
    q, r = divmod(v, 1 << extra)
    half = 1 << (extra - 1)
    if r > half or (r == half and q & 1):
        q += 1
    return q << extra


def _int_to_float(v: int, n: int) -> int:
    """Bits of the float nearest to the integer v (round to nearest, ties to even)."""
    mag = _round_sig(abs(v), 24 if n == 32 else 53)
    x = float(mag) * (-1 if v < 0 else 1)  # exact: mag has few enough significant bits
    return _from_float(x, n)


def _trunc_sat(bits: int, fn: int, n: int, signed: bool) -> int:
    x = float(_to_float(bits, fn))
    lo, hi = (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return (hi if x > 0 else lo) & ((1 << n) - 1)
    return max(lo, min(hi, math.trunc(x))) & ((1 << n) - 1)


def _div(a: int, b: int, n: int, signed: bool, rem: bool) -> int:
    if b == 0:
        raise Trap("integer divide by zero")
    if signed:
        sa, sb = _signed(a, n), _signed(b, n)
        if not rem and sa == -(1 << (n - 1)) and sb == -1:
            raise Trap("integer overflow")
        q = abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1)
        return (sa - sb * q if rem else q) & ((1 << n) - 1)
    return (a % b if rem else a // b) & ((1 << n) - 1)


def _lanes(v: int, w: int) -> list[int]:
    return [(v >> (8 * w * i)) & ((1 << (8 * w)) - 1) for i in range(16 // w)]


def _join(lanes: list[int], w: int) -> int:
    return sum((x & ((1 << (8 * w)) - 1)) << (8 * w * i) for i, x in enumerate(lanes))


def splat(v: int, w: int) -> int:
    return _join([v] * (16 // w), w)


def _lanewise(fn, w: int):
    return lambda a, b, c: _join([fn(x, y) for x, y in zip(_lanes(a, w), _lanes(b, w))], w)


# -- consumers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Consumer:
    """An instruction applied to the loaded value X (and, for binary ones, an operand Y of
    the same type; `select` also takes the probe's third parameter as its condition C)."""

    name: str  # the instruction (what coverage counts), or "id"
    result: str  # the result's type
    arity: int
    wat: str  # WAT with X, Y, C placeholders
    fn: object  # (x, y, c) -> result bits, AnyNaN, or raises Trap


def _int_consumers(t: str) -> dict[str, Consumer]:
    n = TYPE_BITS[t]
    mask = (1 << n) - 1
    out = {"id": Consumer("id", t, 1, "X", lambda x, y, c: x)}

    def add(name, result, arity, fn, wat=None):
        out[name] = Consumer(name, result, arity, wat or (f"({name} X)" if arity == 1 else f"({name} X Y)"), fn)

    add(f"{t}.clz", t, 1, lambda x, y, c: n - x.bit_length())
    add(f"{t}.ctz", t, 1, lambda x, y, c: (x & -x).bit_length() - 1 if x else n)
    add(f"{t}.popcnt", t, 1, lambda x, y, c: bin(x).count("1"))
    add(f"{t}.eqz", "i32", 1, lambda x, y, c: int(x == 0))
    for b in (8, 16) + ((32,) if n == 64 else ()):
        add(f"{t}.extend{b}_s", t, 1, lambda x, y, c, b=b: _sext(x, b, n))
    for name, fn in (("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                     ("and", lambda a, b: a & b), ("or", lambda a, b: a | b), ("xor", lambda a, b: a ^ b),
                     ("shl", lambda a, b: a << (b % n)), ("shr_u", lambda a, b: a >> (b % n)),
                     ("shr_s", lambda a, b: _signed(a, n) >> (b % n)), ("rotl", lambda a, b: _rotl(a, b, n)),
                     ("rotr", lambda a, b: _rotl(a, n - b % n, n))):
        add(f"{t}.{name}", t, 2, lambda x, y, c, fn=fn: fn(x, y) & mask)
    for name, signed, rem in (("div_s", True, False), ("div_u", False, False), ("rem_s", True, True), ("rem_u", False, True)):
        add(f"{t}.{name}", t, 2, lambda x, y, c, s=signed, r=rem: _div(x, y, n, s, r))
    for name, fn in (("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b), ("lt_u", lambda a, b: a < b),
                     ("gt_u", lambda a, b: a > b), ("le_u", lambda a, b: a <= b), ("ge_u", lambda a, b: a >= b),
                     ("lt_s", lambda a, b: _signed(a, n) < _signed(b, n)), ("gt_s", lambda a, b: _signed(a, n) > _signed(b, n)),
                     ("le_s", lambda a, b: _signed(a, n) <= _signed(b, n)), ("ge_s", lambda a, b: _signed(a, n) >= _signed(b, n))):
        add(f"{t}.{name}", "i32", 2, lambda x, y, c, fn=fn: int(fn(x, y)))
    if n == 32:
        add("i64.extend_i32_s", "i64", 1, lambda x, y, c: _sext(x, 32, 64))
        add("i64.extend_i32_u", "i64", 1, lambda x, y, c: x)
        add("f32.reinterpret_i32", "f32", 1, lambda x, y, c: x)
        for name, w in (("i8x16.splat", 1), ("i16x8.splat", 2), ("i32x4.splat", 4)):
            add(name, "v128", 1, lambda x, y, c, w=w: splat(x & ((1 << (8 * w)) - 1), w))
    else:
        add("i32.wrap_i64", "i32", 1, lambda x, y, c: x & M32)
        add("f64.reinterpret_i64", "f64", 1, lambda x, y, c: x)
        add("i64x2.splat", "v128", 1, lambda x, y, c: splat(x, 8))
    for ft in ("f32", "f64"):
        add(f"{ft}.convert_{t}_s", ft, 1, lambda x, y, c, ft=ft: _int_to_float(_signed(x, n), TYPE_BITS[ft]))
        add(f"{ft}.convert_{t}_u", ft, 1, lambda x, y, c, ft=ft: _int_to_float(x, TYPE_BITS[ft]))
    out["select"] = Consumer("select", t, 2, "(select X Y C)", lambda x, y, c: x if c else y)
    return out


def _float_consumers(t: str) -> dict[str, Consumer]:
    n = TYPE_BITS[t]
    out = {"id": Consumer("id", t, 1, "X", lambda x, y, c: x)}

    def add(name, result, arity, fn, wat=None):
        out[name] = Consumer(name, result, arity, wat or (f"({name} X)" if arity == 1 else f"({name} X Y)"), fn)

    s = _sign_bit(n)
    add(f"{t}.abs", t, 1, lambda x, y, c: x & ~s & ((1 << n) - 1))
    add(f"{t}.neg", t, 1, lambda x, y, c: x ^ s)
    add(f"{t}.copysign", t, 2, lambda x, y, c: _copysign(x, y, n))
    for name, fn in (("sqrt", np.sqrt), ("ceil", np.ceil), ("floor", np.floor), ("trunc", np.trunc), ("nearest", np.rint)):
        add(f"{t}.{name}", t, 1, lambda x, y, c, fn=fn: _float_op(fn, n, x))
    for name, fn in (("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                     ("div", lambda a, b: a / b), ("min", _fmin), ("max", _fmax)):
        add(f"{t}.{name}", t, 2, lambda x, y, c, fn=fn: _float_op(fn, n, x, y))
    for name, fn in (("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b), ("lt", lambda a, b: a < b),
                     ("gt", lambda a, b: a > b), ("le", lambda a, b: a <= b), ("ge", lambda a, b: a >= b)):
        add(f"{t}.{name}", "i32", 2, lambda x, y, c, fn=fn: int(bool(fn(_to_float(x, n), _to_float(y, n)))))
    for it in ("i32", "i64"):
        for sign in ("s", "u"):
            add(f"{it}.trunc_sat_{t}_{sign}", it, 1,
                lambda x, y, c, it=it, sign=sign: _trunc_sat(x, n, TYPE_BITS[it], sign == "s"))
    if n == 32:
        add("i32.reinterpret_f32", "i32", 1, lambda x, y, c: x)
        add("f64.promote_f32", "f64", 1, lambda x, y, c: _promote(x))
        add("f32x4.splat", "v128", 1, lambda x, y, c: splat(x, 4))
    else:
        add("i64.reinterpret_f64", "i64", 1, lambda x, y, c: x)
        add("f32.demote_f64", "f32", 1, lambda x, y, c: _from_float(np.float32(_to_float(x, 64)), 32))
        add("f64x2.splat", "v128", 1, lambda x, y, c: splat(x, 8))
    out["select"] = Consumer("select", t, 2, "(select X Y C)", lambda x, y, c: x if c else y)
    return out


def _promote(bits: int) -> object:
    x = _to_float(bits, 32)
    return AnyNaN(64) if np.isnan(x) else _from_float(np.float64(x), 64)


def _v128_consumers() -> dict[str, Consumer]:
    out = {"id": Consumer("id", "v128", 1, "X", lambda x, y, c: x),
           "v128.not": Consumer("v128.not", "v128", 1, "(v128.not X)", lambda x, y, c: ~x & M128),
           "i8x16.popcnt": Consumer("i8x16.popcnt", "v128", 1, "(i8x16.popcnt X)",
                                    lambda x, y, c: _join([bin(b).count("1") for b in _lanes(x, 1)], 1)),
           "i8x16.extract_lane_s": Consumer("i8x16.extract_lane_s", "i32", 1, "(i8x16.extract_lane_s 5 X)",
                                            lambda x, y, c: _sext(_lanes(x, 1)[5], 8, 32)),
           "i16x8.extract_lane_u": Consumer("i16x8.extract_lane_u", "i32", 1, "(i16x8.extract_lane_u 3 X)",
                                            lambda x, y, c: _lanes(x, 2)[3]),
           "i32x4.extract_lane": Consumer("i32x4.extract_lane", "i32", 1, "(i32x4.extract_lane 2 X)", lambda x, y, c: _lanes(x, 4)[2]),
           "i64x2.extract_lane": Consumer("i64x2.extract_lane", "i64", 1, "(i64x2.extract_lane 1 X)", lambda x, y, c: _lanes(x, 8)[1]),
           "f32x4.extract_lane": Consumer("f32x4.extract_lane", "f32", 1, "(f32x4.extract_lane 3 X)", lambda x, y, c: _lanes(x, 4)[3]),
           "f64x2.extract_lane": Consumer("f64x2.extract_lane", "f64", 1, "(f64x2.extract_lane 0 X)", lambda x, y, c: _lanes(x, 8)[0]),
           "v128.xor": Consumer("v128.xor", "v128", 2, "(v128.xor X Y)", lambda x, y, c: x ^ y),
           "v128.andnot": Consumer("v128.andnot", "v128", 2, "(v128.andnot X Y)", lambda x, y, c: x & ~y & M128),
           "i32x4.add": Consumer("i32x4.add", "v128", 2, "(i32x4.add X Y)", _lanewise(lambda a, b: a + b, 4)),
           "i64x2.sub": Consumer("i64x2.sub", "v128", 2, "(i64x2.sub X Y)", _lanewise(lambda a, b: a - b, 8)),
           "i16x8.mul": Consumer("i16x8.mul", "v128", 2, "(i16x8.mul X Y)", _lanewise(lambda a, b: a * b, 2)),
           "i8x16.add_sat_u": Consumer("i8x16.add_sat_u", "v128", 2, "(i8x16.add_sat_u X Y)", _lanewise(lambda a, b: min(255, a + b), 1)),
           "select": Consumer("select", "v128", 2, "(select X Y C)", lambda x, y, c: x if c else y)}
    return out


CONSUMERS = {"i32": _int_consumers("i32"), "i64": _int_consumers("i64"), "f32": _float_consumers("f32"),
             "f64": _float_consumers("f64"), "v128": _v128_consumers()}
RAW_CONSUMERS = ("id",)  # the result is the loaded bytes themselves


# -- accesses -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    """One generated memory instruction: `op` (LOADS, SIMD_LOADS, STORES or BULK) at `expr` +
    `offset` with alignment immediate 2^`align` (None: natural), in a memory of `pages` pages
    grown by `grow` pages just before; a load's value goes through `consumer` with `operand`
    (("const", bits) or ("param",): the probe's i64 parameter $v) on its right, or its left
    with `swap`; a store writes `value`; lane ops use `lane`; bulk ops take `length` and
    `source` (memory.copy: an address expression; memory.init: an offset into DATA) and
    memory.init with `consumer` "reinit" inits again after data.drop. A load's result is
    returned as bits, or with `sink` "store" stored as its own type at address 0 and read
    back (compilers lower a float result headed for memory differently from one that is
    reinterpreted)."""

    op: str
    expr: object
    offset: int
    pages: int
    consumer: str = "id"
    value: int = 0  # the i64 parameter $v: store operand (narrower stores take its low bytes; v128 splats it)
    align: int | None = None
    grow: int = 0
    operand: tuple | None = None
    swap: bool = False
    lane: int = 0
    length: int = 0
    source: object = None
    sink: str = "return"  # where a load's consumed result goes: "return" (as bits), or "store" (to address 0, then reloaded)
    decoy: int = 0  # pages of another memory declared first, so the probed one is memory 1 (multi-memory); 0: none
    addr64: int | None = None  # memory64: the probed memory is i64-indexed and this is the address's high 32 bits

    @property
    def is_store(self) -> bool:
        return self.op in STORES

    @property
    def is_bulk(self) -> bool:
        return self.op in BULK

    @property
    def is_atomic(self) -> bool:
        return self.op in ATOMICS

    @property
    def width(self) -> int:
        return self.length if self.is_bulk else width_of(self.op)

    @property
    def memory_size(self) -> int:
        """Bytes of linear memory when the access runs (after its memory.grow)."""
        return (self.pages + self.grow) * PAGE

    @property
    def initial_size(self) -> int:
        return self.pages * PAGE

    @property
    def vtype(self) -> str | None:
        return loaded_type(self.op)

    @property
    def natural_align(self) -> int:
        return max(0, width_of(self.op).bit_length() - 1)

    def effective_address(self, args) -> int:
        if self.is_bulk:
            return address(self.expr, args)
        base = address(self.expr, args) | ((self.addr64 & M32) << 32 if self.addr64 is not None else 0)
        return base + self.offset  # no wrap: a 33-bit value (65-bit under memory64, whose offsets are u64)

    def in_bounds(self, args) -> bool:
        return self.effective_address(args) + self.width <= self.memory_size

    def operand_bits(self) -> int:
        """Y: the consumer's second operand, as bits of the loaded type."""
        t = self.vtype or "i64"
        bits = TYPE_BITS[t]
        if self.operand and self.operand[0] == "const":
            return self.operand[1] & ((1 << bits) - 1)
        return splat(self.value & M64, 8) if t == "v128" else self.value & ((1 << bits) - 1)

    def lane_vector(self) -> int:
        """The v128 a lane load starts from / a lane store takes a lane of: i64x2.splat $v."""
        return splat(self.value & M64, 8)


@dataclass(frozen=True)
class Expected:
    trap: bool
    results: tuple | None = None
    writes: tuple = ()  # ((address, bytes), ...) the access puts into linear memory, in order (bytes None: the NaN returned)
    loaded: bytes | None = None  # the bytes a load reads
    trap_kind: str = "bounds"  # "bounds" or "arith" (a consumer's own trap)

    @property
    def write(self):
        return self.writes[0] if self.writes else None


def store_bytes(acc: Access) -> bytes:
    w = acc.width
    if acc.op == "v128.store":
        return acc.lane_vector().to_bytes(16, "little")
    if acc.op.endswith("_lane"):
        return acc.lane_vector().to_bytes(16, "little")[acc.lane * w:(acc.lane + 1) * w]
    return (acc.value & M64).to_bytes(8, "little")[:w]


def _loaded_value(acc: Access, raw: bytes) -> int:
    if acc.op in LOADS:
        width, vtype, signed = LOADS[acc.op]
        v = int.from_bytes(raw, "little")
        return _sext(v, 8 * width, TYPE_BITS[vtype]) if signed else v
    width, how, w, signed = SIMD_LOADS[acc.op]
    v = int.from_bytes(raw, "little")
    if how == "extend":
        return _join([_sext(x, 8 * w, 16 * w) if signed else x for x in (int.from_bytes(raw[i:i + w], "little")
                                                                         for i in range(0, 8, w))], 2 * w)
    if how == "splat":
        return splat(v, w)
    if how == "zero":
        return v
    lanes = _lanes(acc.lane_vector(), w)
    lanes[acc.lane] = v
    return _join(lanes, w)


def _bulk(acc: Access, args, mem: bytes) -> Expected:
    d, n, size = address(acc.expr, args), acc.length & M32, len(mem)
    if acc.op == "memory.fill":
        if d + n > size:
            return Expected(trap=True)
        return Expected(trap=False, results=(0, 0), writes=((d, bytes([acc.value & 0xFF]) * n),) if n else ())
    if acc.op == "memory.copy":
        s = address(acc.source, args)
        if s + n > size or d + n > size:
            return Expected(trap=True)
        return Expected(trap=False, results=(0, 0), writes=((d, mem[s:s + n]),) if n else ())
    s = acc.source & M32  # memory.init from DATA, data.drop, then init again (0, 0) or (s, n)
    if s + n > len(DATA) or d + n > size:
        return Expected(trap=True)
    first = ((d, DATA[s:s + n]),) if n else ()
    if acc.consumer == "reinit" and s + n > 0:  # the dropped segment has length 0
        return Expected(trap=True, writes=first)
    return Expected(trap=False, results=(0, 0), writes=first)


def _atomic(acc: Access, ea: int, mem: bytes) -> Expected:
    """An atomic access in bounds: a misaligned one traps; loads return the zero-extended
    value, stores write the value's low bytes, read-modify-writes return the old value and
    write op(old, value); cmpxchg compares with its expected value wrapped to the width
    (the value read just before by an atomic load for "cas-hit", $v for "cas-miss") and, if
    equal, writes the replacement (the constant operand)."""
    w, _, kind = ATOMICS[acc.op]
    if ea % w:
        return Expected(trap=True, trap_kind="misaligned")
    mask = (1 << (8 * w)) - 1
    raw = mem[ea:ea + w]
    old, v = int.from_bytes(raw, "little"), acc.value & mask
    if kind == "load":
        return Expected(trap=False, results=(old, 0), loaded=raw)
    if kind == "store":
        return Expected(trap=False, results=(0, 0), writes=((ea, v.to_bytes(w, "little")),))
    if kind == "cmpxchg":
        expected = old if acc.consumer == "cas-hit" else v
        new = acc.operand[1] & mask if expected == old else None
    else:
        new = ATOMIC_RMW[kind](old, v) & mask
    return Expected(trap=False, results=(old, 0), loaded=raw, writes=((ea, new.to_bytes(w, "little")),) if new is not None else ())


def _results(rtype: str, r) -> tuple:
    if rtype == "v128":
        return (r & M64, r >> 64)
    return (r, 0)


def expect(acc: Access, args, memory: bytes) -> Expected:
    """What the spec says this access does, given linear memory's bytes before it (its
    initial pages; memory.grow appends zeroed ones)."""
    mem = memory + bytes(acc.grow * PAGE) if acc.grow else memory
    if acc.is_bulk:
        return _bulk(acc, args, mem)
    if not acc.in_bounds(args):
        return Expected(trap=True)
    ea = acc.effective_address(args)
    if acc.is_atomic:
        return _atomic(acc, ea, mem)
    if acc.is_store:
        return Expected(trap=False, results=(0, 0), writes=((ea, store_bytes(acc)),))
    raw = mem[ea:ea + acc.width]
    x = _loaded_value(acc, raw)
    c = CONSUMERS[acc.vtype][acc.consumer]
    y = acc.operand_bits()
    cond = args[2] & M32 if len(args) > 2 else 0
    try:
        r = c.fn(y, x, cond) if acc.swap and c.arity == 2 else c.fn(x, y, cond)
    except Trap:
        return Expected(trap=True, loaded=raw, trap_kind="arith")
    writes = ()
    if acc.sink == "store":
        writes = ((0, r.to_bytes(TYPE_BITS[c.result] // 8, "little") if isinstance(r, int) else None),)
    return Expected(trap=False, results=_results(c.result, r), loaded=raw, writes=writes)
