"""The report's view model: everything the template shows, computed from the results
document alone and summarised so that a 20,000-record run still gives a small page (the
full records go to a JSON file beside it)."""

from __future__ import annotations

import base64
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness import judgement
from harness.report.charts import details_of, fmt, is_emulated, number

VERDICT_COLOURS = {"supported": "#1a7f37", "partly-supported": "#9a6700", "refuted": "#cf222e", "not-tested": "#6e7781",
                   "inconclusive": "#8250df"}
VERDICT_MEANING = {
    "supported": "every measurement backs the claim",
    "partly-supported": "some measurements back it, others do not (or it holds only in part)",
    "refuted": "the measurements contradict the claim",
    "not-tested": "no usable measurement here; the row says why and what would enable it",
    "inconclusive": "the measured interval (min-max over the repeats) contains the claim's threshold: noise decides it",
}
MAX_ROWS_PER_CLAIM = 200
MAX_INPUTS = 100  # failing inputs listed on the page; every one stays in the records JSON
MAX_INLINE_INPUT = 32 * 1024  # minimal inputs larger than this go to a file beside the page
BAD_OUTCOMES = {"escaped", "host-crashed", "differs", "failed", "corrupted", "mismatch", "error"}
NO_CLAIM = "(harness)"
DETAIL_KEYS = ("variant", "kind", "probe", "limit", "input_bytes", "source", "reason")


@dataclass
class MinimalInput:
    """A failing input Hypothesis shrank to, shown as hex or text and downloadable."""

    where: str
    claim: str
    metric: str
    outcome: str
    size: int
    hex: str
    text: str | None
    filename: str
    href: str
    data: bytes = field(repr=False, default=b"")


def _str(v) -> str:
    return "" if v is None else str(v)


def _tested_on(recs: list[dict], key: str) -> list[str]:
    return sorted({str(r[key]) for r in recs if r.get(key)})


def enable_hint(claim: dict, skip_reasons: list[str]) -> str:
    """What would turn a not-tested row into a verdict, from the skip reasons' convention
    "<what is missing> (<what would enable it>)" or the suite state."""
    hints = []
    for reason in skip_reasons:
        m = re.search(r"\(([^()]*)\)\s*$", reason)
        hint = m.group(1).strip() if m and " " in m.group(1).strip() else ""  # "(workload)" names, it does not enable
        if not hint and "empty parameter set" in reason:  # pytest's own words when a selection leaves a test nothing
            hint = "select a workload, form or arch this test applies to (--only-workloads, --form, --arch)"
        if hint and hint not in hints:
            hints.append(hint)
    if hints:
        return "; ".join(hints[:3])
    summary, suite = claim.get("summary", ""), claim.get("suite", "")
    if "not implemented" in summary:
        return f"implement the {suite} suite (suites/{suite}/test_*.py)"
    if "was not run" in summary:
        return f"run pytest --suite {suite}"
    if "recorded no evidence" in summary or "none usable" in summary:
        return f"the {suite} suite needs a test marked @pytest.mark.claim(\"{claim.get('id')}\") recording `{claim.get('rule', {}).get('metric')}`"
    return f"provide what the skip reason names, then re-run pytest --suite {suite}"


def exercised(recs: list[dict], top: int = 8) -> list[dict]:
    """Per row, what the generated probes drew (their records' `details.coverage`: instruction
    families and opcodes with counts) and what they did not draw there and why (`details.not_drawn`:
    a family the row cannot run), so a reader sees what a "held" rests on."""
    rows: dict[str, dict] = {}
    for r in recs:
        cov = details_of(r).get("coverage")
        if not isinstance(cov, dict):
            continue
        row = rows.setdefault(judgement.row_of(r), {"families": Counter(), "opcodes": Counter(), "not_drawn": {}})
        for key in ("families", "opcodes"):
            row[key].update({str(k): int(n) for k, n in (cov.get(key) or {}).items() if isinstance(n, (int, float))})
        not_drawn = details_of(r).get("not_drawn")
        row["not_drawn"].update({str(k): str(v) for k, v in (not_drawn.items() if isinstance(not_drawn, dict) else ())})
    return [{"row": name, "families": dict(c["families"].most_common()), "opcodes": len(c["opcodes"]),
             "top": dict(c["opcodes"].most_common(top)), "not_drawn": c["not_drawn"]} for name, c in sorted(rows.items())]


