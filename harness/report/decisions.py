"""From records to decisions: the per-workload "ship as" table (one row per form x
engine@mode, every cell tied to the record it came from), the rule-based fastest /
smallest / safest line, and the runtime scorecard.

harness.policy gates a run on the same figures (`facts()`), so the page and the gate
cannot disagree. Everything is computed from the records alone; a column whose records
are absent says "not tested", never 0.

Records name their engine as other suites write them: `details.engine`, `details.mode`,
`details.runtime_version`, `details.engine_config` when present (or one level down, in
the forms' own `details.details`), a pinned runtime name such as `wasmtime-py==6.0.0`,
and otherwise the runtime name with the version the environment lists for it."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from harness import judgement
from harness.report.charts import details_of, fmt, fmt_bytes, is_emulated, number

FORM_ORDER = ("native", "wasm", "python-process", "container")
DEFAULT_LANGUAGE = {"native": "c", "wasm": "c", "python-process": "python", "container": "python"}
PARITY_METRICS = {"output_mismatch", "wasm_output_mismatch", "nn_parity_violation", "nn_baseline_parity_violation"}
MAX_WORKLOADS = 60  # decision tables on the page; the policy sees every workload
MAX_WORKLOADS_MD = 200  # in summary.md (CI step summaries are limited to about 1 MB)
NOT_TESTED = "not tested"
SECURITY_CATEGORIES = ("escape", "limit", "advisory", "conformance", "fuzz", "isolation")

RULES = {
    "passed": "a row passed when it has parity records and all of them agree with the reference (the Python process "
              "is the reference), and no security finding is recorded for its engine@version; rows run under qemu are "
              "shown but not ranked",
    "fastest": "highest median runs/s at the largest input size measured for this workload, among rows that passed",
    "smallest": "fewest bytes to ship (the binary; the .wasm plus its runtime; or the container image), among rows that "
                "passed; a .wasm whose runtime's size is not recorded is not ranked",
    "safest": "most security checks held (sandbox probes + resource limits) with none failed, among rows that passed; "
              "rows without probe records are not ranked",
}


# ---------------------------------------------------------------- who ran a record

class Engine(NamedTuple):
    """One runtime row as records name it: runtime name (pinned version stripped), engine
    family and mode when recorded, version, and engine configuration (canonical JSON).
    A tuple: it keys the per-engine indexes, hashed once per record."""

    name: str
    engine: str = ""
    mode: str = ""
    version: str = ""
    config: str = ""

    @property
    def label(self) -> str:
        family = "@".join(x for x in (self.engine, self.mode) if x)
        parts = [self.name, f"({family})" if family and family != self.name else "", self.version,
                 f"[{self.config}]" if self.config else ""]
        return " ".join(p for p in parts if p)

    def matches(self, key: str) -> bool:
        """A policy's engine key: the runtime name, `name==version`, or the engine family."""
        name, _, version = key.partition("==")
        return (name in (self.name, self.engine)) and (not version or version == self.version)


_VERSION = re.compile(r"\d+(?:\.\d+)+[\w.+-]*")


def _field(r: dict, key: str):
    d = details_of(r)
    if d.get(key) not in (None, ""):
        return d[key]
    inner = d.get("details") if isinstance(d.get("details"), dict) else {}
    return inner.get(key)


def _version_text(text) -> str:
    if text in (None, ""):
        return ""
    m = _VERSION.search(str(text))
    return m.group(0) if m else str(text)


def env_runtimes(doc: dict) -> dict[str, dict]:
    """machine key ("" for a single machine) -> runtime name -> version text, from the environment."""
    env = doc.get("environment") or {}
    machines = env["machines"] if isinstance(env.get("machines"), dict) else {"": env}
    out = {}
    for key, e in machines.items():
        rts = e.get("runtimes") if isinstance(e, dict) and isinstance(e.get("runtimes"), dict) else {}
        out[key] = {k: v for k, v in rts.items() if isinstance(v, str) and not v.startswith("not available")}
    return out


def engine_of(r: dict, runtimes: dict[str, dict] | None = None) -> Engine:
    name, _, pinned = str(r.get("runtime") or "").partition("==")
    version = _version_text(_field(r, "runtime_version")) or pinned
    if not version and runtimes:
        known = runtimes.get(r.get("machine") or "", runtimes.get("", {}))
        version = _version_text(known.get(name))
    config = _field(r, "engine_config")  # a named configuration ("default" = none) or its knobs
    if config in (None, "", {}, "default"):
        config_text = ""
    else:
        config_text = config if isinstance(config, str) else json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return Engine(name, str(_field(r, "engine") or ""), str(_field(r, "mode") or ""), version, config_text)


