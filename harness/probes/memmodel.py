"""A small model of Wasm memory semantics, independent of any engine: what one load or
store must do (the value it returns, the bytes it writes, or a trap) in a linear memory of a
given size filled with known bytes. The generated memory probes (harness.probes.memgen) are
judged against it.

Spec points it encodes: address arithmetic is i32 (wraps mod 2^32); the effective address
is the u32 address plus the memarg offset *without* wrapping (a 33-bit value); an access of
`width` bytes at ea is in bounds iff ea + width <= memory size, else it traps and a store
writes nothing; loads are little-endian and sign/zero-extend by kind. Float results are taken
as bit patterns through bit-exact instructions only (reinterpret, abs, neg, exact integer
conversions), so NaN non-determinism never enters a comparison.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

M32, M64 = (1 << 32) - 1, (1 << 64) - 1
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
class Add:
    left: object
    right: object


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
    if isinstance(expr, Add):
        return (address(expr.left, args) + address(expr.right, args)) & M32
    raise TypeError(f"not an address expression: {expr!r}")


# -- accesses -------------------------------------------------------------------------------

# kind -> (width in bytes, value type, sign-extend?)
LOADS = {
    "i32.load": (4, "i32", False), "i32.load8_u": (1, "i32", False), "i32.load8_s": (1, "i32", True),
    "i32.load16_u": (2, "i32", False), "i32.load16_s": (2, "i32", True), "i64.load": (8, "i64", False),
    "i64.load32_s": (4, "i64", True), "i64.load16_u": (2, "i64", False), "f32.load": (4, "f32", False),
    "f64.load": (8, "f64", False), "v128.load": (16, "v128", False),
}
STORES = {"i32.store": 4, "i32.store8": 1, "i32.store16": 2, "i64.store": 8, "i64.store32": 4, "v128.store": 16}
TYPE_BITS = {"i32": 32, "i64": 64, "f32": 32, "f64": 64, "v128": 128}


def _rotl32(v: int, k: int) -> int:
    return ((v << k) | (v >> (32 - k))) & M32


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _s32(v: int) -> int:
    return v - (1 << 32) if v >> 31 else v


# The instructions that consume a loaded value, per type: name -> result pair (two i64s).
CONSUMERS = {
    "i32": {"id": lambda v: (v, 0), "add": lambda v: ((v + 0x12345) & M32, 0), "xor": lambda v: (v ^ 0x5A5A5A5A, 0),
            "popcnt": lambda v: (bin(v).count("1"), 0), "clz": lambda v: (32 - v.bit_length(), 0),
            "rotl": lambda v: (_rotl32(v, 7), 0), "eqz": lambda v: (int(v == 0), 0),
            "f64.convert_i32_u": lambda v: (_f64_bits(float(v)), 0),
            "f32.convert_i32_s": lambda v: (_f32_bits(float(_s32(v))), 0)},
    "i64": {"id": lambda v: (v, 0), "popcnt": lambda v: (bin(v).count("1"), 0), "shr_u": lambda v: (v >> 17, 0),
            "wrap": lambda v: (v & M32, 0), "mul": lambda v: ((v * 0x9E3779B97F4A7C15) & M64, 0)},
    "f32": {"bits": lambda v: (v, 0), "abs": lambda v: (v & 0x7FFFFFFF, 0), "neg": lambda v: (v ^ 0x80000000, 0)},
    "f64": {"bits": lambda v: (v, 0), "abs": lambda v: (v & ~(1 << 63) & M64, 0), "neg": lambda v: (v ^ (1 << 63), 0)},
    "v128": {"lanes": lambda v: (v & M64, v >> 64), "not": lambda v: (~v & M64, (~v >> 64) & M64),
             "i8_lane5": lambda v: ((v >> 40) & 0xFF, 0), "i32_lane2": lambda v: ((v >> 64) & M32, 0)},
}
RAW_CONSUMERS = ("id", "bits", "lanes")  # the result is the loaded bytes themselves


@dataclass(frozen=True)
class Access:
    """One generated memory access: `op` (a LOADS or STORES kind) at `expr` + `offset`, in a
    memory of `pages` pages; a load's value goes through `consumer`; a store writes `value`."""

    op: str
    expr: object
    offset: int
    pages: int
    consumer: str = "id"
    value: int = 0  # i64 store operand (narrower stores take its low bytes; v128 splats it)

    @property
    def is_store(self) -> bool:
        return self.op in STORES

    @property
    def width(self) -> int:
        return STORES[self.op] if self.is_store else LOADS[self.op][0]

    @property
    def memory_size(self) -> int:
        return self.pages * PAGE

    def effective_address(self, args) -> int:
        return address(self.expr, args) + self.offset  # no wrap: a 33-bit value

    def in_bounds(self, args) -> bool:
        return self.effective_address(args) + self.width <= self.memory_size


@dataclass(frozen=True)
class Expected:
    trap: bool
    results: tuple[int, int] | None = None
    write: tuple[int, bytes] | None = None  # (address, bytes) a store puts into linear memory
    loaded: bytes | None = None  # the bytes a load reads


def store_bytes(op: str, value: int) -> bytes:
    v = value & M64
    if op == "v128.store":
        return struct.pack("<QQ", v, v)
    return v.to_bytes(8, "little")[:STORES[op]]


def expect(acc: Access, args, memory: bytes) -> Expected:
    """What the spec says this access does, given the memory's bytes before it."""
    if not acc.in_bounds(args):
        return Expected(trap=True)
    ea = acc.effective_address(args)
    if acc.is_store:
        return Expected(trap=False, results=(0, 0), write=(ea, store_bytes(acc.op, acc.value)))
    width, vtype, signed = LOADS[acc.op]
    raw = memory[ea:ea + width]
    v = int.from_bytes(raw, "little")
    if signed and v >> (8 * width - 1):
        v -= 1 << (8 * width)
    v &= (1 << TYPE_BITS[vtype]) - 1
    return Expected(trap=False, results=CONSUMERS[vtype][acc.consumer](v), loaded=raw)
