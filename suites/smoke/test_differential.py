"""Differential smoke: every form gives the reference's answer on fuzzed inputs.

For each workload x form, Hypothesis draws inputs from the manifest's strategy (seeds
first) and compares the form's outcome with the Python reference, byte for byte or within
the declared float tolerance. A mismatch is shrunk to a minimal input, kept in the
example database (.hypothesis/) and replayed first next time.
"""

from __future__ import annotations

from harness import compare, strategies

EXCLUDE_FORMS = ("python-process",)  # the reference itself


def test_form_matches_reference(workload, form_spec, form, reference, evidence):
    failing: list[bytes] = []
    examples = [0]

    def agrees(data: bytes):
        examples[0] += 1
        expected = reference.run(data)
        assert expected.error is None, f"the reference could not run: {expected.error}"
        diff = compare.difference(expected, form.run(data), workload.compare)
        if diff is not None:
            failing[:] = [data]
        assert diff is None, f"{form_spec.id} differs from the Python reference on input {data[:64]!r}: {diff}"

    agrees = strategies.with_seeds(agrees, workload)
    # One database key per workload x form, so each keeps and replays its own failures.
    agrees._hypothesis_internal_add_digest = f"{workload.name}/{form_spec.id}".encode()
    try:
        agrees()
    finally:
        evidence.record(
            "output_mismatch", 1 if failing else 0, "bool", workload=workload, spec=form_spec,
            outcome="mismatch" if failing else "agrees", examples=examples[0],
            minimal_input_hex=failing[0].hex() if failing else None, details=form.details,
        )
