"""The WASI-NN host: bounds checks, errno mapping, ABI profiles, and a small guest end to end."""

from __future__ import annotations

import ctypes
import struct

import numpy as np
import pytest
import wasmtime

from harness.nn import parity
from harness.nn.abi import DEFAULT_PROFILE, PROFILES, Errno, profile
from harness.nn.backends import (TORCH_MISSING, InputRejected, OnnxRuntimeBackend, ReferenceBackend, TfliteBackend,
                                 TorchBackend, litert_available, torch_available)
from harness.nn.guest import WasmGuest, build_guest
from harness.nn.host import NNHost
from harness.nn.memory import Fault, GuestMemory
from harness.nn.models import ModelSpec, model_bytes, reference64
from harness.nn.paths import PathSpec, Runner
from harness.runtimes.wasmtime_py import engine

SPEC = ModelSpec("softmax", 8, seed=11, max_rows=4)


@pytest.fixture(scope="module")
def offload_wasm():
    return build_guest("offload").path


@pytest.fixture
def arena(offload_wasm):
    """A guest on an onnxruntime host, with the model, a name and a valid tensor in its memory."""
    host = NNHost([OnnxRuntimeBackend(), TorchBackend()], audit=True)
    model = model_bytes(SPEC, "onnx")
    host.register("softmax", model)
    g = WasmGuest(offload_wasm, host)
    a = type("Arena", (), {})()
    a.host, a.g, a.model = host, g, (g.put(model), len(model))
    a.name = g.put(b"softmax")
    a.out4 = g.alloc(4)
    a.x = np.arange(16, dtype=np.float32).reshape(2, 8) / 7
    a.dims, a.data = g.put(np.array([2, 8], np.uint32)), g.put(a.x)
    a.tensor = g.put(struct.pack("<5I", a.dims, 2, 1, a.data, 64))
    a.buf = g.alloc(64)
    a.size = g.memory.data_len(g.store)
    return a


def u32(a, ptr):
    return int.from_bytes(a.g.get(ptr, 4), "little")


def raw(a, fn, *args):
    return a.g.call(f"raw_{fn}", *[(v & 0xFFFFFFFF) - (1 << 32) if v & 0x80000000 else v for v in args])


def builders(a, *pairs):
    return a.g.put(b"".join(struct.pack("<2I", p, n) for p, n in pairs))


def ready_context(a) -> int:
    assert raw(a, "load", builders(a, a.model), 1, 1, 0, a.out4) == Errno.success
    assert raw(a, "init_execution_context", u32(a, a.out4), a.out4) == Errno.success
    return u32(a, a.out4)


# -- bounds ------------------------------------------------------------------------------
class _FakeMemory:
    """Stands in for wasmtime.Memory: a 100-byte buffer with the two methods GuestMemory uses."""

    def __init__(self, n):
        self.buf = ctypes.create_string_buffer(n)
        self.n = n

    def data_len(self, _):
        return self.n

    def get_buffer_ptr(self, _, size, offset):
        return (ctypes.c_ubyte * size).from_address(ctypes.addressof(self.buf) + offset)


def test_guest_memory_rejects_every_range_not_wholly_inside():
    audit: list = []
    mem = GuestMemory(None, _FakeMemory(100), audit)
    mem.write(96, b"abcd")
    assert mem.read(96, 4) == b"abcd"
    for ptr, n in [(97, 4), (100, 1), (0xFFFFFFFF, 2), (0, 101), (50, 2**32)]:
        with pytest.raises(Fault):
            mem.read(ptr, n)
    with pytest.raises(Fault):
        mem.write(98, b"xyz")
    assert all(p + n <= size for p, n, size in audit)


