"""The native LLM path: guests/llm_native.c against llama.cpp's C API, linked to the libllama
that llama-cpp-python built, loaded in-process with ctypes.

llama-cpp-python installs its shared libraries (llama_cpp/lib) but not llama.cpp's headers;
they come from the same version's source distribution, fetched by pip (from its cache when the
package was built from that sdist here) and unpacked once into the cache (headers only).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

from harness.nn.backends import BackendUnavailable
from harness.toolchain import build_c_file, cache_root, native_target

GUEST = Path(__file__).with_name("guests") / "llm_native.c"
HEADER_DIRS = ("vendor/llama.cpp/include", "vendor/llama.cpp/ggml/include")
PIP_TIMEOUT_S = 600


def _package():
    import llama_cpp
    return Path(llama_cpp.__file__).parent, llama_cpp.__version__


def lib_dir() -> Path:
    pkg, _ = _package()
    d = pkg / "lib"
    if not any(d.glob("libllama.*")):
        raise BackendUnavailable(f"no libllama in {d} (this llama-cpp-python install has no shared llama.cpp)")
    return d


@cache
def include_dirs() -> tuple[Path, ...]:
    """llama.h and the ggml headers of the installed version (fetched once into the cache)."""
    _, version = _package()
    root = cache_root() / "llama-cpp-headers" / version
    dirs = tuple(root / d for d in HEADER_DIRS)
    if (dirs[0] / "llama.h").is_file():
        return dirs
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={version}", "-d", tmp]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            done = None
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done is None or done.returncode != 0 or not sdists:
            why = "timed out" if done is None else (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise BackendUnavailable(f"llama.cpp headers for llama-cpp-python {version}: pip download failed ({why})")
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent))
        with tarfile.open(sdists[0]) as tar:
            top = tar.getnames()[0].split("/")[0]
            wanted = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".h")
                      and any(m.name.startswith(f"{top}/{d}/") for d in HEADER_DIRS)]
            tar.extractall(staging, members=wanted, filter="data")
        try:
            os.replace(staging / top, root)
        except OSError:  # another process unpacked it first
            pass
        shutil.rmtree(staging, ignore_errors=True)
    return dirs


class NativeLLM:
    """One model+context in the native library; `complete` mirrors the host's greedy loop."""

    def __init__(self, model: Path, threads: int, progress=None):
        libs = lib_dir()
        flags = tuple(f"-I{d}" for d in include_dirs()) + (f"-L{libs}", "-lllama", f"-Wl,-rpath,{libs}")
        so = build_c_file(GUEST, native_target(shared=True), name="nn-llm-native", cflags=flags, progress=progress).path
        self.lib = ctypes.CDLL(str(so))
        self.lib.wc_native_open.restype = ctypes.c_void_p
        self.lib.wc_native_open.argtypes = [ctypes.c_char_p, ctypes.c_int32]
        self.lib.wc_native_complete.restype = ctypes.c_int32
        self.lib.wc_native_complete.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32,
                                                ctypes.POINTER(ctypes.c_int32), ctypes.c_int32, ctypes.c_char_p,
                                                ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                                ctypes.POINTER(ctypes.c_int32)]
        self.lib.wc_native_close.argtypes = [ctypes.c_void_p]
        self.handle = self.lib.wc_native_open(str(model).encode(), threads)
        if not self.handle:
            raise RuntimeError(f"native llama.cpp could not load {model}")
        self._text = ctypes.create_string_buffer(1 << 16)

    def complete(self, prompt: bytes, n_predict: int) -> tuple[list[int], bytes, int]:
        """(generated token ids, text, prompt tokens)"""
        tokens = (ctypes.c_int32 * max(n_predict, 1))()
        text_len, prompt_tokens = ctypes.c_int32(), ctypes.c_int32()
        n = self.lib.wc_native_complete(self.handle, prompt, len(prompt), n_predict, tokens, n_predict, self._text,
                                        len(self._text), ctypes.byref(text_len), ctypes.byref(prompt_tokens))
        if n < 0:
            raise RuntimeError(f"wc_native_complete returned {n}")
        return list(tokens[:n]), self._text.raw[:text_len.value], prompt_tokens.value

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.wc_native_close(self.handle)
