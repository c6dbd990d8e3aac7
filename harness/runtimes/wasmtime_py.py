"""wasmtime embedded through its Python package: always there, in-process, compiled
modules cached (serialized) by module hash and engine version."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

from importlib.metadata import version

import wasmtime

from harness.outcome import Outcome
from harness.runtimes.base import Availability, Limits, Session, WasiSetup, WasmRuntime
from harness.toolchain import cache_root, host_arch

EPOCH_TICK_S = 0.01
WASMTIME_PY_VERSION = version("wasmtime")


def trap_kind(trap: wasmtime.Trap) -> str:
    code = trap.trap_code
    return code.name.lower().replace("_", "-") if code is not None else "trap"


class _EpochTicker:
    """One daemon thread per engine advancing its epoch, so deadlines are wall-clock bounded."""

    def __init__(self, engine: wasmtime.Engine):
        self._engine = engine
        threading.Thread(target=self._tick, name="wasm-claims-epoch", daemon=True).start()

    def _tick(self):
        while True:
            time.sleep(EPOCH_TICK_S)
            self._engine.increment_epoch()


_ENGINE_LOCK = threading.Lock()
_ENGINE: wasmtime.Engine | None = None


def engine() -> wasmtime.Engine:
    """The shared engine: fuel and epoch interruption on, so every limit is available."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            cfg = wasmtime.Config()
            cfg.consume_fuel = True
            cfg.epoch_interruption = True
            _ENGINE = wasmtime.Engine(cfg)
            _EpochTicker(_ENGINE)
        return _ENGINE


def load_module(path: Path) -> wasmtime.Module:
    """Compile once, then reuse the serialized machine code from the cache."""
    data = Path(path).read_bytes()
    key = hashlib.sha256(data + WASMTIME_PY_VERSION.encode()).hexdigest()
    cached = cache_root() / "cwasm" / f"{key}.cwasm"
    if cached.is_file():
        return wasmtime.Module.deserialize_file(engine(), str(cached))
    module = wasmtime.Module(engine(), data)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(module.serialize())
    tmp.replace(cached)
    return module


class WasmtimePySession(Session):
    def __init__(self, module: wasmtime.Module, limits: Limits):
        self.module = module
        self.limits = limits
        self.linker = wasmtime.Linker(engine())
        self.linker.define_wasi()

    def new_store(self, timeout_s: float) -> wasmtime.Store:
        store = wasmtime.Store(engine())
        store.set_fuel(self.limits.fuel if self.limits.fuel is not None else 2**63 - 1)
        store.set_epoch_deadline(max(1, int(timeout_s / EPOCH_TICK_S)))
        store.set_limits(memory_size=self.limits.memory_bytes)
        return store

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        store = self.new_store(timeout_s)
        out: list[bytes] = []
        err: list[bytes] = []
        setup, wasi = wasi, wasmtime.WasiConfig()
        if setup is not None:
            _grant(wasi, setup)
        with tempfile.NamedTemporaryFile(prefix="wc-stdin-") as f:
            f.write(stdin)
            f.flush()
            wasi.stdin_file = f.name
            wasi.stdout_custom = lambda b: out.append(bytes(b))
            wasi.stderr_custom = lambda b: err.append(bytes(b))
            store.set_wasi(wasi)
            start = time.perf_counter()
            result = Outcome()
            try:
                instance = self.linker.instantiate(store, self.module)
                instance.exports(store)["_start"](store)
                result.exit_code = 0
            except wasmtime.ExitTrap as exc:
                result.exit_code = exc.code
            except wasmtime.Trap as exc:
                kind = trap_kind(exc)
                result.trap = kind
                result.timed_out = kind == "interrupt"
                err.append(f"wasm trap: {kind}\n".encode())
            except wasmtime.WasmtimeError as exc:
                result.error = f"wasmtime: {str(exc).splitlines()[0]}"
                result.extra["error_text"] = str(exc)[:4000]  # the cause (e.g. a guest pointer out of bounds)
            result.wall_s = time.perf_counter() - start
        memory = _linear_memory_kb(store, locals().get("instance"))
        result.stdout, result.stderr = b"".join(out), b"".join(err)
        result.peak_memory_kb, result.memory_source = memory, "linear-memory" if memory else None
        return result


def _grant(wasi: wasmtime.WasiConfig, setup: WasiSetup) -> None:
    """Extra argv, env and preopens (read-only ones through fs_mutable=False)."""
    wasi.argv = ["module.wasm", *setup.args]
    wasi.env = [list(kv) for kv in setup.env]
    for p in setup.preopens:
        wasi.preopen_dir(str(p.host), p.guest, fs_mutable=p.writable)


def _linear_memory_kb(store, instance) -> int | None:
    if instance is None:
        return None
    mem = instance.exports(store).get("memory")
    return mem.data_len(store) // 1024 if isinstance(mem, wasmtime.Memory) else None


class WasmtimePy(WasmRuntime):
    name = "wasmtime-py"
    capabilities = frozenset({"in-process", "fuel", "epoch", "memory-limit", "preopen", "preopen-readonly"})

    def availability(self, arch: str | None = None) -> Availability:
        if arch not in (None, host_arch()):
            return Availability(False, WASMTIME_PY_VERSION,
                                f"the embedded runtime runs only on the host arch ({host_arch()}); use wasmtime-cli under qemu")
        return Availability(True, WASMTIME_PY_VERSION)

    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session:
        return WasmtimePySession(load_module(module), limits)
