"""The generated blocks as TensorFlow Lite flatbuffers, written op by op with the schema
classes LiteRT ships (ai_edge_litert.schema_py_generated, flatbuffers' object API): no
converter, no download. Same weights, same maths as models.reference64.

Shapes are fixed at [max_rows, d]: WasmEdge's tensorflowlite backend takes an input only
when its dimensions equal the model's (it never resizes), so a .tflite model has one shape.
"""

from __future__ import annotations

import math

import numpy as np


class _Graph:
    """Tensors, constant buffers and operators of one subgraph, built in order."""

    def __init__(self, schema):
        self.s = schema
        self.tensors, self.buffers, self.ops, self.codes = [], [schema.BufferT()], [], []

    def tensor(self, name: str, shape, data: np.ndarray | None = None, dtype=None) -> int:
        t = self.s.TensorT()
        t.name, t.shape = name.encode(), list(shape)
        t.type = dtype if dtype is not None else self.s.TensorType.FLOAT32
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, value) -> int:
        value = np.asarray(value, dtype=np.float32)
        return self.tensor(name, value.shape, value)

    def op(self, code: int, inputs, out_shape, options=None, options_type=0) -> int:
        if code not in self.codes:
            self.codes.append(code)
        out = self.tensor(f"t{len(self.tensors)}", out_shape)
        o = self.s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes.index(code), list(inputs), [out]
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)
        return out

    def finish(self, inputs, outputs, description: str) -> bytes:
        import flatbuffers

        s = self.s
        sg = s.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = self.tensors, list(inputs), list(outputs), \
            self.ops, b"main"
        model = s.ModelT()
        model.version, model.description, model.subgraphs, model.buffers = 3, description.encode(), [sg], self.buffers
        model.operatorCodes = []
        for code in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1  # 127: "see builtinCode"
            model.operatorCodes.append(oc)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _options(schema, name: str, **fields):
    opts = getattr(schema, f"{name}T")()
    for k, v in fields.items():
        setattr(opts, k, v)
    return opts, getattr(schema.BuiltinOptions, name)


def flatbuffer(spec, weights, ln_eps: float) -> bytes:
    """The block `spec` as a .tflite model with input x [max_rows, d] and one output."""
    from ai_edge_litert import schema_py_generated as s

    B, d, rows = s.BuiltinOperator, spec.d, spec.max_rows
    g = _Graph(s)
    x = g.tensor("x", [rows, d])

    def matmul(a, b_const, shape, adj_y=False, b_tensor=None):
        b = b_tensor if b_tensor is not None else g.const(f"w{len(g.tensors)}", b_const)
        return g.op(B.BATCH_MATMUL, [a, b], shape, *_options(s, "BatchMatMulOptions", adjX=False, adjY=adj_y))

    def binary(code, a, b, shape, name):
        return g.op(code, [a, b], shape, *_options(s, name))

    if spec.kind == "mlp":
        w0, w1, w2, w3 = weights
        h = spec.h
        fc = _options(s, "FullyConnectedOptions", fusedActivationFunction=s.ActivationFunctionType.NONE)
        hid = g.op(B.FULLY_CONNECTED, [x, g.const("w0t", w0.T), g.const("w1", w1)], [rows, h], *fc)
        act = (g.op(B.GELU, [hid], [rows, h], *_options(s, "GeluOptions", approximate=False)) if spec.act == "gelu"
               else g.op(B.RELU, [hid], [rows, h]))
        y = g.op(B.FULLY_CONNECTED, [act, g.const("w2t", w2.T), g.const("w3", w3)], [rows, d], *fc)
    elif spec.kind == "softmax":
        y = g.op(B.SOFTMAX, [x], [rows, d], *_options(s, "SoftmaxOptions", beta=1.0))
    elif spec.kind == "layernorm":
        w0, w1 = weights
        axis = g.tensor("axis", [1], np.array([1], np.int32), s.TensorType.INT32)
        mean_opts = _options(s, "ReducerOptions", keepDims=True)
        mean = g.op(B.MEAN, [x, axis], [rows, 1], *mean_opts)
        diff = binary(B.SUB, x, mean, [rows, d], "SubOptions")
        var = g.op(B.MEAN, [binary(B.MUL, diff, diff, [rows, d], "MulOptions"), axis], [rows, 1], *mean_opts)
        inv = g.op(B.RSQRT, [binary(B.ADD, var, g.const("eps", [ln_eps]), [rows, 1], "AddOptions")], [rows, 1])
        norm = binary(B.MUL, diff, inv, [rows, d], "MulOptions")
        y = binary(B.ADD, binary(B.MUL, norm, g.const("w0", w0), [rows, d], "MulOptions"), g.const("w1", w1),
                   [rows, d], "AddOptions")
    elif spec.kind == "attention":
        w0, w1, w2, w3 = weights
        q, k, v = (matmul(x, w, [rows, d]) for w in (w0, w1, w2))
        scores = matmul(q, None, [rows, rows], adj_y=True, b_tensor=k)
        scaled = binary(B.MUL, scores, g.const("scale", [1 / math.sqrt(d)]), [rows, rows], "MulOptions")
        p = g.op(B.SOFTMAX, [scaled], [rows, rows], *_options(s, "SoftmaxOptions", beta=1.0))
        y = matmul(matmul(p, None, [rows, d], b_tensor=v), w3, [rows, d])
    else:
        raise ValueError(f"no TFLite form for block kind {spec.kind!r}")
    return g.finish([x], [y], f"wasm-claims {spec.id}")
