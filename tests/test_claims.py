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
    v = claims.decide(c, [rec("SAFETY-2", "escape", 0, outcome="inconclusive")], "no canary")
    assert v.verdict == "not-tested"


def test_missing_evidence_is_not_tested_with_reason():
    doc = results.build_results([], skips=[{"test": "t", "claim": "PORT-2", "reason": "no qemu"}],
                                suites_run=["portability"], meta={}, env={})
    by_id = {c["id"]: c for c in doc["claims"]}
    assert by_id["PORT-2"]["verdict"] == "not-tested" and "no qemu" in by_id["PORT-2"]["summary"]
    assert all(c["verdict"] == "not-tested" and c["summary"] for c in doc["claims"])
