"""Tensor blocks generated from a seed (nothing is downloaded): MLP, softmax, layer norm and
single-head attention, saved as ONNX, TensorFlow Lite and TorchScript (where torch is
installed) in the cache, with an independent NumPy float64 implementation of each as the
parity reference.

Every block takes one float32 input whose first dimension (batch or sequence) is free (in
TensorFlow Lite: fixed at max_rows, as WasmEdge's backend never resizes) and gives one
output. The weights are float32; the reference computes in float64 from the same float32
numbers, so it measures only the arithmetic error of each path.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.toolchain import cache_root

OPSET = 17  # LayerNormalization arrives in 17; Gelu is spelled with Erf so older runtimes load it
IR_VERSION = 8
KINDS = {"mlp": 0, "softmax": 1, "layernorm": 2, "attention": 3}
LN_EPS = 1e-5


@dataclass(frozen=True)
class ModelSpec:
    """One generated block. `d` is the feature width, `h` the MLP hidden width; `max_rows` bounds
    the free first dimension; `max_log10` bounds input magnitudes to where float32 arithmetic is
    well conditioned for this block (stated in every record)."""

    kind: str
    d: int
    h: int = 0
    act: str = "gelu"
    seed: int = 0
    max_rows: int = 16
    max_log10: float = 4.0

    @property
    def id(self) -> str:
        shape = f"{self.d}x{self.h}-{self.act}" if self.kind == "mlp" else f"{self.d}"
        return f"{self.kind}-{shape}-s{self.seed}"

    @property
    def weight_shapes(self) -> list[tuple[int, ...]]:
        d, h = self.d, self.h
        return {"mlp": [(d, h), (h,), (h, d), (d,)], "softmax": [], "layernorm": [(d,), (d,)],
                "attention": [(d, d)] * 4}[self.kind]

    def dims(self, rows: int) -> list[int]:
        """The int32 shape vector the C guests take: rows, d, h, activation (0 relu, 1 gelu)."""
        return [rows, self.d, self.h, 1 if self.act == "gelu" else 0]

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "d": self.d, "h": self.h, "act": self.act, "seed": self.seed,
                "max_rows": self.max_rows, "max_log10": self.max_log10}


def suite_models(scale: str) -> list[ModelSpec]:
    """The blocks the parity suite runs: small at quick scale, up to 1024 x 1024 otherwise."""
    if scale == "quick":
        return [ModelSpec("mlp", 64, 128, "gelu", 1, 8, 6), ModelSpec("softmax", 256, seed=2, max_rows=8),
                ModelSpec("layernorm", 256, seed=3, max_rows=8, max_log10=8),
                ModelSpec("attention", 64, seed=4, max_rows=16, max_log10=0.5)]
    return [ModelSpec("mlp", 1024, 1024, "gelu", 1, 16, 6), ModelSpec("mlp", 256, 512, "relu", 5, 32, 6),
            ModelSpec("softmax", 1024, seed=2, max_rows=1024), ModelSpec("layernorm", 1024, seed=3, max_rows=64,
                                                                           max_log10=8),
            ModelSpec("attention", 256, seed=4, max_rows=128, max_log10=0.5)]


@functools.cache
def weights(spec: ModelSpec) -> tuple[np.ndarray, ...]:
    """Seeded float32 weights, scaled by fan-in so activations stay O(1)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(spec.id.encode()).digest()[:8], "little"))
    out = []
    for shape in spec.weight_shapes:
        if spec.kind == "layernorm":
            w = 1.0 + 0.1 * rng.standard_normal(shape) if not out else 0.1 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / math.sqrt(shape[0]) if len(shape) == 2 else 0.1 * rng.standard_normal(shape)
        out.append(np.ascontiguousarray(w, dtype=np.float32))
    return tuple(out)


