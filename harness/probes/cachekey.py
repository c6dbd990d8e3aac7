"""State that outlives a run: is an engine's compilation cache keyed by the module's content?

Two modules of exactly the same size that differ in one byte (the letter each prints) are
written, one after the other, to the same path; the second overwrites the first in place
and gets the first one's mtime back, so a cache keyed by path, size or mtime would hand out
the first module's machine code. Run, overwrite, run: the second run must print the second
letter. A row that prints the first letter again ran code it was not given (`stale-code`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import wasmtime

PROBE_NAME = "cache-content-key"
# Rows whose engine keeps compiled code between runs by default (where the check matters most).
CACHING = {"wasmtime-cli": "wasmtime's compilation cache (on by default: ~/.cache/wasmtime)",
           "wasmer": "Wasmer's module cache", "wasmer-singlepass": "Wasmer's module cache",
           "wasmer-llvm": "Wasmer's module cache", "wasmedge-aot": "the AOT-compiled output beside the module"}


def module(letter: str) -> bytes:
    """A command printing `letter` and a newline; every letter gives the same size."""
    assert len(letter) == 1
    return wasmtime.wat2wasm(f"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{letter}\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 2))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))""")


@dataclass
class Result:
    outcome: str  # denied (the new code ran) | stale-code | inconclusive
    reason: str
    first: str = ""
    second: str = ""


def check(runtime, folder: Path, open_kw: dict | None = None, timeout_s: float = 30.0) -> Result:
    """Run A from folder/module.wasm, overwrite it in place with B (same size, A's mtime), run again."""
    path = Path(folder) / "module.wasm"
    a, b = module("A"), module("B")
    assert len(a) == len(b) and a != b
    path.write_bytes(a)
    first = runtime.open(path, **(open_kw or {})).run(b"", timeout_s)
    st = path.stat()
    with open(path, "r+b") as f:  # in place: same inode, same size
        f.write(b)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = runtime.open(path, **(open_kw or {})).run(b"", timeout_s)
    one, two = first.stdout.strip().decode("latin-1"), second.stdout.strip().decode("latin-1")
    if one != "A":
        return Result("inconclusive", f"the first module did not run: {first.describe()[:200]}", one, two)
    if two == "A":
        return Result("stale-code", "the module was overwritten in place (same size and mtime) and the engine ran the "
                                    "old module's code: its cache is not keyed by content", one, two)
    if two != "B":
        return Result("inconclusive", f"the second module did not run: {second.describe()[:200]}", one, two)
    return Result("denied", "the overwritten module's own code ran (the cache, if any, is keyed by content)", one, two)
