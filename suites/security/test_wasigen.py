"""SAFETY-2: generated WASI preview1 call sequences over a permission matrix of preopens.

Hypothesis draws call sequences (harness.probes.wasigen: raw preview1 calls, descriptors
returned by earlier calls used by later ones, paths through `..`, absolute paths, planted
symlinks pointing out, odd names); the interpreter guest (harness.probes.wasicalls) runs one
sequence per example under one layout (read-only folder, writable folder with read-only files,
writable, two folders with different permissions, nested, none). A host snapshot and the
secret judge escapes; harness.probes.wasimodel judges permission findings (`spec-deviation`).

One record per runtime row x layout: `escape` 1 for an escape or a crashed engine, with the
number of sequences and calls, the outcome counts, and the example at which each kind of
finding first showed (`first_escaped_at`, ...). A second record, `spec_deviations`, counts
sequences in which a call the model says must fail succeeded without a forbidden effect. A
finding is written as a reproducer under <report dir>/findings/. An escape or crash under the
current wasmtime-py or the wasmtime CLI fails the test (shrunk by Hypothesis); under any other
row it is recorded against that runtime@version. A row that cannot express a layout is not
tested for it, with the reason. wasmtime-py rows run the guest in their child process, so an
engine crash is an observation, never a lost run.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

from harness import advisories
from harness.probes import wasigen
from harness.probes.runner import version_gap
from harness.runtimes import Limits
from harness.toolchain import host_arch

PROBE = wasigen.PROBE_NAME
MUST_HOLD = ("wasmtime-py", "wasmtime-cli")
EXAMPLES = {"quick": 5, "default": 60, "thorough": 400}  # sequences per runtime row x layout
MAX_CALLS = {"quick": 6, "default": 12, "thorough": 20}
SHRINK_EXAMPLES = {"quick": 40, "default": 200, "thorough": 500}


def _findings_root(config):
    """Where this run's reports go (reproducers under its findings/), or None (no suite run)."""
    from harness.plugin import _report_dir

    return _report_dir(config)


def _host(rt):
    """The row that runs the guests: the in-process wasmtime-py through its child process."""
    return rt.child() if callable(getattr(rt, "child", None)) else rt


def _gap(host, layout: wasigen.Layout, runtime: str) -> str | None:
    """Why this row cannot express the layout (then it is not tested for it), or None."""
    for cap in sorted(layout.needs):
        if cap in host.capabilities or cap == "preopen" and "preopen-same-name" in host.capabilities:
            continue  # (the layouts name every preopen by its host path)
        why = version_gap(host, cap) or {
            "preopen-readonly": f"{runtime} has no read-only preopen",
            "preopen-file-perms": f"{runtime} cannot grant a writable folder of read-only files",
            "preopen": f"{runtime} has no preopens"}.get(cap, cap)
        return f"layout {layout.name} ({layout.summary}) needs {cap}: {why}"
    return None


def _session(rt, avail, lay, runtime, evidence, common):
    """The interpreter guest opened on this row, or a not-tested record and a skip with the reason
    (the runtime is missing, or it cannot express the layout)."""
    why = None if avail.available else avail.reason
    host = _host(rt) if why is None else None
    why = why or _gap(host, lay, runtime)
    if why:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(f"{runtime}: {why}")
    return host.open(wasigen.interpreter(), Limits(), host_arch())


