"""The host side of the embedded form: one long-lived process that loads a workload as an
in-process plugin and serves many requests over an inherited socket.

Run as a script (stdlib + ctypes only for native plugins, so a restart after a crash is
cheap); `harness.forms.embedded` starts it and talks to it:

    embedded_host.py FD native LIB.so          # the workload as a shared library (ctypes)
    embedded_host.py FD wasm MODULE.wasm [--fresh-instance] [--memory-bytes N]

Both plugin kinds export the wc_io.h library ABI (wc_alloc, wc_free, wc_run, wc_output,
wc_output_len, wc_error). The host keeps data of its own (a buffer in native memory plus
Python objects) and a SHA-256 of it taken at start; every reply says whether that data is
still intact, so a plugin that scribbles over host memory without crashing is seen too.

Frames as in python_runner: request {"op": "run", "stdin_len", "timeout_s", "reset"} + input
bytes (reset: a Wasm plugin gets a fresh instance first),
or {"op": "ping"}; reply {"rc", "trap", "error", "stdout_len", "stderr_len", "host_intact",
"served", "instances", "wall_s", "pid"} + stdout + stderr.
"""

import ctypes
import hashlib
import os
import socket
import sys
import time

from python_runner import recv_exact, recv_frame, send_frame  # sibling module, stdlib only

HOST_DATA_BYTES = 256 * 1024
ERROR_MESSAGE_MAX = 256


class HostData:
    """Data the host owns (native buffer + Python state) and a digest to check it against."""

    def __init__(self):
        self.buffer = ctypes.create_string_buffer(os.urandom(HOST_DATA_BYTES), HOST_DATA_BYTES)
        self.table = {f"session-{i}": i * 7919 for i in range(256)}
        self.digest = self._digest()

    def _digest(self) -> str:
        h = hashlib.sha256(ctypes.string_at(self.buffer, HOST_DATA_BYTES))
        h.update(repr(sorted(self.table.items())).encode())
        return h.hexdigest()

    def intact(self) -> bool:
        return self._digest() == self.digest


class NativePlugin:
    """The workload as a shared library in this process: a fault here is a fault of the host."""

    instances = 1

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        lib.wc_alloc.restype, lib.wc_alloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        lib.wc_free.restype, lib.wc_free.argtypes = None, [ctypes.c_void_p]
        lib.wc_run.restype, lib.wc_run.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]
        lib.wc_output.restype, lib.wc_output.argtypes = ctypes.c_void_p, []
        lib.wc_output_len.restype, lib.wc_output_len.argtypes = ctypes.c_size_t, []
        lib.wc_error.restype, lib.wc_error.argtypes = ctypes.c_char_p, []
        self.lib = lib

    def run(self, data: bytes, timeout_s: float, reset: bool = False):
        """(rc, stdout, error message, trap); `reset` cannot apply to a loaded library. No deadline can stop native code in-process:
        the client kills the whole host when a request runs past its timeout."""
        lib = self.lib
        ptr = lib.wc_alloc(len(data))
        ctypes.memmove(ptr, data, len(data))
        rc = lib.wc_run(ptr, len(data))
        n = lib.wc_output_len()
        out = ctypes.string_at(lib.wc_output(), n) if n else b""
        err = lib.wc_error() or b""
        lib.wc_free(ptr)
        return rc, out, err, None


