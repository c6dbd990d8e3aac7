"""SAFETY-2: sandbox probes with canaries, natively (the positive control) and under every
Wasm runtime. Network probes in a runtime's own socket ABI (WASIX, wasi:sockets) take as their
control the same guest under that runtime with the network granted, where it has a grant.

Each probe guest tries one way out (filesystem, environment, network, memory, control flow,
WASI resources). Before every run the harness plants canaries that only an escape can reach
(harness.canary) and checks them after it; Hypothesis draws the probe's parameters (path
pieces, addresses near 2^31/2^32/2^33, shift amounts). One record per probe x form sums up
the runs: `escape` 0/1 and the worst conclusive outcome. An escape under wasmtime fails the
test (shrunk to a minimal parameter set); an escape under another runtime is a finding about
that runtime and is recorded, and the SAFETY-2 verdict names which runtimes held.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings

from harness import advisories, budget
from harness.probes import PROBES, runner
from harness.probes.guests import build_all
from harness.runtimes import RUNTIMES, Limits
from harness.probes.runner import version_gap
from harness.toolchain import host_arch

MUST_HOLD = ("wasmtime-py", "wasmtime-cli")  # an escape here fails the test (issue: zero under wasmtime)
EXAMPLES = {"quick": 4, "default": 12}  # per probe x form; thorough keeps the profile's count


@pytest.fixture(scope="module")
def guests(pytestconfig):
    from harness.plugin import _progress

    built = build_all(PROBES, progress=_progress(pytestconfig))
    failed = {k: v for k, v in built.items() if isinstance(v, Exception)}
    if failed:
        (name, target), exc = next(iter(failed.items()))
        pytest.fail(f"{len(failed)} probe guests failed to build; first: {name} for {target}: {exc}", pytrace=False)
    return built


def _examples(scale: str) -> settings:
    current = settings()
    return settings(current, max_examples=min(current.max_examples, EXAMPLES.get(scale, current.max_examples)))


def _selected(pytestconfig, form: str, runtime: str | None = None) -> None:
    forms = pytestconfig.getoption("form")
    if forms and form not in forms:
        pytest.skip(f"form {form} not selected (--form {','.join(forms)})")
    runtimes = pytestconfig.getoption("runtime")
    if runtime and runtimes and runtime not in runtimes:
        pytest.skip(f"runtime {runtime} not selected (--runtime {','.join(runtimes)})")


def _run_examples(probe, scale, name, body, slot=None) -> dict:
    """Run body(choices) over Hypothesis examples of the probe's parameters (the profile's count,
    or until `slot`, a --fuzz-budget share, is spent); what the slot bought, for the record."""
    counted = budget.Counted(slot)
    wrapped = counted(body)

    def make():
        test = given(probe.choices())(wrapped)
        for choices in reversed(probe.examples):
            test = example(choices)(test)
        test._hypothesis_internal_add_digest = f"probe/{probe.name}/{name}".encode()
        return test

    budget.run_hypothesis(make, _examples(scale).max_examples, slot, counted)
    return slot.details() if slot else {}


@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("probe", [p for p in PROBES if p.native], ids=lambda p: p.name)
def test_native_positive_control(probe, guests, evidence, scale, pytestconfig):
    """The same source as a host process must escape: otherwise the probe proves nothing."""
    _selected(pytestconfig, "native")
    binary = guests[(probe.name, "native")]
    tally = runner.Tally()

    def once(choices):
        run = runner.run_native(probe, binary, choices)
        j = runner.judge(probe, run, choices=choices)
        if j.outcome != "escaped" and j.outcome != "inconclusive":
            j = runner.Judgement("inconclusive", 0, f"positive control failed: {j.reason}")
        tally.add(j, choices, run.outcome.wall_s)

    try:
        _run_examples(probe, scale, "native", once)
    finally:
        evidence.record("escape", tally.escape, "bool", claim="SAFETY-2", form="native", runtime="os", arch=host_arch(),
                        outcome=tally.worst, probe=probe.name, category=probe.category, expected=probe.escape,
                        role="positive-control", **tally.details())


def _grant_control(probe, rt) -> bool:
    return probe.grant_control and "network-grant" in rt.capabilities


def _control_kind(probe, rt) -> str:
    if _grant_control(probe, rt):  # the stronger control: it proves the probe speaks this runtime's ABI
        return "the same guest under the same runtime with the network granted"
    if probe.native:
        return "native"
    return f"none: {probe.no_native_reason or 'no native analogue'}"


@pytest.mark.claim("SAFETY-2")
@pytest.mark.fuzz_budget("probes")
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_probe(probe, runtime, guests, evidence, scale, pytestconfig, fuzz_slot):
    _selected(pytestconfig, "wasm", runtime)
    rt = RUNTIMES[runtime]
    avail = rt.availability(host_arch())
    if not avail.available:
        pytest.skip(f"{runtime}: {avail.reason}")
    flagged = advisories.flagged(runtime, avail.version, probe.name)
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=probe.name,
                  category=probe.category, expected=probe.escape, runtime_version=avail.version, engine_config="default",
                  advisories=[a.id for a in flagged],
                  positive_control=_control_kind(probe, rt))
    if flagged and "in-process" in rt.capabilities:
        evidence.record("escape", 0, "bool", outcome="inconclusive", reason=(
            f"not run: {runtime} {avail.version} is in the range of {', '.join(a.id for a in flagged)}, "
            "and an in-process crash would take the test run down"), **common)
        return
    gap = version_gap(rt, "preopen-readonly") if probe.needs_readonly else None
    if probe.language == "component" and "component" not in rt.capabilities:
        gap = f"{runtime} runs core modules only; {probe.name} is a WASI 0.2 component"
    if gap:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=gap, **common)
        pytest.skip(f"{runtime}: {gap}")
    session = rt.open(guests[(probe.name, "wasm32-wasi")], Limits(), host_arch())
    native = guests.get((probe.name, "native"))
    tally = runner.Tally()

    def once(choices):
        control = (runner.run_wasm(probe, runtime, session, choices, network=True) if _grant_control(probe, rt) else
                   runner.run_native(probe, native, choices) if probe.native else None)
        run = runner.run_wasm(probe, runtime, session, choices)
        j = runner.judge(probe, run, capabilities=rt.capabilities, control=control, choices=choices)
        tally.add(j, choices, run.outcome.wall_s)
        assert not (j.escape and runtime in MUST_HOLD), f"{probe.name} escaped under {runtime}: {j.reason}"

    bought = {}
    try:
        bought = _run_examples(probe, scale, runtime, once, fuzz_slot)
    finally:
        session.close()
        evidence.record("escape", tally.escape, "bool", outcome=tally.worst, **common, **tally.details(), **bought)


@pytest.mark.claim("SAFETY-2")
def test_runtime_advisories(runtime, evidence, pytestconfig):
    """Flag an installed runtime whose version falls in a known advisory's range."""
    _selected(pytestconfig, "wasm", runtime)
    avail = RUNTIMES[runtime].availability(host_arch())
    if not avail.available:  # the row stays in SAFETY-2's verdict as not tested, with the reason
        evidence.record("escape", None, "bool", claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(),
                        outcome="not-tested", reason=avail.reason, runtime_version=avail.version)
        pytest.skip(f"{runtime}: {avail.reason}")
    hits = advisories.flagged(runtime, avail.version)
    evidence.record("known_advisories", len(hits), "count", claim="SAFETY-2", form="wasm", runtime=runtime,
                    arch=host_arch(), outcome="flagged" if hits else "none", runtime_version=avail.version,
                    advisories=[a.to_dict() for a in hits],
                    checked=[a.id for a in advisories.table() if runtime.partition("@")[0] in a.runtimes])
    assert advisories.parse_version(avail.version) is not None, f"cannot read a version from {avail.version!r}"