# -- errno mapping -----------------------------------------------------------------------
def test_load_errnos(arena):
    a = arena
    assert raw(a, "load", a.size - 4, 1, 1, 0, a.out4) == Errno.invalid_argument  # builder array past the end
    assert raw(a, "load", builders(a, (a.size - 2, 8)), 1, 1, 0, a.out4) == Errno.invalid_argument  # builder bytes
    assert raw(a, "load", builders(a, a.model), 1, 1, 0, a.size - 3) == Errno.invalid_argument  # graph id out
    assert raw(a, "load", builders(a, a.model), 1, 99, 0, a.out4) == Errno.invalid_encoding
    assert raw(a, "load", builders(a, a.model), 1, 0, 0, a.out4) == Errno.invalid_encoding  # openvino: no backend
    assert raw(a, "load", builders(a, a.model), 1, 1, 7, a.out4) == Errno.invalid_argument  # unknown target
    assert raw(a, "load", builders(a, a.model), 0, 1, 0, a.out4) == Errno.invalid_argument  # no builder
    assert raw(a, "load", builders(a, (a.name, 7)), 1, 1, 0, a.out4) == Errno.invalid_argument  # not a model
    if "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        assert raw(a, "load", builders(a, a.model), 1, 1, 1, a.out4) == Errno.unsupported_operation
    if not torch_available():
        assert raw(a, "load", builders(a, a.model), 1, 3, 0, a.out4) == Errno.unsupported_operation
    assert raw(a, "load", builders(a, a.model), 1, 1, 0, a.out4) == Errno.success
    assert a.host.unexpected == []


def test_load_by_name_and_context_errnos(arena):
    a = arena
    missing = a.g.put(b"nope")
    assert raw(a, "load_by_name", missing, 4, a.out4) == Errno.not_found
    assert raw(a, "load_by_name", a.name, 2**31, a.out4) == Errno.invalid_argument
    assert raw(a, "load_by_name", a.name, 7, a.out4) == Errno.success
    assert raw(a, "init_execution_context", 5, a.out4) == Errno.invalid_argument
    assert raw(a, "init_execution_context", 0, 0xFFFFFFFF) == Errno.invalid_argument
    assert raw(a, "compute", 3) == Errno.invalid_argument


def test_tensor_and_output_errnos(arena):
    a = arena
    ctx = ready_context(a)

    def tensor(dims_ptr, rank, ttype, data_ptr, data_len):
        return a.g.put(struct.pack("<5I", dims_ptr, rank, ttype, data_ptr, data_len))

    assert raw(a, "compute", ctx) == Errno.invalid_argument  # inputs not set
    assert raw(a, "get_output", ctx, 0, a.buf, 64, a.out4) == Errno.invalid_argument  # before compute
    assert raw(a, "set_input", ctx, 0, a.size - 10) == Errno.invalid_argument  # struct past the end
    assert raw(a, "set_input", ctx, 0, tensor(a.dims, 2, 1, a.data, 60)) == Errno.invalid_argument  # wrong length
    assert raw(a, "set_input", ctx, 0, tensor(a.dims, 0, 1, a.data, 64)) == Errno.invalid_argument  # rank 0
    assert raw(a, "set_input", ctx, 0, tensor(a.dims, 2, 99, a.data, 64)) == Errno.invalid_argument  # type
    assert raw(a, "set_input", ctx, 0, tensor(a.size - 4, 2, 1, a.data, 64)) == Errno.invalid_argument  # dims
    assert raw(a, "set_input", ctx, 0, tensor(a.dims, 2, 1, a.size - 32, 64)) == Errno.invalid_argument  # data
    huge = a.g.put(np.array([65536, 65536], np.uint32))
    assert raw(a, "set_input", ctx, 0, tensor(huge, 2, 1, a.data, 64)) == Errno.too_large
    empty_but_huge = a.g.put(np.array([0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], np.uint32))  # NumPy cannot shape it
    assert raw(a, "set_input", ctx, 0, tensor(empty_but_huge, 4, 1, a.data, 0)) == Errno.too_large
    assert not a.host.unexpected
    assert raw(a, "set_input", ctx, 1, a.tensor) == Errno.invalid_argument  # input index
    assert raw(a, "set_input", ctx, 0, a.tensor) == Errno.success
    assert raw(a, "compute", ctx) == Errno.success
    assert raw(a, "get_output", ctx, 1, a.buf, 64, a.out4) == Errno.invalid_argument  # output index
    assert raw(a, "get_output", ctx, 0, a.size - 8, 64, a.out4) == Errno.invalid_argument  # buffer past the end
    assert raw(a, "get_output", ctx, 0, a.buf, 63, a.out4) == Errno.too_large
    assert u32(a, a.out4) == 64  # the size needed is reported
    assert raw(a, "get_output", ctx, 0, a.buf, 64, a.out4) == Errno.success
    out = np.frombuffer(a.g.get(a.buf, 64), np.float32).reshape(2, 8)
    assert parity.relative_error(out, reference64(SPEC, a.x)) < 1e-6
    assert a.host.unexpected == []
    assert all(p + n <= size for p, n, size in a.host.audit)


