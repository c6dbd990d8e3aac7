"""One result type for every execution form, so suites compare like with like."""

from __future__ import annotations

import dataclasses
import signal as _signal
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What one run of a workload produced, whatever form ran it."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int | None = None
    signal: int | None = None  # the POSIX signal that killed the process
    trap: str | None = None  # a Wasm trap kind (e.g. "out-of-bounds", "unreachable", "out-of-fuel")
    timed_out: bool = False
    wall_s: float = 0.0
    peak_memory_kb: int | None = None
    memory_source: str | None = None  # how it was measured, and what it includes (see process.RUSAGE_UPPER_BOUND)
    error: str | None = None  # the harness could not run it at all (and why)
    extra: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """ok, rejected, crashed, trapped, timeout or error: the coarse class suites compare."""
        if self.error is not None:
            return "error"
        if self.timed_out:
            return "timeout"
        if self.trap is not None:
            return "trapped"
        if self.signal is not None:
            return "crashed"
        return "ok" if self.exit_code == 0 else "rejected"

    def describe(self) -> str:
        """A one-line human summary for assertion messages and reports."""
        parts = [self.status]
        if self.exit_code is not None:
            parts.append(f"exit={self.exit_code}")
        if self.signal is not None:
            try:
                parts.append(f"signal={_signal.Signals(self.signal).name}")
            except ValueError:
                parts.append(f"signal={self.signal}")
        if self.trap:
            parts.append(f"trap={self.trap}")
        if self.error:
            parts.append(f"error={self.error}")
        parts.append(f"stdout={len(self.stdout)}B")
        if self.stderr:
            parts.append(f"stderr={self.stderr[:160].decode('utf-8', 'replace').strip()!r}")
        return " ".join(parts)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["stdout"] = self.stdout.decode("utf-8", "replace")[:2000]
        data["stderr"] = self.stderr.decode("utf-8", "replace")[:2000]
        data["status"] = self.status
        return data


def from_wait_status(status: int) -> tuple[int | None, int | None]:
    """(exit_code, signal) from a raw wait status or a subprocess returncode (<0 = signal)."""
    if status < 0:
        return None, -status
    return status, None
