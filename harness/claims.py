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

from harness import judgement

VERDICTS = ("supported", "partly-supported", "refuted", "inconclusive", "not-tested")
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
    coverage: dict = field(default_factory=dict)  # judgement.Coverage.to_dict(): rows tested and why the others were not
    label: str = ""  # the word as shown, with its coverage when partial: "supported (1 of 3 rows; 2 not-tested)"

    def to_dict(self) -> dict:
        return {"id": self.claim.id, "title": self.claim.title, "note": self.claim.note, "suite": self.claim.suite,
                "rule": self.claim.rule, "verdict": self.verdict, "label": self.label or self.verdict,
                "coverage": self.coverage, "summary": self.summary, "figures": self.figures}


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
    """The decided records of a metric (judgement.decided: not inconclusive, not tested or a harness error)."""
    return [r for r in records if r.get("metric") == metric and judgement.decided(r)]


def _spread(recs: list[dict]) -> dict:
    vals = [float(r["value"]) for r in recs]
    return {"n": len(vals), "min": min(vals), "median": statistics.median(vals), "max": max(vals)}


def interval(rec: dict) -> tuple[float, float]:
    """The range a measured value may take under noise: the min/max spread the record carries
    (ratios: the extremes of the repeats, num.min/den.max .. num.max/den.min), else the value."""
    v = float(rec["value"])
    d = rec.get("details") or {}
    lo, hi = d.get("min"), d.get("max")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return min(float(lo), v), max(float(hi), v)
    return v, v


def _side(rec: dict, threshold: float, above: bool) -> str:
    """'pass' or 'fail' when the whole interval is on one side of the threshold, else 'straddles'."""
    lo, hi = interval(rec)
    if above:
        return "pass" if lo > threshold else "fail" if hi <= threshold else "straddles"
    return "pass" if hi < threshold else "fail" if lo >= threshold else "straddles"


def _word(passed: int, failed: int, straddling: int) -> str:
    """Stable under noise: a row whose interval straddles the threshold decides nothing, so a
    verdict that depends on such rows is `inconclusive` instead of flipping between runs."""
    if passed and failed:
        return "partly-supported"
    if straddling:
        return "inconclusive"
    return "supported" if passed else "refuted"


def rule_threshold(records, metric, threshold, above=True, unit_word="x"):
    """supported if every value's interval is past the threshold, refuted if none is, partly
    if some are and some are not, inconclusive when the straddling rows would decide it."""
    recs = _usable(records, metric)
    if not recs:
        return None
    sides = {id(r): _side(r, threshold, above) for r in recs}
    passed = [r for r in recs if sides[id(r)] == "pass"]
    failed = [r for r in recs if sides[id(r)] == "fail"]
    straddling = [r for r in recs if sides[id(r)] == "straddles"]
    fig = _spread(recs)
    word = _word(len(passed), len(failed), len(straddling))
    low = min(recs, key=lambda r: r["value"])
    high = max(recs, key=lambda r: r["value"])
    rel = ">" if above else "<"
    summary = (f"{len(passed)} of {len(recs)} measurements {rel} {_fmt(threshold)}{unit_word}; median {_fmt(fig['median'])}{unit_word}, "
               f"range {_fmt(fig['min'])}{unit_word} ({_where(low)}) to {_fmt(fig['max'])}{unit_word} ({_where(high)})")
    if straddling:
        lo, hi = interval(straddling[0])
        summary += (f"; {len(straddling)} inconclusive: the measured interval contains {_fmt(threshold)}{unit_word} "
                    f"(e.g. {_fmt(lo)}-{_fmt(hi)}{unit_word}, {_where(straddling[0])})")
    fig["inconclusive"] = len(straddling)
    fig["intervals"] = [{"where": _where(r), "value": r["value"], "interval": list(interval(r)), "side": sides[id(r)]}
                        for r in recs][:50]
    return word, summary, fig