@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("layout", list(wasigen.LAYOUTS), ids=str)
def test_generated_wasi(runtime, layout, evidence, scale, pytestconfig, wasm_row):
    rt, avail = wasm_row
    lay = wasigen.LAYOUTS[layout]
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=PROBE, category="wasi",
                  layout=layout, layout_summary=lay.summary, runtime_version=avail.version, engine_config="default",
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, PROBE)] if avail.available else [],
                  expected="no change outside the preopens or forbidden by the layout, no secret read, no engine crash",
                  positive_control="none: the host snapshot and the permission model judge every sequence")
    session = _session(rt, avail, lay, runtime, evidence, common)
    summary = wasigen.Summary()
    found: dict[str, tuple] = {}  # outcome -> the last sequence showing it (Hypothesis replays the shrunk one last)

    def once(calls):
        start = time.perf_counter()
        v, extra = wasigen.run_sequence(session, lay, calls)
        summary.add(v, calls, time.perf_counter() - start)
        if v.outcome in wasigen.FINDINGS:
            found[v.outcome] = (calls, v, extra)
        assert not (v.outcome in ("escaped", "host-crashed") and runtime in MUST_HOLD), \
            f"{runtime} / {layout}: {v.outcome}: {v.reason} ({'; '.join(c.describe() for c in calls)})"

    test = given(wasigen.sequences(len(lay.grants), MAX_CALLS.get(scale, 12)))(once)
    test._hypothesis_internal_add_digest = f"wasigen/{runtime}/{layout}".encode()
    current = settings()
    try:
        settings(current, max_examples=EXAMPLES.get(scale, current.max_examples), deadline=None)(test)()
        worst = summary.worst
        if worst in wasigen.FINDINGS and runtime not in MUST_HOLD:  # not shrunk by a failure: shrink it here
            shrunk = _smallest(session, lay, worst, SHRINK_EXAMPLES.get(scale, 200))
            if shrunk:
                found[worst] = shrunk
    finally:
        session.close()
        details = summary.details()
        written = {}
        report_dir = _findings_root(pytestconfig)
        if report_dir:
            for outcome, (calls, v, extra) in found.items():
                written[outcome] = str(wasigen.write_reproducer(report_dir, runtime, avail.version, lay, calls, v, extra))
        worst = summary.worst
        if worst in found:
            details.update(reason=found[worst][1].reason, params="; ".join(c.describe() for c in found[worst][0])[:600])
        if worst == "spec-deviation":  # no escape: the permission finding has its own record below
            details["reason"] = (f"{summary.sequences} sequences, no escape; {summary.outcomes[worst]} with a permission "
                                 f"finding (spec_deviations record): {details['reason']}")
        escape_outcome = worst if worst != "spec-deviation" else "denied"
        if escape_outcome == "inconclusive":
            evidence.record("escape", None, "bool", outcome="not-tested",
                            reason=f"no sequence could be judged: {details['reason']}", **common)
        else:
            evidence.record("escape", int(escape_outcome in ("escaped", "host-crashed")), "bool", outcome=escape_outcome,
                            **common, **details, reproducers=written)
        deviations = summary.outcomes.get("spec-deviation", 0)
        dev = found.get("spec-deviation")
        evidence.record("spec_deviations", deviations, "count", outcome="spec-deviation" if deviations else "none",
                        **{k: v for k, v in common.items() if k != "expected"},
                        expected="every call the permission model says must fail fails",
                        sequences=summary.sequences, calls=summary.calls,
                        reason=dev[1].reason if dev else "", first_spec_deviation_at=summary.first_at("spec-deviation"),
                        reproducer=written.get("spec-deviation"))


def _smallest(session, lay, outcome: str, budget: int):
    """A shrunk sequence with this outcome (Hypothesis' find), with its verdict, or None."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    def shows(calls):
        return wasigen.run_sequence(session, lay, calls)[0].outcome == outcome

    try:
        calls = find(wasigen.sequences(len(lay.grants)), shows,
                     settings=settings(max_examples=budget, database=None, deadline=None))
    except NoSuchExample:
        return None
    v, extra = wasigen.run_sequence(session, lay, calls)
    return (calls, v, extra) if v.outcome == outcome else None


@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("replay", list(wasigen.REPLAYS), ids=str)
def test_wasi_replay(runtime, replay, evidence, pytestconfig, wasm_row):
    """A published advisory's exact sequence (a regression replay, kept apart from what the
    generator finds): one run under the layout the advisory needs."""
    rt, avail = wasm_row
    r = wasigen.REPLAYS[replay]
    lay = wasigen.LAYOUTS[r.layout]
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=replay, category="wasi",
                  layout=r.layout, replay_of=r.advisory, runtime_version=avail.version, engine_config="default",
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, replay)] if avail.available else [],
                  expected=f"the sequence of {r.advisory} changes nothing the layout forbids and does not crash the engine",
                  positive_control="none: the host snapshot and the permission model judge the sequence")
    session = _session(rt, avail, lay, runtime, evidence, common)
    try:
        v, extra = wasigen.run_sequence(session, lay, list(r.calls))
    finally:
        session.close()
    report_dir = _findings_root(pytestconfig)
    written = (str(wasigen.write_reproducer(report_dir, runtime, avail.version, lay, list(r.calls), v, extra))
               if report_dir and v.outcome in wasigen.FINDINGS else None)
    outcome = v.outcome if v.outcome != "spec-deviation" else "denied"
    evidence.record("escape", int(outcome in ("escaped", "host-crashed")) if outcome != "inconclusive" else None, "bool",
                    outcome=outcome if outcome != "inconclusive" else "not-tested", reason=v.reason,
                    params="; ".join(c.describe() for c in r.calls), sequences=1, calls=len(r.calls), calls_run=v.calls_run,
                    spec_deviation=v.outcome == "spec-deviation", reproducer=written, **common)
    assert not (v.outcome in ("escaped", "host-crashed") and runtime in MUST_HOLD), f"{runtime} / {replay}: {v.reason}"
