"""The policy gate: file validation (one line naming file and field), rule evaluation from
records (held, broken, not measured, not run), and the gate in a real pytest run: JUnit
test cases, terminal summary, exit status and the report's Policy section."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import policy
from harness.policy import Context, PolicyError, Rule, evaluate

FIXTURE = Path(__file__).parent / "data" / "report" / "results.json"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "policy.yaml"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return json.loads(FIXTURE.read_text())["records"]


def ctx(records, suites=("smoke", "security", "performance", "portability"), **kw) -> Context:
    return Context(records, list(suites), **kw)


def test_example_policy_is_valid():
    rules = policy.rules(policy.load(EXAMPLE))
    assert {r.section for r in rules} == {"claims", "engines", "workloads", "parity"}
    assert "engines.wasmtime-py.wasm_over_native_time" in {r.name for r in rules}


@pytest.mark.parametrize("text, field", [
    ("workloads:\n  sha256:\n    wasm_over_native_tme: {max: 3}\n", "workloads.sha256.wasm_over_native_tme: unknown field"),
    ("engines:\n  wasmtime-cli:\n    escapes: -1\n", "engines.wasmtime-cli.escapes"),
    ("engines:\n  wasmtime-cli:\n    escapes: lots\n", "engines.wasmtime-cli.escapes: expected a count"),
    ("claims:\n  SAFETY-9: [supported]\n", "claims.SAFETY-9: unknown claim"),
    ("claims:\n  SAFETY-2: [great]\n", "claims.SAFETY-2.0"),
    ("parity: {violations: 0}\nfoo: 1\n", "foo: unknown field"),
    ("workloads:\n  sha256:\n    wasm_over_native_time: {max: fast}\n", "workloads.sha256.wasm_over_native_time.max"),
    ("workloads:\n  sha256: {}\n", "workloads.sha256: empty"),
    ("claims: [\n", "not valid YAML (line 2"),
    ("", "the policy is empty"),
    ("not_selected: skip\n", "no rules"),
    ("not_selected: ignore\nparity: {violations: 0}\n", "not_selected: 'ignore' is not one of"),
])
def test_malformed_policy_names_file_and_field(tmp_path, text, field):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as exc:
        policy.load(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and field in msg and "\n" not in msg, msg


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the policy"):
        policy.load(tmp_path / "none.yaml")


def test_rules_hold_break_or_are_not_measured(records):
    c = ctx(records)
    held = evaluate(Rule("engines", "wasmtime-py", "limits_not_held", 0), c)
    assert held.status == "held" and held.value == 0 and "of 4 records" in held.measured
    # the fixture's wasm/native throughput: some ratio is measured; no bound as low as 0.0001 holds
    broken = evaluate(Rule("workloads", "sha256", "wasm_over_native_time", {"max": 0.0001}), c)
    assert broken.status == "broken" and broken.value > 0.0001 and "worst" in broken.measured
    roomy = evaluate(Rule("workloads", "sha256", "wasm_over_native_time", {"max": 1e9}), c)
    assert roomy.status == "held" and roomy.value == broken.value
    absent = evaluate(Rule("engines", "wasmer-singlepass", "escapes", 0), c)
    assert absent.status == "not-measured" and "no record names engine wasmer-singlepass" in absent.measured
    no_data = evaluate(Rule("engines", "wasmtime-py", "fuzz_disagreements", 0), c)
    assert no_data.status == "not-measured"


def test_parity_rule_counts_every_parity_record(records):
    out = evaluate(Rule("parity", "", "violations", 0), ctx(records))
    bad = [r for r in records if r["metric"] in ("output_mismatch", "wasm_output_mismatch") and r["value"] == 1]
    assert out.status == ("broken" if bad else "held") and out.value == len(bad)
    assert evaluate(Rule("parity", "", "violations", {"max": len(bad)}), ctx(records)).status == "held"


def test_claim_rules_use_the_verdicts(records):
    c = ctx(records, skips=[])
    verdicts = c.verdicts
    some = next(cid for cid, v in verdicts.items() if v["verdict"] not in ("not-tested",))
    assert evaluate(Rule("claims", some, "verdict", (verdicts[some]["verdict"],)), c).status == "held"
    other = tuple(v for v in ("supported", "refuted") if v != verdicts[some]["verdict"])[:1]
    assert evaluate(Rule("claims", some, "verdict", other), c).status == "broken"
    untested = next(cid for cid, v in verdicts.items() if v["verdict"] == "not-tested")
    assert evaluate(Rule("claims", untested, "verdict", ("supported",)), c).status == "not-measured"


def test_rules_outside_the_selection_fail_unless_the_policy_skips_them(records):
    strict = ctx(records, suites=["smoke"])
    out = evaluate(Rule("workloads", "sha256", "wasm_over_native_time", {"max": 3.0}), strict)
    assert out.status == "not-measured" and "needs --suite performance" in out.measured
    c = ctx(records, suites=["smoke"], workloads={"sha256"}, known_workloads={"sha256", "bpe-tokenize"},
            runtimes=["wasmtime-py"], skip_unselected=True)
    assert "needs --suite security" in evaluate(Rule("engines", "wasmtime-py", "escapes", 0), c).measured
    assert evaluate(Rule("engines", "wasmtime-py", "escapes", 0), c).status == "not-run"
    assert "not selected (--only-workloads)" in evaluate(Rule("workloads", "bpe-tokenize", "parity_violations", 0), c).measured
    assert "not selected (--runtime" in evaluate(Rule("engines", "wasmtime-cli", "parity_violations", 0), c).measured
    assert evaluate(Rule("workloads", "sha256", "parity_violations", 0), c).status == "held"
    c = ctx(records, suites=["security"], workloads={"sha256"}, known_workloads={"sha256", "bpe-tokenize"},
            runtimes=["wasmtime-py"], skip_unselected=True, skips=[])
    out = evaluate(Rule("claims", "SURFACE-1", "verdict", ("supported",)), c)  # not-tested in the fixture
    assert out.status == "not-run" and "narrowed selection (--only-workloads, --runtime)" in out.measured


RECORDING_TEST = """
def test_records(evidence):
    common = dict(workload="sha256", arch="x86_64", outcome="measured", input_bytes=1000, input_label="1 kB")
    evidence.record("throughput", 100.0, "runs/s", form="native", runtime="os", language="c", **common)
    evidence.record("throughput", 50.0, "runs/s", form="wasm", runtime="wasmtime-py", language="c",
                    runtime_version="50.0.1", **common)
    evidence.record("output_mismatch", 0, "bool", workload="sha256", form="wasm", runtime="wasmtime-py", arch="x86_64",
                    outcome="agrees", runtime_version="50.0.1")
