"""The claim registry (claims.yaml) and the rules that turn evidence records into verdicts.

A verdict is computed, never written: each claim names one rule and its parameters; the
rule reads the records for that claim and returns a word and a summary with the deciding
figures. A claim with no usable records is `not-tested`, and the summary says why.
"""

from __future__ import annotations

import functools
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

VERDICTS = ("supported", "partly-supported", "refuted", "not-tested")
CLAIMS_FILE = Path(__file__).with_name("claims.yaml")


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    suite: str
    rule: dict
    note: str = ""


@dataclass
class Verdict:
    claim: Claim
    verdict: str
    summary: str
    figures: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.claim.id, "title": self.claim.title, "note": self.claim.note, "suite": self.claim.suite,
                "rule": self.claim.rule, "verdict": self.verdict, "summary": self.summary, "figures": self.figures}


@functools.cache
def registry() -> tuple[Claim, ...]:
    data = yaml.safe_load(CLAIMS_FILE.read_text())
    return tuple(Claim(d["id"], d["title"], d["suite"], d["rule"], d.get("note", "")) for d in data)


def claim_ids() -> list[str]:
    return [c.id for c in registry()]


def _fmt(x: float) -> str:
    if x == 0 or 0.01 <= abs(x) < 10000:
        return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return f"{x:.3g}"


def _where(rec: dict) -> str:
    bits = [rec.get("workload"), rec.get("form"), rec.get("runtime"), rec.get("arch")]
    return " / ".join(str(b) for b in bits if b)


def _usable(records: list[dict], metric: str) -> list[dict]:
    return [r for r in records if r.get("metric") == metric and isinstance(r.get("value"), (int, float))
            and r.get("outcome") != "inconclusive"]


def _spread(recs: list[dict]) -> dict:
    vals = [float(r["value"]) for r in recs]
    return {"n": len(vals), "min": min(vals), "median": statistics.median(vals), "max": max(vals)}


def rule_threshold(records, metric, threshold, above=True, unit_word="x"):
    """supported if every value is past the threshold, refuted if none is, else partly."""
    recs = _usable(records, metric)
    if not recs:
        return None
    passed = [r for r in recs if (r["value"] > threshold if above else r["value"] < threshold)]
    fig = _spread(recs)
    word = "supported" if len(passed) == len(recs) else "refuted" if not passed else "partly-supported"
    low = min(recs, key=lambda r: r["value"])
    high = max(recs, key=lambda r: r["value"])
    rel = ">" if above else "<"
    summary = (f"{len(passed)} of {len(recs)} measurements {rel} {_fmt(threshold)}{unit_word}; median {_fmt(fig['median'])}{unit_word}, "
               f"range {_fmt(fig['min'])}{unit_word} ({_where(low)}) to {_fmt(fig['max'])}{unit_word} ({_where(high)})")
    return word, summary, fig


def rule_all_above(records, metric, threshold, findings: tuple[str, ...] = ()):
    """`findings`: detail keys that name each record below the threshold in the summary
    (with its runtime's engine, mode and version), e.g. which limit which engine missed."""
    result = rule_threshold(records, metric, threshold, above=True)
    if result is None or not findings:
        return result
    failed = [r for r in _usable(records, metric) if not r["value"] > threshold]
    return (result[0], result[1] + _findings(failed, findings), result[2]) if failed else result


def _findings(failed: list[dict], keys) -> str:
    """'; findings: wasmi 2.0.0 (wasmi interp): stack: ...; ...' one per distinct finding."""
    seen = []
    for r in failed:
        d = r.get("details") or {}
        who = " ".join(str(x) for x in (r.get("runtime"), d.get("runtime_version")) if x)
        if d.get("engine") and d.get("mode"):
            who += f" ({d['engine']} {d['mode']})"
        seen.append(f"{who}: " + ": ".join(str(d[k]) for k in keys if d.get(k) is not None))
    unique = list(dict.fromkeys(seen))
    more = f"; +{len(unique) - 12} more" if len(unique) > 12 else ""
    return "; findings: " + "; ".join(unique[:12]) + more


def rule_all_below(records, metric, threshold):
    return rule_threshold(records, metric, threshold, above=False)


def rule_any_above(records, metric, threshold):
    recs = _usable(records, metric)
    if not recs:
        return None
    hits = [r for r in recs if r["value"] > threshold]
    word = "supported" if hits else "refuted"
    shown = "; ".join(list(dict.fromkeys(_observation(r) for r in hits))[:4])
    return word, f"{len(hits)} of {len(recs)} observations show it{': ' + shown if shown else ''}", _spread(recs)


def _observation(record: dict) -> str:
    """Where a record was made and, when the test said, how (e.g. 'started on aarch64')."""
    details = record.get("details") or {}
    how = details.get("how") or details.get("kind")
    started_on = details.get("started_on")
    extra = ", ".join(x for x in (f"started on {started_on}" if started_on else "", how or "") if x)
    return f"{_where(record)} ({extra})" if extra else _where(record)


