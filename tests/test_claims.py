"""The claim registry matches shared/CLAIMS.md, and every rule turns records into a verdict."""

import re
from pathlib import Path

import pytest

from harness import claims, results

CLAIMS_MD = Path(__file__).resolve().parents[2] / "shared" / "CLAIMS.md"


def test_every_claim_of_claims_md_is_registered():
    if not CLAIMS_MD.exists():
        pytest.skip(f"{CLAIMS_MD} not present beside this checkout")
    ids = re.findall(r"^\| ([A-Z]+-\d) \|", CLAIMS_MD.read_text(), re.M)
    assert ids and set(ids) == set(claims.claim_ids())


def test_rules_exist_for_every_claim():
    for c in claims.registry():
        assert c.rule["name"] in claims.RULES, c.id


def rec(claim, metric, value, **kw):
    return {"claim": claim, "metric": metric, "value": value, "outcome": kw.pop("outcome", ""), **kw}


def test_ratio_vs_claim():
    c = next(c for c in claims.registry() if c.id == "SPEED-1")
    v = claims.decide(c, [rec("SPEED-1", "python_over_compiled_throughput", 48.0, workload="mandelbrot")], "")
    assert v.verdict == "partly-supported" and "35,000" in v.summary and "48" in v.summary


def test_no_escapes_names_runtimes():
    c = next(c for c in claims.registry() if c.id == "SAFETY-2")
    recs = [rec("SAFETY-2", "escape", 0, runtime="wasmtime-py"), rec("SAFETY-2", "escape", 1, runtime="node-wasi")]
    v = claims.decide(c, recs, "")
    assert v.verdict == "partly-supported" and "held: wasmtime-py" in v.summary and "node-wasi" in v.summary


def test_inconclusive_records_do_not_decide():
    c = next(c for c in claims.registry() if c.id == "SAFETY-2")
    v = claims.decide(c, [rec("SAFETY-2", "escape", 0, outcome="inconclusive", runtime="wasmtime-py",
                              details={"reason": "positive control failed"})], "no canary")
    assert v.verdict == "inconclusive" and "positive control failed" in v.summary
    assert v.coverage["tested"] == [] and "wasmtime-py" in v.coverage["untested"]


def test_missing_evidence_is_not_tested_with_reason():
    doc = results.build_results([], skips=[{"test": "t", "claim": "PORT-2", "reason": "no qemu"}],
                                suites_run=["portability"], meta={}, env={})
    by_id = {c["id"]: c for c in doc["claims"]}
    assert by_id["PORT-2"]["verdict"] == "not-tested" and "no qemu" in by_id["PORT-2"]["summary"]
    assert all(c["verdict"] == "not-tested" and c["summary"] for c in doc["claims"])


def _perf2(value, lo, hi):
    return rec("PERF-2", "container_over_process_throughput_time", value, details={"min": lo, "max": hi}, workload="w")


@pytest.mark.parametrize("rows, word", [
    ([(1.6, 1.4, 1.9), (1.5, 1.3, 1.7)], "supported"),        # every interval above 1.25
    ([(0.9, 0.8, 1.0)], "refuted"),                            # every interval below
    ([(1.6, 1.4, 1.9), (0.9, 0.8, 1.0)], "partly-supported"),  # one clearly each way
    ([(1.58, 0.88, 1.9)], "inconclusive"),                     # the noisy case: 1.25 inside the spread
    ([(1.6, 1.4, 1.9), (1.3, 1.1, 1.5)], "inconclusive"),      # the straddling row would decide it
])
def test_threshold_verdict_uses_the_interval(rows, word):
    c = next(c for c in claims.registry() if c.id == "PERF-2")
    v = claims.decide(c, [_perf2(*r) for r in rows], "")
    assert v.verdict == word, v.summary
    if word == "inconclusive":
        assert "inconclusive: the measured interval contains 1.25x" in v.summary


def test_same_verdict_under_noise_for_every_draw_inside_the_spread():
    """Two runs whose medians fall anywhere in the same spread give the same word."""
    c = next(c for c in claims.registry() if c.id == "PERF-2")
    words = {claims.decide(c, [_perf2(m, 0.88, 1.9)], "").verdict for m in (0.885, 1.0, 1.25, 1.58, 1.89)}
    assert words == {"inconclusive"}


def test_ratio_vs_claim_interval():
    c = next(c for c in claims.registry() if c.id == "SPEED-1")
    straddle = rec("SPEED-1", "python_over_compiled_throughput", 1.2, details={"min": 0.9, "max": 1.4})
    assert claims.decide(c, [straddle], "").verdict == "inconclusive"
    assert claims.decide(c, [rec("SPEED-1", "python_over_compiled_throughput", 0.5)], "").verdict == "refuted"
