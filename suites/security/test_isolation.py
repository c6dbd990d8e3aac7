"""Crash isolation (SAFETY-1) and guest memory safety (SAFETY-4) through the embedded form.

One long-lived host process serves a workload with a planted defect as an in-process
plugin: a native shared library (ctypes) or a Wasm reactor (wasmtime). Hypothesis searches
by itself for an input that faults the plugin, using the manifest's strategy widened past
its declared bounds (`strategies.defect_search`; the defect's trigger file is never read),
and shrinks it. Per form we then record whether the host survived that input, whether the
next ordinary request still got the reference answer, and whether the host's own data
(checksummed by the host) is intact. For Wasm a second search compares the guest's answers
with the Python reference: the overflow corrupts the guest's linear memory (a wrong or
trapped result), so the report says plainly that Wasm protects the host, not the guest.
"""

from __future__ import annotations

import pytest

from harness import compare, faultsearch, strategies
from harness.forms import FormUnavailable
from harness.forms.embedded import open_embedded
from harness.plugin import _progress

pytestmark = pytest.mark.workloads(lambda w: w.defect is not None and "c" in w.sources,
                                  needs="a workload with a planted defect and a C source (record-parser)")

def find_fault(fails, workload, say) -> faultsearch.Search:
    return faultsearch.find_fault(fails, strategies.defect_search(workload), strategies.seed_inputs(workload),
                                  lambda msg: say(f"{workload.name}: {msg}"))


def _open(workload, kind, say, **kwargs):
    try:
        return open_embedded(workload, kind, progress=say, **kwargs)
    except FormUnavailable as exc:
        pytest.skip(f"{kind}-embedded: {exc}")


def _ordinary(workload) -> bytes:
    seeds = [s for s in strategies.seed_inputs(workload) if s]
    if not seeds:
        pytest.skip(f"{workload.name} has no non-empty seed input to serve as the ordinary request (add one to input.seeds)")
    return seeds[0]


def _host_fault(form):
    """The SAFETY-1 property: the host survives the request with its own data intact."""
    def fails(data: bytes) -> str | None:
        reply = form.request(data)
        if not reply.host_alive:
            return f"host died: {reply.outcome.describe()}"
        if not reply.host_intact:
            return "host data checksum changed"
        return None
    return fails


@pytest.mark.claim("SAFETY-1")
def test_crash_isolation(workload, reference, evidence, scale, pytestconfig):
    say = _progress(pytestconfig)
    ordinary = _ordinary(workload)
    expected = reference.run(ordinary)
    assert expected.status == "ok", f"the reference rejects the ordinary input: {expected.describe()}"

    forms = {}
    try:
        for kind in ("native", "wasm"):
            forms[kind] = _open(workload, kind, say)
        _isolation(workload, forms, reference, ordinary, expected, evidence, say)
    finally:
        for form in forms.values():
            form.close()