def test_a_guest_without_memory_gets_missing_memory():
    host = NNHost(OnnxRuntimeBackend())
    linker = wasmtime.Linker(engine())
    host.define(linker)
    module = wasmtime.Module(engine(), """(module
      (import "wasi_ephemeral_nn" "compute" (func $compute (param i32) (result i32)))
      (func (export "go") (result i32) (call $compute (i32.const 0))))""")
    store = wasmtime.Store(engine())
    store.set_fuel(10**9)
    store.set_epoch_deadline(10**6)
    inst = linker.instantiate(store, module)
    assert inst.exports(store)["go"](store) == Errno.missing_memory


# -- ABI profiles --------------------------------------------------------------------------
def test_profiles_number_tensor_types_differently():
    cur, old = profile(), profile("witx-legacy")
    assert DEFAULT_PROFILE == cur.name == "witx-current"
    assert (cur.type_code("f32"), cur.type_code("f64"), cur.type_code("u8"), cur.type_code("i64")) == (1, 2, 3, 5)
    assert (old.type_code("f32"), old.type_code("u8"), old.type_code("i32")) == (1, 2, 3)
    assert cur.encoding_code("ggml") == 6 and 6 not in old.encodings
    assert cur.encoding_code("onnx") == old.encoding_code("onnx") == 1
    assert set(PROFILES) == {"witx-current", "witx-legacy"}
    with pytest.raises(ValueError, match="unknown WASI-NN ABI profile"):
        profile("nope")


@pytest.mark.parametrize("abi,code,ok", [("witx-current", 2, True), ("witx-legacy", 2, False),
                                         ("witx-legacy", 4, False), ("witx-current", 4, True)])
def test_set_input_reads_the_type_through_the_profile(offload_wasm, abi, code, ok):
    """Code 2 is f64 now and u8 before; 8 bytes per element only fit the f64 reading."""
    host = NNHost(ReferenceBackend(), abi)
    host.register("softmax", model_bytes(SPEC, "onnx"))
    g = WasmGuest(offload_wasm, host)
    gp = g.alloc(4)
    assert g.call("wc_nn_load_by_name", g.put(b"softmax"), 7, gp) == 0
    assert g.call("wc_nn_init", int.from_bytes(g.get(gp, 4), "little"), gp) == 0
    ctx = int.from_bytes(g.get(gp, 4), "little")
    itemsize = 8 if code == 2 else 4
    t = g.put(struct.pack("<5I", g.put(np.array([1, 8], np.uint32)), 2, code, g.alloc(8 * itemsize), 8 * itemsize))
    got = g.call("raw_set_input", ctx, 0, t)
    assert (got == Errno.success) == ok, (abi, code, got, host.last_error)


# -- end to end ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["wasi-nn", "python-direct", "wasm-pure", "native-pure"])
def test_small_block_end_to_end(path):
    spec = ModelSpec("mlp", 16, 32, "gelu", seed=3, max_rows=4)
    backend = "pure-c" if "pure" in path else "onnxruntime"
    target = {"wasm-pure": "wasm", "native-pure": "native"}.get(path, "cpu")
    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    out = Runner(PathSpec(path, backend, target), spec).run(x)
    assert parity.relative_error(out, reference64(spec, x)) < parity.BOUNDS["fp32-cpu"]


def test_reference_backend_agrees_with_float64_numpy():
    for spec in (ModelSpec("layernorm", 32, seed=1), ModelSpec("attention", 16, seed=2)):
        x = np.random.default_rng(0).standard_normal((5, spec.d)).astype(np.float32)
        out = ReferenceBackend().load(model_bytes(spec, "onnx")).run([x])[0]
        assert parity.relative_error(out, reference64(spec, x)) < 1e-6


def test_nan_never_passes():
    ref = np.ones((2, 2))
    assert parity.violates(parity.relative_error(np.array([[1, np.nan], [1, 1]]), ref), 1.0)
    assert parity.violates(parity.relative_error(np.ones((2, 3)), ref), 1.0)
    assert not parity.violates(parity.relative_error(ref, ref), 0.0)


def test_max_abs_diff_is_zero_only_for_the_same_numbers():
    a = np.array([[1.0, np.nan], [np.inf, -2.0]], np.float32)
    assert parity.max_abs_diff(a, a.copy()) == 0.0  # NaN and inf in the same places are the same numbers
    assert parity.max_abs_diff(a, a + np.array([[0, 0], [0, 0.5]], np.float32)) == 0.5
    assert np.isnan(parity.max_abs_diff(a, np.nan_to_num(a, nan=1.0)))  # a NaN on one side only
    assert np.isnan(parity.max_abs_diff(a, a.reshape(4)))


