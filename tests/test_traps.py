"""harness.runtimes.traps: every engine's wording of a trap reads as one kind."""

from __future__ import annotations

import pytest
import wasmtime

from harness.runtimes import traps

KINDS = {"memory-out-of-bounds", "unreachable", "stack-overflow", "integer-division-by-zero", "integer-overflow",
         "invalid-conversion-to-integer", "bad-signature", "indirect-call-to-null", "table-out-of-bounds",
         "out-of-fuel", "interrupt", "heap-misaligned", "indirect-call-failed"}


@pytest.mark.parametrize("words, kind", [
    ("wasm trap: wasm `unreachable` instruction executed", "unreachable"),  # wasmtime, wasmi
    ("RuntimeError: unreachable", "unreachable"),  # V8
    ("[error] execution failed: unreachable, Code: 0x89", "unreachable"),  # WasmEdge
    ("RuntimeError: memory access out of bounds", "memory-out-of-bounds"),
    ("RangeError: Maximum call stack size exceeded", "stack-overflow"),
    ("RuntimeError: null function or function signature mismatch", "indirect-call-failed"),
    ("Cost exceeded limit", "out-of-fuel"),
])
def test_engine_words_read_as_one_kind(words, kind):
    assert traps.kind(words) == kind


def test_every_wasmtime_trap_code_is_a_kind_of_the_vocabulary():
    """The wasmtime-py rows (in process and in the child) say what the CLIs say."""
    core = ("STACK_OVERFLOW", "MEMORY_OUT_OF_BOUNDS", "HEAP_MISALIGNED", "TABLE_OUT_OF_BOUNDS", "INDIRECT_CALL_TO_NULL",
            "BAD_SIGNATURE", "INTEGER_OVERFLOW", "INTEGER_DIVISION_BY_ZERO", "BAD_CONVERSION_TO_INTEGER", "INTERRUPT",
            "OUT_OF_FUEL")  # core Wasm's (the component model's codes keep their own names)
    for name in core:
        assert traps.of_code(getattr(wasmtime.TrapCode, name)) in KINDS, name
    unreachable = getattr(wasmtime.TrapCode, "UNREACHABLE_CODE_REACHED", None) or wasmtime.TrapCode.UNREACHABLE
    assert traps.of_code(unreachable) == "unreachable"  # named UNREACHABLE_CODE_REACHED by older versions
    assert traps.of_code(None) == "trap"


def test_a_rust_panic_is_a_host_crash_not_a_trap():
    assert traps.HOST_CRASH.search("thread 'main' panicked at src/fd.rs:12:5")
    assert traps.kind("thread 'main' panicked at src/fd.rs:12:5") is None
    assert traps.HOST_CRASH.search("exit 101")
    assert not traps.HOST_CRASH.search("wasm trap: wasm `unreachable` instruction executed\n  0: 0x1f - abort")
