"""Wasmer's CLI (crate `wasmer-cli`, built with cargo into the cache with its Cranelift and
Singlepass compilers), one row per compiler: `wasmer` (Cranelift, its default) and
`wasmer-singlepass`; `wasmer-llvm` is available only from a Wasmer built with LLVM.

Its `run` has no time, fuel or memory limit and no read-only volume: every `--volume` is
writable, and only the harness's own timeout stops a runaway guest (SAFETY-3 records it)."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from harness.runtimes.base import Availability, Limits, WasiSetup
from harness.runtimes.cargo_install import CargoCliRuntime, CargoEngine
from harness.toolchain import host_arch

WASMER = CargoEngine("wasmer", "wasmer-cli", "wasmer", "7.4.2", features=("cranelift", "singlepass"),
                     build_note="its first build took 36 min on 2 busy cores at nice 10: 548 crates")


@functools.cache
def compilers(program: str) -> frozenset[str]:
    """The compilers this Wasmer was built with (its `run --help` names the flags)."""
    try:
        out = subprocess.run([program, "run", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(c for c in ("cranelift", "singlepass", "llvm") if f"--{c}" in out.stdout)


class Wasmer(CargoCliRuntime):
    name = "wasmer"
    engine = "wasmer"
    mode = "cranelift"
    executable = "wasmer"
    capabilities = frozenset({"preopen", "network-grant"})
    trap_pattern = re.compile(r"RuntimeError: ([^\n]+)")
    cargo = WASMER

    def usable(self, program: str, version: str) -> Availability | None:
        if self.mode in compilers(program):
            return None
        needs = " (it needs LLVM 22's development libraries)" if self.mode == "llvm" else ""
        return Availability(False, version, f"{program} was built without the {self.mode} compiler; fix: build wasmer-cli "
                                            f"with cargo feature `{self.mode}`{needs}")

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        opts = [f"--{self.mode}"]
        opts += [a for p in wasi.preopens for a in ("--volume", f"{p.host}:{p.guest}")]
        opts += [a for k, v in wasi.env for a in ("--env", f"{k}={v}")]
        opts += ["--net"] if wasi.network else []  # WASIX sockets reach the host network only with this grant
        return [self.program(arch), "run", *opts, str(module), *(("--", *wasi.args) if wasi.args else ())]


    def invoke_command(self, module: Path, export: str, arch: str, options: tuple[str, ...]) -> list[str] | None:
        return [self.program(arch), "run", f"--{self.mode}", *options, "--invoke", export, str(module)]

    feature_options = {"threads": ("--enable-threads",), "memory64": ("--enable-memory64",)}
    wast_subcommand = "wast"
    wast_takes_options = False  # `wasmer wast` takes the compiler, not `run`'s options

    def wast_command(self, script: Path, options: tuple[str, ...], arch: str | None = None) -> list[str]:
        return [self.program(arch or host_arch()), "wast", f"--{self.mode}", str(script)]


class WasmerSinglepass(Wasmer):
    name = "wasmer-singlepass"
    mode = "singlepass"


class WasmerLlvm(Wasmer):
    name = "wasmer-llvm"
    mode = "llvm"
