"""Driver exports for differential fuzzing on every engine. Engines are reached in different
ways (wasmtime-py in a child process, CLIs with `--invoke`, node with a script); the one thing
all of them can do is call an export that takes no arguments and print what it returns. So a
generated module gets exports appended (no imports, so no existing index moves):

- `wc_all`: makes the planned calls in order on one instance (arguments as constants), folds
  every result, then every global and the first MEMORY_HASH_PAGES pages of memory with its size,
  into one i64 (FNV-1a over 64-bit words, computed by the engine under test);
- `wc_prefix_K` (0 < K < calls): the same fold over the first K calls' results only.

An engine's observation of a module is then `("ok", wc_all)`, or, when wc_all traps, the
first call that traps (found with the prefixes), its trap kind and the fold of the results
before it. Floats are folded as their bit patterns, so NaN payloads count.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

ALL = "wc_all"
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MEMORY_HASH_PAGES = 16  # smith's memories are at most 1 MiB (16 pages) unless a guest grows them
MASK64 = (1 << 64) - 1
_CONST = {"i32": "i32.const {}", "i64": "i64.const {}", "f32": "i32.const {} f32.reinterpret_i32",
          "f64": "i64.const {} f64.reinterpret_i64"}
_AS_I64 = {"i32": "i64.extend_i32_u", "i64": "", "f32": "i32.reinterpret_f32 i64.extend_i32_u",
           "f64": "i64.reinterpret_f64", "v128": None}
_MASKS = {"i32": 0xFFFFFFFF, "f32": 0xFFFFFFFF, "i64": MASK64, "f64": MASK64}


def prefix(k: int) -> str:
    return f"wc_prefix_{k}"


@dataclass(frozen=True)
class Call:
    """One planned call: the export's function index, its signature and the arguments (bits)."""

    func: int
    params: tuple[str, ...]
    results: tuple[str, ...]
    args: tuple[int, ...]


def _mix() -> str:
    """Fold the i64 on the stack into $h."""
    return f"local.get $h i64.xor i64.const {FNV_PRIME} i64.mul local.set $h"


def _fold_value(t: str) -> str:
    if t == "v128":  # both lanes
        return (f"local.tee $v i64x2.extract_lane 0 {_mix()} local.get $v i64x2.extract_lane 1 {_mix()}")
    return f"{_AS_I64[t]} {_mix()}"


def _calls(calls: list[Call]) -> str:
    out = []
    for c in calls:
        out += [_CONST[t].format(a & _MASKS[t]) for t, a in zip(c.params, c.args)]
        out.append(f"call {c.func}")
        out += [_fold_value(t) for t in reversed(c.results)]  # the last result is on top
    return "\n    ".join(out)


def _locals(simd: bool) -> str:
    return "(local $h i64) (local $p i32) (local $n i32)" + (" (local $v v128)" if simd else "")


def _state(globals_: list[str], has_memory: bool) -> str:
    out = [f"global.get {i} {_fold_value(t)}" for i, t in enumerate(globals_) if t in _AS_I64]
    if has_memory:
        out.append(f"memory.size i64.extend_i32_u {_mix()}")
        out.append(f"""memory.size i32.const {MEMORY_HASH_PAGES} memory.size i32.const {MEMORY_HASH_PAGES} i32.lt_u select
    i32.const 16 i32.shl local.set $n
    block $done
      loop $words
        local.get $p local.get $n i32.ge_u br_if $done
        local.get $p i64.load {_mix()}
        local.get $p i32.const 8 i32.add local.set $p
        br $words
      end
    end""")
    return "\n    ".join(out)


def driver_wat(calls: list[Call], globals_: list[str], has_memory: bool, simd: bool) -> str:
    """The WAT of the driver functions, to be appended inside `(module ...)`."""
    head = f"(result i64) {_locals(simd)}\n    i64.const {FNV_OFFSET} local.set $h\n    "
    funcs = [f'(func (export "{ALL}") {head}{_calls(calls)}\n    {_state(globals_, has_memory)}\n    local.get $h)']
    funcs += [f'(func (export "{prefix(k)}") {head}{_calls(calls[:k])}\n    local.get $h)' for k in range(1, len(calls))]
    return "\n  ".join(funcs)


def instrument(module: bytes, calls: list[Call], globals_: list[str], has_memory: bool, wasm_tools: str) -> bytes:
    """The module with the driver exports appended (printed, extended and parsed back by
    wasm-tools). Raises ValueError when wasm-tools cannot."""
    simd = "v128" in globals_ or any("v128" in c.results for c in calls)
    printed = subprocess.run([wasm_tools, "print", "-"], input=module, capture_output=True)
    if printed.returncode != 0:
        raise ValueError(f"wasm-tools print: {printed.stderr.decode(errors='replace').strip()[:200]}")
    text = printed.stdout.decode().rstrip()
    if not text.endswith(")"):
        raise ValueError("wasm-tools print gave no module")
    wat = f"{text[:-1]}\n  {driver_wat(calls, globals_, has_memory, simd)}\n)\n"
    parsed = subprocess.run([wasm_tools, "parse", "-"], input=wat.encode(), capture_output=True)
    if parsed.returncode != 0:
        raise ValueError(f"wasm-tools parse: {parsed.stderr.decode(errors='replace').strip()[:300]}")
    return parsed.stdout


def fold(values: list[int], types: list[str], h: int = FNV_OFFSET) -> int:
    """What the driver computes for one call's results, in Python (for tests)."""
    for t, v in reversed(list(zip(types, values))):
        h = ((h ^ (v & _MASKS[t])) * FNV_PRIME) & MASK64
    return h
