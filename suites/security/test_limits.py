"""SAFETY-3: does each Wasm runtime contain a runaway guest? CPU (epoch deadline and fuel),
stack depth, memory growth, open files and one huge random_get; after each, the host must
still be alive and (in-process) still give right answers.

One record per limit x runtime: `limit_held` 1 when the runtime itself stopped or refused the
guest and the host survived, 0 when only the harness's own timeout stopped it or the guest got
past the configured limit. Recursion depth and where memory.grow is refused differ between
engines (wasmtime's fuzzing documentation says so): they are recorded, never compared.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

import pytest

from harness import canary as canary_mod
from harness.probes import LIMIT_GUESTS, probe, runner
from harness.probes.guests import build_all
from harness.runtimes import RUNTIMES, Limits
from harness.toolchain import host_arch

MEMORY_LIMIT = 64 << 20
DEADLINE_S = {"quick": 2.0, "default": 3.0, "thorough": 5.0}
FUEL_DEADLINE_S = 20.0
SLACK_S = 15.0  # past the runtime's deadline plus its start-up allowance, a run is a harness hang
HOST_RSS_BUDGET_KB = 2 << 20  # a runaway guest must be stopped before the host process passes 2 GiB


def reset_peak_rss() -> None:
    """Reset this process's VmHWM (Linux: 5 > clear_refs), so the next peak is the run's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def own_peak_rss_kb() -> int | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class Case:
    name: str  # cpu-epoch, cpu-fuel, stack, memory, open-files, random-huge
    guest: str
    limits: Limits
    needs: str | None = None  # a runtime capability without which the case is skipped


CASES = (
    Case("cpu-epoch", "lim-infinite-loop", Limits(memory_bytes=MEMORY_LIMIT)),
    Case("cpu-fuel", "lim-infinite-loop", Limits(memory_bytes=MEMORY_LIMIT, fuel=200_000_000), needs="fuel"),
    Case("stack", "lim-recursion", Limits(memory_bytes=MEMORY_LIMIT)),
    Case("memory", "lim-grow-until-refused", Limits(memory_bytes=MEMORY_LIMIT)),
    Case("open-files", "lim-open-files", Limits(memory_bytes=MEMORY_LIMIT)),
    Case("random-huge", "lim-random-huge", Limits(memory_bytes=512 << 20)),
)


@pytest.fixture(scope="module")
def limit_guests():
    built = build_all(LIMIT_GUESTS + (probe("ctl-divide-by-zero"),))
    failed = [f"{k}: {v}" for k, v in built.items() if isinstance(v, Exception)]
    if failed:
        pytest.fail(f"limit guests failed to build: {failed[0]}", pytrace=False)
    return built


def _judge(case: Case, out, report: dict) -> tuple[int, str, str, dict]:
    """(limit_held, outcome word, reason, details) for one run."""
    text = (out.extra.get("error_text") or out.error or "") + "\n" + out.stderr.decode("utf-8", "replace")[:8000]
    if out.signal is not None:
        return 0, "host-crashed", f"the runtime process died (signal {out.signal})", {}
    if out.timed_out and out.trap is None:
        return 0, "killed", f"only the harness's timeout stopped it after {out.wall_s:.1f}s (no fuel or epoch deadline in this runtime)", {}
    if case.name.startswith("cpu"):
        held = out.trap in ("interrupt", "out-of-fuel")
        return int(held), "trapped" if held else out.status, f"stopped by the runtime: {out.trap or out.describe()[:120]}", {}
    if case.name == "stack":
        depth = max(report.get("R", [0]) or [0])
        details = {"depth_at_least": depth, "engine_dependent": True}
        if "X" in report:
            return 0, "escaped", "the recursion returned", details
        if out.trap == "interrupt":  # a deadline, not a stack limit, ended it (WasmEdge's interpreter)
            details["host_peak_kb"] = out.peak_memory_kb
            return 0, "killed", (f"no recursion limit: only the deadline stopped it after {out.wall_s:.1f}s at depth >= "
                                 f"{depth}" + (f", host peak {out.peak_memory_kb >> 10} MiB" if out.peak_memory_kb else "")), details
        stopped = out.trap or ("Maximum call stack" in text and "stack-overflow") or runner.host_ended(text)
        return int(bool(stopped)), "trapped" if stopped else out.status, f"stopped: {stopped or out.describe()[:120]}", details
    if case.name == "memory":
        pages = max(report.get("Z", [1]) or [1])
        reached = pages << 16
        details = {"reached_bytes": reached, "limit_bytes": case.limits.memory_bytes, "refused": "G" in report}
        held = reached <= case.limits.memory_bytes
        why = (f"memory.grow refused at {reached >> 20} MiB (limit {case.limits.memory_bytes >> 20} MiB)" if held else
               f"the guest grew to {reached >> 20} MiB past the configured {case.limits.memory_bytes >> 20} MiB")
        return int(held), "denied" if held else "exceeded", why, details
    if case.name == "open-files":
        line = (report.get("OPENED") or ["0 stop=?"])[-1]
        count, _, stop = line.partition(" stop=")
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        details = {"opened": int(count or 0), "stop": stop, "host_rlimit_nofile": soft}
        if out.extra.get("preopens_not_granted"):  # e.g. wasmi's CLI: no folder to open files in
            return 0, "inconclusive", f"not tested: the runtime could not grant {out.extra['preopens_not_granted']}", details
        refused = stop not in ("max", "?")
        by = "the host's RLIMIT_NOFILE" if int(count or 0) >= soft - 64 else "the runtime"
        why = f"refused after {count} open files ({stop}), by {by}" if refused else f"never refused: {line}"
        return int(refused), "denied" if refused else "exceeded", why, details
    # random-huge: the runtime may fill it, refuse it or end the guest; it must not take the host down
    ended = runner.host_ended(text)
    result = (report.get("RESULT") or [""])[-1]
    ok = b"PROBE-DONE" in out.stdout or ended or out.trap
    return int(bool(ok)), "denied" if ok else out.status, f"{result or ended or out.trap or out.describe()[:120]}", {}


