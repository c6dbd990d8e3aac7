"""The HTML report: content from a fixed results.json, self-containment, validity, charts
drawn only from the records that support them, merged reports, and the size/time budget
of a 20,000-record run."""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import html5lib
import pytest

from harness import results
from harness.cli import main
from harness.report import charts, model, write_report
from harness.report import decisions as model_decisions

FIXTURE = Path(__file__).parent / "data" / "report" / "results.json"
ATTRS_WITH_URLS = ("src", "href", "action", "data", "poster", "srcset", "xlink:href")


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def rendered(doc, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    html_path = write_report(doc, out)
    return out, html_path.read_text()


def parse(text: str):
    """Strict HTML5 parse: any parse error (stray end tag, bad nesting, duplicate attribute) raises."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def _text(el) -> str:
    return " ".join(" ".join(el.itertext()).split())


def test_page_is_valid_html(rendered):
    tree = parse(rendered[1])
    assert tree.find(".//title") is not None and tree.find(".//h1") is not None


def test_every_claim_has_a_verdict_row_with_its_reason(rendered, doc):
    tree = parse(rendered[1])
    for claim in doc["claims"]:
        row = tree.find(f".//tr[@id='verdict-{claim['id']}']")
        assert row is not None, claim["id"]
        text = _text(row)
        assert claim["title"] in text and claim["verdict"] in text and claim["summary"] in text
        if claim["verdict"] == "not-tested":
            assert "To enable:" in text, f"{claim['id']} says why but not what would enable it"
        assert tree.find(f".//h3[@id='claim-{claim['id']}']") is not None


def test_verdict_row_lists_where_it_was_tested(rendered):
    row = _text(parse(rendered[1]).find(".//tr[@id='verdict-PORT-2']"))
    for word in ("node-wasi", "wasmtime-cli", "aarch64 (qemu)", "riscv64 (qemu)", "x86_64"):
        assert word in row


def test_no_external_urls(rendered):
    out, text = rendered
    tree = parse(text)
    seen = 0
    for el in tree.iter():
        for attr in ATTRS_WITH_URLS:
            value = el.get(attr)
            if value is None:
                continue
            seen += 1
            parts = urlsplit(value)
            assert parts.scheme in ("", "data") and not parts.netloc, f"<{el.tag} {attr}={value[:80]!r}> leaves the file"
            if not parts.scheme and parts.path:
                assert (out / parts.path).is_file(), f"relative link {value} has no file beside the page"
    assert seen > 10
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), "CSS must not load anything"
    assert "<link" not in text and "@import" not in text


def test_evidence_tables_are_sortable_and_units_explained(rendered, doc):
    tree = parse(rendered[1])
    tables = [t for t in tree.iter("table") if "evidence" in (t.get("class") or "").split()]
    headers = [_text(th) for th in tables[0].find("thead").iter("th")]
    assert headers[:6] == ["workload", "form", "runtime", "arch", "metric", "value (in unit)"]
    assert {"unit", "outcome"} <= set(headers)
    shown = sum(len(t.find("tbody").findall("tr")) for t in tables)
    assert shown == len(doc["records"])  # small run: every record is on the page
    assert "x = ratio" in _text(tree.find(".//body")) and "<script>" in rendered[1]
    # numeric sort keys are present on value cells
    assert all(td.get("data-sort") is not None for td in tables[0].iter("td") if "num" in (td.get("class") or ""))


def test_failing_inputs_are_shown_and_downloadable(rendered, doc):
    tree = parse(rendered[1])
    section = [a for a in tree.iter("a") if (a.get("href") or "").startswith("data:application/octet-stream;base64,")]
    wanted = {bytes.fromhex(r["details"]["minimal_input_hex"]) for r in doc["records"] if r["details"].get("minimal_input_hex")}
    wanted |= {r["details"]["minimal_input_text"].encode() for r in doc["records"] if r["details"].get("minimal_input_text")}
    got = {base64.b64decode(a.get("href").split(",", 1)[1]) for a in section}
    assert wanted and wanted == got
    assert all(a.get("download") for a in section)
    assert "7b 22 61 22 3a 31 65 34 30 30 7d" in rendered[1]  # the hex view of {"a":1e400}
    assert "AAAA&lt;script&gt;" in rendered[1]  # text view, escaped


def test_large_minimal_input_is_written_beside_the_page(doc, tmp_path):
    big = copy.deepcopy(doc)
    big["records"][0]["details"]["minimal_input_hex"] = (b"\xff" * (model.MAX_INLINE_INPUT + 1)).hex()
    text = write_report(big, tmp_path).read_text()
    link = re.search(r'href="(minimal-inputs/[^"]+)"', text).group(1)
    assert (tmp_path / link).read_bytes() == b"\xff" * (model.MAX_INLINE_INPUT + 1)


def _chart_titles(text: str) -> list[str]:
    return re.findall(r'<svg [^>]*aria-label="([^"]+)"', text)


def test_charts_drawn_from_each_record_convention(rendered, doc):
    titles = _chart_titles(rendered[1])
    ratio_metrics = {r["metric"] for r in doc["records"] if r["unit"] == "x"}
    throughput_workloads = {r["workload"] for r in doc["records"] if r["metric"] == "throughput"}
    parity_workloads = {r["workload"] for r in doc["records"] if r["metric"] == "wasm_output_mismatch"}
    assert ratio_metrics <= set(titles)
    assert {f"{w} cost" for w in throughput_workloads} <= set(titles)
    assert {f"parity {w}" for w in parity_workloads} <= set(titles)
    assert {"Cold start", "Peak memory (RSS)", "sizes", "escape probes"} <= set(titles)
    text = rendered[1]
    assert "claimed 35,000x" in text  # the claim's figure marked on its ratio chart
    assert "1/1 differ" in text and "riscv64 (qemu)" in text  # the parity cell that failed, emulated arch labelled
    assert "stroke-dasharray=\"5 3\"" in text  # emulated throughput series dashed


def test_charts_appear_only_when_their_records_exist(doc):
    assert charts.build_charts([], doc["claims"]) == []
    only_sizes = [r for r in doc["records"] if r["metric"] == "image_bytes"]
    assert [c.title for c in charts.build_charts(only_sizes, doc["claims"])] == ["Image and artifact sizes"]


def test_cost_is_seconds_per_run_against_input_size(doc):
    recs = [r for r in doc["records"] if r["metric"] == "throughput" and r["workload"] == "sha256"]
    chart = charts.cost_charts(recs)[0]
    assert "seconds per run" in chart.svg and "input size" in chart.svg


def test_scale_log_and_linear():
    log = charts.Scale.fit([0.5, 2000.0], 0, 100)
    assert log.log and log.lo == 0.1 and log.hi == 10000 and log(0.1) == 0 and log(10000) == 100
    lin = charts.Scale.fit([1.0, 3.0], 0, 100)
    assert not lin.log and lin(0) == 0 and lin.ticks()[0] == 0


def test_environment_and_run_metadata(rendered, doc):
    tree = parse(rendered[1])
    env = _text(tree.find(".//table[@id='environment-table']"))
    for word in ("AMD EPYC 7B13", "6.1.0-18-amd64", "3.11.7", "Compiler (zig cc)", "wasmtime 49.0.3", "qemu-user: aarch64",
                 "qemu 7.2.22", "Docker engine", "20.10.24", "Container image", "sha256:351018b9", "GPU", "none detected",
                 "sha256:4f1c2d9e"):
        assert word in env, word
    run = _text(tree.find(".//table[@id='run-table']"))
    for word in ("2026-11-25T08:00:00", "1300.4 s", "smoke, security", "Hypothesis seed 12345", "max examples per test 100",
                 "Harness version 0.1.0", "Git commit a8baef8", "Examples run"):
        assert word in run, word


def test_summary_markdown_and_records_json(rendered, doc):
    out, _ = rendered
    md = (out / "summary.md").read_text()
    for claim in doc["claims"]:
        assert re.search(rf"^\| {re.escape(claim['id'])} \| \*\*{claim['verdict']}\*\* \|", md, re.M)
    assert "to enable:" in md
    assert json.loads((out / "records.json").read_text()) == doc["records"]


def test_merged_report_has_a_column_per_machine(doc, tmp_path):
    paths = []
    for name, arch in (("x86-box", "x86_64"), ("arm-box", "aarch64")):
        d = copy.deepcopy(doc)
        d["environment"].update(machine=name, arch=arch)
        paths.append(results.write_json(tmp_path / f"{name}.json", d))
    assert main(["merge", *map(str, paths), "-o", str(tmp_path / "merged")]) == 0
    tree = parse((tmp_path / "merged" / "index.html").read_text())
    env_head = [_text(th) for th in tree.find(".//table[@id='environment-table']").find("thead").iter("th")]
    assert env_head == ["what", "x86-box/x86_64", "arm-box/aarch64"]
    matrix_head = [_text(th) for th in tree.find(".//table[@class='matrix']/thead").iter("th")]
    assert "Machines" in matrix_head
    assert "x86-box/x86_64" in _text(tree.find(".//tr[@id='verdict-PORT-2']"))


def test_cli_report_rerenders_fixture(tmp_path, capsys):
    assert main(["report", str(FIXTURE), "-o", str(tmp_path)]) == 0
    assert {"index.html", "summary.md", "records.json"} <= {p.name for p in tmp_path.iterdir()}


def _large_doc(doc: dict, n: int) -> dict:
    """n records shaped like the fixture's, spread over 250 workloads and jittered."""
    rnd = random.Random(1)
    records = []
    while len(records) < n:
        for r in doc["records"]:
            r2 = copy.deepcopy(r)
            r2["workload"] = f"w{len(records) % 250}-{r.get('workload')}"
            if isinstance(r2["value"], float):
                r2["value"] *= rnd.uniform(0.8, 1.2)
            records.append(r2)
    skips = doc["skips"] * 50 + [{"test": f"t{i}", "claim": None, "reason": f"missing thing {i} (install thing {i})"} for i in range(2000)]
    return results.build_results(records[:n], skips=skips, suites_run=doc["run"]["suites"], meta=doc["run"], env=doc["environment"])


def test_20000_records_render_fast_and_small(doc, tmp_path):
    """Budget on the renderer: a big run still gives a page under 5 MB in under 5 s."""
    big = _large_doc(doc, 20_000)
    t0 = time.perf_counter()
    html_path = write_report(big, tmp_path)
    elapsed = time.perf_counter() - t0
    size = html_path.stat().st_size
    print(f"20,000 records: rendered in {elapsed:.2f} s, index.html {size / 1e6:.2f} MB")
    assert elapsed < 5.0 and size < 5_000_000
    text = html_path.read_text()
    parse(text)
    assert "200 of 20000 records" not in text  # no single claim holds them all here; per-claim caps below
    assert re.search(r"200 of \d+ records \(failures first; all \d+ in <a href=\"records.json\"", text)
    assert "most frequent of 2003 distinct reasons" in text
    assert len(json.loads((tmp_path / "records.json").read_text())) == 20_000
    assert all(c["id"] in text for c in big["claims"])
    n_workloads = len({r["workload"] for r in big["records"] if r.get("workload")})
    assert f"Showing {model_decisions.MAX_WORKLOADS} of " in text and 'id="scorecard-table"' in text
    md = (tmp_path / "summary.md").read_text()
    assert md.count("\n### ") == model_decisions.MAX_WORKLOADS_MD < n_workloads and len(md) < 500_000


def test_odd_records_still_render(doc, tmp_path):
    """Old or hand-made results: missing details, None/bool/text values, zero rates, unknown metrics."""
    odd = copy.deepcopy(doc)
    base = {"suite": "x", "test": "t", "claim": None, "workload": "w", "form": "wasm", "runtime": "r", "arch": "x86_64", "unit": "", "outcome": ""}
    odd["records"] += [
        {**base, "metric": "throughput", "value": 0, "unit": "runs/s", "details": {"input_bytes": 10, "min": 0, "max": 0}},
        {**base, "metric": "wasm_output_mismatch", "value": True, "details": None},
        {**base, "metric": "python_over_wasm_throughput", "value": None, "unit": "x", "details": {"non_finite": "inf"}},
        {**base, "metric": "something_new", "value": "text", "details": "not a dict"},
        {**base, "metric": "escape", "value": 0, "outcome": "", "details": {}},
    ]
    parse(write_report(odd, tmp_path).read_text())


@pytest.mark.parametrize("reasons, summary, expected", [
    (["no GPU: nvidia-smi not found (run on a machine with an NVIDIA GPU)"], "skipped: ...", "run on a machine with an NVIDIA GPU"),
    (["got empty parameter set for (workload)"], "skipped: ...", "select a workload"),
    (["something odd"], "skipped: something odd", "provide what the skip reason names"),
    ([], "the agent suite is not implemented yet", "implement the agent suite"),
    ([], "the parity suite was not run (pytest --suite parity)", "run pytest --suite parity"),
    ([], "the parity suite ran but recorded no evidence for NN-1", "@pytest.mark.claim(\"NN-1\")"),
])
def test_not_tested_rows_say_what_would_enable_them(reasons, summary, expected):
    claim = {"id": "NN-1", "suite": "agent" if "agent" in summary else "parity", "summary": summary, "rule": {"metric": "m"}}
    assert expected in model.enable_hint(claim, reasons)


def test_minimal_claim_entries_render(tmp_path):
    """An old or hand-trimmed results file: claims with only id and verdict, no environment or run."""
    bare = {"schema": results.SCHEMA, "claims": [{"id": "X-1", "verdict": "not-tested"}], "records": [], "skips": []}
    text = write_report(bare, tmp_path).read_text()
    parse(text)
    assert "X-1" in text and "No failing input was recorded." in text


# ---------------------------------------------------------------- decisions and scorecard

def test_one_decision_table_per_workload_with_linked_cells(rendered, doc):
    tree = parse(rendered[1])
    workloads = {r["workload"] for r in doc["records"] if r.get("workload") and r["metric"] in (
        "throughput", "output_mismatch", "wasm_output_mismatch", "cold_start_s", "peak_rss_kb", "image_bytes")}
    tables = {t.get("id") for t in tree.iter("table") if "decision" in (t.get("class") or "").split()}
    assert tables == {f"decide-{w}-table" for w in workloads}
    ids = {el.get("id") for el in tree.iter() if el.get("id")}
    links = [a.get("href") for t in tree.iter("table") if "decision" in (t.get("class") or "").split() for a in t.iter("a")]
    assert links and all(h.startswith("#rec-") and h[1:] in ids for h in links)
    # a linked cell shows the figure of the record it links to
    sha = tree.find(".//table[@id='decide-sha256-table']")
    head = [_text(th) for th in sha.find("thead").iter("th")]
    assert head[0] == "form · engine@mode version" and {"cold start (s)", "peak RSS", "size to ship", "parity", "security"} <= set(head)
    for tr in sha.find("tbody").iter("tr"):
        for td in tr.findall("td")[1:]:
            a = td.find("a")
            if a is not None:
                rec = doc["records"][int(a.get("href").removeprefix("#rec-"))]
                assert rec["workload"] in ("sha256", None) or rec["metric"] in ("escape", "limit_held"), rec


def test_decision_lines_name_the_rule(rendered):
    text = _text(parse(rendered[1]).find(".//body"))
    assert "Fastest that passed: wasm · wasmtime-py 50.0.1 (95.4 runs/s at 262 kB)" in text
    assert "rule: highest median runs/s at the largest input size" in text
    assert "Safest that passed: wasm · wasmtime-py 50.0.1" in text


def test_scorecard_says_not_tested_never_zero(rendered):
    tree = parse(rendered[1])
    table = tree.find(".//table[@id='scorecard-table']")
    rows = {_text(tr.find("td")): [_text(td) for td in tr.findall("td")[1:]] for tr in table.find("tbody").iter("tr")}
    assert set(rows) == {"node-wasi 20.20.2", "wasmtime-cli 49.0.3", "wasmtime-py 50.0.1"}
    head = [_text(th) for th in table.find("thead").iter("th")][1:]
    cli = dict(zip(head, rows["wasmtime-cli 49.0.3"]))
    assert cli["limits held"] == "not tested" and cli["fuzzing disagreements"] == "not tested"
    py = dict(zip(head, rows["wasmtime-py 50.0.1"]))
    assert py["limits held"] == "4/4" and py["time vs native"].endswith("x")
    assert dict(zip(head, rows["node-wasi 20.20.2"]))["probes held"] == "1/2"


def test_engine_mode_version_and_config_make_their_own_rows():
    from harness.report import decisions

    base = {"suite": "security", "test": "t", "claim": "SAFETY-2", "workload": None, "form": "wasm", "arch": "x86_64",
            "metric": "escape", "unit": "bool", "outcome": "held", "value": 0}
    recs = [
        {**base, "runtime": "wasmtime-py", "details": {"runtime_version": "50.0.1"}},
        {**base, "runtime": "wasmtime-py==6.0.0", "value": 1, "outcome": "escaped", "details": {}},
        {**base, "runtime": "wasmedge-aot", "details": {"engine": "wasmedge", "mode": "aot", "runtime_version": "0.14.1"}},
        {**base, "runtime": "wasmer-singlepass", "details": {"engine": "wasmer", "mode": "singlepass", "runtime_version": "6.1.0",
                                                            "engine_config": {"bounds_checks": "on"}}},
        {**base, "runtime": "node-wasi", "details": {}},
        {**base, "runtime": "wasmtime-py", "details": {"runtime_version": "50.0.1", "engine_config": "default"}},
        {**base, "runtime": "wasmtime-py", "metric": "wasm_output_mismatch", "value": 1, "outcome": "mismatch",
         "details": {"runtime_version": "50.0.1", "engine_config": "dynamic-bounds", "probe": "difffuzz"}},
    ]
    facts = decisions.Facts(recs, {"": {"node-wasi": "v20.20.2"}})
    score = decisions.scorecard(facts)
    labels = {row["label"]: row["cells"]["probes held"].text for row in score}
    fuzz = {row["label"]: row["cells"]["fuzzing disagreements"].text for row in score}
    assert fuzz["wasmtime-py 50.0.1 [dynamic-bounds]"] == "1 in 1" and fuzz["wasmtime-py 50.0.1"] == "not tested"
    del labels["wasmtime-py 50.0.1 [dynamic-bounds]"]
    assert labels == {"wasmtime-py 50.0.1": "2/2", "wasmtime-py 6.0.0": "0/1", "wasmedge-aot (wasmedge@aot) 0.14.1": "1/1",
                      'wasmer-singlepass (wasmer@singlepass) 6.1.0 [{"bounds_checks":"on"}]': "1/1", "node-wasi 20.20.2": "1/1"}
    old = decisions.Engine("wasmtime-py", version="6.0.0")
    assert old.matches("wasmtime-py") and old.matches("wasmtime-py==6.0.0") and not old.matches("wasmtime-py==50.0.1")
    assert decisions.Engine("wasmedge-aot", "wasmedge", "aot").matches("wasmedge")


def test_summary_has_decisions_and_scorecard(rendered):
    md = (rendered[0] / "summary.md").read_text()
    assert "## Decisions per workload" in md and "### sha256" in md and "## Runtime scorecard" in md
    assert "| wasm · wasmtime-py 50.0.1 | 6,105 |" in md


def test_page_shows_what_generated_probes_exercised(doc, tmp_path):
    """A row's "held" is shown with the instruction families and opcodes its examples drew."""
    d = copy.deepcopy(doc)
    d["records"].append({"suite": "security", "test": "t", "claim": "SAFETY-2", "workload": None, "form": "wasm",
                         "runtime": "wasmtime-py", "arch": "x86_64", "metric": "escape", "value": 0, "unit": "bool",
                         "outcome": "denied", "details": {"runtime_version": "51.0.0", "engine_config": "pooling",
                         "coverage": {"families": {"load": 40, "simd": 12}, "opcodes": {"f64.copysign": 31, "align=1": 57}},
                         "not_drawn": {"atomic": "an in-bounds i32.atomic.rmw.add on a shared memory: inconclusive: does not fit"}}})
    page = write_report(d, tmp_path).read_text()
    assert "What the generated probes exercised" in page
    assert "wasmtime-py@51.0.0 [pooling]: load 40, simd 12; 2 distinct opcodes (most drawn: align=1 57, f64.copysign 31)" in page
    assert "never drawn here: atomic (an in-bounds i32.atomic.rmw.add on a shared memory: inconclusive: does not fit)" in page