def verdict_rows(doc: dict, grouped: dict[str, list[dict]]) -> list[dict]:
    rows = []
    for c in doc.get("claims", []):
        recs = grouped.get(c["id"], [])
        reasons = sorted({s.get("reason", "") for s in doc.get("skips", []) if s.get("claim") == c["id"]})
        rule = c.get("rule") if isinstance(c.get("rule"), dict) else {}
        params = ", ".join(f"{k} {v}" for k, v in rule.items() if k not in ("name", "metric"))
        rows.append({
            "title": "", "note": "", "summary": "", "suite": "", **c,
            "rule_text": f"rule {rule.get('name', '?')} on metric {rule.get('metric', '?')}" + (f", {params}" if params else ""),
            "colour": VERDICT_COLOURS.get(c["verdict"], "#6e7781"),
            "label": c.get("label") or c["verdict"], "coverage": c.get("coverage") or {},
            "partial": bool((c.get("coverage") or {}).get("partial")), "exercised": exercised(recs),
            "forms": _tested_on(recs, "form"), "runtimes": _tested_on(recs, "runtime"),
            "arches": _tested_on(recs, "arch"), "machines": _tested_on(recs, "machine"),
            "emulated": sorted({str(r.get("arch")) for r in recs if is_emulated(r)}),
            "n_records": len(recs), "skip_reasons": reasons,
            "enable": enable_hint(c, reasons) if c["verdict"] == "not-tested" else "",
        })
    return rows


def _is_bad(r: dict) -> bool:
    d = details_of(r)
    return (str(r.get("outcome")) in BAD_OUTCOMES or bool(d.get("minimal_input_hex")) or bool(d.get("minimal_input_text"))
            or (r.get("unit") == "bool" and str(r.get("metric")).endswith(("mismatch", "escape", "corrupted")) and r.get("value") == 1))


def _detail_text(r: dict) -> str:
    d = details_of(r)
    bits = [f"{k}={d[k]}" for k in DETAIL_KEYS if d.get(k) not in (None, "")]
    lo, hi = number(d.get("min")), number(d.get("max"))
    if lo is not None and hi is not None:
        bits.append(f"range {fmt(lo)}–{fmt(hi)}")
    if is_emulated(r):
        bits.append("under qemu")
    if d.get("examples"):
        bits.append(f"{d['examples']} examples")
    return "; ".join(bits)


def _row(r: dict, index: int | None = None) -> dict:
    v = r.get("value")
    return {"anchor": f"rec-{index}" if index is not None else "", "workload": _str(r.get("workload")), "form": _str(r.get("form")), "runtime": _str(r.get("runtime")),
            "arch": _str(r.get("arch")), "machine": _str(r.get("machine")), "metric": _str(r.get("metric")),
            "value": fmt(v) if isinstance(v, float) else _str(v) if v is not None else "–",
            "sort": v if number(v) is not None else "", "unit": _str(r.get("unit")), "outcome": _str(r.get("outcome")),
            "detail": _detail_text(r), "test": _str(r.get("test")), "bad": _is_bad(r)}


def metric_summary(recs: list[dict]) -> list[dict]:
    """Per metric: how many records, spread of values, and outcome counts: the whole set in a few rows."""
    by_metric: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in recs:
        by_metric[(_str(r.get("metric")), _str(r.get("unit")))].append(r)
    out = []
    for (metric, unit), rs in sorted(by_metric.items()):
        vals = [v for v in (number(r.get("value")) for r in rs) if v is not None]
        outcomes = Counter(_str(r.get("outcome")) for r in rs if r.get("outcome"))
        out.append({"metric": metric, "unit": unit, "n": len(rs),
                    "min": fmt(min(vals)) if vals else "–", "median": fmt(statistics.median(vals)) if vals else "–",
                    "max": fmt(max(vals)) if vals else "–",
                    "outcomes": ", ".join(f"{k} {n}" for k, n in outcomes.most_common(6)) or "–",
                    "workloads": len({r.get("workload") for r in rs if r.get("workload")})})
    return out


