"""Tensor backends the WASI-NN host hands graphs to, and that the suite also calls directly.

`reference` is onnx's ReferenceEvaluator (NumPy), `onnxruntime` its CPU execution provider
(CUDA's when the installed build and the machine have it), `tflite` LiteRT's interpreter on a
.tflite flatbuffer (CPU only, as WasmEdge's tensorflowlite backend), `torch` a TorchScript
module on CPU or CUDA. torch is optional (it is large): without it the backend says so and
how to get it.
"""

from __future__ import annotations

import functools
import importlib.util
import io

import numpy as np

# "<what is missing> (<what enables it>)": the report's "to enable" reads the last parenthesis
TORCH_MISSING = ("torch not installed: the pytorch rows are an extra of several GB "
                 "(make report EXTRAS=torch, or pip install 'wasm-claims[torch]')")
LITERT_MISSING = "LiteRT not installed (pip install ai-edge-litert; wheels exist for x86_64 and aarch64 only)"


class BackendUnavailable(Exception):
    """The backend or the target cannot run here; the message says what is missing."""


class InputRejected(ValueError):
    """A graph refuses an input or option; `errno` names the witx errno the host returns."""

    def __init__(self, message: str, errno: str = "invalid_argument"):
        super().__init__(message)
        self.errno = errno


class Graph:
    """A loaded model: positional inputs in, positional outputs out (NumPy arrays)."""

    n_inputs: int
    n_outputs: int
    optional_inputs: frozenset = frozenset()  # indices compute may run without (they arrive as None)

    def check_input(self, index: int, data: np.ndarray) -> None:
        """Called by set_input with the tensor in its declared dimensions: raise InputRejected
        for an input the graph cannot take."""

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


class Backend:
    name = ""
    encoding = ""  # the graph_encoding name this backend loads
    targets = ("cpu",)

    def unavailable(self, target: str = "cpu") -> str | None:
        """None when `target` can run here, else why not (and what would enable it)."""
        return None if target in self.targets else f"{self.name} has no {target} target"

    def version(self) -> str:
        return ""

    max_builders = 1  # graph builders `load` accepts (WasmEdge's ggml takes options JSON as a second)

    def load(self, model: bytes, target: str = "cpu") -> Graph:
        raise NotImplementedError

    def load_builders(self, builders: list[bytes], target: str = "cpu") -> Graph:
        return self.load(builders[0], target)

    fixed_shapes = False  # True: an input must have exactly the model's dimensions (no resize)

    def precision(self, target: str) -> str:
        """The arithmetic the backend uses for float32 graphs on `target` (it sets the parity bound)."""
        return f"fp32-{'cpu' if target == 'cpu' else 'gpu'}"


def _check_inputs(inputs, n):
    if len(inputs) != n:
        raise ValueError(f"graph takes {n} inputs, got {len(inputs)}")


class _OnnxGraph(Graph):
    def __init__(self, run, input_names, n_outputs):
        self._run = run
        self._names = list(input_names)
        self.n_inputs = len(self._names)
        self.n_outputs = n_outputs

    def run(self, inputs):
        _check_inputs(inputs, self.n_inputs)
        return [np.asarray(o) for o in self._run(dict(zip(self._names, inputs)))]