"""


def _gate(pytester, tmp_path, text: str, *extra: str):
    pytester.makepyfile(test_recording=RECORDING_TEST)
    pol = pytester.path / "policy.yaml"
    pol.write_text(text)
    out = tmp_path / "rep"
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--policy", str(pol), "--report-dir", str(out),
                                           f"--junitxml={junit}", *extra)
    return result, ET.parse(junit).getroot(), out


def test_gate_passes_when_rules_hold(pytester, tmp_path):
    result, junit, out = _gate(pytester, tmp_path, "workloads:\n  sha256:\n    wasm_over_native_time: {max: 3.0}\n"
                                                    "    parity_violations: 0\nparity: {violations: 0}\n")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=4)
    case = next(c for c in junit.iter("testcase") if c.get("name") == "workloads.sha256.wasm_over_native_time")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["policy_status"] == "held" and "worst 2x" in props["measured"] and props["requires"] == "at most 3"
    assert "held" in result.stdout.str() and "wasm-claims policy" in result.stdout.str()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_gate_fails_with_the_rule_named_everywhere(pytester, tmp_path, workers):
    """Serial, and under pytest-xdist, where the controller judges the rules on every worker's records."""
    result, junit, out = _gate(pytester, tmp_path, "workloads:\n  sha256:\n    wasm_over_native_time: {max: 0.0001}\n"
                                                    "engines:\n  wasmer:\n    escapes: 0\n", "-n", workers)
    assert result.ret == 1
    text = result.stdout.str()
    assert "FAILED policy.yaml::workloads.sha256.wasm_over_native_time" in text and "broken" in text
    assert "engines.wasmer.escapes not-measured" in text and "Traceback" not in text
    failures = {c.get("name"): c.find("failure").get("message") for c in junit.iter("testcase") if c.find("failure") is not None}
    assert "requires at most 0.0001; measured worst 2x" in failures["workloads.sha256.wasm_over_native_time"]
    assert "not-measured" in failures["engines.wasmer.escapes"]
    page = (out / "index.html").read_text()
    assert 'id="policy-table"' in page and "workloads.sha256.wasm_over_native_time" in page and ">broken<" in page
    assert "| workloads.sha256.wasm_over_native_time | **broken** |" in (out / "summary.md").read_text()


