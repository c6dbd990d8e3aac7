"""Renders results.json into the self-contained HTML report and a Markdown summary.

Rendering reads only the results document, so a merged or old results file re-renders
without running anything."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")
VERDICT_COLOURS = {"supported": "#1a7f37", "partly-supported": "#9a6700", "refuted": "#cf222e", "not-tested": "#6e7781"}
MAX_ROWS_PER_CLAIM = 400


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: (f"{v:.4g}" if isinstance(v, float) else str(v)) if v is not None else "–"
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str)
    return env


def _records_by_claim(results: dict) -> dict:
    grouped = defaultdict(list)
    for rec in results["records"]:
        grouped[rec.get("claim") or "(harness)"].append(rec)
    return grouped


def _forms_tested(records: list[dict]) -> str:
    seen = sorted({"/".join(str(x) for x in (r.get("form"), r.get("runtime"), r.get("arch")) if x) for r in records})
    return ", ".join(seen[:8]) + (f" (+{len(seen) - 8})" if len(seen) > 8 else "")


def render_html(results: dict) -> str:
    grouped = _records_by_claim(results)
    outcomes = Counter(r.get("outcome") or "-" for r in results["records"])
    return _env().get_template("index.html.j2").render(
        results=results, grouped=grouped, colours=VERDICT_COLOURS, max_rows=MAX_ROWS_PER_CLAIM,
        forms_tested=_forms_tested, outcomes=outcomes,
    )


def render_markdown(results: dict) -> str:
    lines = ["| claim | verdict | summary |", "|---|---|---|"]
    for c in results["claims"]:
        summary = c["summary"].replace("|", "\\|")
        lines.append(f"| {c['id']} | **{c['verdict']}** | {summary} |")
    return "# wasm-claims verdicts\n\n" + "\n".join(lines) + "\n"


def write_report(results: dict, out_dir: Path) -> Path:
    """Write index.html and summary.md into out_dir; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / "index.html"
    html.write_text(render_html(results))
    (out_dir / "summary.md").write_text(render_markdown(results))
    return html
