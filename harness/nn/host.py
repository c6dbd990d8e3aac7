"""The `wasi_ephemeral_nn` host: the six WasmEdge-lowered imports on a wasmtime Linker.

    load(builder_ptr, builder_len, encoding, target, graph_id_out_ptr)
    load_by_name(name_ptr, name_len, graph_id_out_ptr)
    init_execution_context(graph_id, ctx_out_ptr)
    set_input(ctx, index, tensor_ptr)
    compute(ctx)
    get_output(ctx, index, out_ptr, out_max, bytes_written_ptr)

All parameters are i32 and every call returns an `Errno`. The builder array is `builder_len`
pairs `{u32 ptr, u32 len}`; a tensor is `{dims_ptr, dims_len, type, data_ptr, data_len}`.
Errors, following WasmEdge's plugin where it defines one:
  invalid_argument  a pointer/length outside linear memory, an unknown target, graph or
                    context id, input/output index, tensor type, a data length that does not
                    match the dimensions, a model the backend cannot parse, compute before
                    every input is set, get_output before compute
  invalid_encoding  an encoding the ABI profile does not know, or no backend here loads
  missing_memory    the calling instance exports no `memory`
  busy              the host's graph or context table is full
  runtime_error     the backend failed while computing
  unsupported_operation  the backend cannot run on the requested target here (e.g. no GPU)
  too_large         a declared tensor over MAX_TENSOR_BYTES, or an output larger than the
                    guest's buffer (the size needed is still written to bytes_written_ptr)
  not_found         load_by_name of a name no model was registered under
No host exception ever reaches the guest: anything unforeseen is `runtime_error` and is kept
in `unexpected`, which the fuzz test requires to stay empty.
"""

from __future__ import annotations

import math
import traceback
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import wasmtime

from harness.nn.abi import (BUILDER_PAIR_BYTES, MAX_RANK, MAX_TENSOR_BYTES, MODULE, TENSOR_STRUCT_BYTES, Errno,
                            Profile, Target, profile as get_profile)
from harness.nn.backends import Backend, BackendUnavailable, Graph, InputRejected
from harness.nn.memory import Fault, GuestMemory

MAX_GRAPHS = 64
MAX_CONTEXTS = 256
MAX_BUILDERS = 16
MAX_NAME = 4096


class NNError(Exception):
    def __init__(self, errno: Errno, message: str = ""):
        super().__init__(message or errno.name)
        self.errno = errno


@dataclass
class _Context:
    graph: Graph
    inputs: list = field(default_factory=list)
    outputs: list | None = None


SIGNATURES = {
    "load": 5, "load_by_name": 3, "init_execution_context": 2, "set_input": 3, "compute": 1, "get_output": 5,
}


