"""Findings kept as reproducers the same way by every generator (harness.probes.findings):
a kept case reads back as the same case, and a shrunk finding still shows what it showed."""

from __future__ import annotations

import json

from hypothesis import given, settings

from harness import difffuzz
from harness.probes import calls, findings, simdgen, tablegen


@settings(max_examples=100, deadline=None)
@given(simdgen.cases())
def test_a_simd_case_reads_back_as_itself(case):
    assert simdgen.case_from(json.loads(json.dumps(simdgen.case_json(case)))) == case


@settings(max_examples=100, deadline=None)
@given(tablegen.cases())
def test_a_table_case_reads_back_as_itself(case):
    assert tablegen.case_from(json.loads(json.dumps(tablegen.case_json(case)))) == case


def test_a_shrunk_finding_on_a_wrong_engine_is_kept_and_replayed_first(tmp_path):
    """The planted engine flips a bit of every result: the smallest case that shows it is kept
    with its module, command and verdict, and the next run reads it back."""
    engine = difffuzz.Engine("planted-flip:wasmtime-py/default")

    def probe(case):
        return calls.request(engine, simdgen.call(case), tmp_path)

    case = findings.shrink(simdgen.cases(), lambda c: simdgen.judge(c, probe(c)).finding == 1, max_examples=50)
    assert case is not None
    verdict = simdgen.judge(case, probe(case))
    d = simdgen.keep_finding(case, "planted", "default", verdict, tmp_path / "findings")
    assert {p.name for p in d.iterdir()} == {"probe.wat", "case.json", "command.txt", "result.json"}
    assert json.loads((d / "result.json").read_text())["outcome"] == "mismatch"
    assert simdgen.saved_findings(tmp_path / "findings") == [case]
    assert tablegen.saved_findings(tmp_path / "findings") == []  # each generator reads its own


def test_a_table_case_past_a_rows_cap_is_not_replayed_there():
    big = tablegen.Case(tablegen.Table("i32", "funcref", 1 << 30, None), "table.size")
    grow = tablegen.Case(tablegen.Table("i32", "funcref", 1, None), "table.grow", a=1 << 30)
    assert tablegen.within(big, None) and not tablegen.within(big, 1 << 22) and not tablegen.within(grow, 1 << 22)