class WasmPlugin:
    """The workload as a Wasm reactor instance in this process (wasmtime). A trap ends the
    request, and the host replaces the instance; a silent overflow inside linear memory
    stays in the instance, as it would in a real plugin host."""

    def __init__(self, path: str, memory_bytes: int, fresh_instance: bool):
        import wasmtime
        from harness.runtimes.wasmtime_py import engine, load_module

        self.wasmtime, self.engine = wasmtime, engine()
        self.module = load_module(path)
        self.memory_bytes, self.fresh_instance = memory_bytes, fresh_instance
        self.instances = 0
        self._stderr = []
        self._instantiate()

    def _instantiate(self):
        wt = self.wasmtime
        self.store = wt.Store(self.engine)
        self.store.set_limits(memory_size=self.memory_bytes)
        wasi = wt.WasiConfig()
        wasi.stdout_custom = lambda b: self._stderr.append(bytes(b))  # a reactor has no stdout of its own
        wasi.stderr_custom = lambda b: self._stderr.append(bytes(b))
        self.store.set_wasi(wasi)
        linker = wt.Linker(self.engine)
        linker.define_wasi()
        instance = linker.instantiate(self.store, self.module)
        self.exports = instance.exports(self.store)
        self.store.set_fuel(2**63 - 1)
        self.store.set_epoch_deadline(2**40)
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)
        self.instances += 1

    def _c_string(self, ptr: int) -> bytes:
        if not ptr:
            return b""
        mem = self.exports["memory"]
        end = min(ptr + ERROR_MESSAGE_MAX, mem.data_len(self.store))
        return bytes(mem.read(self.store, ptr, end)).split(b"\0", 1)[0]

    def _drain_stderr(self) -> bytes:
        text, self._stderr[:] = b"".join(self._stderr), []
        return text

    def run(self, data: bytes, timeout_s: float, reset: bool = False):
        from harness.runtimes.wasmtime_py import EPOCH_TICK_S, trap_kind

        if (reset or self.fresh_instance) and self.instances:
            self._instantiate()
        ex, store = self.exports, self.store
        store.set_epoch_deadline(max(1, int(timeout_s / EPOCH_TICK_S)))
        try:
            ptr = ex["wc_alloc"](store, len(data))
            ex["memory"].write(store, data, ptr)
            rc = ex["wc_run"](store, ptr, len(data))
            start, n = ex["wc_output"](store), ex["wc_output_len"](store)
            out = bytes(ex["memory"].read(store, start, start + n)) if n else b""
            err = self._c_string(ex["wc_error"](store)) + self._drain_stderr()
            ex["wc_free"](store, ptr)
            return rc, out, err, None
        except self.wasmtime.Trap as exc:
            kind = trap_kind(exc)
        except self.wasmtime.WasmtimeError as exc:  # e.g. wc_output pointing past the memory
            kind = "host-check: " + str(exc).splitlines()[0]
        err = self._drain_stderr()
        self._instantiate()  # a trapped instance is not reused
        return None, b"", err, kind


def serve(sock: socket.socket, plugin, host: HostData) -> None:
    served = 0
    while True:
        try:
            request = recv_frame(sock)
        except EOFError:
            return
        if request.get("op") == "ping":
            send_frame(sock, {"pid": os.getpid(), "host_intact": host.intact(), "served": served,
                              "instances": plugin.instances})
            continue
        data = recv_exact(sock, request["stdin_len"])
        start = time.perf_counter()
        rc, out, err, trap = plugin.run(data, float(request["timeout_s"]), bool(request.get("reset")))
        wall = time.perf_counter() - start
        served += 1
        send_frame(sock, {"rc": rc, "trap": trap, "stdout_len": len(out), "stderr_len": len(err),
                          "host_intact": host.intact(), "served": served, "instances": plugin.instances,
                          "wall_s": wall, "pid": os.getpid()}, out, err)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] not in ("native", "wasm"):
        sys.exit(__doc__)
    sock = socket.socket(fileno=int(argv[0]))
    host = HostData()
    if argv[1] == "native":
        plugin = NativePlugin(argv[2])
    else:
        memory = int(argv[argv.index("--memory-bytes") + 1]) if "--memory-bytes" in argv else 512 << 20
        plugin = WasmPlugin(argv[2], memory, "--fresh-instance" in argv)
    serve(sock, plugin, host)


if __name__ == "__main__":
    main(sys.argv[1:])
