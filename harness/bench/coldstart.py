"""Cold-start variants: one callable per way of starting a workload from nothing and running
one trivial input to the end, each returning its own duration for `harness.bench.measure`.

- `process`: the native binary as a new process;
- `python-process`: `python3 script` as a new process;
- `docker-run`: `docker run` of the Python image (the container form's limits);
- `docker-run-native`: `docker run` of an image holding only the static native binary, which
  separates what the container costs from what Python costs;
- `fresh-compile`, `cached-module`, `instantiate`: wasmtime inside an already running host:
  compile from bytes, deserialize wasmtime's serialized module from disk, or only
  instantiate a compiled module;
- `wasmtime-cli`, `wasmtime-cli-precompiled`, `node-wasi`: a Wasm runtime as a new process.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from harness.bench import BenchError
from harness.forms.container import docker_run_flags
from harness.outcome import Outcome
from harness.process import run_process

DOCKER_FLAGS = docker_run_flags()  # the container form's limits, as `docker run` flags
DOCKER_TIMEOUT_S = 120


def _checked(label: str, out: Outcome, accept: tuple[str, ...] = ("ok",)) -> float:
    if out.status not in accept:
        raise BenchError(f"{label}: {out.describe()}")
    return out.wall_s


def process(cmd: list[str], stdin: bytes, timeout_s: float, label: str) -> Callable[[], float]:
    """A new process per call: launch to exit."""
    return lambda: _checked(label, run_process(cmd, stdin, timeout_s))


def docker_cli() -> str | None:
    return shutil.which("docker")


def docker_run_command(image: str, command: list[str], volumes: dict[str, str] | None = None) -> list[str]:
    """`docker run --rm -i` with the container form's limits; volumes host -> container:mode."""
    cmd = [docker_cli() or "docker", "run", "--rm", "-i", *DOCKER_FLAGS]
    for host, target in (volumes or {}).items():
        cmd += ["-v", f"{host}:{target}"]
    return [*cmd, image, *command]


def docker_run(image: str, command: list[str], stdin: bytes, label: str, volumes=None) -> Callable[[], float]:
    return process(docker_run_command(image, command, volumes), stdin, DOCKER_TIMEOUT_S, label)


class WasmtimeHost:
    """The three in-host variants, sharing one engine (the host is warm: engine and
    linker exist; what differs is how the module gets there)."""

    def __init__(self, module_path: Path, stdin: bytes, timeout_s: float):
        import wasmtime

        from harness.runtimes.base import Limits
        from harness.runtimes.wasmtime_py import WasmtimePySession, engine

        self.wasmtime, self.engine, self.session_cls, self.limits = wasmtime, engine(), WasmtimePySession, Limits()
        self.data, self.stdin, self.timeout_s = Path(module_path).read_bytes(), stdin, timeout_s
        self._tmp = tempfile.TemporaryDirectory(prefix="wc-cwasm-")
        self.module = wasmtime.Module(self.engine, self.data)
        self.serialized = Path(self._tmp.name) / "module.cwasm"
        self.serialized.write_bytes(self.module.serialize())

    def _run(self, module, t0: float) -> float:
        out = self.session_cls(module, self.limits).run(self.stdin, self.timeout_s)
        took = time.perf_counter() - t0
        _checked("wasmtime-py", out)
        return took

    def fresh_compile(self) -> float:
        t0 = time.perf_counter()
        return self._run(self.wasmtime.Module(self.engine, self.data), t0)

    def cached_module(self) -> float:
        t0 = time.perf_counter()
        return self._run(self.wasmtime.Module.deserialize_file(self.engine, str(self.serialized)), t0)

    def instantiate(self) -> float:
        return self._run(self.module, time.perf_counter())

    def close(self) -> None:
        self._tmp.cleanup()


def precompile_for_cli(wasmtime: str, module: Path, out_dir: Path) -> Path:
    """`wasmtime compile` the module once, for `wasmtime run --allow-precompiled`."""
    out = Path(out_dir) / (Path(module).stem + ".cwasm")
    r = subprocess.run([wasmtime, "compile", str(module), "-o", str(out)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not out.is_file():
        raise BenchError(f"wasmtime compile failed: {(r.stderr or r.stdout).strip()[:300]}")
    return out