class NNHost:
    """WASI-NN state for one guest instance (graphs, contexts) plus call statistics."""

    def __init__(self, backends: Backend | list[Backend], abi: str | Profile | None = None, *,
                 audit: bool = False):
        backends = [backends] if isinstance(backends, Backend) else list(backends)
        self.backends = {b.encoding: b for b in backends}
        self.profile = get_profile(abi)
        self.graphs: list[Graph] = []
        self.contexts: list[_Context] = []
        self.named: dict[str, tuple[bytes, str, str]] = {}
        self._named_ids: dict[str, int] = {}
        self.calls: Counter = Counter()  # (function, errno name) -> count
        self.unexpected: list[str] = []
        self.audit: list | None = [] if audit else None
        self.last_error = ""

    # -- registry -------------------------------------------------------------------
    def register(self, name: str, model: bytes, encoding: str = "onnx", target: str = "cpu") -> None:
        """Make a model loadable by name (WasmEdge's --nn-preload)."""
        self.named[name] = (bytes(model), encoding, target)

    def errno_histogram(self) -> dict[str, int]:
        hist: Counter = Counter()
        for (_, name), n in self.calls.items():
            hist[name] += n
        return dict(hist)

    # -- linker ---------------------------------------------------------------------
    def define(self, linker: wasmtime.Linker) -> None:
        for name, arity in SIGNATURES.items():
            ty = wasmtime.FuncType([wasmtime.ValType.i32()] * arity, [wasmtime.ValType.i32()])
            linker.define_func(MODULE, name, ty, self._host_func(name), access_caller=True)

    def _host_func(self, name: str):
        impl = getattr(self, f"_{name}")

        def host(caller, *args):
            mem = caller.get("memory")
            code = self.call(name, impl, caller, mem, *args)
            return int(code)
        host.__name__ = name
        return host

    def call(self, name: str, impl, caller, mem, *args) -> Errno:
        """Run one host function body: every failure becomes an errno, none escapes."""
        try:
            if not isinstance(mem, wasmtime.Memory):
                raise NNError(Errno.missing_memory, "the calling instance exports no memory")
            impl(GuestMemory(caller, mem, self.audit), *[a & 0xFFFFFFFF for a in args])
            code = Errno.success
        except NNError as exc:
            code, self.last_error = exc.errno, str(exc)
        except Fault as exc:
            code, self.last_error = Errno.invalid_argument, str(exc)
        except Exception as exc:  # a host bug: reported, never propagated into the guest
            code, self.last_error = Errno.runtime_error, f"{type(exc).__name__}: {exc}"
            self.unexpected.append(f"{name}{args}: {traceback.format_exc(limit=4)}")
        self.calls[(name, code.name)] += 1
        return code

    # -- helpers --------------------------------------------------------------------
    def _backend_for(self, encoding_code: int) -> Backend:
        enc = self.profile.encodings.get(encoding_code)
        if enc is None:
            raise NNError(Errno.invalid_encoding, f"encoding {encoding_code} is not in ABI profile {self.profile.name}")
        backend = self.backends.get(enc)
        if backend is None:
            raise NNError(Errno.invalid_encoding, f"no backend for encoding {enc} in this host")
        return backend

    def _load_graph(self, backend: Backend, builders: list[bytes], target: str) -> int:
        if len(self.graphs) >= MAX_GRAPHS:
            raise NNError(Errno.busy, f"graph table full ({MAX_GRAPHS})")
        if (reason := backend.unavailable(target)) is not None:
            raise NNError(Errno.unsupported_operation, reason)
        if not 1 <= len(builders) <= backend.max_builders:
            raise NNError(Errno.invalid_argument,
                          f"{backend.name} takes 1..{backend.max_builders} graph builders, got {len(builders)}")
        try:
            graph = backend.load_builders(builders, target)
        except BackendUnavailable as exc:
            raise NNError(Errno.unsupported_operation, str(exc)) from None
        except InputRejected as exc:
            raise NNError(Errno[exc.errno], str(exc)) from None
        except Exception as exc:
            raise NNError(Errno.invalid_argument, f"{backend.name} cannot load the model: {exc}") from None
        self.graphs.append(graph)
        return len(self.graphs) - 1

    def _context(self, ctx: int) -> _Context:
        if ctx >= len(self.contexts):
            raise NNError(Errno.invalid_argument, f"no execution context {ctx}")
        return self.contexts[ctx]

    # -- the six imports ------------------------------------------------------------
    def _load(self, mem: GuestMemory, builder_ptr, builder_len, encoding, target, graph_out):
        mem.check(graph_out, 4, "graph id out")
        if target not in Target._value2member_map_:
            raise NNError(Errno.invalid_argument, f"unknown execution target {target}")
        mem.check(builder_ptr, builder_len * BUILDER_PAIR_BYTES, "graph builder array")
        if not 0 < builder_len <= MAX_BUILDERS:
            raise NNError(Errno.invalid_argument, f"builder count {builder_len} not in 1..{MAX_BUILDERS}")
        backend = self._backend_for(encoding)
        pairs = mem.u32s(builder_ptr, 2 * builder_len, "graph builder array")
        builders = [mem.read(pairs[i], pairs[i + 1], f"graph builder {i // 2}") for i in range(0, len(pairs), 2)]
        mem.write_u32(graph_out, self._load_graph(backend, builders, Target(target).name), "graph id out")

    def _load_by_name(self, mem: GuestMemory, name_ptr, name_len, graph_out):
        mem.check(graph_out, 4, "graph id out")
        mem.check(name_ptr, name_len, "model name")
        if name_len > MAX_NAME:
            raise NNError(Errno.too_large, f"model name of {name_len} bytes")
        try:
            name = mem.read(name_ptr, name_len, "model name").decode("utf-8")
        except UnicodeDecodeError:
            raise NNError(Errno.invalid_argument, "model name is not UTF-8") from None
        if name not in self._named_ids:
            if name not in self.named:
                raise NNError(Errno.not_found, f"no model registered as {name!r}")
            model, enc, target = self.named[name]
            backend = self.backends.get(enc)
            if backend is None:
                raise NNError(Errno.invalid_encoding, f"no backend for encoding {enc} in this host")
            self._named_ids[name] = self._load_graph(backend, [model], target)
        mem.write_u32(graph_out, self._named_ids[name], "graph id out")

    def _init_execution_context(self, mem: GuestMemory, graph_id, ctx_out):
        mem.check(ctx_out, 4, "context out")
        if graph_id >= len(self.graphs):
            raise NNError(Errno.invalid_argument, f"no graph {graph_id}")
        if len(self.contexts) >= MAX_CONTEXTS:
            raise NNError(Errno.busy, f"context table full ({MAX_CONTEXTS})")
        graph = self.graphs[graph_id]
        self.contexts.append(_Context(graph, [None] * graph.n_inputs))
        mem.write_u32(ctx_out, len(self.contexts) - 1, "context out")

    def _set_input(self, mem: GuestMemory, ctx, index, tensor_ptr):
        context = self._context(ctx)
        dims_ptr, dims_len, ttype, data_ptr, data_len = mem.u32s(tensor_ptr, TENSOR_STRUCT_BYTES // 4, "tensor")
        if not 0 < dims_len <= MAX_RANK:
            raise NNError(Errno.invalid_argument, f"tensor rank {dims_len} not in 1..{MAX_RANK}")
        dims = mem.u32s(dims_ptr, dims_len, "tensor dimensions")
        dtype = self.profile.dtype(ttype)
        if dtype is None:
            raise NNError(Errno.invalid_argument, f"tensor type {ttype} is not in ABI profile {self.profile.name}")
        need = math.prod(dims) * dtype.itemsize
        # a zero dimension makes an empty tensor, but the others must still be shapes a host can
        # hold (NumPy refuses [0, 2^32-1, 2^32-1, ...] as too big even though it holds nothing)
        if max(need, math.prod(d for d in dims if d) * dtype.itemsize) > MAX_TENSOR_BYTES:
            raise NNError(Errno.too_large, f"tensor of dimensions {dims[:8]} ({need} bytes; limit {MAX_TENSOR_BYTES})")
        if need != data_len:
            raise NNError(Errno.invalid_argument, f"tensor data is {data_len} bytes, dimensions {dims} need {need}")
        data = mem.read_array(data_ptr, data_len, dtype, "tensor data")
        if index >= context.graph.n_inputs:
            raise NNError(Errno.invalid_argument, f"input index {index} (graph has {context.graph.n_inputs})")
        data = data.reshape(dims)
        try:
            context.graph.check_input(index, data)
        except InputRejected as exc:
            raise NNError(Errno[exc.errno], str(exc)) from None
        context.inputs[index] = data
        context.outputs = None

    def _compute(self, mem: GuestMemory, ctx):
        context = self._context(ctx)
        missing = [i for i, x in enumerate(context.inputs) if x is None and i not in context.graph.optional_inputs]
        if missing:
            raise NNError(Errno.invalid_argument, f"inputs {missing} not set")
        try:
            context.outputs = [np.ascontiguousarray(o) for o in context.graph.run(list(context.inputs))]
        except InputRejected as exc:
            raise NNError(Errno[exc.errno], str(exc)) from None
        except Exception as exc:
            raise NNError(Errno.runtime_error, f"compute failed: {type(exc).__name__}: {exc}") from None

    def _get_output(self, mem: GuestMemory, ctx, index, out_ptr, out_max, written_ptr):
        mem.check(out_ptr, out_max, "output buffer")
        mem.check(written_ptr, 4, "bytes written out")
        context = self._context(ctx)
        if context.outputs is None:
            raise NNError(Errno.invalid_argument, "get_output before compute")
        if index >= len(context.outputs):
            raise NNError(Errno.invalid_argument, f"output index {index} (graph has {len(context.outputs)})")
        out = context.outputs[index]
        if out.nbytes > out_max:
            mem.write_u32(written_ptr, out.nbytes, "bytes written out")
            raise NNError(Errno.too_large, f"output of {out.nbytes} bytes, buffer of {out_max}")
        mem.write(out_ptr, out.astype(out.dtype.newbyteorder("<"), copy=False), "output buffer")
        mem.write_u32(written_ptr, out.nbytes, "bytes written out")