def test_build_c_file_reports_a_missing_source(tmp_path):
    from harness.toolchain import BuildError, build_c_file

    with pytest.raises(BuildError, match="no such C source"):
        build_c_file(tmp_path / "missing.c", "wasm32-wasi-reactor")


def test_torch_rows_skip_with_the_install_hint_when_torch_is_missing():
    from harness.report.model import enable_hint

    assert enable_hint({}, [f"wasi-nn-torch-cpu: {TORCH_MISSING}"]).startswith("make report EXTRAS=torch")
    if torch_available():
        pytest.skip("torch is installed here")
    assert TorchBackend().unavailable("cpu") == TORCH_MISSING


# -- tensorflowlite ------------------------------------------------------------------------
needs_litert = pytest.mark.skipif(not litert_available(), reason="LiteRT (ai-edge-litert) not installed")


@needs_litert
@pytest.mark.parametrize("spec", [ModelSpec("mlp", 16, 32, "gelu", seed=3, max_rows=4),
                                  ModelSpec("mlp", 16, 32, "relu", seed=4, max_rows=4),
                                  ModelSpec("softmax", 32, seed=5, max_rows=3), ModelSpec("layernorm", 32, seed=6, max_rows=5),
                                  ModelSpec("attention", 16, seed=7, max_rows=6)], ids=lambda s: s.id)
def test_tflite_flatbuffers_compute_the_blocks(spec):
    """The .tflite written op by op gives the float64 reference's answer, directly and through the host."""
    x = np.random.default_rng(2).standard_normal((spec.max_rows, spec.d)).astype(np.float32)
    ref = reference64(spec, x)
    direct = TfliteBackend().load(model_bytes(spec, "tensorflowlite")).run([x])[0]
    assert parity.relative_error(direct, ref) < parity.BOUNDS["fp32-cpu"]
    through = Runner(PathSpec("wasi-nn", "tflite", "cpu"), spec).run(x)
    assert parity.relative_error(through, ref) < parity.BOUNDS["fp32-cpu"]


@needs_litert
def test_tflite_follows_wasmedge_set_input_contract(offload_wasm):
    """WasmEdge's tensorflowlite backend takes only the model's exact dimensions (no resize)
    and refuses bytes that are not a model: both invalid_argument."""
    spec = ModelSpec("softmax", 8, seed=11, max_rows=2)
    host = NNHost([TfliteBackend()])
    g = WasmGuest(offload_wasm, host)
    code = profile().encoding_code("tensorflowlite")
    model = model_bytes(spec, "tensorflowlite")
    bad = g.put(b"TFL3 but not a flatbuffer at all")
    out = g.alloc(4)
    assert g.call("wc_nn_load", bad, 32, code, 0, out) == Errno.invalid_argument
    assert g.call("wc_nn_load", g.put(model), len(model), code, 0, out) == Errno.success
    assert g.call("wc_nn_init", int.from_bytes(g.get(out, 4), "little"), out) == Errno.success
    ctx = int.from_bytes(g.get(out, 4), "little")
    for dims in ([2, 8], [1, 8], [16], [2, 4, 2]):
        n = int(np.prod(dims))
        t = g.put(struct.pack("<5I", g.put(np.array(dims, np.uint32)), len(dims), 1, g.alloc(4 * n), 4 * n))
        got = g.call("raw_set_input", ctx, 0, t)
        assert (got == Errno.success) == (dims == [2, 8]), (dims, got, host.last_error)


# -- pytorch contract, without torch -------------------------------------------------------
class _FakeTensor:
    def __init__(self, a):
        self.a = np.asarray(a)

    def to(self, _device):
        return self

    def detach(self):
        return self

    def cpu(self):
        return self

    def float(self):
        return _FakeTensor(self.a.astype(np.float32))

    def numpy(self):
        return self.a


def _fake_torch():
    import contextlib
    import types

    return types.SimpleNamespace(no_grad=contextlib.nullcontext, from_numpy=_FakeTensor)