def rule_all_above(records, metric, threshold):
    return rule_threshold(records, metric, threshold, above=True)


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
    """Compare the largest measured ratio (with its interval) with the claimed one: supported
    at half the claim or more, partly when above 1x only, inconclusive when an interval
    contains a boundary the verdict depends on."""
    recs = _usable(records, metric)
    if not recs:
        return None
    fig = _spread(recs)
    top = max(recs, key=lambda r: r["value"])
    measured = float(top["value"])
    best_lo, best_hi = max(interval(r)[0] for r in recs), max(interval(r)[1] for r in recs)
    if best_lo >= claimed / 2:
        word = "supported"
    elif best_hi >= claimed / 2 or best_lo <= 1.0 < best_hi:
        word = "inconclusive"
    else:
        word = "partly-supported" if best_lo > 1.0 else "refuted"
    fig["claimed"] = claimed
    fig["interval"] = [best_lo, best_hi]
    summary = (f"claimed {claimed:,}x; measured at most {_fmt(measured)}x ({_where(top)}), median {_fmt(fig['median'])}x "
               f"over {fig['n']} comparisons: {claimed / measured:,.0f} times short of the claim" if measured < claimed
               else f"claimed {claimed:,}x; measured up to {_fmt(measured)}x ({_where(top)})")
    summary += f"; interval of the largest {_fmt(best_lo)}-{_fmt(best_hi)}x"
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
    listed, shown = _other_findings(recs, metric)
    summary += shown
    figures = {"n": len(recs), "violations": n_bad, "held": held, "violated": failed, "other_findings": len(listed)}
    if controls:
        escaped = sum(1 for r in controls if r["value"] >= 1)
        summary += f"; positive controls ({', '.join(sorted(set(exclude_forms)))}): {escaped} of {len(controls)} escaped"
        figures["controls"], figures["controls_escaped"] = len(controls), escaped
    return word, summary, figures


def _other_findings(records: list[dict], metric: str) -> tuple[list[dict], str]:
    """Findings that decide nothing against a row (a spec deviation, nondeterminism the spec
    permits): the records and the summary text that shows them beside the word."""
    listed = [r for r in records if r.get("metric") == metric and r.get("outcome") in judgement.LISTED]
    if not listed:
        return [], ""
    seen = list(dict.fromkeys(
        f"{judgement.row_of(r)}: {' '.join(str(x) for x in ((r.get('details') or {}).get('probe'), r.get('workload')) if x)} "
        f"{r['outcome']}: {str((r.get('details') or {}).get('reason') or (r.get('details') or {}).get('difference') or '')[:140]}"
        for r in listed))
    return listed, f"; other findings (no effect outside, not against the row): {'; '.join(seen[:6])}" + (
        f"; +{len(seen) - 6} more" if len(seen) > 6 else "")


def rule_sandbox_rows(records, metric, violation_if="high", exclude_forms=(), findings: tuple[str, ...] = ()):
    """Per runtime row (runtime@version and engine configuration): held or violated, with the
    probe and input of the first violation (rows that decided nothing are named by decide()'s
    coverage, with the reason); rows whose version lies in a known advisory's range are
    named even when every probe held. `violation_if`: high (value 1 = escape) or low (0 = a
    limit that did not hold). `findings`: detail keys that name every distinct violation (with its
    engine, mode and version), e.g. which limit which engine missed."""
    mine = [r for r in records if r.get("form") not in exclude_forms]
    usable = [r for r in _usable(mine, metric)]
    controls = [r for r in _usable(records, metric) if r.get("form") in exclude_forms]
    if not usable:
        return None
    bad = (lambda r: r["value"] >= 0.5) if violation_if == "high" else (lambda r: r["value"] < 0.5)
    rows = judgement.coverage([r for r in mine if r.get("metric") == metric], violated=bad)
    violated = defaultdict(list)
    for r in usable:
        if bad(r):
            violated[judgement.row_of(r)].append(r)
    held, failed = rows.of("held"), rows.of("violated")  # a row mostly inconclusive is neither
    if not held and not failed:
        return None
    flagged = sorted({judgement.row_of(r): ", ".join(a["id"] for a in (r.get("details") or {}).get("advisories", []))
                      for r in records if r.get("metric") == "known_advisories" and r.get("value")}.items())
    word = "supported" if not failed else "refuted" if not held else "partly-supported"
    n_bad = sum(len(b) for b in violated.values())
    summary = f"{n_bad} violations in {len(usable)} observations"
    if failed and findings:  # every distinct violation, with its engine, mode and version
        summary += _findings([r for g in failed for r in violated[g]], findings)
    elif failed:
        shown = []
        for g in failed:
            first = violated[g][0]
            d = first.get("details") or {}
            what = d.get("probe") or d.get("limit") or first.get("test", "")
            shown.append(f"{g}: {what} {first.get('outcome') or d.get('outcome', '')}: {str(d.get('reason', ''))[:160]}"
                         + (f" (input: {str(d.get('params'))[:200]})" if d.get("params") else ""))
        summary += f"; violated: {'; '.join(shown)}"
    if held:
        summary += f"; held: {', '.join(held)}"
    listed, shown = _other_findings(mine, metric)
    summary += shown
    if flagged:
        summary += "; in a known advisory's range: " + "; ".join(f"{row} ({ids})" for row, ids in flagged)
    figures = {"n": len(usable), "violations": n_bad, "held": held, "violated": failed, "other_findings": len(listed),
               "advisory_rows": [row for row, _ in flagged]}
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