def test_malformed_policy_is_one_usage_error(pytester):
    (pytester.path / "bad.yaml").write_text("engines:\n  wasmtime-cli:\n    escapes: -1\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--policy", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "bad.yaml: engines.wasmtime-cli.escapes" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err


def test_merged_report_shows_each_machines_policy_rows(tmp_path):
    from harness import results
    from harness.cli import main

    doc = json.loads(FIXTURE.read_text())
    doc["records"].append({"suite": "policy", "test": "p.yaml::parity.violations", "claim": None, "workload": None,
                           "form": None, "runtime": None, "arch": None, "metric": "policy_rule", "value": 1, "unit": "",
                           "outcome": "broken", "details": {"rule": "parity.violations", "expected": "at most 0",
                                                            "measured": "1 of 9 parity records", "file": "p.yaml"}})
    paths = []
    for name, arch in (("x86-box", "x86_64"), ("arm-box", "aarch64")):
        d = json.loads(json.dumps(doc))
        d["environment"].update(machine=name, arch=arch)
        paths.append(results.write_json(tmp_path / f"{name}.json", d))
    assert main(["merge", *map(str, paths), "-o", str(tmp_path / "m")]) == 0
    page = (tmp_path / "m" / "index.html").read_text()
    rows = re.findall(r'<tr id="policy-\d+"[^>]*>(.*?)</tr>', page, re.S)
    assert len(rows) == 2 and all("parity.violations" in r and ">broken<" in r for r in rows)
    assert "x86-box/x86_64" in rows[0] and "arm-box/aarch64" in rows[1]
    assert "parity.violations" not in page.split('id="evidence"')[1].split('id="inputs"')[0]  # not an evidence row


def test_results_judged_after_the_run(tmp_path, capsys):
    """python -m harness.policy: the same rules on a results.json (shards, -n runs, merges)."""
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("engines:\n  wasmtime-py:\n    limits_not_held: 0\n")
    bad.write_text("workloads:\n  sha256:\n    wasm_over_native_time: {max: 0.0001}\nengines:\n  wasmer:\n    escapes: 0\n")
    assert policy.main([str(good), str(FIXTURE)]) == 0
    out = tmp_path / "rep"
    assert policy.main([str(bad), str(FIXTURE), "-o", str(out), "--junitxml", str(tmp_path / "j.xml")]) == 1
    text = capsys.readouterr().out
    assert "broken        workloads.sha256.wasm_over_native_time: worst" in text and "failed: engines.wasmer.escapes, workloads.sha256" in text
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "j.xml").iter("testcase")}
    assert cases["workloads.sha256.wasm_over_native_time"].find("failure") is not None
    assert "not-measured" in cases["engines.wasmer.escapes"].find("failure").get("message")
    page = (out / "index.html").read_text()
    assert 'id="policy-table"' in page and "engines.wasmer.escapes" in page
    doc = json.loads((out / "results.json").read_text())
    assert [r["details"]["rule"] for r in doc["records"] if r["suite"] == "policy"] == list(cases)
    assert policy.main([str(tmp_path / "none.yaml"), str(FIXTURE)]) == 2
    assert "cannot read the policy" in capsys.readouterr().err