# -- float64 reference -------------------------------------------------------------
_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu64(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def _softmax64(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference64(spec: ModelSpec, x: np.ndarray) -> np.ndarray:
    """The block in float64 NumPy, from the same float32 input and weights."""
    x = np.asarray(x, dtype=np.float64)
    w = [np.asarray(a, dtype=np.float64) for a in weights(spec)]
    if spec.kind == "mlp":
        hidden = x @ w[0] + w[1]
        hidden = _gelu64(hidden) if spec.act == "gelu" else np.maximum(hidden, 0.0)
        return hidden @ w[2] + w[3]
    if spec.kind == "softmax":
        return _softmax64(x)
    if spec.kind == "layernorm":
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + LN_EPS) * w[0] + w[1]
    q, k, v = x @ w[0], x @ w[1], x @ w[2]
    return _softmax64(q @ k.T / math.sqrt(spec.d)) @ v @ w[3]


# -- ONNX ------------------------------------------------------------------------------
def onnx_model(spec: ModelSpec):
    """The block as an ONNX ModelProto (float32, first input dimension symbolic)."""
    from onnx import TensorProto, helper, numpy_helper

    names = [f"w{i}" for i in range(len(spec.weight_shapes))]
    inits = [numpy_helper.from_array(a, n) for a, n in zip(weights(spec), names)]
    node = helper.make_node
    if spec.kind == "mlp":
        nodes = [node("Gemm", ["x", "w0", "w1"], ["h"])]
        if spec.act == "gelu":
            inits += [numpy_helper.from_array(np.array(1 / math.sqrt(2), np.float32), "inv_sqrt2"),
                      numpy_helper.from_array(np.array(1.0, np.float32), "one"),
                      numpy_helper.from_array(np.array(0.5, np.float32), "half")]
            nodes += [node("Mul", ["h", "inv_sqrt2"], ["hs"]), node("Erf", ["hs"], ["he"]),
                      node("Add", ["he", "one"], ["he1"]), node("Mul", ["h", "he1"], ["hh"]),
                      node("Mul", ["hh", "half"], ["a"])]
        else:
            nodes += [node("Relu", ["h"], ["a"])]
        nodes += [node("MatMul", ["a", "w2"], ["m"]), node("Add", ["m", "w3"], ["y"])]
    elif spec.kind == "softmax":
        nodes = [node("Softmax", ["x"], ["y"], axis=-1)]
    elif spec.kind == "layernorm":
        nodes = [node("LayerNormalization", ["x", "w0", "w1"], ["y"], axis=-1, epsilon=LN_EPS)]
    else:
        inits.append(numpy_helper.from_array(np.array(1 / math.sqrt(spec.d), np.float32), "scale"))
        nodes = [node("MatMul", ["x", "w0"], ["q"]), node("MatMul", ["x", "w1"], ["k"]),
                 node("MatMul", ["x", "w2"], ["v"]), node("Transpose", ["k"], ["kt"], perm=[1, 0]),
                 node("MatMul", ["q", "kt"], ["s0"]), node("Mul", ["s0", "scale"], ["s"]),
                 node("Softmax", ["s"], ["p"], axis=-1), node("MatMul", ["p", "v"], ["c"]),
                 node("MatMul", ["c", "w3"], ["y"])]
    graph = helper.make_graph(nodes, spec.id.replace("-", "_"),
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", spec.d])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", spec.d])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="wasm-claims")
    model.ir_version = IR_VERSION
    return model


def _cached(spec: ModelSpec, suffix: str, make) -> Path:
    path = cache_root() / "nn-models" / f"{spec.id}{suffix}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        make(tmp)
        tmp.replace(path)
    return path


def onnx_path(spec: ModelSpec) -> Path:
    import onnx

    def make(tmp):
        model = onnx_model(spec)
        onnx.checker.check_model(model)
        tmp.write_bytes(model.SerializeToString())
    return _cached(spec, ".onnx", make)


# -- TorchScript (only where torch is installed) ---------------------------------------
def torchscript_path(spec: ModelSpec) -> Path:
    import torch

    from harness.nn import torch_blocks

    def make(tmp):
        torch.jit.save(torch_blocks.traced(spec, weights(spec), LN_EPS), str(tmp))
    return _cached(spec, f"-torch{torch.__version__.split('+')[0]}.pt", make)


# -- TensorFlow Lite (written with LiteRT's schema classes) -----------------------------
def tflite_path(spec: ModelSpec) -> Path:
    from harness.nn import tflite_blocks

    return _cached(spec, ".tflite", lambda tmp: tmp.write_bytes(tflite_blocks.flatbuffer(spec, weights(spec), LN_EPS)))


def model_bytes(spec: ModelSpec, encoding: str) -> bytes:
    """The serialized model a backend with this graph encoding loads."""
    if encoding == "onnx":
        return onnx_path(spec).read_bytes()
    if encoding == "tensorflowlite":
        return tflite_path(spec).read_bytes()
    if encoding == "pytorch":
        return torchscript_path(spec).read_bytes()
    raise ValueError(f"no generated models in encoding {encoding!r}")