class _FakeModule:
    """A stand-in TorchScript module: forward(self, x), its schema returning `returns`."""

    def __init__(self, forward, returns):
        import types

        self.forward = forward
        forward.schema = types.SimpleNamespace(arguments=["self", "x"], returns=[types.SimpleNamespace(type=returns)])

    def __call__(self, *inputs):
        return self.forward(*inputs)


@pytest.mark.parametrize("shape", ["tensor", "tuple", "list"])
def test_torch_graph_follows_the_pytorch_contract(monkeypatch, shape):
    """A stand-in torch module: f32 in only; a tensor, tuple or list of tensors out, one output
    each, every one handed back as f32 (an f64 output too, as WasmEdge's getOutput converts)."""
    import types

    from harness.nn.backends import _TorchGraph

    monkeypatch.setitem(__import__("sys").modules, "torch", _fake_torch())
    pair = types.SimpleNamespace(elements=lambda: ["Tensor", "Tensor"])
    forward, returns = {
        "tensor": (lambda x: _FakeTensor(x.a * 2), "Tensor"),
        "tuple": (lambda x: (_FakeTensor(x.a * 2), _FakeTensor(x.a.astype(np.float64) + 1)), pair),
        "list": (lambda x: [_FakeTensor(x.a * 2), _FakeTensor(x.a.astype(np.float64) + 1)], "Tensor[]")}[shape]
    graph = _TorchGraph(_FakeModule(forward, returns), "cpu")
    assert graph.n_inputs == 1 and graph.n_outputs == (2 if shape == "tuple" else 1)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = graph.run([x])
    assert len(got) == (1 if shape == "tensor" else 2) and np.array_equal(got[0], x * 2)
    assert all(o.dtype == np.float32 for o in got)
    graph.check_input(0, x)
    for dtype in (np.int32, np.uint8, np.float64):
        with pytest.raises(InputRejected, match="f32 only"):
            graph.check_input(0, x.astype(dtype))


# -- pytorch, where torch is installed ------------------------------------------------------
needs_torch = pytest.mark.skipif(not torch_available(), reason=TORCH_MISSING)


@needs_torch
def test_torch_rows_run_where_torch_is_installed():
    import torch

    spec = ModelSpec("attention", 16, seed=7, max_rows=6)
    x = np.random.default_rng(3).standard_normal((4, 16)).astype(np.float32)
    out = Runner(PathSpec("wasi-nn", "torch", "cpu"), spec).run(x)
    assert parity.relative_error(out, reference64(spec, x)) < parity.BOUNDS["fp32-cpu"]
    assert torch.get_num_threads() == TorchBackend.threads  # as onnxruntime's: one thread, stable timings


@needs_torch
def test_torch_graph_takes_as_many_inputs_as_forward_has(offload_wasm):
    """As WasmEdge's: set_input at every index forward takes, compute calls forward(*inputs), and
    each tuple element is an output index, written as f32 (here an f64 one)."""
    import io

    import torch

    class TwoInTwoOut(torch.nn.Module):
        def forward(self, a, b):
            return a + b, (a * b).double()

    blob = io.BytesIO()
    torch.jit.save(torch.jit.script(TwoInTwoOut()), blob)
    host = NNHost(TorchBackend())
    g = WasmGuest(offload_wasm, host)
    model, out = blob.getvalue(), g.alloc(4)
    assert g.call("wc_nn_load", g.put(model), len(model), profile().encoding_code("pytorch"), 0, out) == Errno.success
    assert g.call("wc_nn_init", int.from_bytes(g.get(out, 4), "little"), out) == Errno.success
    ctx = int.from_bytes(g.get(out, 4), "little")
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.full((2, 3), 0.5, np.float32)
    dims = g.put(np.array([2, 3], np.uint32))
    for i, x in enumerate((a, b)):
        assert g.call("raw_set_input", ctx, i, g.put(struct.pack("<5I", dims, 2, 1, g.put(x), 24))) == Errno.success
    assert g.call("raw_set_input", ctx, 2, g.put(struct.pack("<5I", dims, 2, 1, g.put(a), 24))) == Errno.invalid_argument
    assert g.call("raw_compute", ctx) == Errno.success, host.last_error
    buf = g.alloc(24)
    for i, want in enumerate((a + b, a * b)):
        assert g.call("raw_get_output", ctx, i, buf, 24, out) == Errno.success, host.last_error
        assert int.from_bytes(g.get(out, 4), "little") == 24
        assert np.array_equal(np.frombuffer(g.get(buf, 24), np.float32).reshape(2, 3), want)
    assert host.unexpected == []
