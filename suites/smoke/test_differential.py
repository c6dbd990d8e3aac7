"""Differential smoke: every form gives the reference's answer on fuzzed inputs.

For each workload x form, Hypothesis draws inputs from the manifest's strategy (seeds
first) and compares the form's outcome with the Python reference, byte for byte or within
the declared float tolerance. A mismatch is shrunk to a minimal input, kept in the
example database (.hypothesis/) and replayed first next time.

A time-out is no answer: it never agrees with anything. A reference that times out is a
finding against the workload (it must answer every input); a form that times out where the
reference answered is a finding against the form. Each costs up to the manifest's
timeout_s, so after MAX_TIMEOUTS of them the test stops drawing inputs and says so. A
reference that crashes (an uncaught exception, a signal) is a finding against the workload,
named by the workload's own error line; the form is not compared on that input.
"""

from __future__ import annotations

import pytest

from harness import compare, strategies

EXCLUDE_FORMS = ("python-process",)  # the reference itself
MAX_TIMEOUTS = 3


def test_form_matches_reference(workload, form_spec, form, reference, evidence):
    failing: list[bytes] = []
    examples = [0]
    timeouts: dict[str, list[bytes]] = {"reference": [], "form": []}
    crashes: list[tuple[bytes, str]] = []  # (input, how the reference crashed)

    def agrees(data: bytes):
        if sum(map(len, timeouts.values())) >= MAX_TIMEOUTS and not failing:
            return  # time bound reached: draw no more inputs (said below); a mismatch keeps shrinking
        examples[0] += 1
        expected = reference.run(data)
        assert expected.error is None, f"the reference could not run: {expected.error}"
        if expected.timed_out:
            timeouts["reference"].append(data)
            return
        crash = compare.reference_crash(expected)
        if crash is not None:
            crashes.append((data, crash))
            return
        actual = form.run(data)
        if actual.timed_out:
            timeouts["form"].append(data)
            return
        diff = compare.difference(expected, actual, workload.compare)
        if diff is not None:
            failing[:] = [data]
        assert diff is None, f"{form_spec.id} differs from the Python reference on input {data[:64]!r}: {diff}"

    agrees = strategies.with_seeds(agrees, workload)
    # One database key per workload x form, so each keeps and replays its own failures.
    agrees._hypothesis_internal_add_digest = f"{workload.name}/{form_spec.id}".encode()
    try:
        agrees()
    finally:
        stopped = sum(map(len, timeouts.values())) >= MAX_TIMEOUTS
        outcome = ("mismatch" if failing else "timeout" if timeouts["form"] else "reference-crashed" if crashes
                   else "reference-timeout" if timeouts["reference"] else "agrees")
        evidence.record(
            "output_mismatch", 1 if failing or timeouts["form"] else None if timeouts["reference"] or crashes else 0, "bool",
            workload=workload, spec=form_spec, outcome=outcome, examples=examples[0],
            minimal_input_hex=failing[0].hex() if failing else None,
            form_timeouts=len(timeouts["form"]), reference_timeouts=len(timeouts["reference"]),
            reference_crashes=len(crashes), reference_crash=crashes[0][1] if crashes else None,
            reference_crash_input_hex=crashes[0][0][:256].hex() if crashes else None,
            stopped_after_timeouts=MAX_TIMEOUTS if stopped else None, details=form.details,
        )
    bound = (f"; stopped drawing inputs after {MAX_TIMEOUTS} time-outs of {workload.timeout_s:g}s each, "
             f"at {examples[0]} inputs" if stopped else "")
    if crashes:
        data, how = crashes[0]
        pytest.fail(f"the Python reference of {workload.name} crashed on {len(crashes)} input(s), e.g. {data[:64]!r}: "
                    f"{how}: a finding against the workload (it must answer or reject every input); "
                    f"{form_spec.id} was not compared on them", pytrace=False)
    if timeouts["reference"]:
        data = timeouts["reference"][0]
        pytest.fail(f"the Python reference of {workload.name} timed out ({workload.timeout_s:g}s) on "
                    f"{len(timeouts['reference'])} input(s), e.g. {data[:64]!r}: a finding against the workload "
                    f"(it must answer every input); {form_spec.id} was not compared on them{bound}", pytrace=False)
    if timeouts["form"]:
        data = timeouts["form"][0]
        pytest.fail(f"{form_spec.id} timed out ({workload.timeout_s:g}s) on {len(timeouts['form'])} input(s) the "
                    f"Python reference answered, e.g. {data[:64]!r}{bound}", pytrace=False)