class ReferenceBackend(Backend):
    name, encoding = "reference", "onnx"

    def version(self):
        import onnx
        return f"onnx {onnx.__version__} ReferenceEvaluator"

    def load(self, model, target="cpu"):
        import onnx
        from onnx.reference import ReferenceEvaluator

        if (reason := self.unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        proto = onnx.load_from_string(bytes(model))
        onnx.checker.check_model(proto)
        ev = ReferenceEvaluator(proto)
        names = [i.name for i in proto.graph.input]
        return _OnnxGraph(lambda feeds: ev.run(None, feeds), names, len(proto.graph.output))


class OnnxRuntimeBackend(Backend):
    name, encoding = "onnxruntime", "onnx"
    targets = ("cpu", "gpu")
    threads = 1  # one intra-op thread: stable timings on a shared machine, same for both sides of NN-2

    def version(self):
        import onnxruntime
        return f"onnxruntime {onnxruntime.__version__}"

    def unavailable(self, target="cpu"):
        import onnxruntime

        if target == "gpu" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return ("no CUDA execution provider in this onnxruntime build / no GPU here "
                    "(a CUDA machine with pip install onnxruntime-gpu)")
        return super().unavailable(target)

    def load(self, model, target="cpu"):
        import onnxruntime

        if (reason := self.unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if target == "gpu" else ["CPUExecutionProvider"]
        sess = onnxruntime.InferenceSession(bytes(model), opts, providers=providers)
        names = [i.name for i in sess.get_inputs()]
        return _OnnxGraph(lambda feeds: sess.run(None, feeds), names, len(sess.get_outputs()))


@functools.cache
def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


class _TorchGraph(Graph):
    """WasmEdge's pytorch contract: f32 inputs only, forward(*inputs), and a tensor, a tuple or
    a list of tensors out (each one output index, handed back as f32 as WasmEdge's getOutput
    does). The inputs are forward's parameters: a module of two inputs takes two."""

    def __init__(self, module, device):
        self._module, self._device = module, device
        schema = module.forward.schema
        self.n_inputs = len(schema.arguments) - 1  # less `self`
        returns = schema.returns[0].type if len(schema.returns) == 1 else None
        self.n_outputs = len(returns.elements()) if hasattr(returns, "elements") else 1  # a list's length shows when run

    def check_input(self, index, data):
        if data.dtype != np.float32:
            raise InputRejected(f"input {index} is {data.dtype}; the pytorch backend takes f32 only (as WasmEdge's)")

    def run(self, inputs):
        import torch

        _check_inputs(inputs, self.n_inputs)
        with torch.no_grad():
            out = self._module(*[torch.from_numpy(np.ascontiguousarray(x)).to(self._device) for x in inputs])
        outs = out if isinstance(out, (tuple, list)) else [out]
        return [o.detach().cpu().float().numpy() for o in outs]


class TorchBackend(Backend):
    """TorchScript bytes (torch.jit.save). One intra-op thread, as onnxruntime's: with torch's
    default (a thread per core) a call on a busy machine waits for a core at every parallel
    region, and NN-2's direct side swung by three orders of magnitude. torch's thread count is
    one setting for the whole process; load sets it."""

    name, encoding = "torch", "pytorch"
    targets = ("cpu", "gpu")
    threads = 1

    def version(self):
        if not torch_available():
            return "not installed"
        import torch
        return f"torch {torch.__version__}"

    def unavailable(self, target="cpu"):
        if not torch_available():
            return TORCH_MISSING
        import torch

        if target == "gpu" and not torch.cuda.is_available():
            return "no CUDA GPU visible to torch (run on a machine with a GPU)"
        return super().unavailable(target)

    def precision(self, target):
        if target == "cpu":
            return "fp32-cpu"
        import torch
        return "tf32-gpu" if torch.backends.cuda.matmul.allow_tf32 else "fp32-gpu"

    def load(self, model, target="cpu"):
        if (reason := self.unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        import torch

        torch.set_num_threads(self.threads)
        device = "cuda" if target == "gpu" else "cpu"
        module = torch.jit.load(io.BytesIO(bytes(model)), map_location=device).eval()
        return _TorchGraph(module, device)


@functools.cache
def litert_available() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


class _TfliteGraph(Graph):
    """One LiteRT interpreter. Inputs follow WasmEdge's setInput: the model's exact dimensions."""

    def __init__(self, interpreter):
        self._it = interpreter
        self._in = interpreter.get_input_details()
        self._out = interpreter.get_output_details()
        self.n_inputs, self.n_outputs = len(self._in), len(self._out)

    def check_input(self, index, data):
        want = tuple(int(n) for n in self._in[index]["shape"])
        if tuple(data.shape) != want:
            raise InputRejected(f"input {index} has dimensions {list(data.shape)}; this model takes exactly "
                                f"{list(want)} (tensorflowlite does not resize inputs)")
        if data.dtype != self._in[index]["dtype"]:
            raise InputRejected(f"input {index} is {data.dtype}; the model takes {np.dtype(self._in[index]['dtype'])}")

    def run(self, inputs):
        _check_inputs(inputs, self.n_inputs)
        for i, (detail, x) in enumerate(zip(self._in, inputs)):
            self.check_input(i, np.asarray(x))
            self._it.set_tensor(detail["index"], x)
        self._it.invoke()
        return [self._it.get_tensor(d["index"]).copy() for d in self._out]


class TfliteBackend(Backend):
    """WasmEdge's `tensorflowlite` encoding: one builder (the .tflite bytes), CPU only, inputs of
    the model's exact shape. One interpreter thread on both sides of NN-2 (WasmEdge uses 2)."""

    name, encoding = "tflite", "tensorflowlite"
    fixed_shapes = True
    threads = 1

    def version(self):
        if not litert_available():
            return "not installed"
        from importlib.metadata import version
        return f"ai-edge-litert {version('ai-edge-litert')}"

    def unavailable(self, target="cpu"):
        if not litert_available():
            return LITERT_MISSING
        return super().unavailable(target)

    def load(self, model, target="cpu"):
        if (reason := self.unavailable(target)) is not None:
            raise BackendUnavailable(reason)
        from ai_edge_litert.interpreter import Interpreter

        try:
            it = Interpreter(model_content=bytes(model), num_threads=self.threads)
            it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputRejected(f"LiteRT cannot load the model: {exc}") from None
        return _TfliteGraph(it)


BACKENDS = {b.name: b for b in (ReferenceBackend(), OnnxRuntimeBackend(), TfliteBackend(), TorchBackend())}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown WASI-NN backend {name!r} (known: {', '.join(BACKENDS)})") from None
