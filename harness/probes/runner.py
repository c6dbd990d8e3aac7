"""Runs one probe once, in one form, against freshly planted canaries, and judges the run.

The word for a run (`outcome`) is one of denied, trapped, escaped, out-of-bounds-access,
host-crashed, spec-deviation (accepted what the spec rejects, no effect outside), inconclusive.
It is decided in this order: a canary reached, or a guest report the harness can
check showing an access outside the sandbox, is an escape (observed, whatever else failed); a
canary that was not in place makes the run prove nothing (inconclusive); so does a write to
the read-only folder under a runtime that cannot make one read-only; a runtime that died is a
host crash; a runtime that refused to link the guest (it lacks the import) denied it, with no
control needed since the guest never ran; where a positive control ran (natively, or the same
guest under the same runtime with the network granted) and it did not escape, the Wasm run
proves nothing (inconclusive, "positive control failed"), never denied; a run stopped by a
deadline did not finish its attempts (inconclusive, unless the probe says a hang is the
failure: host-crashed); a C guest that trapped before its first report line tried nothing
(inconclusive); then trapped, or denied (the guest finished and reached nothing).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness import canary as canary_mod
from harness import judgement
from harness.runtimes import traps
from harness.outcome import Outcome
from harness.probes import sockabi
from harness.probes.params import Layout
from harness.probes.registry import Probe
from harness.process import run_process
from harness.runtimes import Preopen, Session, WasiSetup

OUTCOMES = ("denied", "trapped", "killed", "escaped", "out-of-bounds-access", "host-crashed", "spec-deviation",
            "not-tested", "inconclusive")
RANK = {"escaped": 6, "out-of-bounds-access": 5, "host-crashed": 4, "spec-deviation": 3, "killed": 2, "trapped": 2,
        "denied": 2, "inconclusive": 0}
FINDINGS = judgement.AGAINST_ROW  # count against SAFETY-2; spec-deviation is listed beside it, no escape
PROBE_TIMEOUT_S = 5.0
GUEST_RW, GUEST_RO = canary_mod.GUEST_RW, canary_mod.GUEST_RO
# A runtime that lacks an import the guest needs refuses to instantiate it (wasmtime, V8's
# LinkError and TypeError for a missing module, wasmi's WASI linker): the guest never ran.
_LINK_REFUSED = re.compile(r"unknown import[^\n]*|LinkError[^\n]*|invalid Wasi import[^\n]*"
                           r"|Import #\d+[^\n]*module is not an object or function[^\n]*"
                           r"|import[^\n]*(not been defined|requires a callable)[^\n]*")
_CAUSE = re.compile(r"^\s*\d+: ([A-Za-z][^\n]*)$", re.M)


def version_gap(rt, capability: str) -> str | None:
    """Why this runtime row (a pinned version) lacks a capability its engine has elsewhere, or None."""
    missing = getattr(rt, "missing", None)
    return missing().get(capability) if callable(missing) else None


def host_ended(text: str) -> str | None:
    """Why a runtime ended the guest from a host call (wasmtime: 'error while executing ...'
    and a cause such as 'Pointer out of bounds'), or None."""
    if "error while executing" not in text:
        return None
    text = text.split("Stack backtrace:")[0]
    causes = [c for c in _CAUSE.findall(text) if not c.startswith(("error while executing", "failed to"))]
    causes += [m.group(1) for m in re.finditer(r"Caused by:\s*\n\s*([A-Za-z][^\n]*)", text)]
    return causes[-1].strip()[:160] if causes else "a host call failed"


@dataclass
class Run:
    """One run of a probe in one form: what came back and what the canaries saw."""

    form: str  # native or the runtime's name
    outcome: Outcome
    hits: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def output(self) -> bytes:
        return self.outcome.stdout + self.outcome.stderr


@dataclass
class Judgement:
    outcome: str
    escape: int
    reason: str


def parse_report(stdout: bytes) -> dict[str, list]:
    """A guest's report lines: `T 0000abcd` (WAT, hex) or `KEY rest` (C), by first word."""
    report: dict[str, list] = {}
    for line in stdout.decode("latin-1").splitlines():
        word, _, rest = line.strip().partition(" ")
        if len(word) == 1 and re.fullmatch(r"[0-9a-f]{8}", rest):
            report.setdefault(word, []).append(int(rest, 16))
        elif word.isupper() and word.isalpha() and len(word) > 1:
            report.setdefault(word, []).append(rest)
    return report


