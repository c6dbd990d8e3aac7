"""The runtime adapter contract: one small class per Wasm runtime, with declared
capabilities and a version, all returning the same Outcome (after wasi-testsuite's runners)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.outcome import Outcome

DEFAULT_MEMORY_LIMIT = 512 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits a runtime enforces where it can (see `capabilities`)."""

    memory_bytes: int = DEFAULT_MEMORY_LIMIT
    fuel: int | None = None  # instructions-ish budget; None = no fuel metering


@dataclass(frozen=True)
class Preopen:
    """A host directory the guest may reach under `guest` (read-only where the runtime can say so).
    `files_writable` False with `writable` True: the folder's entries may change but its files'
    contents may not (capability "preopen-file-perms"); None: as `writable`."""

    host: Path
    guest: str
    writable: bool = True
    files_writable: bool | None = None


@dataclass(frozen=True)
class WasiSetup:
    """What a run grants the guest beyond stdio: extra argv, environment, preopened
    directories, the host's network (where the runtime has a grant for it: capability
    "network-grant"). The default grants nothing, which is what every run got before."""

    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    preopens: tuple[Preopen, ...] = ()
    network: bool = False


@dataclass(frozen=True)
class Availability:
    available: bool
    version: str = ""
    reason: str = ""  # why not, with the command that would fix it


@dataclass(frozen=True)
class Invoked:
    """What one call of a no-argument export did (differential fuzzing's unit): its i64
    result, or a trap kind in the one vocabulary, or the process died by a signal, or it
    timed out, or the engine could not run the module at all (error: why)."""

    value: int | None = None
    trap: str | None = None
    died: int | None = None
    timed_out: bool = False
    error: str | None = None


class Session(abc.ABC):
    """A loaded module ready to run many inputs (compiled once)."""

    @abc.abstractmethod
    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome: ...

    def close(self) -> None:
        """Release what the session holds (nothing by default)."""


class VersionUnavailable(Exception):
    """A requested runtime version cannot be installed or driven here; the message is one line
    naming the version and why (pip's or cargo's own words, shortened)."""


class WasmRuntime(abc.ABC):
    """One row of the runtime matrix: an engine run in one mode (and, when asked for, one
    installed version). `name` is the row's id in --runtime, records and the report."""

    name: ClassVar[str]
    engine: ClassVar[str] = ""  # engine family (wasmtime, v8, wasmedge, wasmer, wasmi); "" = name
    mode: ClassVar[str] = "default"  # interp, aot, jit, cranelift, singlepass, llvm, ...
    # Known capabilities (harness.runtimes.conformance.KNOWN; the behavioural ones are checked
    # there): in-process, fuel (an instruction budget stops the guest), epoch (a wall-clock
    # deadline of the runtime's own stops it), memory-limit, preopen, preopen-readonly,
    # preopen-file-perms (Preopen.files_writable), preopen-same-name (only a folder under its own host
    # path: Preopen.guest == str(Preopen.host)), foreign-arch, sockets, wasi-nn, component (runs WASI 0.2 components), network-grant
    # (WasiSetup.network opens the host network to the guest)
    capabilities: ClassVar[frozenset[str]]

    def for_version(self, version: str, progress=print) -> "WasmRuntime":
        """This row pinned to another installable version (installed into the cache on first
        use; `--runtime NAME==VERSION`). Raises VersionUnavailable with a one-line reason."""
        raise VersionUnavailable(f"{self.name} has no installable versions (it is found on PATH)")

    @property
    def engine_name(self) -> str:
        return self.engine or self.name

    @abc.abstractmethod
    def availability(self, arch: str | None = None) -> Availability: ...

    @abc.abstractmethod
    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session: ...
