"""Capability conformance: runs one tiny guest (guests/capcheck.c) through an adapter and says
where its declared capabilities do not match what the runtime does. Suites trust the
declarations (a probe is judged by "preopen-readonly", a limit by "epoch"/"fuel"), so a wrong
one would silently turn into wrong evidence; tests/test_runtime_conformance.py runs every
installed adapter through these checks."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.outcome import Outcome
from harness.runtimes.base import Limits, Preopen, WasiSetup, WasmRuntime
from harness.toolchain import build_c_file, host_arch

GUEST_SOURCE = Path(__file__).with_name("guests") / "capcheck.c"
KNOWN = frozenset({"in-process", "fuel", "epoch", "memory-limit", "preopen", "preopen-readonly", "foreign-arch",
                   "sockets", "wasi-nn", "component", "network-grant", "preopen-file-perms",
                   "preopen-same-name"})
DEADLINE_S = 1.0
MEMORY_LIMIT = 64 << 20  # above the initial 16 MiB zig gives a wasm32-wasi module
GROW_TO_PAGES = 4096  # 256 MiB: far past the limit
GUEST_DIR = "/cap"


def guest() -> Path:
    """The conformance guest for wasm32-wasi (built once, cached by content hash)."""
    return build_c_file(GUEST_SOURCE, "wasm32-wasi", name="capcheck").path


def _run(runtime: WasmRuntime, command: str, limits: Limits = Limits(), timeout_s: float = 20.0,
         wasi: WasiSetup | None = None) -> Outcome:
    session = runtime.open(guest(), limits, host_arch())
    try:
        return session.run(command.encode() + b"\n", timeout_s, wasi)
    finally:
        session.close()


def _exit(runtime: WasmRuntime) -> str | None:
    out = _run(runtime, "exit")
    if out.stdout != b"hello\n" or out.exit_code != 3 or out.trap is not None:
        return f"a guest printing 'hello' and exiting 3 was seen as: stdout={out.stdout[:200]!r} {out.describe()}"
    return None


def _trap(runtime: WasmRuntime) -> str | None:
    out = _run(runtime, "trap")
    if out.trap != "unreachable":
        return f"an `unreachable` trap was not read as trap=unreachable: {out.describe()}"
    return None


def _epoch(runtime: WasmRuntime) -> str | None:
    out = _run(runtime, "loop", timeout_s=DEADLINE_S)
    if out.trap != "interrupt" or not out.timed_out:
        return f"declares a deadline of its own (epoch) but an endless loop ended as: {out.describe()}"
    return None


def _fuel(runtime: WasmRuntime) -> str | None:
    out = _run(runtime, "loop", Limits(fuel=5_000_000))
    if out.trap != "out-of-fuel":
        return f"declares fuel but an endless loop with 5M fuel ended as: {out.describe()}"
    return None


def _memory_limit(runtime: WasmRuntime) -> str | None:
    out = _run(runtime, "grow " + str(GROW_TO_PAGES), Limits(memory_bytes=MEMORY_LIMIT))
    word, _, pages = out.stdout.decode("latin-1").strip().partition(" ")
    refused_by_trap = out.trap is not None and out.trap != "unreachable"
    if word == "PAGES" and pages.isdigit() and int(pages) << 16 <= MEMORY_LIMIT:
        return None
    if refused_by_trap:
        return None
    return f"declares a memory limit but a guest grew to {out.stdout[:80]!r} past {MEMORY_LIMIT >> 20} MiB: {out.describe()}"


def _write(runtime: WasmRuntime, writable: bool) -> tuple[Outcome, bool]:
    with tempfile.TemporaryDirectory(prefix="wc-capcheck-") as tmp:
        grant = WasiSetup(preopens=(Preopen(Path(tmp), GUEST_DIR, writable),))
        out = _run(runtime, f"write {GUEST_DIR}/written.txt", wasi=grant)
        return out, (Path(tmp) / "written.txt").exists()


def _preopen(runtime: WasmRuntime) -> str | None:
    out, written = _write(runtime, writable=True)
    if not (written and out.stdout.startswith(b"OK")):
        return f"declares preopens but a write into a writable one failed: stdout={out.stdout[:80]!r} {out.describe()}"
    return None


def _preopen_readonly(runtime: WasmRuntime) -> str | None:
    out, written = _write(runtime, writable=False)
    if written or out.stdout.startswith(b"OK"):
        return f"declares read-only preopens but the guest created a file in one: {out.describe()}"
    return None


@dataclass(frozen=True)
class Check:
    name: str
    capability: str | None  # None: every adapter must pass it
    run: Callable[[WasmRuntime], str | None]


CHECKS = (
    Check("exit-code-and-output", None, _exit),
    Check("trap-seen-as-trap", None, _trap),
    Check("epoch", "epoch", _epoch),
    Check("fuel", "fuel", _fuel),
    Check("memory-limit", "memory-limit", _memory_limit),
    Check("preopen", "preopen", _preopen),
    Check("preopen-readonly", "preopen-readonly", _preopen_readonly),
)


def applicable(runtime: WasmRuntime) -> list[Check]:
    return [c for c in CHECKS if c.capability is None or c.capability in runtime.capabilities]


def mismatches(runtime: WasmRuntime) -> list[str]:
    """Every declaration of `runtime` that its behaviour contradicts ([] = conformant)."""
    found = [f"unknown capability {c!r} (known: {', '.join(sorted(KNOWN))})" for c in sorted(runtime.capabilities - KNOWN)]
    for check in applicable(runtime):
        if (why := check.run(runtime)) is not None:
            found.append(f"{check.name}: {why}")
    return found