def rule_ratio_vs_claim(records, metric, claimed):
    """Compare the largest measured ratio with the claimed one."""
    recs = _usable(records, metric)
    if not recs:
        return None
    fig = _spread(recs)
    top = max(recs, key=lambda r: r["value"])
    measured = float(top["value"])
    if measured >= claimed / 2:
        word = "supported"
    elif measured > 1.0:
        word = "partly-supported"
    else:
        word = "refuted"
    fig["claimed"] = claimed
    summary = (f"claimed {claimed:,}x; measured at most {_fmt(measured)}x ({_where(top)}), median {_fmt(fig['median'])}x "
               f"over {fig['n']} comparisons: {claimed / measured:,.0f} times short of the claim" if measured < claimed
               else f"claimed {claimed:,}x; measured up to {_fmt(measured)}x ({_where(top)})")
    return word, summary, fig


def rule_no_escapes(records, metric, group_by="runtime", exclude_forms=()):
    """Value 1 is a violation (escape, mismatch, corruption). Grouped so the summary says
    which runtimes held and which did not. Records of `exclude_forms` (e.g. native positive
    controls) do not decide the verdict; the summary says how many of them escaped."""
    controls = [r for r in _usable(records, metric) if r.get("form") in exclude_forms]
    recs = [r for r in _usable(records, metric) if r.get("form") not in exclude_forms]
    if not recs:
        return None
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[str(r.get(group_by) or r.get("form") or "-")].append(r)
    bad = {g: [r for r in rs if r["value"] >= 1] for g, rs in groups.items()}
    held = sorted(g for g, b in bad.items() if not b)
    failed = sorted(g for g, b in bad.items() if b)
    word = "supported" if not failed else "refuted" if not held else "partly-supported"
    n_bad = sum(len(b) for b in bad.values())
    summary = f"{n_bad} violations in {len(recs)} observations"
    if held:
        summary += f"; held: {', '.join(held)}"
    if failed:
        first = bad[failed[0]][0]
        summary += f"; violated: {', '.join(failed)} (e.g. {_where(first)}: {first.get('details', {}).get('probe', first.get('test', ''))})"
    figures = {"n": len(recs), "violations": n_bad, "held": held, "violated": failed}
    if controls:
        escaped = sum(1 for r in controls if r["value"] >= 1)
        summary += f"; positive controls ({', '.join(sorted(set(exclude_forms)))}): {escaped} of {len(controls)} escaped"
        figures["controls"], figures["controls_escaped"] = len(controls), escaped
    return word, summary, figures


def rule_contrast(records, metric, expect_low, expect_high):
    """A metric that should be low for one form (native) and high for another (wasm)."""
    recs = _usable(records, metric)
    low = [r for r in recs if r.get("form") == expect_low]
    high = [r for r in recs if r.get("form") == expect_high]
    if not low or not high:
        return None
    low_hits = [r for r in low if r["value"] < 0.5]
    high_ok = all(r["value"] >= 0.5 for r in high)
    word = ("supported" if low_hits and high_ok else "refuted" if not high_ok else "partly-supported")
    summary = (f"{expect_low}: {metric}=0 in {len(low_hits)} of {len(low)} runs; "
               f"{expect_high}: {metric}=1 in {sum(r['value'] >= 0.5 for r in high)} of {len(high)} runs")
    return word, summary, {"low_hits": len(low_hits), "low_n": len(low), "high_n": len(high)}


RULES = {
    "all_above": rule_all_above,
    "all_below": rule_all_below,
    "any_above": rule_any_above,
    "ratio_vs_claim": rule_ratio_vs_claim,
    "no_escapes": rule_no_escapes,
    "contrast": rule_contrast,
}


def decide(claim: Claim, records: list[dict], not_tested_reason: str, untested: list[str] = ()) -> Verdict:
    """The verdict for one claim from the records that name it. `untested`: skip reasons of
    rows that would have given evidence; a decided verdict names them, so a claim decided on
    CPU rows alone says that the GPU rows were not tested."""
    params = {k: v for k, v in claim.rule.items() if k != "name"}
    mine = [r for r in records if r.get("claim") == claim.id]
    result = RULES[claim.rule["name"]](mine, **params) if mine else None
    if result is None:
        reason = not_tested_reason if not mine else f"{len(mine)} records, none usable for metric {params.get('metric')} ({not_tested_reason})"
        return Verdict(claim, "not-tested", reason)
    word, summary, figures = result
    if untested:
        reasons = sorted(set(untested))
        summary += (f"; not tested here: {len(untested)} rows ({'; '.join(reasons[:2])}"
                    f"{f'; +{len(reasons) - 2} more reasons' if len(reasons) > 2 else ''})")
        figures = {**figures, "untested_rows": len(untested)}
    return Verdict(claim, word, summary, figures)
