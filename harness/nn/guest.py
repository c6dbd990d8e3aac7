"""The C guests of the parity suite, built with the harness toolchain and run in-process.

`pure` computes a block in plain C: as a wasm32-wasi reactor (the pure-Wasm path) and as a
native shared library (the native path). `offload` hands the block to the host through the
`wasi_ephemeral_nn` imports. Both are libraries, so one instance serves many calls and the
suite can time the calls without process start-up in the figure.
"""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

import numpy as np
import wasmtime

from harness.nn.host import NNHost
from harness.nn.models import KINDS, ModelSpec, weights
from harness.runtimes.wasmtime_py import EPOCH_TICK_S, engine, load_module
from harness.toolchain import Artifact, build_c_file

GUESTS = Path(__file__).with_name("guests")
STACK_FLAGS = ("-Wl,-z,stack-size=262144",)  # a small stack keeps linear memory (and the fuzz test's diffs) small
CALL_TIMEOUT_S = 300


def build_guest(name: str, target: str = "wasm32-wasi-reactor", progress=None, defines: tuple[str, ...] = ()) -> Artifact:
    """Build guests/<name>.c for a target (cached by content hash); `defines` (-D...) select a variant."""
    flags = (STACK_FLAGS if target.startswith("wasm32") else ()) + tuple(defines)
    label = "-".join([name, *(d.removeprefix("-D").lower() for d in defines)])
    return build_c_file(GUESTS / f"{name}.c", target, name=f"nn-{label}", cflags=flags, progress=progress)


class WasmGuest:
    """One instance of a guest reactor; `host` (an NNHost) supplies wasi_ephemeral_nn."""

    def __init__(self, wasm: Path, host: NNHost | None = None, wasi: wasmtime.WasiConfig | None = None):
        self.host = host
        self.store = wasmtime.Store(engine())
        self.store.set_fuel(2**63 - 1)
        linker = wasmtime.Linker(engine())
        linker.define_wasi()
        if host is not None:
            host.define(linker)
        self.store.set_wasi(wasi or wasmtime.WasiConfig())
        self._arm()
        self.instance = linker.instantiate(self.store, load_module(wasm))
        self.exports = self.instance.exports(self.store)
        self.memory: wasmtime.Memory = self.exports["memory"]
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)

    def _arm(self):
        self.store.set_epoch_deadline(max(1, int(CALL_TIMEOUT_S / EPOCH_TICK_S)))

    def call(self, name: str, *args) -> int:
        self._arm()
        return self.exports[name](self.store, *args)

    def alloc(self, size: int) -> int:
        ptr = self.call("wc_alloc", size)
        if ptr == 0:
            raise MemoryError(f"guest could not allocate {size} bytes")
        return ptr

    def put(self, data: bytes | np.ndarray) -> int:
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        ptr = self.alloc(len(raw))
        self.memory.write(self.store, raw, ptr)
        return ptr

    def get(self, ptr: int, size: int) -> bytes:
        return bytes(self.memory.read(self.store, ptr, ptr + size))

    def free(self, *ptrs: int) -> None:
        for p in ptrs:
            self.call("wc_free", p)


class PureBlock:
    """Path (a): one block's weights placed once in a pure guest (wasm or native)."""

    def __init__(self, spec: ModelSpec, runner: "WasmGuest | NativeLib"):
        self.spec, self.runner = spec, runner
        self._w = [runner.put(w) for w in weights(spec)]
        self._wp = runner.put(np.array(self._w or [0], dtype=np.uint32 if isinstance(runner, WasmGuest) else np.uintp))

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        dims = self.runner.put(np.array(self.spec.dims(x.shape[0]), dtype=np.int32))
        xp, out = self.runner.put(x), self.runner.alloc(x.nbytes)
        try:
            rc = self.runner.call("wc_block", KINDS[self.spec.kind], dims, xp, self._wp, out)
            if rc != 0:
                raise RuntimeError(f"wc_block returned {rc}")
            return np.frombuffer(self.runner.get(out, x.nbytes), dtype=np.float32).reshape(x.shape).copy()
        finally:
            self.runner.free(dims, xp, out)


