"""The LLM flow of the parity suite, one prompt -> greedy completion, along each path:

  wasi-nn        the C guest (guests/llm.c, wasm32-wasi) sends the prompt through
                 wasi_ephemeral_nn to the host's `ggml` backend (llama.cpp), loaded by name
  python-direct  llama-cpp-python called straight from Python: its own generate() and greedy
                 sampler, or the backend's argmax loop without the Wasm boundary (for timing)
  native         the host's loop in C against llama.cpp's C API (guests/llm_native.c), linked
                 to the same libllama, called in-process
  python-container  the same Python in the project's container image (skipped with the
                 reason when the image has no llama-cpp-python)
  wasmedge-plugin  the guest as a command under WasmEdge's own wasi_nn ggml plugin, where
                 one is installed (harness/nn/wasmedge_nn.py)

Every path gives a `Completion` (generated token ids, text, seconds); tokens per second is
generated tokens over the seconds of the whole completion (prompt evaluation included, the
same on every path).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.nn import ggml
from harness.nn.abi import profile as get_profile
from harness.nn.backends import BackendUnavailable
from harness.nn.guest import WasmGuest, build_guest
from harness.nn.host import NNHost
from harness.nn.tinyllama import SUITE_MODEL, LlamaSpec, gguf_path

MODEL_NAME = "default"  # the name WasmEdge's examples preload the model under
OUT_MAX = 1 << 16
META_MAX = 1 << 14
CONTAINER_MISSING = ("the container image is built from Debian packages, which carry no llama-cpp-python "
                     "(and the image has no compiler to build it from source): the container row is not tested")


@dataclass(frozen=True)
class Completion:
    tokens: tuple[int, ...] | None  # None where the path reports only a count (WasmEdge's plugin)
    text: bytes
    seconds: float
    prompt_tokens: int
    reported_count: int | None = None
    process_seconds: float | None = None  # where each completion is a process: all of it (start, model load)

    @property
    def count(self) -> int:
        return len(self.tokens) if self.tokens is not None else (self.reported_count or 0)

    @property
    def tokens_per_s(self) -> float | None:
        return self.count / self.seconds if self.seconds > 0 and self.count else None

    def same_as(self, other: "Completion") -> bool:
        """Same token ids and text; where one side has no ids, same text and token count."""
        if self.tokens is None or other.tokens is None:
            return self.text == other.text and self.count == other.count
        return self.tokens == other.tokens and self.text == other.text


def model_unavailable(target: str = "cpu") -> str | None:
    """Why the ggml rows cannot run here (None when they can)."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        from harness.nn.tinyllama import GGUF_MISSING
        return GGUF_MISSING
    return ggml.GgmlBackend().unavailable(target)