# ---------------------------------------------------------------- what a record says

def category(r: dict) -> str | None:
    m, unit, outcome = str(r.get("metric") or ""), r.get("unit"), str(r.get("outcome") or "")
    if m in ("throughput", "cold_start_s", "peak_rss_kb", "artifact_bytes", "image_bytes"):
        return m
    if m == "escape" or outcome.startswith("out-of-bounds"):
        return "escape"
    if "fuzz" in m or "disagree" in m or _field(r, "probe") == "difffuzz":  # differential fuzzing across engines
        return "fuzz"
    if m == "limit_held":
        return "limit"
    if m == "known_advisories":
        return "advisory"
    if "conformance" in m or "capabilit" in m:
        return "conformance"
    if m in PARITY_METRICS or m.endswith("parity_violation") or (m.endswith("_mismatch") and unit == "bool"):
        return "parity"
    if m == "host_survived":
        return "isolation"
    return None


def counted(r: dict) -> bool:
    """A check that was actually decided (not inconclusive, not tested or a harness error): the
    same judgement claims.py's verdicts use (harness/judgement.py)."""
    return judgement.decided(r)


def is_finding(r: dict) -> bool:
    """A security or correctness check that failed: an escape, an out-of-bounds access, a
    limit not held, a flagged advisory, a host that died, a conformance or fuzzing disagreement."""
    cat, v, outcome = category(r), number(r.get("value")), str(r.get("outcome") or "")
    if not counted(r) or cat is None:
        return False
    if cat == "escape":
        return bool(v) or outcome in ("escaped",) or outcome.startswith("out-of-bounds")
    if cat in ("limit", "isolation"):
        return v == 0
    if cat in ("advisory", "conformance", "fuzz", "parity"):
        return bool(v) or outcome in ("mismatch", "differs", "failed", "disagrees", "disagreement")
    return False


def is_control(r: dict) -> bool:
    """Native probe runs are positive controls: an escape there shows the probe works."""
    return r.get("form") == "native" or _field(r, "role") == "positive-control"


# ---------------------------------------------------------------- cells

@dataclass
class Cell:
    text: str
    sort: float | str = ""
    rec: int | None = None  # index of the record it came from (the anchor rec-N)
    bad: bool = False
    title: str = ""
    href: str = ""  # set by the page when the record's evidence row is on it
    partial: bool = False  # the figure leaves out a part (a runtime whose size is not recorded): not ranked

    @classmethod
    def absent(cls, why: str = "") -> "Cell":
        return cls(NOT_TESTED, "", None, False, why)


@dataclass
class Row:
    key: tuple
    form: str
    language: str
    engine: Engine
    arch: str
    machine: str
    emulated: bool
    recs: dict = field(default_factory=lambda: defaultdict(list))  # category -> [(index, record)]

    def label(self, show_language: bool) -> str:
        what = {"python-process": "Python process", "native": "native"}.get(self.form, self.form)
        if self.form == "container":
            what = "container (Python image)" if self.language == "python" else "container (image of the native binary)"
        bits = [what]
        if self.form == "wasm":
            bits.append(self.engine.label)
        if show_language and self.form != "container":
            bits.append(self.language)
        if self.emulated:
            bits.append(f"{self.arch} (qemu)")
        if self.machine:
            bits.append(f"on {self.machine}")
        return " · ".join(bits)


def _language(r: dict) -> str:
    form = str(r.get("form") or "")
    if form == "container" and (_field(r, "kind") == "native-image" or _field(r, "variant") == "docker-run-native"):
        return "c"
    return str(_field(r, "language") or DEFAULT_LANGUAGE.get(form, ""))


def _size_label(r: dict) -> tuple[float, str]:
    size = number(_field(r, "input_bytes"))
    label = _field(r, "input_label")
    text = str(label) if label else (fmt_bytes(size) if size is not None else "?")
    return (size if size is not None else math.inf, text)


