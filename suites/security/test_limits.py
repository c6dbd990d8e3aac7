"""SAFETY-3: does each Wasm runtime contain a runaway guest? CPU (epoch deadline and fuel),
stack depth, memory growth, open files and one huge random_get; after each, the host must
still be alive and (in-process) still give right answers.

One record per limit x runtime, judged by harness/limits.py: `limit_held` 1 only when the guest
ran, reached the limit and the runtime's own limit stopped it; 0 when only the harness's own
timeout stopped it or the guest got past the configured limit; no value (inconclusive, with the
reason) when something else stopped it. Recursion depth and where memory.grow is refused differ between
engines (wasmtime's fuzzing documentation says so): they are recorded, never compared.
"""

from __future__ import annotations

import os
import resource
import time

import pytest

from harness import canary as canary_mod
from harness import limits
from harness.probes import LIMIT_GUESTS, probe, runner
from harness.probes.guests import build_all
from harness.runtimes import RUNTIMES, Limits
from harness.toolchain import host_arch

DEADLINE_S = {"quick": 2.0, "default": 3.0, "thorough": 5.0}
FUEL_DEADLINE_S = 20.0


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


@pytest.fixture(scope="module")
def limit_guests():
    built = build_all(LIMIT_GUESTS + (probe("ctl-divide-by-zero"),))
    failed = [f"{k}: {v}" for k, v in built.items() if isinstance(v, Exception)]
    if failed:
        pytest.fail(f"limit guests failed to build: {failed[0]}", pytrace=False)
    return built


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
@pytest.mark.parametrize("case", limits.CASES, ids=lambda c: c.name)
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
    peak_kb = own_peak_rss_kb() if in_process else out.peak_memory_kb
    v = limits.judge(case, out, runner.parse_report(out.stdout), wall_s=wall, deadline_s=deadline, peak_kb=peak_kb,
                     host_nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    host_ok = _host_still_right(runtime, limit_guests) if in_process else None
    evidence.record("limit_held", v.held, "bool", claim="SAFETY-3", form="wasm", runtime=runtime, arch=host_arch(),
                    outcome=v.word, limit=case.name, reason=v.reason, wall_s=round(wall, 3), deadline_s=deadline,
                    runtime_version=avail.version, engine_config="default", host_peak_rss_kb=peak_kb,
                    host_rss_source="VmHWM of the harness process (reset before the run)" if in_process else out.memory_source,
                    host_answers_right=host_ok, fds_after=len(os.listdir("/proc/self/fd")),
                    status=out.describe()[:300], **v.details)
    assert wall < deadline + getattr(rt, "startup_allowance_s", 0) + limits.SLACK_S, f"{case.name} under {runtime} ran {wall:.1f}s: the harness's deadline did not hold"
    assert host_ok is not False, f"after {case.name}, the in-process {runtime} host no longer answers right"
    if case.name == "cpu-epoch" and "epoch" in rt.capabilities:
        assert out.trap == "interrupt", f"{runtime} declares an epoch deadline but did not stop the loop itself: {out.describe()}"
    if case.name == "cpu-fuel":
        assert out.trap == "out-of-fuel", f"{runtime} declares fuel but did not stop the loop by fuel: {out.describe()}"
