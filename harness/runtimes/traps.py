"""One trap vocabulary for every engine. Each engine words a trap its own way (wasmtime's
TrapCode names, the CLIs' messages, V8's RangeErrors, WasmEdge's log lines, the spec test
suite's assert_trap words); the harness compares kinds across engines, so every adapter reads
its engine's words through `kind` / `normalise` / `of_code` here and nowhere else.
"""

from __future__ import annotations

import re

WORDS = [
    ("out of bounds memory", "memory-out-of-bounds"), ("memory access out of bounds", "memory-out-of-bounds"),
    ("data segment is out of bounds", "memory-out-of-bounds"),
    ("memory fault at wasm address", "memory-out-of-bounds"), ("memory-out-of-bounds", "memory-out-of-bounds"),
    ("unreachable", "unreachable"),
    ("call stack exhausted", "stack-overflow"), ("maximum call stack", "stack-overflow"),
    ("stack overflow", "stack-overflow"), ("call stack overflow", "stack-overflow"),
    ("divide by zero", "integer-division-by-zero"), ("division-by-zero", "integer-division-by-zero"),
    ("integer overflow", "integer-overflow"), ("integer-overflow", "integer-overflow"),
    ("divide result unrepresentable", "integer-overflow"),
    ("conversion to integer", "invalid-conversion-to-integer"), ("conversion-to-integer", "invalid-conversion-to-integer"),
    ("float unrepresentable in integer range", "invalid-conversion-to-integer"),
    ("null function or function signature mismatch", "indirect-call-failed"),  # V8 tells the two apart by neither
    ("indirect call type mismatch", "bad-signature"), ("bad-signature", "bad-signature"),
    ("null function", "indirect-call-to-null"), ("indirect-call-to-null", "indirect-call-to-null"),
    ("uninitialized element", "indirect-call-to-null"),
    ("undefined element", "table-out-of-bounds"), ("table index", "table-out-of-bounds"),
    ("out of bounds table", "table-out-of-bounds"), ("table-out-of-bounds", "table-out-of-bounds"),
    ("all fuel consumed", "out-of-fuel"), ("out of fuel", "out-of-fuel"), ("cost exceeded limit", "out-of-fuel"),
    ("cost limit exceeded", "out-of-fuel"),
    ("interrupt", "interrupt"), ("misaligned", "heap-misaligned"), ("unaligned atomic", "heap-misaligned"), ("stack-overflow", "stack-overflow"),
    ("out-of-fuel", "out-of-fuel"),
]


def normalise(text: str) -> str:
    """The kind in the one vocabulary, or the engine's own words (shortened) when unknown."""
    return kind(text) or text.lower().strip()[:60]


def kind(text: str) -> str | None:
    """The trap kind named anywhere in an engine's error text (None: no known trap words)."""
    low = text.lower()
    return next((k for words, k in WORDS if words in low), None)


def of_code(code) -> str:
    """A wasmtime TrapCode (any wasmtime-py version's enum member, None when it has none) in
    the one vocabulary (older versions name it UNREACHABLE_CODE_REACHED: "unreachable" too)."""
    return normalise(code.name.replace("_", "-")) if code is not None else "trap"


# A host crash is not a trap: the engine's own process panicked, aborted or faulted. A CLI reports
# a Rust panic as an exit (101) with these words, not as a signal. "Aborted" is matched as the
# shell and libc write it: a guest's own `abort` (a function name in a trap's backtrace) is a trap.
HOST_CRASH = re.compile(r"panicked at|fatal runtime error|FATAL ERROR|Segmentation fault|core dumped|double free|"
                        r"\bAborted\b|\bexit 101\b")