def _isolation(workload, forms, reference, ordinary, expected, evidence, say):
    searches = {kind: find_fault(_host_fault(form), workload, say) for kind, form in forms.items()}
    for kind, s in searches.items():
        say(f"{workload.name} {kind}-embedded: {'fault after ' + str(s.examples_to_find) if s.found else 'no fault in'} "
            f"{s.examples} examples")
    faulting = next((s.found for s in searches.values() if s.found is not None), None)
    assert faulting is not None, (
        f"no input took down either host in {sum(s.examples for s in searches.values())} examples: the planted "
        f"defect ({workload.defect.kind}) was not found")
    origin = next(k for k, s in searches.items() if s.found is not None)

    for kind, form in forms.items():
        form.host.start()  # a fresh host for the observation, whatever the search left behind
        starts_before = form.host.starts
        warmup = form.request(ordinary)
        fault = form.host.request(faulting, workload.timeout_s)
        after = form.host.request(ordinary, workload.timeout_s)
        next_ok = after.outcome.error is None and compare.difference(expected, after.outcome, workload.compare) is None
        intact = fault.host_intact if fault.host_alive else None
        restart_ok = None
        if not fault.host_alive:
            form.host.start()
            restart_ok = compare.difference(expected, form.host.request(ordinary, workload.timeout_s).outcome,
                                            workload.compare) is None
        common = dict(claim="SAFETY-1", workload=workload, spec=form.spec, plugin_form=f"{kind}-embedded",
                      faulting_input_from=f"{origin}-embedded search", faulting_input_hex=faulting.hex(),
                      faulting_input_bytes=len(faulting), search=searches[kind].details(),
                      warmup_ok=warmup.outcome.status == "ok", host_starts=form.host.starts - starts_before + 1,
                      artifact=form.details.get("artifact"))
        plugin_diff = compare.difference(reference.run(faulting), fault.outcome, workload.compare)
        unharmed = fault.host_alive and bool(fault.host_intact)  # SAFETY-1 needs both: alive, and its data intact
        evidence.record("host_survived", int(unharmed), "bool",
                        outcome="host-survived" if unharmed else "host-corrupted" if fault.host_alive else "host-crashed",
                        host_alive=fault.host_alive, host_data_intact=fault.host_intact,
                        plugin_outcome=fault.outcome.describe(), plugin_vs_reference=plugin_diff or "agrees", host_signal=fault.outcome.signal,
                        guest_trap=fault.outcome.trap, restart_ok=restart_ok, **common)
        evidence.record("next_request_ok", int(next_ok), "bool", outcome="ok" if next_ok else "failed",
                        next_outcome=after.outcome.describe(), **common)
        evidence.record("host_memory_intact", int(bool(intact)), "bool",
                        outcome="intact" if intact else ("host-crashed" if intact is None else "corrupted"),
                        reason=("the host process died: its memory is gone" if intact is None else
                                "host-kept SHA-256 over its own native buffer and Python state, checked after the request"),
                        **common)


@pytest.mark.claim("SAFETY-4")
def test_guest_memory_safety(workload, reference, evidence, scale, pytestconfig):
    """The Wasm guest on inputs the reference refuses or answers: wrong or trapped means the
    overflow corrupted the guest's own linear memory (the host stays intact)."""
    say = _progress(pytestconfig)
    ordinary = _ordinary(workload)
    expected_ordinary = reference.run(ordinary)
    form = _open(workload, "wasm", say)
    host_states = []

    def corrupts(data: bytes) -> str | None:
        expected = reference.run(data)
        reply = form.request(data, reset=True)  # a fresh instance per input: the search is deterministic
        host_states.append((reply.host_alive, reply.host_intact))
        if reply.outcome.trap:
            return f"trapped ({reply.outcome.trap}) where the reference gave {expected.status}"
        diff = compare.difference(expected, reply.outcome, workload.compare)
        return f"wrong result: {diff}" if diff else None

    found = find_fault(corrupts, workload, say)
    corrupted = found.found is not None
    details = found.details()
    if corrupted:
        data = found.found
        ref = reference.run(data)
        guest = form.request(data, reset=True)
        after = form.request(ordinary)  # same instance: does the damage outlive the request?
        details.update(
            reference_outcome=ref.describe(), guest_outcome=guest.outcome.describe(),
            guest_stdout=guest.outcome.stdout[:200].decode("utf-8", "replace"),
            silent=guest.outcome.trap is None and guest.outcome.exit_code == 0,
            host_alive=guest.host_alive, host_intact=guest.host_intact,
            next_request_same_instance_ok=compare.difference(expected_ordinary, after.outcome, workload.compare) is None)
    details["host_survived_all"] = all(alive for alive, _ in host_states)
    details["host_intact_all"] = all(bool(ok) for _, ok in host_states)
    # The defect is planted: a search that did not reach it tested nothing, so "held" would claim more than it saw.
    evidence.record("guest_memory_corrupted", 1 if corrupted else None, "bool", workload=workload, spec=form.spec,
                    outcome="corrupted" if corrupted else "inconclusive", plugin_form="wasm-embedded",
                    reason=None if corrupted else f"the search did not reach the planted {workload.defect.kind} in "
                                                  f"{found.examples} examples (Hypothesis, seeds and the size sweep)",
                    reading="Wasm protected the host (its data stayed intact), not the guest's own memory"
                    if corrupted else "not tested: the planted defect was not reached", **details)
    form.close()
    assert details["host_survived_all"] and details["host_intact_all"], "a Wasm guest took down or corrupted its host"
