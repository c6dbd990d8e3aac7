"""The report in a real browser: headless Chromium (Debian's `chromium`) opens the page from
a file, with no network, takes a screenshot into reports/, and runs the inline sort script."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import html5lib
import pytest

from harness.process import run_process
from harness.report import write_report

FIXTURE = Path(__file__).parent / "data" / "report" / "results.json"
REPORTS = Path(__file__).resolve().parent.parent / "reports"
SCREENSHOT = REPORTS / "report-screenshot.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")


def chromium(tmp_path: Path, *args: str):
    """Run headless Chromium with its own profile and no network; the test fails on a hang."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--proxy-server=127.0.0.1:9", f"--user-data-dir={tmp_path / 'profile'}", *args]
    out = run_process(cmd, b"", timeout_s=120)
    assert not out.timed_out, "chromium did not finish in 120 s"
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return write_report(json.loads(FIXTURE.read_text()), tmp_path_factory.mktemp("browser"))


def test_screenshot_of_the_report(page, tmp_path):
    REPORTS.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    out = chromium(tmp_path, "--window-size=1400,2600", f"--screenshot={SCREENSHOT}", page.as_uri())
    assert out.exit_code == 0, out.stderr.decode(errors="replace")[-2000:]
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page compresses far smaller


def test_sort_script_sorts_numbers_by_value(page, tmp_path):
    """Click the value header of SPEED-1's records (9.13, 155, 22.2): numeric order, not text order."""
    clicked = page.with_name("clicked.html")
    clicked.write_text(page.read_text().replace("</body>", (
        "<script>document.querySelector('table.evidence').querySelectorAll('thead th')[5].click();</script></body>")))
    out = chromium(tmp_path, "--dump-dom", clicked.as_uri())
    assert out.exit_code == 0, out.stderr.decode(errors="replace")[-2000:]
    tree = html5lib.parse(out.stdout.decode(), namespaceHTMLElements=False)
    table = next(t for t in tree.iter("table") if "evidence" in (t.get("class") or "").split())
    values = [float(td.get("data-sort")) for td in table.iter("td") if td.get("data-sort") not in (None, "")]
    assert values == sorted(values) and len(values) == 3, values