def layout(c: canary_mod.Canaries, *, wasm: bool) -> Layout:
    return Layout(rw=GUEST_RW if wasm else str(c.rw), ro=GUEST_RO if wasm else str(c.ro), host_rw=c.rw,
                  outside=c.outside, secret=c.secret, target=c.target, port=c.port, envname=c.env_name)


def wasi_grant(c: canary_mod.Canaries) -> WasiSetup:
    """The writable and the read-only folder, nothing else (no env, no args)."""
    return WasiSetup(preopens=(Preopen(c.rw, GUEST_RW, True), Preopen(c.ro, GUEST_RO, False)))


def run_native(p: Probe, binary: Path, choices, timeout_s: float = PROBE_TIMEOUT_S) -> Run:
    """The positive control: the same source as a host process, with the canary variable in
    its inherited environment and real host paths."""
    with canary_mod.plant() as c:
        missing = c.missing()
        out = run_process([str(binary)], p.stdin(choices, layout(c, wasm=False)), timeout_s, cwd=c.rw)
        hits = c.check(out.stdout + out.stderr)
        return Run("native", out, hits, missing + c.unsure, parse_report(out.stdout))


def run_wasm(p: Probe, runtime: str, session: Session, choices, timeout_s: float = PROBE_TIMEOUT_S, *,
             network: bool = False) -> Run:
    """One run under a runtime; network=True grants the host network (a probe's grant control)."""
    with canary_mod.plant() as c:
        missing = c.missing()
        grant = dataclasses.replace(wasi_grant(c), network=network)
        out = session.run(p.stdin(choices, layout(c, wasm=True)), timeout_s, wasi=grant)
        hits = c.check(out.stdout + out.stderr)
        return Run(runtime, out, hits, missing + c.unsure, parse_report(out.stdout))


def _finished(p: Probe, run: Run) -> bool:
    return "D" in run.report if p.language == "wat" else b"PROBE-DONE" in run.outcome.stdout