def evidence_table(recs: list[dict], limit: int = MAX_ROWS_PER_CLAIM, index: dict[int, int] | None = None,
                   cited: set[int] = frozenset()) -> dict:
    """The rows to show: failures first, then those the decision tables cite (by record
    index, so their links land on a row), then in a stable order, capped at `limit`.
    `index` maps id(record) -> its position in the results, which names the row's anchor."""
    index = index or {}
    key = lambda r: (not _is_bad(r), index.get(id(r)) not in cited, _str(r.get("metric")), _str(r.get("workload")), _str(r.get("form")),  # noqa: E731
                     _str(r.get("runtime")), _str(r.get("arch")), _str(r.get("machine")))
    shown = sorted(recs, key=key)[:limit]
    return {"rows": [_row(r, index.get(id(r))) for r in shown], "total": len(recs), "shown": len(shown),
            "summary": metric_summary(recs), "merged": any(r.get("machine") for r in recs)}


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(ch.isprintable() or ch in "\n\t\r" for ch in text) else None


def _has_input(r: dict) -> bool:
    d = details_of(r)
    return bool(d.get("minimal_input_hex") or d.get("minimal_input_text"))


def minimal_inputs(records: list[dict]) -> tuple[list[MinimalInput], int]:
    """The shrunk failing inputs in the records (details.minimal_input_hex or _text): the
    first MAX_INPUTS, claims' before the harness checks', and how many there are in all."""
    failing = sorted((r for r in records if _has_input(r)), key=lambda r: not r.get("claim"))
    out = []
    for r in failing[:MAX_INPUTS]:
        d = details_of(r)
        hexed, text = d.get("minimal_input_hex"), d.get("minimal_input_text")
        try:
            data = bytes.fromhex(hexed) if hexed else str(text).encode("utf-8")
        except ValueError:
            data = str(hexed).encode()
        where = " / ".join(str(r[k]) for k in ("workload", "form", "runtime", "arch", "machine") if r.get(k))
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"minimal-{len(out) + 1}-{r.get('workload') or 'input'}") + ".bin"
        href = (f"data:application/octet-stream;base64,{base64.b64encode(data).decode()}" if len(data) <= MAX_INLINE_INPUT
                else f"minimal-inputs/{name}")
        out.append(MinimalInput(where, _str(r.get("claim")) or NO_CLAIM, _str(r.get("metric")), _str(r.get("outcome")), len(data),
                                data[:512].hex(" "), _as_text(data[:2048]), name, href, data))
    return out, len(failing)


# ---------------------------------------------------------------- environment and run

ENV_ROWS = (
    ("machine", "Machine"), ("arch", "Architecture"), ("cpu", "CPU"), ("cores", "Cores"), ("governor", "CPU governor"),
    ("kernel", "Kernel"), ("os", "OS"), ("python", "Python"), ("zig", "Compiler (zig cc)"), ("rustc", "Compiler (rustc)"),
    ("runtimes", "Wasm runtime"), ("docker", "Docker engine"), ("docker_image", "Container image"), ("qemu", "qemu-user"),
    ("gpu", "GPU"), ("harness_version", "Harness version"), ("git_commit", "Git commit"),
)


def _flatten(env: dict) -> dict[str, str]:
    """Environment as label -> text; nested dicts (runtimes, qemu) become one row per entry."""
    labels = dict(ENV_ROWS)
    flat = {}
    for key in [k for k, _ in ENV_ROWS if k in env] + sorted(k for k in env if k not in labels):
        value, label = env[key], labels.get(key, key.replace("_", " "))
        if isinstance(value, dict):
            for sub, v in value.items():
                flat[f"{label}: {sub}"] = _str(v) if not isinstance(v, (dict, list)) else ", ".join(f"{a}={b}" for a, b in (v.items() if isinstance(v, dict) else enumerate(v)))
        elif isinstance(value, list):
            flat[label] = ", ".join(map(str, value))
        else:
            flat[label] = _str(value)
    return flat


def container_images(records: list[dict]) -> list[str]:
    """Image tags and digests the records measured (image_bytes details), for the environment."""
    seen = []
    for r in records:
        d = details_of(r)
        ident = d.get("image_id") or d.get("digest")
        if r.get("metric") == "image_bytes" and ident:
            text = f"{d.get('tag') or d.get('image') or d.get('kind')}: {ident}"
            if text not in seen:
                seen.append(text)
    return seen


