"""A short run of every implemented suite on a small workload set: what `make report`
does, at small scale, so CI catches a broken main job."""

import json

from harness import results

SMALL = "sha256,json-extract,record-parser"


def test_every_suite_end_to_end(pytester, tmp_path):
    out = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--suite", "all", "--only-workloads", SMALL, "--report-dir", str(out),
        f"--junitxml={out / 'junit.xml'}", "--hypothesis-profile", "wasm-claims-quick", timeout=1500,
    )
    doc = json.loads((out / "results.json").read_text())
    implemented = [s for s in results.SUITES if results.suite_implemented(s)]
    assert doc["run"]["suites"] == implemented
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert doc["run"]["tests"]["failed"] == 0 and doc["run"]["tests"]["passed"] > 0
    forms = {r["form"] for r in doc["records"]}
    assert {"native", "wasm"} <= forms
    html = (out / "index.html").read_text()
    assert all(c["id"] in html for c in doc["claims"])
    assert (out / "junit.xml").exists() and (out / "summary.md").exists()