def judge(p: Probe, run: Run, *, capabilities=frozenset(), control: Run | None = None, choices=None) -> Judgement:
    """The word for one run (see the module docstring for the order)."""
    out = run.outcome
    must_trap = p.expect_trap(choices) if p.expect_trap is not None and choices is not None else None
    hits, ro_hits = run.hits, []
    if run.form != "native" and "preopen-readonly" not in capabilities:
        ro_hits = [h for h in hits if h.canary == "readonly-dir"]
        hits = [h for h in hits if h.canary != "readonly-dir"]
    if hits:  # observed: an escape even if another canary failed
        return Judgement("escaped", 1, "; ".join(f"{h.canary}: {h.how}" for h in hits))
    seen = p.judge(choices, run.report) if p.judge is not None and choices is not None else None
    if seen:  # a reason (an escape), or (finding word, reason) for what is no escape, e.g. a spec deviation
        word, why = seen if isinstance(seen, tuple) else ("escaped", seen)
        return Judgement(word, int(word in FINDINGS), why)
    if run.missing:
        return Judgement("inconclusive", 0, f"canary missing: {'; '.join(run.missing)}")
    if ro_hits and p.needs_readonly:
        return Judgement("inconclusive", 0, f"{run.form} cannot make a preopen read-only, so the guest was given a "
                                            f"writable one ({ro_hits[0].how})")
    text = (out.extra.get("error_text") or out.error or "") + "\n" + out.stderr.decode("utf-8", "replace")
    died = traps.HOST_CRASH.search(text)
    if run.form != "native" and (out.signal is not None or died):
        why = f"signal {out.signal}" if out.signal is not None else died.group(0)
        return Judgement("host-crashed", 1, f"the {run.form} process died ({why}): {out.describe()[:200]}")
    link = _LINK_REFUSED.search(text)
    if link and run.form != "native":  # needs no positive control: the guest never ran
        return Judgement("denied", 0, f"the runtime refused to link the module: {link.group(0)[:160]}")
    if control is not None and run.form != "native" and not control.hits:
        what = "native run" if control.form == "native" else f"{control.form} with the network granted"
        why = f"canary missing in the {what}" if control.missing else f"{what}: {control.outcome.describe()[:160]}"
        return Judgement("inconclusive", 0, f"positive control failed ({why})")
    if out.timed_out:  # the guest did not finish its attempts: that proves nothing, unless a hang is the failure
        by = "the runtime's own deadline (epoch/fuel)" if out.trap else "the harness's timeout (the runtime has no deadline of its own)"
        if p.hang_is_failure and run.form != "native":
            return Judgement("host-crashed", 1, f"hung: stopped by {by} after {out.wall_s:.1f}s, where {p.escape}")
        return Judgement("inconclusive", 0, f"stopped by {by} after {out.wall_s:.1f}s before it finished its attempts")
    if out.trap is not None and must_trap is False and p.category == "memory" and "bounds" in out.trap:
        return Judgement("out-of-bounds-access", 1, f"trap {out.trap} where the spec says the access is in bounds: "
                                                    "the engine's access left linear memory")
    if out.trap is not None and p.language == "c" and run.form != "native" and not out.stdout.strip():
        return Judgement("inconclusive", 0, f"trap {out.trap} before the probe's first attempt (no report line): nothing was tried")
    if out.trap is not None:
        wrong = must_trap is False
        return Judgement("trapped", 0, f"trap {out.trap}" + (" where the spec says no trap (a semantics bug, not an escape)" if wrong else ""))
    ended = host_ended(text) if run.form != "native" else None
    if ended:
        return Judgement("trapped", 0, f"the runtime ended the guest in a host call: {ended}")
    if p.category == "network" and run.form != "native" and sockabi.refused_for_abi(out.stdout):
        return Judgement("inconclusive", 0, "sock_open was refused as invalid arguments (errno 28): the probe's socket "
                                            f"ABI does not match {run.form}'s, so nothing was tested")
    if out.error:
        return Judgement("inconclusive", 0, f"could not run: {out.error[:200]}")
    if run.form == "native" and out.signal is not None:
        return Judgement("trapped", 0, f"native process killed by signal {out.signal}")
    if not _finished(p, run):
        return Judgement("inconclusive", 0, f"the guest did not finish its attempts: {out.describe()[:200]}")
    if must_trap:
        return Judgement("escaped", 1, "finished where the operation must trap")
    steps = sockabi.steps(out.stdout) if p.category == "network" else ""
    return Judgement("denied", 0, "finished; no canary reached" + (", and its report checks out" if p.judge else "")
                     + (f" ({steps})" if steps else ""))


@dataclass
class Tally:
    """The runs of one probe in one form across Hypothesis examples, summed up for one record."""

    outcomes: Counter = field(default_factory=Counter)
    first: dict = field(default_factory=dict)  # outcome -> (reason, choices)
    wall_s: float = 0.0

    def add(self, j: Judgement, choices, wall_s: float) -> None:
        self.outcomes[j.outcome] += 1
        self.first.setdefault(j.outcome, (j.reason, repr(choices)[:300]))
        self.wall_s += wall_s

    @property
    def worst(self) -> str:
        """A finding observed in any run is the word (observed is observed); otherwise the runs
        decide only when the conclusive ones outnumber the inconclusive ones (a probe whose
        positive control failed 11 times and that was denied once proves nothing)."""
        found = [o for o in self.outcomes if o in FINDINGS or o in judgement.LISTED]
        if found:
            return max(found, key=lambda o: (RANK.get(o, 3), self.outcomes[o]))
        conclusive = [o for o in self.outcomes if o != "inconclusive"]
        if not conclusive or sum(self.outcomes[o] for o in conclusive) <= self.outcomes["inconclusive"]:
            return "inconclusive"
        return max(conclusive, key=lambda o: (RANK.get(o, 2), self.outcomes[o]))

    @property
    def escape(self) -> int:
        return int(self.worst in FINDINGS)

    def details(self) -> dict:
        worst = self.worst
        reason, choices = self.first.get(worst, ("no runs", ""))
        out = {"reason": reason, "params": choices, "examples": sum(self.outcomes.values()),
               "inconclusive_runs": self.outcomes["inconclusive"], "outcomes": dict(self.outcomes), "wall_s": round(self.wall_s, 3)}
        others = {o: f"{r} (input: {c})" for o, (r, c) in self.first.items()
                  if (o in FINDINGS or o in judgement.LISTED) and o != worst}
        return out | ({"other_findings": others} if others else {})