def _safety2_ctx(errors=(), skips=()):
    recs = [{"suite": "security", "test": "t", "claim": "SAFETY-2", "metric": "escape", "value": 0, "form": "wasm",
             "runtime": "wasmtime-py", "outcome": "denied", "details": {"runtime_version": "41.0.0"}}]
    return ctx(recs, suites=["security"], skips=list(skips), errors=list(errors))


MISSING_WASMEDGE = [{"test": "t[wasmedge]", "claim": "SAFETY-2", "row": "wasmedge", "reason": "wasmedge: not on PATH"}]


def test_claim_rule_on_partial_coverage_fails_unless_allowed():
    c = _safety2_ctx(skips=MISSING_WASMEDGE)
    out = evaluate(Rule("claims", "SAFETY-2", "verdict", ("supported",)), c)
    assert out.status == "broken" and "partial coverage" in out.measured and "wasmedge: not on PATH" in out.measured
    assert evaluate(Rule("claims", "SAFETY-2", "verdict", ("supported",), (("allow_partial", True),)), c).status == "held"
    assert evaluate(Rule("claims", "SAFETY-2", "verdict", ("supported",), (("coverage", 0.5),)), c).status == "held"
    assert evaluate(Rule("claims", "SAFETY-2", "verdict", ("supported",), (("coverage", 1.0),)), c).status == "broken"
    assert evaluate(Rule("claims", "SAFETY-2", "verdict", ("supported",)), _safety2_ctx()).status == "held"


def test_claim_rule_requires_its_rows():
    rule = policy.rules({"claims": {"SAFETY-2": {"verdict": ["supported"], "rows": ["wasmtime-py", "wasmedge"],
                                                 "allow_partial": True}}})[0]
    out = evaluate(rule, _safety2_ctx(skips=MISSING_WASMEDGE))
    assert out.status == "broken" and "row wasmedge not tested (wasmedge: not-tested: wasmedge: not on PATH)" in out.measured
    out = evaluate(rule, _safety2_ctx(errors=[{**MISSING_WASMEDGE[0], "reason": "boom"}]))
    assert out.status == "broken" and "wasmedge: error: boom" in out.measured
    assert "rows wasmtime-py, wasmedge tested" in rule.expected


def test_example_policy_requires_rows():
    rule = next(r for r in policy.rules(policy.load(EXAMPLE)) if r.subject == "SAFETY-2")
    assert dict(rule.terms)["rows"]


COVERAGE_TEST = """
import pytest

@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("runtime", ["wasmtime-py", "wasmedge", "wasmer"])
def test_probe(runtime, evidence):
    if runtime == "wasmedge":
        pytest.skip("wasmedge: not on PATH")
    if runtime == "wasmer":
        raise RuntimeError("the harness broke")
    evidence.record("escape", 0, "bool", form="wasm", runtime=runtime, arch="x86_64", outcome="denied",
                    runtime_version="41.0.0", probe="fs-dotdot")
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_partial_coverage_reaches_verdict_report_and_gate(pytester, tmp_path, workers):
    """A runtime that is not installed and a test that failed are rows of the verdict (not tested,
    error), serial and under xdist; the policy's rows rule fails naming them."""
    pytester.makepyfile(test_cov=COVERAGE_TEST)
    pol = pytester.path / "policy.yaml"
    pol.write_text("claims:\n  SAFETY-2: {verdict: [supported], rows: [wasmtime-py, wasmedge], allow_partial: true}\n")
    out = tmp_path / "rep"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--policy", str(pol), "--report-dir", str(out),
                                           "-n", workers)
    assert result.ret == 1
    doc = json.loads((out / "results.json").read_text())
    safety2 = next(c for c in doc["claims"] if c["id"] == "SAFETY-2")
    assert safety2["label"] == "supported (1 of 3 rows; 1 error; 1 not-tested)"
    assert safety2["coverage"]["untested"]["wasmedge"] == "not-tested: wasmedge: not on PATH"
    assert "the harness broke" in safety2["coverage"]["untested"]["wasmer"]
    assert "claims.SAFETY-2: supported (1 of 3 rows; 1 error; 1 not-tested), but row wasmedge not tested" in result.stdout.str()
    assert "partly tested" in (out / "index.html").read_text()