class Facts:
    """The records indexed once: rows per workload, engine-wide checks, the ratios to native."""

    def __init__(self, records: list[dict], runtimes: dict | None = None):
        self.records = records
        self.runtimes = runtimes or {}
        self.rows: dict[str, dict[tuple, Row]] = defaultdict(dict)  # workload -> key -> Row
        self.engine_checks: dict[Engine, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.artifacts: dict[tuple, list] = defaultdict(list)  # (workload, form, language) -> [(i, r)]
        self.runtime_bytes: dict[str, tuple[int, int]] = {}  # runtime name -> (bytes, record index)
        self.controls: list = []  # native probe runs
        self._memo: dict = {}
        self.size_of: dict[int, tuple[float, str]] = {}
        for i, r in enumerate(records):
            self._add(i, r)

    def _add(self, i: int, r: dict) -> None:
        d = details_of(r)
        if "runtime_bytes" in d or "denominator" in d:
            self._runtime_size(i, r, d)
        cat = category(r)
        if cat is None or r.get("suite") == POLICY_SUITE:
            return
        if cat == "throughput":
            self.size_of[i] = _size_label(r)
        if cat in SECURITY_CATEGORIES or (cat == "parity" and r.get("form") == "wasm"):
            if is_control(r) and cat == "escape":
                self.controls.append((i, r))
            elif r.get("runtime") and r.get("form") in ("wasm", None, ""):
                self.engine_checks[engine_of(r, self.runtimes)][cat].append((i, r))
        if cat == "artifact_bytes":
            self.artifacts[(r.get("workload"), r.get("form"), _language(r))].append((i, r))
            return
        if not r.get("workload") or not r.get("form") or cat in SECURITY_CATEGORIES:  # per engine, not per workload
            return
        form, language, eng = str(r["form"]), _language(r), engine_of(r, self.runtimes)
        arch, machine = str(r.get("arch") or ""), str(r.get("machine") or "")
        key = (form, language, eng, arch, machine)
        rows = self.rows[str(r["workload"])]
        if key not in rows:
            rows[key] = Row(key, form, language, eng, arch, machine, is_emulated(r))
        rows[key].recs[cat].append((i, r))

    def _runtime_size(self, i: int, r: dict, d: dict) -> None:
        """A runtime's own size: `details.runtime_bytes`, or a size ratio's denominator's."""
        den = d.get("denominator") if isinstance(d.get("denominator"), dict) else {}
        rt_bytes = number(d.get("runtime_bytes")) or number(den.get("runtime_bytes"))
        rt_name = r.get("runtime") if d.get("runtime_bytes") is not None else den.get("runtime")
        if rt_bytes and rt_name:
            self.runtime_bytes.setdefault(str(rt_name).partition("==")[0], (int(rt_bytes), i))

    def size(self, i: int, r: dict) -> tuple[float, str]:
        """(input bytes, label) of a throughput record, read once."""
        return self.size_of[i] if i in self.size_of else _size_label(r)

    # ------------------------------------------------------------ per engine

    def checks(self, engine: Engine, cat: str) -> list:
        return self.engine_checks.get(engine, {}).get(cat, [])

    def memo(self, key, compute):
        """Per-engine figures are shared by every workload's rows: compute each once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def decided(self, engine: Engine) -> list:
        """Every security check of this engine@version that reached a decision."""
        return self.memo(("decided", engine), lambda: [(i, r) for cat in SECURITY_CATEGORIES
                                                       for i, r in self.checks(engine, cat) if counted(r)])

    def findings(self, engine: Engine) -> list:
        return self.memo(("findings", engine), lambda: [(i, r) for i, r in self.decided(engine) if is_finding(r)])

    def engines(self) -> list[Engine]:
        seen = set(self.engine_checks)
        for rows in self.rows.values():
            seen |= {row.engine for row in rows.values() if row.form == "wasm"}
        return sorted(seen)

    # ------------------------------------------------------------ ratios to native

    def wasm_over_native(self, workload: str) -> list[dict]:
        """Per Wasm row on a real (not emulated) arch: its time over the native binary's
        (same language, arch, machine) at the largest input both measured."""
        rows = self.rows.get(workload, {})
        out = []
        for row in rows.values():
            if row.form != "wasm" or row.emulated:
                continue
            native = next((n for n in rows.values() if n.form == "native" and not n.emulated and n.language == row.language
                           and n.arch == row.arch and n.machine == row.machine), None)
            if native is None:
                continue
            wasm_at = {self.size(i, r)[0]: (i, r) for i, r in row.recs["throughput"] if number(r.get("value"))}
            native_at = {self.size(i, r)[0]: (i, r) for i, r in native.recs["throughput"] if number(r.get("value"))}
            common = sorted(set(wasm_at) & set(native_at))
            if not common:
                continue
            (wi, wr), (ni, nr) = wasm_at[common[-1]], native_at[common[-1]]
            out.append({"engine": row.engine, "row": row, "ratio": number(nr["value"]) / number(wr["value"]),
                        "size": self.size(wi, wr)[1], "records": (wi, ni)})
        return out


# ---------------------------------------------------------------- the per-workload table

def _first(pairs: list, pred=lambda r: True):
    return next(((i, r) for i, r in pairs if pred(r)), (None, None))


REFERENCE = ("python-process", "cpython")


def _is_reference(row: Row) -> bool:
    return (row.form, row.engine.name) == REFERENCE


def _parity_cell(pairs: list, reference: bool = False) -> Cell:
    if reference and not pairs:
        return Cell("the reference", 0, None, False, "the Python implementation as a local process: what other rows are compared with")
    usable = [(i, r) for i, r in pairs if counted(r)]
    if not usable:
        return Cell.absent("no parity record with a decided outcome")
    bad = [(i, r) for i, r in usable if is_finding(r)]
    i, r = (bad or usable)[0]
    metrics = ", ".join(sorted({str(r.get("metric")) for _, r in usable}))
    if bad:
        return Cell(f"differs {len(bad)}/{len(usable)}", len(bad), i, True, f"{metrics}: {len(bad)} of {len(usable)} records differ")
    return Cell(f"agrees {len(usable)}/{len(usable)}", 0, i, False, f"{metrics}: every record agrees")


def _min_cell(pairs: list, fmt_value, what: str) -> Cell:
    vals = [(number(r.get("value")), i, r) for i, r in pairs if number(r.get("value")) is not None]
    if not vals:
        return Cell.absent(f"no {what} record")
    v, i, r = min(vals, key=lambda t: t[0])
    variant = _field(r, "variant")
    return Cell(fmt_value(v), v, i, False, f"{what}{f' ({variant})' if variant else ''}; best of {len(vals)} record(s)")


def _size_cell(facts: Facts, workload: str, row: Row) -> Cell:
    if row.form == "container":
        images = [(i, r) for i, r in row.recs["image_bytes"] if number(r.get("value"))]
        if not images:
            return Cell.absent("no image_bytes record")
        i, r = images[0]
        return Cell(f"{fmt_bytes(number(r['value']))} image", number(r["value"]), i, False, str(_field(r, "image") or ""))
    if row.form not in ("native", "wasm"):
        return Cell.absent("a script: its interpreter is the runtime (see the container's image size)")
    arts = [(i, r) for i, r in facts.artifacts.get((workload, row.form, row.language), [])
            if number(r.get("value")) and _field(r, "kind") in (row.form, None)]
    if not arts:
        return Cell.absent("no artifact_bytes record")
    i, r = arts[0]
    size = number(r["value"])
    text = f"{fmt_bytes(size)} {'.wasm' if row.form == 'wasm' else 'binary'}"
    if row.form == "wasm":
        rt = facts.runtime_bytes.get(row.engine.name)
        if rt:
            return Cell(f"{text} + {fmt_bytes(rt[0])} runtime", size + rt[0], i, False, f"runtime size from record {rt[1]}")
        return Cell(f"{text} + runtime (size not measured)", size, i, False, "no record gives this runtime's size", partial=True)
    return Cell(text, size, i)


def _security_cell(facts: Facts, row: Row) -> Cell:
    if row.form == "wasm":
        return replace(facts.memo(("security", row.engine), lambda: _engine_security_cell(facts, row.engine)))
    if row.form == "native":
        controls = [(i, r) for i, r in facts.controls if counted(r) and str(r.get("arch") or "") == row.arch]
        if not controls:
            return Cell.absent("no probe ran natively")
        escaped = [(i, r) for i, r in controls if number(r.get("value"))]
        i, _ = (escaped or controls)[0]
        return Cell(f"no sandbox: {len(escaped)}/{len(controls)} probes escaped", -len(controls), i, False,
                    "native runs are the probes' positive controls: an escape is expected there")
    return Cell.absent("the security suite probes Wasm engines (and native as the control) only")


def _engine_security_cell(facts: Facts, engine: Engine) -> Cell:
    checks = facts.decided(engine)
    if not checks:
        return Cell.absent(f"no security record for {engine.label}")
    found = facts.findings(engine)
    if found:
        kinds = defaultdict(int)
        for _, r in found:
            kinds[{"escape": "escape", "limit": "limit not held", "advisory": "advisory", "isolation": "host died"}.get(
                category(r), f"{category(r)} finding")] += 1
        text = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items())
        return Cell(text, len(found), found[0][0], True, f"{engine.label}: findings in security records")
    return Cell(f"0 findings ({len(checks)} checks)", 0, checks[0][0], False, f"{engine.label}: every check held")


@dataclass
class WorkloadTable:
    workload: str
    sizes: list[str]
    rows: list[dict]
    lines: list[dict]  # fastest / smallest / safest: {what, rule, text, rec}
    anchor: str


def _row_passed(facts: Facts, row: Row) -> bool:
    parity = [r for _, r in row.recs["parity"] if counted(r)]
    if row.emulated or (not parity and not _is_reference(row)) or any(is_finding(r) for r in parity):
        return False
    return not (row.form == "wasm" and facts.findings(row.engine))


def _security_held(facts: Facts, row: Row) -> int | None:
    """Checks held by a sandboxed row with probe records and no finding; None = not ranked."""
    if row.form != "wasm" or facts.findings(row.engine):
        return None

    def held():
        probes = any(counted(r) for _, r in facts.checks(row.engine, "escape"))
        return len(facts.decided(row.engine)) if probes else None
    return facts.memo(("held", row.engine), held)


def workload_table(facts: Facts, workload: str) -> WorkloadTable:
    rows = sorted(facts.rows[workload].values(),
                  key=lambda r: (FORM_ORDER.index(r.form) if r.form in FORM_ORDER else 9, r.form, r.engine.label, r.language,
                                 r.emulated, r.arch, r.machine))
    sizes = sorted({facts.size(i, r) for row in rows for i, r in row.recs["throughput"]})
    size_labels = list(dict.fromkeys(label for _, label in sizes))
    by_form_langs = defaultdict(set)
    for row in rows:
        by_form_langs[row.form].add(row.language)
    out, lines = [], []
    fastest, smallest, safest = [], [], []
    for row in rows:
        cells = {}
        at = {facts.size(i, r)[1]: (i, r) for i, r in row.recs["throughput"]}
        for label in size_labels:
            i, r = at.get(label, (None, None))
            v = number(r.get("value")) if r else None
            cells[f"throughput {label}"] = (Cell(fmt(v), v, i, False, f"median runs/s at {label}") if v is not None
                                            else Cell.absent(f"no throughput record at {label}"))
        cells["cold start (s)"] = _min_cell(row.recs["cold_start_s"], fmt, "cold start")
        cells["peak RSS"] = _min_cell(row.recs["peak_rss_kb"], lambda v: f"{fmt(v / 1024)} MiB", "peak RSS")
        cells["size"] = _size_cell(facts, workload, row)
        cells["parity"] = _parity_cell(row.recs["parity"], _is_reference(row))
        cells["security"] = _security_cell(facts, row)
        label = row.label(len(by_form_langs[row.form]) > 1)
        passed = _row_passed(facts, row)
        out.append({"label": label, "form": row.form, "cells": cells, "passed": passed})
        if passed:
            if size_labels and f"throughput {size_labels[-1]}" in cells and cells[f"throughput {size_labels[-1]}"].rec is not None:
                fastest.append((cells[f"throughput {size_labels[-1]}"], label))
            if cells["size"].rec is not None and not cells["size"].partial:
                smallest.append((cells["size"], label))
            held = _security_held(facts, row)
            if held is not None:
                safest.append((Cell(f"{held} checks held", held, cells["security"].rec), label))
    for what, pool, best in (("fastest", fastest, max), ("smallest", smallest, min), ("safest", safest, max)):
        if pool:
            top = best(c.sort for c, _ in pool)
            tied = [(c, label) for c, label in pool if c.sort == top]
            cell = tied[0][0]
            text = f"{' = '.join(label for _, label in tied)} ({cell.text}{f' runs/s at {size_labels[-1]}' if what == 'fastest' else ''})"
            lines.append({"what": what, "rule": RULES[what], "text": text, "rec": cell.rec})
        else:
            lines.append({"what": what, "rule": RULES[what], "text": "none: no row both passed and has this measurement",
                          "rec": None})
    anchor = "decide-" + re.sub(r"[^A-Za-z0-9_-]+", "-", workload)
    return WorkloadTable(workload, size_labels, out, lines, anchor)


def workload_tables(facts: Facts, limit: int | None = MAX_WORKLOADS) -> tuple[list[WorkloadTable], int]:
    names = sorted(facts.rows)
    return [workload_table(facts, w) for w in names[:limit]], len(names)


# ---------------------------------------------------------------- the runtime scorecard

SCORE_COLUMNS = ("probes held", "limits held", "advisories", "conformance findings", "fuzzing disagreements",
                 "parity rows", "time vs native")


def _tally_cell(pairs: list, noun: str, as_held: bool) -> Cell:
    """Decided checks as "held/decided" (as_held) or "findings in decided"; linked to the
    first failing record, else the first one."""
    usable = [(i, r) for i, r in pairs if counted(r)]
    if not usable:
        return Cell.absent(f"no {noun} record")
    bad = [(i, r) for i, r in usable if is_finding(r)]
    i, _ = (bad or usable)[0]
    if as_held:
        return Cell(f"{len(usable) - len(bad)}/{len(usable)}", (len(usable) - len(bad)) / len(usable), i, bool(bad),
                    f"{len(bad)} {noun}(s) failed" if bad else f"every {noun} held")
    return Cell(f"{len(bad)} in {len(usable)}", len(bad), i, bool(bad), f"{len(bad)} of {len(usable)} {noun} records report one")


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def scorecard(facts: Facts) -> list[dict]:
    ratios = defaultdict(list)
    for workload in facts.rows:
        for item in facts.wasm_over_native(workload):
            ratios[item["engine"]].append((workload, item))
    parity = defaultdict(list)
    for rows in facts.rows.values():
        for row in rows.values():
            if row.form == "wasm":
                parity[row.engine] += row.recs["parity"]
    out = []
    for eng in facts.engines():
        cells = {
            "probes held": _tally_cell(facts.checks(eng, "escape"), "probe", True),
            "limits held": _tally_cell(facts.checks(eng, "limit"), "limit", True),
            "advisories": _tally_cell(facts.checks(eng, "advisory"), "advisory check", False),
            "conformance findings": _tally_cell(facts.checks(eng, "conformance"), "conformance", False),
            "fuzzing disagreements": _tally_cell(facts.checks(eng, "fuzz"), "differential fuzzing", False),
            "parity rows": _tally_cell(list({i: (i, r) for i, r in parity[eng] + facts.checks(eng, "parity")}.values()),
                                       "parity row", True),
        }
        rs = ratios.get(eng)
        if rs:
            g = geomean([it["ratio"] for _, it in rs])
            worst_w, worst = max(rs, key=lambda t: t[1]["ratio"])
            cells["time vs native"] = Cell(f"{fmt(g)}x", g, worst["records"][0], False,
                                           f"geometric mean over {len(rs)} workload(s) of Wasm time / native time at the "
                                           f"largest input; worst {fmt(worst['ratio'])}x on {worst_w}")
        else:
            cells["time vs native"] = Cell.absent("no workload with both native and this engine's throughput")
        out.append({"label": eng.label, "engine": eng, "cells": cells})
    return out


# ---------------------------------------------------------------- policy outcomes (written by harness.policy)

POLICY_SUITE = "policy"
POLICY_STATUS = {"held": "#1a7f37", "broken": "#cf222e", "not-measured": "#cf222e", "not-run": "#6e7781"}


def policy_rows(records: list[dict]) -> list[dict]:
    """One row per policy rule evaluated in the run: the rule, what it asks, what was measured."""
    out = []
    for r in records:
        if r.get("suite") != POLICY_SUITE:
            continue
        d = details_of(r)
        status = str(r.get("outcome") or "")
        out.append({"rule": str(d.get("rule") or r.get("metric")), "expected": str(d.get("expected") or ""),
                    "measured": str(d.get("measured") or ""), "status": status, "file": str(d.get("file") or ""),
                    "colour": POLICY_STATUS.get(status, "#6e7781"), "test": str(r.get("test") or ""),
                    "machine": str(r.get("machine") or "")})
    return out