class NativeLib:
    """The pure guest built as a native shared library, called through ctypes."""

    def __init__(self, so: Path):
        self.lib = ctypes.CDLL(str(so))
        for name in ("wc_alloc", "wc_block"):
            getattr(self.lib, name).restype = ctypes.c_void_p if name == "wc_alloc" else ctypes.c_int
        self.lib.wc_alloc.argtypes = [ctypes.c_uint32]
        self.lib.wc_free.argtypes = [ctypes.c_void_p]
        self.lib.wc_block.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 4

    def alloc(self, size: int) -> int:
        ptr = self.lib.wc_alloc(size)
        if not ptr:
            raise MemoryError(f"could not allocate {size} bytes")
        return ptr

    def put(self, data) -> int:
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        ptr = self.alloc(len(raw))
        ctypes.memmove(ptr, raw, len(raw))
        return ptr

    def get(self, ptr: int, size: int) -> bytes:
        return ctypes.string_at(ptr, size)

    def call(self, name: str, *args) -> int:
        return getattr(self.lib, name)(*args)

    def free(self, *ptrs: int) -> None:
        for p in ptrs:
            self.lib.wc_free(p)


class Offload:
    """Path (b): a guest that loads the model bytes from its own memory through `load` and runs
    set_input / compute / get_output through the host."""

    def __init__(self, spec: ModelSpec, guest: WasmGuest, model: bytes, encoding: int, target: int, f32: int):
        self.spec, self.guest, self.f32 = spec, guest, f32
        mp, gp, cp = guest.put(model), guest.alloc(4), guest.alloc(4)
        errno = guest.call("wc_nn_load", mp, len(model), encoding, target, gp)
        if errno:
            raise RuntimeError(f"load returned errno {errno}: {guest.host.last_error if guest.host else ''}")
        graph = int.from_bytes(guest.get(gp, 4), "little")
        errno = guest.call("wc_nn_init", graph, cp)
        if errno:
            raise RuntimeError(f"init_execution_context returned errno {errno}")
        self.ctx = int.from_bytes(guest.get(cp, 4), "little")
        guest.free(mp, gp, cp)
        self._bufs: dict = {}

    def _buffers(self, shape, out_bytes):
        key = (tuple(shape), out_bytes)
        if key not in self._bufs:
            for ptrs in self._bufs.values():
                self.guest.free(*ptrs)
            g = self.guest
            self._bufs = {key: (g.put(np.array(shape, np.uint32)), g.alloc(int(np.prod(shape)) * 4),
                                g.alloc(max(out_bytes, 1)), g.alloc(4))}
        return self._bufs[key]

    def prepare(self, x: np.ndarray, out_bytes: int | None = None):
        """Place x in guest memory once (as a guest would have it); returns the call arguments."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out_bytes = x.nbytes if out_bytes is None else out_bytes
        dims, xp, out, written = self._buffers(x.shape, out_bytes)
        self.guest.memory.write(self.guest.store, x.tobytes(), xp)
        return (self.ctx, self.f32, x.ndim, dims, xp, x.nbytes, out, out_bytes, written)

    def run(self, x: np.ndarray, iterations: int = 1) -> np.ndarray:
        args = self.prepare(x)
        errno = self.guest.call("wc_nn_run", *args, iterations)
        if errno:
            raise RuntimeError(f"WASI-NN errno {errno}: {self.guest.host.last_error}")
        out, n = args[6], int.from_bytes(self.guest.get(args[8], 4), "little")
        return np.frombuffer(self.guest.get(out, n), dtype=np.float32).reshape(x.shape).copy()

    def time_calls(self, x: np.ndarray, iterations: int) -> float:
        """Seconds per set_input + compute + get_output, timed around one guest call."""
        args = self.prepare(x)
        start = time.perf_counter()
        errno = self.guest.call("wc_nn_run", *args, iterations)
        elapsed = time.perf_counter() - start
        if errno:
            raise RuntimeError(f"WASI-NN errno {errno}: {self.guest.host.last_error}")
        return elapsed / iterations
