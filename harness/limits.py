"""SAFETY-3's cases and their judge: did the runtime's own limit stop a runaway guest?

A limit is credited (`held`) only when the guest ran, reached the limit, and the runtime's limit
stopped it: not the host's RLIMIT_NOFILE, not the harness's time-out, not a crash, not a link or
compile failure, not a trap of another kind. Everything else is `limit-not-held` (the guest got
past the limit, or only the harness stopped it), `host-crashed`, `inconclusive` (something else
stopped the guest, so the limit was never tested) or `error` (the harness could not run it),
each with the reason. The judge reads recorded outcomes only, so tests/test_limits_judge.py
checks it on outcomes of every kind without running an engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.outcome import Outcome
from harness.runtimes import Limits
from harness.runtimes import traps

MEMORY_LIMIT = 64 << 20
GROW_STEP_BYTES = 256 << 16  # lim-grow-until-refused grows 256 pages at a time (its Hypothesis choice)
SLACK_S = 15.0  # past the runtime's deadline plus its start-up allowance, a run is a harness hang
HOST_RSS_BUDGET_KB = 2 << 20  # a runaway guest must be stopped before the host process passes 2 GiB
NOFILE_MARGIN = 64  # opens within this of the host's soft RLIMIT_NOFILE were refused by the host


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
STACK_TRAPS = ("stack-overflow",)
CPU_TRAPS = {"cpu-epoch": ("interrupt", "out-of-fuel"), "cpu-fuel": ("out-of-fuel",)}


@dataclass
class Verdict:
    """One run of one case: held 1 / 0, or None when the run decided nothing (word says why)."""

    held: int | None
    word: str  # held, limit-not-held, host-crashed, inconclusive, error
    reason: str
    details: dict = field(default_factory=dict)


def _text(out: Outcome) -> str:
    return (out.extra.get("error_text") or out.error or "") + "\n" + out.stderr.decode("utf-8", "replace")[:8000]


def _held(reason: str, **details) -> Verdict:
    return Verdict(1, "held", reason, details)


def _not_held(reason: str, **details) -> Verdict:
    return Verdict(0, "limit-not-held", reason, details)


def _nothing(reason: str, **details) -> Verdict:
    return Verdict(None, "inconclusive", reason, details)


def judge(case: Case, out: Outcome, report: dict, *, wall_s: float, deadline_s: float, host_nofile: int,
          peak_kb: int | None = None) -> Verdict:
    """The word for one run of `case` from its outcome and the guest's report lines."""
    from harness.probes import runner  # the probe runner's host-death and host-call vocabulary

    text = _text(out)
    died = traps.HOST_CRASH.search(text)
    if out.signal is not None or died:
        why = f"signal {out.signal}" if out.signal is not None else died.group(0)
        return Verdict(0, "host-crashed", f"the runtime process died ({why})")
    link = runner._LINK_REFUSED.search(text)
    if link:
        return _nothing(f"the guest never ran: the runtime refused to link it ({link.group(0)[:120]})")
    if out.error is not None and not out.timed_out and out.trap is None and not runner.host_ended(text):
        return Verdict(None, "error", f"the harness could not run it: {out.error[:200]}")
    if out.timed_out and out.trap is None:
        return _not_held(f"only the harness's timeout stopped it after {out.wall_s:.1f}s (the runtime's limit did not)")
    if wall_s > deadline_s + SLACK_S:
        return _not_held(f"stopped only after {wall_s:.1f}s, past the harness's {deadline_s + SLACK_S:.0f}s timeout")
    if peak_kb is not None and peak_kb > HOST_RSS_BUDGET_KB:
        return _not_held(f"the host's RSS peaked at {peak_kb >> 10} MiB before the guest was stopped "
                         f"(budget {HOST_RSS_BUDGET_KB >> 10} MiB)")
    judge_case = {"stack": _stack, "memory": _memory, "open-files": _open_files, "random-huge": _random}.get(case.name, _cpu)
    return judge_case(case, out, report, text=text, host_nofile=host_nofile, runner=runner)


