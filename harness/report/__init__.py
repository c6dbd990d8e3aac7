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

from harness.report import charts, decisions, model

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
        if rec.get("suite") != decisions.POLICY_SUITE:  # policy outcomes have their own section
            grouped[rec.get("claim") or model.NO_CLAIM].append(rec)
    return grouped


def _decision_view(doc: dict) -> dict:
    """Per-workload tables and the runtime scorecard, with the records their cells cite."""
    records = doc.get("records", [])
    facts = decisions.Facts(records, decisions.env_runtimes(doc))
    every, n_workloads = decisions.workload_tables(facts, limit=max(decisions.MAX_WORKLOADS, decisions.MAX_WORKLOADS_MD))
    tables = every[:decisions.MAX_WORKLOADS]
    score = decisions.scorecard(facts)
    cells = [c for t in tables for row in t.rows for c in row["cells"].values()] + [c for e in score for c in e["cells"].values()]
    return {"tables": tables, "every_table": every, "n_workloads": n_workloads, "scorecard": score, "score_columns": decisions.SCORE_COLUMNS,
            "rules": decisions.RULES, "cells": cells, "cited": {c.rec for c in cells if c.rec is not None},
            "policy": decisions.policy_rows(records), "max_workloads": decisions.MAX_WORKLOADS}


def _link_cells(decide: dict, tables: list[dict]) -> None:
    """Point each decision cell at its record's evidence row when that row is on the page."""
    shown = {row["anchor"] for t in tables for row in t["rows"]}
    for c in decide["cells"]:
        if c.rec is not None and f"rec-{c.rec}" in shown:
            c.href = f"#rec-{c.rec}"
        elif c.rec is not None:
            c.title = f"{c.title} (record {c.rec} in {RECORDS_FILE})".strip()
    for t in decide["tables"]:
        for line in t.lines:
            line["href"] = f"#rec-{line['rec']}" if line["rec"] is not None and f"rec-{line['rec']}" in shown else ""


def view(doc: dict) -> dict:
    """Everything the page shows, computed once."""
    grouped = _records_by_claim(doc)
    records = doc.get("records", [])
    verdicts = model.verdict_rows(doc, grouped)
    inputs, n_inputs = model.minimal_inputs(records)
    decide = _decision_view(doc)
    index = {id(r): i for i, r in enumerate(records)}
    evidence = {c["id"]: model.evidence_table(grouped.get(c["id"], []), index=index, cited=decide["cited"]) for c in verdicts}
    harness_table = model.evidence_table(grouped.get(model.NO_CLAIM, []), index=index, cited=decide["cited"])
    _link_cells(decide, [*evidence.values(), harness_table])
    return {
        "doc": doc, "verdicts": verdicts, "colours": model.VERDICT_COLOURS, "meanings": model.VERDICT_MEANING,
        "evidence": evidence, "harness": harness_table, "decide": decide,
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
        lines.append(f"| {c['id']} | **{c['label']}** | {_md(why)} | {_md(tested)} |")
    counts = ", ".join(f"{n} {w}" for w, n in v["counts"].items() if n)
    return (f"# wasm-claims verdicts\n\n{counts}.\n\n" + "\n".join(lines) + "\n"
            + _markdown_policy(v["decide"]["policy"]) + _markdown_decisions(v["decide"]))


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(map(_md, head)) + " |", "|" + "---|" * len(head), *("| " + " | ".join(map(_md, r)) + " |" for r in rows)]


def _markdown_policy(rows: list[dict]) -> str:
    if not rows:
        return ""
    lines = _md_table(["rule", "status", "requires", "measured"],
                      [[p["rule"], f"**{p['status']}**", p["expected"], p["measured"]] for p in rows])
    return "\n## Policy gate\n\n" + "\n".join(lines) + "\n"


def _markdown_decisions(decide: dict) -> str:
    """The workloads' decision tables (more than the page shows) and the scorecard."""
    tables, score = decide["every_table"][:decisions.MAX_WORKLOADS_MD], decide["scorecard"]
    out = ["", "## Decisions per workload", "", decisions.RULES["passed"].capitalize() + "; *not tested* = no record in this run."]
    if decide["n_workloads"] > len(tables):
        out += ["", f"The first {len(tables)} of {decide['n_workloads']} workloads by name; every record is in records.json."]
    for t in tables:
        out += ["", f"### {t.workload}", ""]
        out += [f"- **{line['what']}** that passed: {line['text']} (rule: {line['rule']})" for line in t.lines]
        head = ["form · engine@mode version", *[f"runs/s @ {s}" for s in t.sizes], "cold start (s)", "peak RSS", "size to ship",
                "parity", "security"]
        out += ["", *_md_table(head, [[row["label"], *(c.text for c in row["cells"].values())] for row in t.rows])]
    if score:
        out += ["", "## Runtime scorecard", "",
                *_md_table(["engine@mode version", *decisions.SCORE_COLUMNS],
                           [[e["label"], *(e["cells"][c].text for c in decisions.SCORE_COLUMNS)] for e in score])]
    return "\n".join(out) + "\n"


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