def require_targets(word: str, summary: str, figures: dict, recs: list[dict], required) -> tuple[str, str, dict]:
    """For a claim about targets (e.g. GPU tensor libraries): the summary names the targets
    (and backends) its records rest on, and a required target without records caps the
    verdict at partly-supported ("GPU not tested")."""
    by_target: dict[str, set] = defaultdict(set)
    for r in recs:
        d = r.get("details") or {}
        by_target[str(d.get("target") or "unspecified")].add(str(d.get("backend") or str(r.get("runtime") or "-").split(":")[0]))
    missing = [t for t in required if t not in by_target]
    head = "targets tested: " + "; ".join(f"{t} ({', '.join(sorted(b))})" for t, b in sorted(by_target.items()))
    if missing:
        head += "; " + ", ".join(f"{t.upper()} not tested" for t in missing)
        if word == "supported":
            word = "partly-supported"
    return word, f"{head}. {summary}", {**figures, "targets_tested": sorted(by_target), "targets_untested": missing}


RULES = {
    "all_above": rule_all_above,
    "all_below": rule_all_below,
    "any_above": rule_any_above,
    "ratio_vs_claim": rule_ratio_vs_claim,
    "no_escapes": rule_no_escapes,
    "contrast": rule_contrast,
    "sandbox_rows": rule_sandbox_rows,
}


def _violated(claim: Claim):
    """The rule's side of one decided record, for judgement.coverage: True (violates), False, None (straddles)."""
    rule = claim.rule
    if rule["name"] in ("all_above", "all_below"):
        above = rule["name"] == "all_above"
        return lambda r: {"pass": False, "fail": True}.get(_side(r, rule["threshold"], above))
    if rule["name"] == "sandbox_rows" and rule.get("violation_if") == "low":
        return lambda r: judgement.number(r["value"]) < 0.5
    return None  # value >= 0.5 violates (escapes, mismatches); for the other rules only "decided" matters


def decide(claim: Claim, records: list[dict], not_tested_reason: str, skips: list[dict] = (),
           errors: list[dict] = ()) -> Verdict:
    """The verdict for one claim from the records that name it, with its coverage: every row the
    run selected (from records, skipped tests and failed tests, `{"row", "reason"}`) is either
    decided or named with why not. A word that rests on fewer rows than were selected is shown
    with its coverage; a claim whose rows all proved nothing is inconclusive, not supported."""
    params = {k: v for k, v in claim.rule.items() if k not in ("name", "require_targets")}
    mine = [r for r in records if r.get("claim") == claim.id]
    cov = judgement.coverage([r for r in mine if r.get("metric") == params.get("metric")], violated=_violated(claim), skips=skips, errors=errors,
                             exclude_forms=tuple(params.get("exclude_forms") or ()))
    result = RULES[claim.rule["name"]](mine, **params) if mine else None
    if result is None:
        if cov.of("inconclusive"):
            return Verdict(claim, "inconclusive", f"no row decided it: {_untested_text(cov)}", {}, cov.to_dict(), "inconclusive")
        reason = not_tested_reason if not mine else f"{len(mine)} records, none decided ({_untested_text(cov)})"
        return Verdict(claim, "not-tested", reason, {}, cov.to_dict(), "not-tested")
    word, summary, figures = result
    if claim.rule.get("require_targets"):
        word, summary, figures = require_targets(word, summary, figures, _usable(mine, params["metric"]),
                                                 claim.rule["require_targets"])
    if cov.untested:
        summary += f"; coverage {cov.text()}: {_untested_text(cov)}"
    return Verdict(claim, word, summary, figures, cov.to_dict(), judgement.qualify(word, cov))


def _untested_text(cov: judgement.Coverage, limit: int = 8) -> str:
    items = list(cov.untested.items())
    more = f"; +{len(items) - limit} more rows" if len(items) > limit else ""
    return "; ".join(f"{row} ({why[:140]})" for row, why in items[:limit]) + more
