"""The native LLM path: guests/llm_native.c against llama.cpp's C API, compiled with the
headers and linked to the libllama that llama-cpp-python built and installed (llama_cpp/lib,
include/), loaded in-process with ctypes."""

from __future__ import annotations

import ctypes
from pathlib import Path

from harness.nn.backends import BackendUnavailable
from harness.toolchain import build_c_file, native_target

GUEST = Path(__file__).with_name("guests") / "llm_native.c"


def _package():
    import llama_cpp
    return Path(llama_cpp.__file__).parent, llama_cpp.__version__


def lib_dir() -> Path:
    pkg, _ = _package()
    d = pkg / "lib"
    if not any(d.glob("libllama.*")):
        raise BackendUnavailable(f"no libllama in {d} (this llama-cpp-python install has no shared llama.cpp)")
    return d


def include_dir() -> Path:
    """llama.h and the ggml headers: the llama-cpp-python build installs them beside the package."""
    pkg, version = _package()
    d = pkg.parent / "include"
    if not (d / "llama.h").is_file():
        raise BackendUnavailable(f"no llama.h in {d} (llama-cpp-python {version} installed without llama.cpp's headers)")
    return d


class NativeLLM:
    """One model+context in the native library; `complete` mirrors the host's greedy loop."""

    def __init__(self, model: Path, threads: int, progress=None):
        libs = lib_dir()
        _, version = _package()  # in the flags, so the build cache key changes with the library
        flags = (f"-I{include_dir()}", f"-DWC_LLAMA_CPP_PYTHON=\"{version}\"", f"-L{libs}", "-lllama", f"-Wl,-rpath,{libs}")
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
