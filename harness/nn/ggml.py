"""The `ggml` WASI-NN backend: llama.cpp through llama-cpp-python, behind the contract of
WasmEdge's ggml plugin, so a guest written for WasmEdge runs here unchanged (and back):

  load / load_by_name  the model: GGUF bytes, or b"preload:<path>" (what WasmEdge's
                       --nn-preload name:GGML:AUTO:<path> hands the backend); builder 1, when
                       given, is options JSON
  set_input 0          the prompt: a u8 tensor of UTF-8 text (the host tokenizes it, adding BOS
                       and parsing special tokens, as WasmEdge does)
  set_input 1          options as a u8 tensor of JSON, WasmEdge's keys: "n-predict",
                       "temp", "seed", "ctx-size", "threads", "n-gpu-layers", ... (unknown
                       keys are ignored; a value of the wrong type is invalid_argument, text
                       that is not JSON invalid_encoding). "ctx-size" and "threads" take effect
                       when given at load (builder 1); offload follows the execution target
  compute              greedy generation (temp 0) until n-predict tokens or end of sequence
  get_output 0         the generated text (UTF-8 bytes, the prompt not included)
  get_output 1         output metadata JSON: input_tokens, output_tokens (WasmEdge's keys),
                       and output_token_ids (this host's addition, so that a guest can
                       compare runs token for token)

Only greedy decoding is implemented: a temp above 0 is refused (invalid_argument) rather
than silently decoded greedily. `greedy` below is the backend's own loop (logits from
llama.cpp, argmax in NumPy, like WasmEdge's plugin); the direct path in the parity suite
uses llama-cpp-python's own sampler (`library_greedy`), so the two are separate code over
the same library.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from harness.nn.backends import Backend, BackendUnavailable, Graph, InputRejected
from harness.toolchain import cache_root

LLAMA_MISSING = ("llama-cpp-python not installed (pip install 'wasm-claims[ggml]': it builds llama.cpp "
                 "from its source distribution, CPU)")
NO_GPU_OFFLOAD = ("this llama-cpp-python build has no GPU offload (built for CPU; a CUDA machine with "
                  "CMAKE_ARGS=-DGGML_CUDA=on pip install llama-cpp-python)")
THREADS = 1  # one thread on both sides of NN-2, as for onnxruntime: stable timings on a shared machine
PROMPT_MARGIN = 4  # WasmEdge keeps 4 context slots free beyond the prompt


@functools.cache
def llama_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def llama_version() -> str:
    if not llama_available():
        return "not installed"
    import llama_cpp
    return f"llama-cpp-python {llama_cpp.__version__}"


@dataclass(frozen=True)
class Options:
    """WasmEdge's ggml options that this backend honours, with WasmEdge's defaults where they
    matter (temp 0.8: a guest that wants greedy output says temp 0)."""

    n_predict: int = 128
    temp: float = 0.8
    seed: int = 42
    ctx_size: int = 0  # 0: the model's context length
    threads: int = THREADS
    n_gpu_layers: int = 0


_KEYS = {"n-predict": ("n_predict", int), "temp": ("temp", float), "seed": ("seed", int),
         "ctx-size": ("ctx_size", int), "threads": ("threads", int), "n-gpu-layers": ("n_gpu_layers", int)}


def parse_options(raw: bytes, base: Options = Options()) -> Options:
    """Options JSON (WasmEdge's keys) over `base`; InputRejected with WasmEdge's errno on bad input."""
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputRejected("options are not JSON", "invalid_encoding") from None
    if not isinstance(doc, dict):
        raise InputRejected("options JSON is not an object", "invalid_encoding")
    changes = {}
    for key, (field, kind) in _KEYS.items():
        if key in doc:
            value = doc[key]
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if kind is float else \
                (isinstance(value, int) and not isinstance(value, bool))
            if not ok:
                raise InputRejected(f"option {key!r} must be a {kind.__name__}, got {value!r}")
            changes[field] = kind(value)
    opts = replace(base, **changes)
    if opts.n_predict < 0 or opts.ctx_size < 0 or opts.threads < 1:
        raise InputRejected(f"option out of range: {opts}")
    if opts.temp > 0:
        raise InputRejected(f"temp {opts.temp}: this backend implements greedy decoding only (temp 0)")
    return opts


def options_json(n_predict: int, seed: int = 42, temp: float = 0.0, threads: int | None = None,
                 ctx_size: int | None = None) -> bytes:
    """The options a guest sends for a greedy completion; threads and ctx-size only when given
    (this backend takes them at load, WasmEdge's plugin at every set_input 1)."""
    doc = {"n-predict": n_predict, "temp": temp, "seed": seed, "threads": threads, "ctx-size": ctx_size}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def open_llama(model_path: str | Path, target: str = "cpu", *, n_ctx: int = 0, threads: int = THREADS, seed: int = 42):
    """A llama-cpp-python model+context on `target` (gpu: every layer offloaded)."""
    if not llama_available():
        raise BackendUnavailable(LLAMA_MISSING)
    import llama_cpp

    if target == "gpu" and not llama_cpp.llama_supports_gpu_offload():
        raise BackendUnavailable(NO_GPU_OFFLOAD)
    return llama_cpp.Llama(str(model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, seed=seed,
                           n_gpu_layers=-1 if target == "gpu" else 0, verbose=False)


def tokenize(llm, prompt: bytes) -> list[int]:
    """As WasmEdge's plugin does: BOS added, special-token text parsed."""
    return llm.tokenize(bytes(prompt), add_bos=True, special=True)


def last_logits(llm) -> np.ndarray:
    """The logits of the last evaluated position, copied out of llama.cpp."""
    ptr = llm._ctx.get_logits_ith(-1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


def first_logits(llm, tokens: list[int]) -> np.ndarray:
    """The next-token logits after the prompt (the first generation step)."""
    llm.reset()
    llm.eval(tokens)
    return last_logits(llm)


def _is_end(llm, token: int) -> bool:
    import llama_cpp
    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))


def greedy(llm, tokens: list[int], n_predict: int) -> list[int]:
    """The backend's loop: evaluate the prompt, then argmax and evaluate one token at a time,
    stopping at end of sequence, after n_predict tokens, or when the context is full."""
    llm.reset()
    llm.eval(tokens)
    out: list[int] = []
    while len(out) < n_predict and llm.n_tokens < llm.n_ctx():
        token = int(np.argmax(last_logits(llm)))
        if _is_end(llm, token):
            break
        out.append(token)
        llm.eval([token])
    return out


def library_greedy(llm, tokens: list[int], n_predict: int) -> list[int]:
    """llama-cpp-python's own generation (its greedy sampler at temp 0), same stopping rules."""
    out: list[int] = []
    if n_predict == 0:
        return out
    llm.reset()  # no reuse of a cached prompt prefix: every path evaluates the whole prompt
    for token in llm.generate(tokens, temp=0.0, reset=True):
        if _is_end(llm, token) or llm.n_tokens >= llm.n_ctx():  # sampled with the context full: greedy stops before
            break
        out.append(token)
        if len(out) >= n_predict:
            break
    return out


def pieces(llm, tokens: list[int]) -> bytes:
    """The text of generated tokens, piece by piece (special tokens spelled out, no leading
    space stripped), as WasmEdge appends them. Not `token_to_piece`: llama-cpp-python returns
    its whole 32-byte buffer there, so the piece of byte token <0x00> cannot be told from padding."""
    return llm._model.detokenize(list(tokens), special=True)


class GgmlGraph(Graph):
    """One loaded GGUF model; inputs 0 (prompt) and 1 (options, optional), outputs 0 (text) and 1 (metadata)."""

    n_inputs = 2
    n_outputs = 2
    optional_inputs = frozenset({1})

    def __init__(self, path: Path, target: str, options: Options):
        self.path, self.target, self.options = path, target, options
        self.llm = open_llama(path, target, n_ctx=options.ctx_size, threads=options.threads, seed=options.seed)

    def check_input(self, index: int, data: np.ndarray) -> None:
        if index == 1:
            parse_options(data.tobytes(), self.options)

    def run(self, inputs):
        prompt, raw_options = inputs[0], inputs[1]
        opts = parse_options(b"{}" if raw_options is None else raw_options.tobytes(), self.options)
        tokens = tokenize(self.llm, prompt.tobytes())
        if len(tokens) > self.llm.n_ctx() - PROMPT_MARGIN:
            raise InputRejected(f"prompt of {len(tokens)} tokens, context of {self.llm.n_ctx()}")
        out = greedy(self.llm, tokens, opts.n_predict)
        meta = {"input_tokens": len(tokens), "output_tokens": len(out), "output_token_ids": out,
                "backend": llama_version()}
        return [np.frombuffer(pieces(self.llm, out), dtype=np.uint8),
                np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)]


def _model_file(model: bytes) -> Path:
    """Where the model is: the path after b"preload:", or GGUF bytes written once to the cache
    (WasmEdge writes them to a temporary file too: llama.cpp loads from files)."""
    model = bytes(model)
    if model.startswith(b"preload:"):
        path = Path(model[len(b"preload:"):].decode("utf-8", "replace"))
        if not path.is_file():
            raise FileNotFoundError(f"no model file {path}")
        return path
    if not model.startswith(b"GGUF"):
        raise ValueError("not a GGUF model (no GGUF magic) and not preload:<path>")
    path = cache_root() / "nn-models" / f"loaded-{hashlib.sha256(model).hexdigest()[:24]}.gguf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_bytes(model)
        tmp.replace(path)
    return path


class GgmlBackend(Backend):
    name, encoding = "ggml", "ggml"
    targets = ("cpu", "gpu")
    max_builders = 2  # the model, then optional options JSON

    def version(self):
        return llama_version()

    def unavailable(self, target="cpu"):
        if not llama_available():
            return LLAMA_MISSING
        if target == "gpu":
            import llama_cpp
            if not llama_cpp.llama_supports_gpu_offload():
                return NO_GPU_OFFLOAD
        return super().unavailable(target)

    def precision(self, target):
        """float32 weights and activations, llama.cpp's default float16 key/value cache"""
        return f"ggml-f32-f16kv-{'cpu' if target == 'cpu' else 'gpu'}"

    def load_builders(self, builders, target="cpu"):
        options = parse_options(builders[1]) if len(builders) > 1 else Options()
        return self._load(builders[0], target, options)

    def load(self, model, target="cpu"):
        return self._load(model, target, Options())

    def _load(self, model, target, options):
        if (reason := self.unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        return GgmlGraph(_model_file(model), target, options)