class WasiNNPath:
    """One instance of the LLM guest on a host whose ggml backend has the model preloaded."""

    path = "wasi-nn"

    def __init__(self, spec: LlamaSpec = SUITE_MODEL, target: str = "cpu", abi: str | None = None, progress=None):
        if (reason := model_unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        self.target = target
        self.host = NNHost([ggml.GgmlBackend()], abi)
        self.host.register(MODEL_NAME, b"preload:" + str(gguf_path(spec)).encode(), "ggml", target)
        self.guest = WasmGuest(build_guest("llm", progress=progress).path, self.host)
        g = self.guest
        name, ctx = g.put(MODEL_NAME.encode()), g.alloc(4)
        errno = g.call("wc_llm_open", name, len(MODEL_NAME), ctx)
        if errno:
            raise RuntimeError(f"wc_llm_open: errno {errno}: {self.host.last_error}")
        self.ctx = int.from_bytes(g.get(ctx, 4), "little")
        self.u8 = self.host.profile.type_code("u8")
        self.out, self.out_len = g.alloc(OUT_MAX), g.alloc(4)
        self.meta, self.meta_len = g.alloc(META_MAX), g.alloc(4)
        g.free(name, ctx)

    def complete(self, prompt: bytes, n_predict: int, seed: int = 42) -> Completion:
        g = self.guest
        opts = ggml.options_json(n_predict, seed)
        op, pp = g.put(opts), g.put(prompt or b"\0")
        try:
            start = time.perf_counter()
            errno = g.call("wc_llm_complete", self.ctx, self.u8, op, len(opts), pp, len(prompt), self.out, OUT_MAX,
                           self.out_len, self.meta, META_MAX, self.meta_len)
            seconds = time.perf_counter() - start
        finally:
            g.free(op, pp)
        if errno:
            raise RuntimeError(f"wc_llm_complete: errno {errno}: {self.host.last_error}")
        text = g.get(self.out, int.from_bytes(g.get(self.out_len, 4), "little"))
        meta = json.loads(g.get(self.meta, int.from_bytes(g.get(self.meta_len, 4), "little")))
        return Completion(tuple(meta["output_token_ids"]), text, seconds, meta["input_tokens"])


class DirectPath:
    """llama-cpp-python in this process: tokenize, generate with its greedy sampler, pieces."""

    path = "python-direct"

    def __init__(self, spec: LlamaSpec = SUITE_MODEL, target: str = "cpu", progress=None):
        if (reason := model_unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        self.target = target
        self.llm = ggml.open_llama(gguf_path(spec), target)

    def complete(self, prompt: bytes, n_predict: int, seed: int = 42, loop: str = "sampler") -> Completion:
        """loop "sampler": llama-cpp-python's own generate() and greedy sampler (an independent
        implementation, for parity); "argmax": the backend's loop (ggml.greedy), so that a
        timing against the WASI-NN path differs only by the boundary."""
        self.llm.set_seed(seed)
        start = time.perf_counter()
        tokens = ggml.tokenize(self.llm, prompt)
        out = {"sampler": ggml.library_greedy, "argmax": ggml.greedy}[loop](self.llm, tokens, n_predict)
        text = ggml.pieces(self.llm, out)
        seconds = time.perf_counter() - start
        return Completion(tuple(out), text, seconds, len(tokens))

    def first_logits(self, prompt: bytes):
        """(prompt tokens, next-token logits after the prompt) from llama.cpp."""
        tokens = ggml.tokenize(self.llm, prompt)
        return tokens, ggml.first_logits(self.llm, tokens)

    def parting(self, prompt: bytes, ids: tuple[int, ...], other_text: bytes, spec: LlamaSpec = SUITE_MODEL) -> dict:
        """Where another path's text leaves the completion `ids` of `prompt` (read piece by piece,
        so a path without token ids can be placed too), and at that step llama.cpp's two best
        logits and the float64 reference's choice: a near tie that rounding flips is told from a
        real difference."""
        from harness.nn.tinyllama import forward64

        pieces = [ggml.pieces(self.llm, [t]) for t in ids]
        step, at = 0, 0
        while step < len(pieces) and other_text.startswith(pieces[step], at):
            at += len(pieces[step])
            step += 1
        context = ggml.tokenize(self.llm, prompt) + list(ids[:step])
        logits, ref = ggml.first_logits(self.llm, context), forward64(spec, context)[-1]
        best, second = (int(t) for t in np.argsort(logits)[::-1][:2])

        def shown(token: int) -> list:
            return [token, ggml.pieces(self.llm, [token]).decode("utf-8", "replace")]

        return {"step": step, "this_piece": pieces[step].decode("utf-8", "replace") if step < len(pieces) else None,
                "other_text_from_here": other_text[at:at + 16].decode("utf-8", "replace"),
                "llama_best": shown(best), "llama_second": shown(second),
                "llama_gap": float(logits[best] - logits[second]), "float64_best": shown(int(np.argmax(ref))),
                "float64_gap": float(np.sort(ref)[-1] - np.sort(ref)[-2])}


class NativePath:
    """The flow in C, native, on the libllama llama-cpp-python built (CPU)."""

    path = "native"

    def __init__(self, spec: LlamaSpec = SUITE_MODEL, target: str = "cpu", progress=None):
        if (reason := model_unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        if target != "cpu":
            raise BackendUnavailable("the native flow offloads nothing (n_gpu_layers 0): CPU only")
        from harness.nn.llama_native import NativeLLM

        self.target = target
        self.native = NativeLLM(gguf_path(spec), ggml.THREADS, progress=progress)

    def complete(self, prompt: bytes, n_predict: int, seed: int = 42) -> Completion:
        start = time.perf_counter()
        tokens, text, n_prompt = self.native.complete(prompt, n_predict)
        return Completion(tuple(tokens), text, time.perf_counter() - start, n_prompt)


def run_command(prompt: bytes, options: str, spec: LlamaSpec = SUITE_MODEL, progress=None) -> tuple[bytes, bytes]:
    """The guest built as a WASI command (`llm.wasm [name] [options] < prompt`), the way
    `wasmedge --nn-preload default:GGML:AUTO:model.gguf llm.wasm` runs it, here on this host:
    returns (stdout, stderr)."""
    import tempfile

    import wasmtime

    if (reason := model_unavailable()) is not None:
        raise BackendUnavailable(reason)
    wasm = build_guest("llm", "wasm32-wasi", progress=progress, defines=("-DWC_LLM_COMMAND",)).path
    host = NNHost([ggml.GgmlBackend()])
    host.register(MODEL_NAME, b"preload:" + str(gguf_path(spec)).encode(), "ggml")
    with tempfile.TemporaryDirectory() as tmp:
        stdin, stdout, stderr = (Path(tmp) / n for n in ("stdin", "stdout", "stderr"))
        stdin.write_bytes(prompt)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["llm.wasm", MODEL_NAME, options]
        wasi.stdin_file, wasi.stdout_file, wasi.stderr_file = str(stdin), str(stdout), str(stderr)
        guest = WasmGuest(wasm, host, wasi)
        try:
            guest.call("_start")
        except wasmtime.ExitTrap as exc:
            if exc.code != 0:
                raise RuntimeError(f"llm.wasm exited {exc.code}: {stderr.read_text(errors='replace')}") from None
        return stdout.read_bytes(), stderr.read_bytes()


def container_unavailable(image_has_llama: bool | None = None) -> str:
    """The container row's skip reason (the image is made from Debian packages; see images.py)."""
    return CONTAINER_MISSING


def _wasmedge_path(spec: LlamaSpec = SUITE_MODEL, target: str = "cpu", progress=None):
    from harness.nn.wasmedge_nn import WasmEdgePluginPath

    return WasmEdgePluginPath(spec, target, progress=progress)


PATHS = {"wasi-nn": WasiNNPath, "python-direct": DirectPath, "native": NativePath, "wasmedge-plugin": _wasmedge_path}


def open_path(name: str, target: str = "cpu", spec: LlamaSpec = SUITE_MODEL, progress=None):
    if name == "python-container":
        raise BackendUnavailable(container_unavailable())
    try:
        return PATHS[name](spec, target, progress=progress)
    except KeyError:
        raise ValueError(f"unknown LLM path {name!r} (known: {', '.join(PATHS)}, python-container)") from None


def model_file(spec: LlamaSpec = SUITE_MODEL) -> Path:
    return gguf_path(spec)
