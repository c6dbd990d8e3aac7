"""Engines built from their crates with `cargo install --root <cache>/runtimes/<engine>-<version>`
(Wasmer, wasmi): one folder per version, built once into a temporary root and renamed into
place, so a failed or interrupted build never leaves a half-installed engine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.runtimes.base import VersionUnavailable
from harness.runtimes.cli import CliRuntime
from harness.toolchain import cache_root

PROGRESS_EVERY_S = 20.0  # under the 30 s a step may stay silent, with room for a slow tick


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+-]", version))


@dataclass(frozen=True)
class CargoEngine:
    """How one engine is built from a crate: its default version is pinned so every machine
    measures the same engine unless asked for another (`NAME==VERSION`)."""

    engine: str  # folder prefix and the name users type (wasmer, wasmi)
    crate: str
    binary: str
    default_version: str
    features: tuple[str, ...] = ()
    build_note: str = ""  # the measured first-build time, for the message users see
    path: Path | None = None  # a crate of this project (a driver) instead of the registry's

    def root(self, version: str) -> Path:
        return cache_root() / "runtimes" / f"{self.engine}-{version}"

    def binary_path(self, version: str) -> Path:
        return self.root(version) / "bin" / self.binary

    def installed_versions(self) -> list[str]:
        """Versions built into the cache, newest first."""
        base = cache_root() / "runtimes"
        found = [p.name[len(self.engine) + 1:] for p in base.glob(f"{self.engine}-*")
                 if (p / "bin" / self.binary).is_file() and ".tmp" not in p.name] if base.is_dir() else []
        return sorted(found, key=_version_key, reverse=True)

    def cached_binary(self) -> str | None:
        """The default version if built, else the newest one built."""
        versions = self.installed_versions()
        if not versions:
            return None
        pick = self.default_version if self.default_version in versions else versions[0]
        return str(self.binary_path(pick))

    def install_command(self, version: str | None = None) -> str:
        spec = f"=={version}" if version and version != self.default_version else ""
        return f"wasm-claims runtime install {self.engine}{spec}"

    def install(self, version: str | None = None, progress=print) -> Path:
        """Build `version` (default: the pinned one) into the cache unless it is there.
        Raises VersionUnavailable with one line (cargo's own error) on failure."""
        version = version or self.default_version
        target = self.binary_path(version)
        if target.is_file():
            return target
        cargo = shutil.which("cargo")
        if cargo is None:
            raise VersionUnavailable(f"{self.engine} {version}: cargo not found (it builds {self.crate} from source); "
                                     "fix: apt-get install cargo, or install rustup")
        root = self.root(version)
        staged = root.with_name(f"{root.name}.tmp{os.getpid()}")
        log = root.with_name(f"{root.name}.log")
        shutil.rmtree(staged, ignore_errors=True)
        cmd = [cargo, "install", "--root", str(staged), *(("--path", str(self.path)) if self.path else
                                                          (self.crate, "--version", version)), "--locked"]
        if self.features:
            cmd += ["--features", ",".join(self.features)]
        took = f" ({self.build_note})" if self.build_note else ""
        progress(f"building {self.crate} {version} with cargo into {root}{took}; log: {log}")
        # A build folder of its own that outlives an interrupted build, so the next try resumes.
        target_dir = root.with_name(f"{root.name}.target")
        code = _run_logged(cmd, log, lambda n: progress(f"  {self.crate} {version}: {n} crates compiled ..."),
                           {**os.environ, "CARGO_TARGET_DIR": str(target_dir)})
        built = staged / "bin" / self.binary
        if code != 0 or not built.is_file():
            shutil.rmtree(staged, ignore_errors=True)
            raise VersionUnavailable(f"{self.engine} {version}: cargo install {self.crate} failed: {_cargo_error(log)} (log: {log})")
        shutil.rmtree(target_dir, ignore_errors=True)
        try:
            staged.rename(root)
        except OSError:  # another process installed it meanwhile
            shutil.rmtree(staged, ignore_errors=True)
        progress(f"{self.engine} {version}: {target}")
        return target


def _run_logged(cmd: list[str], log: Path, tick, env: dict) -> int:
    """Run cmd with its output in `log`, calling tick(crates compiled) now and then."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        last = time.monotonic()
        while proc.poll() is None:
            time.sleep(1.0)
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                tick(log.read_text(errors="replace").count("Compiling "))
    return proc.returncode


def _cargo_error(log: Path) -> str:
    """cargo's first `error` line, without the rest of its output."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [line.strip() for line in lines if line.lstrip().startswith("error")]
    return (errors[0] if errors else (lines[-1].strip() if lines else "no output"))[:300]


class CargoCliRuntime(CliRuntime):
    """A row of an engine built by `cargo`: found on PATH or in the cache; `for_version`
    builds that version (once) and pins the row to it."""

    cargo: CargoEngine
    pinned: str | None = None

    def find(self) -> str | None:
        if self.pinned:
            path = self.cargo.binary_path(self.pinned)
            return str(path) if path.is_file() else None
        return super().find() or self.cargo.cached_binary()

    def install_hint(self) -> str:
        return self.cargo.install_command(self.pinned)

    def for_version(self, version: str, progress=print) -> "CargoCliRuntime":
        self.cargo.install(version, progress)
        pinned = type(self)()
        pinned.pinned = version
        return pinned
