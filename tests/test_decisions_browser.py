"""The decision section in a real browser (headless Chromium, no network): each workload's
table is there, sorts by a column when its header is clicked, and every linked cell leads
to an evidence row that exists on the page and is the record the cell was read from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import html5lib
import pytest

from harness.report import write_report
from test_report_browser import CHROMIUM, FIXTURE, chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")

# Runs in the page after load: clicks the sha256 table's largest-input throughput header,
# checks every decision link's target, follows one in that column, and writes what it saw into <pre id="probe"> for --dump-dom.
PROBE = """<script>
(function () {
  var out = {tables: document.querySelectorAll("table.decision").length};
  var table = document.getElementById("decide-sha256-table");
  var heads = table.querySelectorAll("thead th"), col = -1;
  heads.forEach(function (th, i) { if (th.textContent.indexOf("262 kB") >= 0) { col = i; } });
  heads[col].click();
  out.sorted = Array.prototype.map.call(table.tBodies[0].rows, function (row) { return row.cells[col].dataset.sort; });
  var links = document.querySelectorAll("table.decision a, #scorecard-table a");
  out.links = links.length;
  out.missing = Array.prototype.filter.call(links, function (a) {
    return !document.getElementById(a.getAttribute("href").slice(1));
  }).map(function (a) { return a.getAttribute("href"); });
  var first = Array.prototype.map.call(table.tBodies[0].rows, function (row) { return row.cells[col].querySelector("a"); })
    .filter(function (a) { return a; })[0];
  first.click();
  out.hash = location.hash;
  out.target = document.getElementById(location.hash.slice(1)).textContent.replace(/\\s+/g, " ").trim();
  out.cell = first.textContent;
  document.body.insertAdjacentHTML("beforeend", "<pre id='probe'>" + JSON.stringify(out) + "</pre>");
})();
</script></body>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return write_report(json.loads(FIXTURE.read_text()), tmp_path_factory.mktemp("decisions"))


def test_decision_tables_sort_and_link_to_evidence(page, tmp_path):
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE))
    out = chromium(tmp_path, "--dump-dom", probed.as_uri())
    assert out.exit_code == 0, out.stderr.decode(errors="replace")[-2000:]
    tree = html5lib.parse(out.stdout.decode(), namespaceHTMLElements=False)
    probe = tree.find(".//pre[@id='probe']")
    assert probe is not None, "the probe script did not run"
    seen = json.loads(probe.text)
    assert seen["tables"] == 4  # json-extract, lying, mandelbrot, sha256 in the fixture
    numbers = [float(v) for v in seen["sorted"] if v not in ("", None)]
    assert numbers == sorted(numbers) and len(numbers) >= 3, seen["sorted"]
    assert seen["links"] > 10 and seen["missing"] == []
    assert re.fullmatch(r"#rec-\d+", seen["hash"])
    # a throughput cell's link lands on that throughput record's evidence row, same figure
    assert "throughput" in seen["target"] and seen["cell"] in seen["target"], (seen["cell"], seen["target"])