def _cpu(case, out, report, *, runner, **_) -> Verdict:
    if out.trap in CPU_TRAPS[case.name]:
        return _held(f"stopped by the runtime: {out.trap}")
    if out.trap is not None or runner.host_ended(_text(out)):
        return _nothing(f"something other than the {case.name} limit stopped the loop: {out.trap or runner.host_ended(_text(out))}")
    return _nothing(f"the infinite loop ended without a trap: {out.describe()[:160]}")


def _stack(case, out, report, *, text, runner, **_) -> Verdict:
    depth = max(report.get("R", [0]) or [0])
    details = {"depth_at_least": depth, "engine_dependent": True}
    if "X" in report:
        return _not_held("the unbounded recursion returned", **details)
    if not report.get("R"):
        return _nothing(f"the guest never reported a recursion depth: {out.describe()[:160]}", **details)
    if out.trap == "interrupt":  # a deadline, not a stack limit, ended it (WasmEdge's interpreter)
        return _not_held(f"no recursion limit: only the deadline stopped it after {out.wall_s:.1f}s at depth >= {depth}",
                         **details)
    if out.trap in STACK_TRAPS or "Maximum call stack" in text:
        return _held(f"stopped at depth >= {depth}: {out.trap or 'stack-overflow'}", **details)
    other = out.trap or runner.host_ended(text)
    return _nothing(f"stopped by something other than a stack limit: {other or out.describe()[:120]}", **details)


def _memory(case, out, report, **_) -> Verdict:
    if not report.get("Z"):
        return _nothing(f"the guest never reported its memory size: {out.describe()[:160]}")
    limit = case.limits.memory_bytes
    reached = max(report["Z"]) << 16
    details = {"reached_bytes": reached, "limit_bytes": limit, "refused": "G" in report}
    if reached > limit:
        return _not_held(f"the guest grew to {reached >> 20} MiB past the configured {limit >> 20} MiB", **details)
    stopped = "G" in report or out.trap is not None
    how = "memory.grow refused" if "G" in report else f"trap {out.trap}"
    if stopped and reached + GROW_STEP_BYTES > limit:
        return _held(f"{how} at {reached >> 20} MiB (limit {limit >> 20} MiB)", **details)
    if stopped:
        return _nothing(f"{how} at {reached >> 20} MiB, a step short of the {limit >> 20} MiB limit: "
                        "something other than the limit refused it", **details)
    return _nothing(f"the guest stopped at {reached >> 20} MiB without a refusal: {out.describe()[:120]}", **details)


def _open_files(case, out, report, *, host_nofile, **_) -> Verdict:
    if out.extra.get("preopens_not_granted"):  # e.g. wasmi's CLI: no folder to open files in
        return Verdict(None, "not-tested", f"the runtime could not grant {out.extra['preopens_not_granted']}")
    if not report.get("OPENED"):
        return _nothing(f"the guest never reported how many files it opened: {out.describe()[:160]}")
    line = report["OPENED"][-1]
    count, _, stop = line.partition(" stop=")
    opened = int(count or 0)
    details = {"opened": opened, "stop": stop, "host_rlimit_nofile": host_nofile}
    if stop in ("max", "?"):
        return _not_held(f"never refused: {line}", **details)
    if opened >= host_nofile - NOFILE_MARGIN:
        return _nothing(f"refused after {opened} open files ({stop}) by the host's RLIMIT_NOFILE ({host_nofile}), "
                        "not by the runtime", **details)
    return _held(f"the runtime refused after {opened} open files ({stop})", **details)


def _random(case, out, report, *, text, runner, **_) -> Verdict:
    """The runtime may fill it, refuse it or end the guest; it must not take the host down."""
    ended = runner.host_ended(text)
    result = (report.get("RESULT") or [""])[-1]
    if b"PROBE-DONE" in out.stdout or ended or (out.trap and out.stdout.strip()):
        return _held(f"{result or ended or out.trap}")
    return _nothing(f"the guest did not reach its random_get: {out.describe()[:160]}")
