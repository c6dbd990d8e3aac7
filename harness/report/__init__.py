"""Renders results.json into the self-contained HTML report, a Markdown summary and the
full records as a downloadable JSON beside the page.

Rendering reads only the results document, so a merged or old results file re-renders
without running anything. The page loads nothing from anywhere: CSS, the sort script and
the SVG charts are inline, minimal inputs are data: URIs (or files beside the page)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import jinja2

from harness.report import charts, model

TEMPLATES = Path(__file__).with_name("templates")
RECORDS_FILE = "records.json"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = charts.fmt
    return env


def _records_by_claim(doc: dict) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for rec in doc.get("records", []):
        grouped[rec.get("claim") or model.NO_CLAIM].append(rec)
    return grouped


def view(doc: dict) -> dict:
    """Everything the page shows, computed once."""
    grouped = _records_by_claim(doc)
    records = doc.get("records", [])
    verdicts = model.verdict_rows(doc, grouped)
    inputs, n_inputs = model.minimal_inputs(records)
    return {
        "doc": doc, "verdicts": verdicts, "colours": model.VERDICT_COLOURS, "meanings": model.VERDICT_MEANING,
        "evidence": {c["id"]: model.evidence_table(grouped.get(c["id"], [])) for c in verdicts},
        "harness": model.evidence_table(grouped.get(model.NO_CLAIM, [])),
        "inputs": inputs, "n_inputs": n_inputs,
        "charts": charts.build_charts(records, doc.get("claims", [])),
        "environment": model.environment(doc), "run": model.run_meta(doc), "skips": model.skip_groups(doc.get("skips", [])),
        "n_skip_reasons": len({s.get("reason") for s in doc.get("skips", [])}),
        "records_file": RECORDS_FILE, "suites": (doc.get("run") or {}).get("suites") or [], "merged": bool(any(v["machines"] for v in verdicts)),
        "counts": {w: sum(1 for v in verdicts if v["verdict"] == w) for w in model.VERDICT_COLOURS},
    }


def render_html(doc: dict, v: dict | None = None) -> str:
    return _env().get_template("index.html.j2").render(**(v or view(doc)))


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict, v: dict | None = None) -> str:
    """The verdict matrix as Markdown, for CI to post."""
    v = v or view(doc)
    lines = ["| claim | verdict | why (deciding figures) | tested on |", "|---|---|---|---|"]
    for c in v["verdicts"]:
        why = c["summary"] + (f" — to enable: {c['enable']}" if c["enable"] else "")
        tested = "; ".join(x for x in (", ".join(c["forms"]), ", ".join(c["runtimes"]), ", ".join(c["arches"])) if x) or "–"
        lines.append(f"| {c['id']} | **{c['verdict']}** | {_md(why)} | {_md(tested)} |")
    counts = ", ".join(f"{n} {w}" for w, n in v["counts"].items() if n)
    return f"# wasm-claims verdicts\n\n{counts}.\n\n" + "\n".join(lines) + "\n"


def write_report(doc: dict, out_dir: Path) -> Path:
    """Write index.html, summary.md, records.json (every record) and any minimal input too
    big to inline into out_dir; returns the HTML path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v = view(doc)
    (out_dir / RECORDS_FILE).write_text(json.dumps(doc.get("records", []), separators=(",", ":"), default=str))
    for item in v["inputs"]:
        if not item.href.startswith("data:"):
            path = out_dir / item.href
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
    html = out_dir / "index.html"
    html.write_text(render_html(doc, v))
    (out_dir / "summary.md").write_text(render_markdown(doc, v))
    return html
