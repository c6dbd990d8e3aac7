"""Sizes of what ships: a .wasm as built, with its custom sections stripped (names, producers,
debug info: what a deployment can drop), and optimised by binaryen's wasm-opt when present."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

WASM_MAGIC = b"\0asm"
WASM_OPT_FLAGS = ("-Oz", "--strip-debug", "--strip-producers", "--enable-bulk-memory", "--enable-sign-ext",
                  "--enable-mutable-globals", "--enable-nontrapping-float-to-int")


class WasmFormatError(ValueError):
    """Not a WebAssembly binary module, or a truncated one."""


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128 at the end of the module")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 35:
            raise WasmFormatError(f"LEB128 longer than 5 bytes at offset {pos}")


def sections(data: bytes) -> list[tuple[int, int, int]]:
    """(section id, start offset, end offset) of every section, after checking the header."""
    if data[:4] != WASM_MAGIC or len(data) < 8:
        raise WasmFormatError("not a WebAssembly module (no \\0asm header)")
    out, pos = [], 8
    while pos < len(data):
        start = pos
        sid = data[pos]
        size, pos = _leb128(data, pos + 1)
        if pos + size > len(data):
            raise WasmFormatError(f"section {sid} at offset {start} runs past the end of the module")
        pos += size
        out.append((sid, start, pos))
    return out


def strip_custom_sections(data: bytes) -> bytes:
    """The module without custom sections (id 0): same code, same behaviour."""
    return data[:8] + b"".join(data[s:e] for sid, s, e in sections(data) if sid != 0)


@functools.cache
def wasm_opt_version() -> str | None:
    exe = shutil.which("wasm-opt")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip() or "unknown"


def wasm_opt(data: bytes, timeout_s: float = 120) -> tuple[bytes | None, str]:
    """(optimised module, how) or (None, why not): binaryen's wasm-opt -Oz when installed."""
    exe = shutil.which("wasm-opt")
    if exe is None:
        return None, "wasm-opt not installed (fix: apt-get install binaryen)"
    with tempfile.TemporaryDirectory(prefix="wc-wasm-opt-") as tmp:
        src, dst = Path(tmp) / "in.wasm", Path(tmp) / "out.wasm"
        src.write_bytes(data)
        try:
            r = subprocess.run([exe, *WASM_OPT_FLAGS, str(src), "-o", str(dst)], capture_output=True, text=True,
                               timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None, f"wasm-opt ran past {timeout_s:.0f}s"
        if r.returncode != 0 or not dst.is_file():
            return None, f"wasm-opt failed: {(r.stderr or r.stdout).strip()[:300]}"
        return dst.read_bytes(), f"{wasm_opt_version()} {' '.join(WASM_OPT_FLAGS)}"