def environment(doc: dict) -> dict:
    """One column per machine (merged reports) or a single column."""
    env = doc.get("environment") or {}
    machines = env["machines"] if isinstance(env.get("machines"), dict) else {env.get("machine", "this machine"): env}
    flat = {name: _flatten(e if isinstance(e, dict) else {}) for name, e in machines.items()}
    labels: list[str] = []
    for f in flat.values():
        labels += [k for k in f if k not in labels]
    rows = [{"label": label, "cells": [flat[m].get(label, "–") for m in flat]} for label in labels]
    images = container_images(doc.get("records", []))
    return {"columns": list(flat), "rows": rows, "images": images}


def run_meta(doc: dict) -> list[tuple[str, str]]:
    """When, how long, what ran, with which Hypothesis settings, from which harness."""
    run, env, recs = doc.get("run") or {}, doc.get("environment") or {}, doc.get("records") or []
    hyp = run.get("hypothesis") or {}
    envs = env["machines"].values() if isinstance(env.get("machines"), dict) else [env]
    examples = sum(int(details_of(r).get("examples") or 0) for r in recs if isinstance(details_of(r).get("examples"), int))
    items = [
        ("Started", _str(run.get("started")) or "–"), ("Finished", _str(run.get("finished")) or "–"),
        ("Duration", f"{run['duration_s']:.1f} s" if isinstance(run.get("duration_s"), (int, float)) else "–"),
        ("Suites", ", ".join(run.get("suites") or []) or "none"),
        ("Workloads", ", ".join(run.get("workloads") or []) or "–"),
        ("Selection", "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                for k, v in (run.get("selection") or {}).items() if v) or "every form, runtime and arch available"),
        ("Tests", ", ".join(f"{k} {v}" for k, v in (run.get("tests") or {}).items()) or "–"),
        ("Hypothesis profile", _str(hyp.get("profile")) or "–"),
        ("Hypothesis seed", _str(hyp.get("seed")) if hyp.get("seed") is not None else "random (not fixed)" if hyp else "–"),
        ("Hypothesis max examples per test", _str(hyp.get("max_examples")) or "–"),
        ("Examples run (sum recorded in evidence)", str(examples) if examples else "–"),
        ("Records / skips", f"{len(recs)} / {len(doc.get('skips') or [])}"),
        ("Harness version", ", ".join(sorted({_str(e.get('harness_version')) for e in envs if isinstance(e, dict)})) or "–"),
        ("Git commit", ", ".join(sorted({_str(e.get('git_commit')) for e in envs if isinstance(e, dict)})) or "–"),
        ("Results schema", _str(doc.get("schema"))),
    ]
    if run.get("merged_from"):
        items.append(("Merged from", ", ".join(run["merged_from"])))
    if run.get("shard"):
        items.append(("Shard", _str(run["shard"])))
    if run.get("shards"):
        items.append(("Shards merged", "; ".join(f"{m}: {', '.join(s)}" for m, s in run["shards"].items())))
    if isinstance(run.get("parallel"), dict):
        par = run["parallel"]
        items.append(("Parallel", f"{par.get('workers')} pytest-xdist workers ({par.get('dist')}); "
                                  f"{par.get('exclusive_tests')} tests ran alone: {par.get('isolation')}"))
    emulated = sorted({_str(e.get("emulated")) for e in envs if isinstance(e, dict) and e.get("emulated")})
    if emulated:
        items.append(("Harness emulated", ", ".join(emulated)))
    if "exit_status" in run:
        items.append(("pytest exit status", _str(run["exit_status"])))
    return items


MAX_SKIP_GROUPS = 100


def skip_groups(skips: list[dict]) -> list[dict]:
    """Skips grouped by reason (a big run repeats the same reason hundreds of times), the
    most frequent MAX_SKIP_GROUPS reasons; the rest stay in results.json."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in skips:
        groups[_str(s.get("reason"))].append(s)
    return [{"reason": reason, "count": len(ss), "claims": sorted({_str(s.get("claim")) for s in ss if s.get("claim")}),
             "machines": sorted({_str(s.get("machine")) for s in ss if s.get("machine")}), "example": _str(ss[0].get("test"))}
            for reason, ss in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_SKIP_GROUPS]]
