"""The one judgement path: recorded outcomes of every kind -> the word, the coverage and the reason.

Records here are shaped as the suites write them; each case is one way a run can fail to
prove something (a failed control, a harness error, a row that never ran, a runtime that is not
installed), and each must reach the verdict as what it is, never as a pass."""

import pytest

from harness import claims, judgement, results
from harness.report import decisions


def claim(cid):
    return next(c for c in claims.registry() if c.id == cid)


def esc(value, runtime="wasmtime-py", outcome="denied", **details):
    return {"claim": "SAFETY-2", "metric": "escape", "value": value, "form": "wasm", "runtime": runtime,
            "outcome": outcome, "details": {"runtime_version": "41.0.0", **details}}


@pytest.mark.parametrize("rec, word", [
    (esc(0), "held"),
    (esc(1, outcome="escaped"), "violated"),
    (esc(0, outcome="inconclusive"), "inconclusive"),
    (esc(None, outcome="not-tested"), "not-tested"),
    (esc(0, outcome="error"), "error"),
    (esc(None, outcome="killed"), "inconclusive"),  # no value: nothing decided
])
def test_record_words(rec, word):
    assert judgement.record_word(rec) == word


def test_row_needs_more_held_than_inconclusive_runs():
    row = judgement.Row("wasmtime-py")
    for _ in range(11):
        row.add("inconclusive", "positive control failed")
    row.add("held")
    assert row.word == "inconclusive" and "11 inconclusive vs 1 held" in row.reason


def test_error_is_never_a_pass_nor_a_violation():
    row = judgement.Row("wasmtime-cli")
    row.add("held")
    row.add("error", "the harness's deadline did not hold")
    assert row.word == "error"
    row.add("violated")
    assert row.word == "violated"


def test_supported_on_one_of_three_rows_is_partial_and_names_the_others():
    skips = [{"test": "t[wasmedge]", "claim": "SAFETY-2", "row": "wasmedge", "reason": "wasmedge: not on PATH"}]
    errors = [{"test": "t[wasmer]", "claim": "SAFETY-2", "row": "wasmer", "reason": "AssertionError: boom"}]
    v = claims.decide(claim("SAFETY-2"), [esc(0), esc(0)], "", skips, errors)
    assert v.verdict == "supported" and v.coverage["partial"]
    assert v.label == "supported (1 of 3 rows; 1 error; 1 not-tested)"
    assert v.coverage["untested"] == {"wasmedge": "not-tested: wasmedge: not on PATH", "wasmer": "error: AssertionError: boom"}
    assert "wasmedge" in v.summary and "not on PATH" in v.summary


def test_a_skipped_test_of_a_row_that_ran_does_not_add_a_row():
    skips = [{"test": "t[wasmtime-py-x]", "claim": "SAFETY-2", "row": "wasmtime-py", "reason": "no fuel"}]
    v = claims.decide(claim("SAFETY-2"), [esc(0)], "", skips)
    assert v.label == "supported" and not v.coverage["partial"]


def test_failed_test_of_a_tested_row_makes_it_an_error_row():
    errors = [{"test": "t", "claim": "SAFETY-2", "row": "wasmtime-py", "reason": "harness failure"}]
    v = claims.decide(claim("SAFETY-2"), [esc(0), esc(0, runtime="node-wasi")], "", (), errors)
    assert v.verdict == "supported" and v.coverage["tested"] == ["node-wasi@41.0.0"]
    assert "wasmtime-py@41.0.0" in v.coverage["untested"]


def test_mostly_inconclusive_row_is_not_held_in_the_rule_either():
    recs = [esc(0, outcome="inconclusive") for _ in range(3)] + [esc(0)] + [esc(0, runtime="node-wasi")]
    v = claims.decide(claim("SAFETY-2"), recs, "")
    assert v.figures["held"] == ["node-wasi@41.0.0"] and v.label.startswith("supported (1 of 2 rows")


def test_limits_low_values_violate_and_errors_do_not():
    rec = lambda v, outcome="denied": {"claim": "SAFETY-3", "metric": "limit_held", "value": v, "form": "wasm",  # noqa: E731
                                       "runtime": "wasmi", "outcome": outcome, "details": {"limit": "stack", "reason": "r"}}
    assert claims.decide(claim("SAFETY-3"), [rec(0, "exceeded")], "").verdict == "refuted"
    v = claims.decide(claim("SAFETY-3"), [rec(0, "error")], "")
    assert v.verdict == "not-tested" and "error" in v.summary


def test_claims_decisions_and_policy_agree_on_every_record_word():
    """decisions.counted / is_finding (policy and the page) and claims' usable records are one judgement."""
    recs = [esc(0), esc(1, outcome="escaped"), esc(0, outcome="inconclusive"), esc(None, outcome="not-tested"),
            esc(0, outcome="error"), {**esc(0), "metric": "limit_held", "claim": "SAFETY-3", "outcome": "error"}]
    for r in recs:
        assert decisions.counted(r) == judgement.decided(r) == bool(claims._usable([r], r["metric"])), r


def test_build_results_carries_errors_into_verdicts():
    doc = results.build_results([esc(0)], skips=[], errors=[{"test": "t[wasmer]", "claim": "SAFETY-2", "row": "wasmer",
                                                           "reason": "boom"}], suites_run=["security"], meta={}, env={})
    safety2 = next(c for c in doc["claims"] if c["id"] == "SAFETY-2")
    assert safety2["coverage"]["untested"] == {"wasmer": "error: boom"} and doc["errors"][0]["row"] == "wasmer"


def test_spec_deviation_is_listed_beside_the_word_not_against_the_row():
    dev = esc(0, outcome="spec-deviation", probe="res-iovec-wrap", reason="fd_read accepted an invalid buffer")
    v = claims.decide(claim("SAFETY-2"), [dev, esc(0)], "")
    assert v.verdict == "supported" and "other findings (no effect outside" in v.summary and "res-iovec-wrap" in v.summary


def test_nan_sign_only_differences_are_permitted_nondeterminism():
    from harness import compare

    x = b"7ff8000000000000 0000000000000001 nan\n"
    assert compare.nan_sign_only(x, b"fff8000000000000 0000000000000001 -nan\n")
    assert not compare.nan_sign_only(x, b"7ff8000000000001 0000000000000001 nan\n")  # payload: stays a mismatch
    assert not compare.nan_sign_only(x, b"fff8000000000000 0000000000000002 -nan\n")  # a non-NaN result differs
    assert not compare.nan_sign_only(x, x)
    rec = {"claim": "PORT-2", "metric": "wasm_output_mismatch", "value": 0, "form": "wasm", "runtime": "wasmer-singlepass",
           "workload": "float-edge", "outcome": "spec-permitted-nondeterminism", "details": {"difference": "NaN sign"}}
    v = claims.decide(claim("PORT-2"), [rec], "")
    assert v.verdict == "supported" and "spec-permitted-nondeterminism" in v.summary


def test_every_recorded_check_is_judged_alike_by_claims_the_page_and_the_gate():
    """On a real run's records: a check the decision tables and the policy count is one the
    verdicts decide, and a finding there is a violation in the verdicts' rows."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).parent / "data" / "report" / "results.json").read_text())
    checked = 0
    for r in doc["records"]:
        assert decisions.counted(r) == judgement.decided(r), r
        cat = decisions.category(r)
        if cat in ("escape", "limit") and r.get("claim") in ("SAFETY-2", "SAFETY-3") and decisions.counted(r):
            c = claim(r["claim"])
            word = judgement.record_word(r, claims._violated(c))
            assert (word == "violated") == decisions.is_finding(r), r
            checked += 1
    assert checked