def _host_still_right(runtime, guests) -> bool:
    """The in-process host answers an ordinary request right after the runaway guest."""
    p = probe("ctl-divide-by-zero")
    session = RUNTIMES[runtime].open(guests[(p.name, "wasm32-wasi")], Limits(), host_arch())
    try:
        out = session.run(p.stdin((1, 91, 7), None), 5.0)
    finally:
        session.close()
    return runner.parse_report(out.stdout).get("V") == [13]


@pytest.mark.claim("SAFETY-3")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_limit(case, runtime, limit_guests, evidence, scale, pytestconfig):
    forms, runtimes = pytestconfig.getoption("form"), pytestconfig.getoption("runtime")
    if (forms and "wasm" not in forms) or (runtimes and runtime not in runtimes):
        pytest.skip(f"wasm / {runtime} not selected (--form / --runtime)")
    rt = RUNTIMES[runtime]
    avail = rt.availability(host_arch())
    if not avail.available:
        pytest.skip(f"{runtime}: {avail.reason}")
    gap = runner.version_gap(rt, case.needs or "") or (runner.version_gap(rt, "memory-limit") if case.name == "memory" else None)
    if gap:
        evidence.record("limit_held", None, "bool", claim="SAFETY-3", form="wasm", runtime=runtime, arch=host_arch(),
                        outcome="not-tested", limit=case.name, reason=gap, runtime_version=avail.version)
        pytest.skip(f"{runtime}: {gap}")
    if case.needs and case.needs not in rt.capabilities:
        pytest.skip(f"{runtime} has no {case.needs} metering (capabilities: {', '.join(sorted(rt.capabilities))})")
    guest = probe(case.guest)
    deadline = DEADLINE_S.get(scale, 3.0)
    if case.needs == "fuel":  # fuel, not the clock, must stop it: an interpreter needs seconds for 200M units
        deadline = FUEL_DEADLINE_S
    session = rt.open(limit_guests[(guest.name, "wasm32-wasi")], case.limits, host_arch())
    in_process = "in-process" in rt.capabilities
    if in_process:
        reset_peak_rss()
    start = time.perf_counter()
    try:
        with canary_mod.plant() as c:
            out = session.run(guest.stdin(guest.examples[0] if guest.examples else (), runner.layout(c, wasm=True)), deadline,
                              wasi=runner.wasi_grant(c))
    finally:
        session.close()
    wall = time.perf_counter() - start
    held, word, reason, details = _judge(case, out, runner.parse_report(out.stdout))
    peak_kb = own_peak_rss_kb() if in_process else out.peak_memory_kb
    if held and case.name == "stack":  # credited only if stopped in time and before the host grew past its budget
        if wall > deadline + SLACK_S:
            held, word, reason = 0, "killed", f"trapped only after {wall:.1f}s, past the harness's {deadline + SLACK_S:.0f}s timeout"
        elif peak_kb is not None and peak_kb > HOST_RSS_BUDGET_KB:
            held, word, reason = 0, "exceeded", f"trapped, but the host's RSS peaked at {peak_kb >> 10} MiB first (budget {HOST_RSS_BUDGET_KB >> 10} MiB)"
    host_ok = _host_still_right(runtime, limit_guests) if in_process else None
    evidence.record("limit_held", held, "bool", claim="SAFETY-3", form="wasm", runtime=runtime, arch=host_arch(),
                    outcome=word, limit=case.name, reason=reason, wall_s=round(wall, 3), deadline_s=deadline,
                    runtime_version=avail.version, engine_config="default", host_peak_rss_kb=peak_kb,
                    host_rss_source="VmHWM of the harness process (reset before the run)" if in_process else out.memory_source,
                    host_answers_right=host_ok, fds_after=len(os.listdir("/proc/self/fd")),
                    status=out.describe()[:300], **details)
    assert wall < deadline + getattr(rt, "startup_allowance_s", 0) + SLACK_S, f"{case.name} under {runtime} ran {wall:.1f}s: the harness's deadline did not hold"
    assert host_ok is not False, f"after {case.name}, the in-process {runtime} host no longer answers right"
    if case.name == "cpu-epoch" and "epoch" in rt.capabilities:
        assert out.trap == "interrupt", f"{runtime} declares an epoch deadline but did not stop the loop itself: {out.describe()}"
    if case.name == "cpu-fuel":
        assert out.trap == "out-of-fuel", f"{runtime} declares fuel but did not stop the loop by fuel: {out.describe()}"
