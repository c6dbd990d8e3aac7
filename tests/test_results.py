"""results.json: schema, merge of several machines, and clear refusals."""

import json

import pytest

from harness import results


def write(path, machine, arch, records=(), schema=results.SCHEMA):
    doc = results.build_results(list(records), skips=[], suites_run=["portability"], meta={"started": "2026-01-01"},
                                env={"machine": machine, "arch": arch})
    doc["schema"] = schema
    path.write_text(json.dumps(doc))
    return path


def test_schema_fields():
    doc = results.build_results([], skips=[], suites_run=[], meta={}, env={"machine": "m"})
    assert doc["schema"] == "wasm-claims/1"
    assert {"environment", "claims", "records", "run"} <= set(doc)
    assert {"id", "title", "verdict", "summary"} <= set(doc["claims"][0])


def test_merge_two_arches(tmp_path):
    rec = {"claim": "PORT-2", "metric": "wasm_output_mismatch", "value": 0, "runtime": "wasmtime-cli", "outcome": "agrees"}
    a = write(tmp_path / "a.json", "x86box", "x86_64", [rec])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [rec])
    merged = results.merge([a, b])
    assert set(merged["environment"]["machines"]) == {"x86box/x86_64", "armbox/aarch64"}
    assert {r["machine"] for r in merged["records"]} == {"x86box/x86_64", "armbox/aarch64"}
    assert next(c for c in merged["claims"] if c["id"] == "PORT-2")["verdict"] == "supported"


def test_merge_refuses_other_schema(tmp_path):
    a = write(tmp_path / "a.json", "m", "x86_64", schema="wasm-claims/0")
    with pytest.raises(results.ResultsError, match="schema"):
        results.merge([a])


def test_merge_refuses_duplicate_machine(tmp_path):
    a = write(tmp_path / "a.json", "m", "x86_64")
    b = write(tmp_path / "b.json", "m", "x86_64")
    with pytest.raises(results.ResultsError, match="twice"):
        results.merge([a, b])
