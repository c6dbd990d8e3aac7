"""The policy gate, `--policy FILE`: a team's rules about what a run must show (a YAML file
checked against policy.schema.yaml), each turned into a pytest item collected after every
suite test and evaluated from the session's records.

So a rule is a JUnit test case (pass/fail with the measured value), a line in the terminal
summary, a row in the report's Policy section (it is recorded as a `policy` record) and part
of the exit status. Figures come from harness.report.decisions, the code that draws the
report's decision tables and scorecard, so the gate and the page cannot disagree.

A rule whose data is absent fails as "not measured", and so does, by default, one that
needs a suite, workload, form or engine this run did not select; with `not_selected: skip`
in the policy such a rule is skipped instead, saying which (so one file can gate a PR's
smoke run and a nightly `--suite all`).
This module is its own pytest plugin (harness.plugin lists it in `pytest_plugins`). Under
pytest-xdist (-n) the controller judges the rules once every worker's records are in. Runs
split with --shard, and merged machines, are judged afterwards from their results.json by
`python -m harness.policy POLICY RESULTS...` (same rules, same JUnit case names)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness import claims as claims_mod
from harness import distributed, judgement
from harness import results as results_mod
from harness.plugin import STATE
from harness.report import decisions
from harness.report.charts import fmt, number
from harness.workload import ManifestError, discover

SCHEMA_FILE = Path(__file__).with_name("policy.schema.yaml")
PARITY_SUITES = ("smoke", "portability", "parity")
SECURITY = ("security",)
PERFORMANCE = ("performance",)
# engines: metric -> (suites that record it, record categories it counts)
ENGINE_METRICS = {
    "escapes": (SECURITY, ("escape",)), "limits_not_held": (SECURITY, ("limit",)), "advisories": (SECURITY, ("advisory",)),
    "conformance_findings": (SECURITY, ("conformance",)), "fuzz_disagreements": (SECURITY, ("fuzz",)),
    "findings": (SECURITY, decisions.SECURITY_CATEGORIES), "parity_violations": (PARITY_SUITES, ("parity",)),
    "wasm_over_native_time": (PERFORMANCE, ()),
}
WORKLOAD_SUITES = {"wasm_over_native_time": PERFORMANCE, "wasm_cold_start_s": PERFORMANCE, "wasm_peak_rss_mib": PERFORMANCE,
                   "parity_violations": PARITY_SUITES}


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file and the field."""


@functools.cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


def _field_error(path: Path, err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        name = ".".join(x for x in (where, str(extra[0]) if extra else "") if x)
        return f"{path}: {name}: unknown field (expected one of: {', '.join(allowed)})"
    if err.schema == schema()["$defs"]["count"]:
        return f"{path}: {where}: expected a count, an integer >= 0 or {{max: N}}, got {err.instance!r}"
    if err.validator == "minProperties" and err.instance == {}:
        return f"{path}: {where or '(top level)'}: empty; give at least one rule"
    return f"{path}: {where or '(top level)'}: {err.message}"


def load(path: str | Path) -> dict:
    """The policy as a dict, or PolicyError naming the file and the field at fault."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise PolicyError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        raise PolicyError(f"{path}: the policy is empty (give claims, engines, workloads or parity rules)")
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if errors:
        raise PolicyError(_field_error(path, jsonschema.exceptions.best_match(errors)))
    if not rules(data):
        raise PolicyError(f"{path}: no rules (give claims, engines, workloads or parity)")
    known = claims_mod.claim_ids()
    for cid in data.get("claims") or {}:
        if cid not in known:
            raise PolicyError(f"{path}: claims.{cid}: unknown claim (known: {', '.join(known)})")
    return data


# ---------------------------------------------------------------- rules

@dataclass(frozen=True)
class Rule:
    section: str  # claims, engines, workloads, parity
    subject: str  # claim id, engine, workload; "" for parity
    metric: str  # "verdict" for claims
    want: object  # acceptable verdicts, a count, or {min, max}
    terms: tuple = ()  # claims: (("rows", (...)), ("coverage", 0.5), ("allow_partial", True)) as the policy gave them

    @property
    def name(self) -> str:
        return ".".join(x for x in (self.section, self.subject, "" if self.section == "claims" else self.metric) if x)

    @property
    def expected(self) -> str:
        if self.section == "claims":
            terms = dict(self.terms)
            extra = ([f"rows {', '.join(terms['rows'])} tested"] if terms.get("rows") else []) + \
                ([f"coverage >= {terms['coverage']}"] if terms.get("coverage") is not None else
                 [] if terms.get("allow_partial") else ["on every selected row"])
            return "verdict " + " or ".join(self.want) + "".join(f", {e}" for e in extra)
        if isinstance(self.want, int):
            return f"at most {self.want}"
        return " and ".join(f"{'at most' if k == 'max' else 'at least'} {fmt(v)}" for k, v in sorted(self.want.items()))

    @property
    def suites(self) -> tuple[str, ...]:
        if self.section == "claims":
            return tuple(c.suite for c in claims_mod.registry() if c.id == self.subject)
        if self.section == "engines":
            return ENGINE_METRICS[self.metric][0]
        if self.section == "workloads":
            return WORKLOAD_SUITES[self.metric]
        return PARITY_SUITES


def rules(policy: dict) -> list[Rule]:
    out = [Rule("claims", cid, "verdict", tuple(v), ()) if isinstance(v, list) else
           Rule("claims", cid, "verdict", tuple(v["verdict"]),
                tuple(sorted((k, tuple(x) if isinstance(x, list) else x) for k, x in v.items() if k != "verdict")))
           for cid, v in (policy.get("claims") or {}).items()]
    for section in ("engines", "workloads"):
        for subject, metrics in (policy.get(section) or {}).items():
            out += [Rule(section, str(subject), m, want) for m, want in metrics.items()]
    out += [Rule("parity", "", m, want) for m, want in (policy.get("parity") or {}).items()]
    return out


@dataclass
class Outcome:
    status: str  # held, broken, not-measured, not-run
    measured: str
    value: float | None = None


@dataclass
class Context:
    """What a rule is judged on: the session's records and what the run selected."""

    records: list[dict]
    suites: list[str]
    skips: list[dict] = field(default_factory=list)
    workloads: set[str] | None = None  # selected workload names
    known_workloads: set[str] = field(default_factory=set)
    runtimes: list[str] | None = None  # --runtime
    forms: list[str] | None = None  # --form
    skip_unselected: bool = False  # the policy's `not_selected: skip`
    env: dict = field(default_factory=dict)  # results.environment(): versions for records that carry none
    errors: list[dict] = field(default_factory=list)  # failed tests: error rows of their claims

    @functools.cached_property
    def facts(self) -> decisions.Facts:
        return decisions.Facts([r for r in self.records if r.get("suite") != decisions.POLICY_SUITE],
                               decisions.env_runtimes({"environment": self.env}))

    @functools.cached_property
    def verdicts(self) -> dict[str, dict]:
        doc = results_mod.build_results(self.records, skips=self.skips, errors=self.errors,
                                        suites_run=self.suites or ["(custom)"], meta={}, env={})
        return {c["id"]: c for c in doc["claims"]}

    def narrowed(self) -> str:
        """The options that narrowed this run to fewer workloads, forms or runtimes than exist, or ""."""
        return ", ".join(opt for opt, on in (("--only-workloads", bool(self.workloads is not None
                                                                         and self.known_workloads - self.workloads)),
                                             ("--form", bool(self.forms)), ("--runtime", bool(self.runtimes))) if on)

    def not_selected(self, rule: Rule) -> str:
        """Why this run cannot judge the rule by design (a selection), or ""."""
        if self.suites and not set(rule.suites) & set(self.suites):  # no --suite: custom tests, judged on their records
            return f"needs --suite {' or '.join(rule.suites)}, not selected in this run"
        if rule.section == "workloads" and self.workloads is not None and rule.subject in self.known_workloads - self.workloads:
            return f"workload {rule.subject} not selected (--only-workloads)"
        missing = _forms_needed(rule) - set(self.forms or _forms_needed(rule))
        if missing:
            return f"needs the {', '.join(sorted(missing))} form, not selected (--form)"
        if rule.section == "engines" and self.runtimes:
            name = rule.subject.partition("==")[0]
            if not any(r.partition("==")[0] == name for r in self.runtimes):
                return f"engine {rule.subject} not selected (--runtime {','.join(self.runtimes)})"
        return ""


def _forms_needed(rule: Rule) -> set[str]:
    if rule.metric == "wasm_over_native_time":
        return {"wasm", "native"}
    if rule.section == "engines" or rule.metric.startswith("wasm_"):
        return {"wasm"}
    return set()


def _count(rule: Rule, found: int, total: int, noun: str, detail: str = "") -> Outcome:
    limit = rule.want if isinstance(rule.want, int) else rule.want["max"]
    text = f"{found} of {total} {noun}{f' ({detail})' if detail else ''}"
    return Outcome("held" if found <= limit else "broken", text, found)


def _bounded(rule: Rule, values: list[tuple[str, float]], unit: str) -> Outcome:
    """Every value must be within the bound; the measured figure is the worst one."""
    lo, hi = rule.want.get("min"), rule.want.get("max")
    worst = max(values, key=lambda t: t[1]) if hi is not None else min(values, key=lambda t: t[1])
    bad = [(w, v) for w, v in values if (hi is not None and v > hi) or (lo is not None and v < lo)]
    text = "; ".join(f"{w} {fmt(v)}{unit}" for w, v in sorted(values, key=lambda t: -t[1]))
    return Outcome("broken" if bad else "held", f"worst {fmt(worst[1])}{unit} ({text})", worst[1])


def _coverage_gaps(rule: Rule, verdict: dict) -> list[str]:
    """Why a verdict's word does not satisfy the rule's coverage terms: required rows that decided
    nothing, a coverage fraction below the minimum, or (unless the policy allows it) partial coverage."""
    terms, cov = dict(rule.terms), verdict.get("coverage") or {}
    gaps = []
    for row in terms.get("rows", ()):
        if not any(judgement.base_row(t) == row or t == row for t in cov.get("tested", [])):
            why = [f"{r}: {w}" for r, w in (cov.get("untested") or {}).items() if judgement.base_row(r) == row or r == row]
            gaps.append(f"row {row} not tested" + (f" ({'; '.join(why)[:200]})" if why else " (no record or test named it)"))
    fraction = float(cov.get("fraction", 0.0))
    if terms.get("coverage") is not None and fraction < terms["coverage"]:
        gaps.append(f"coverage {fraction:.2f} < {terms['coverage']} ({len(cov.get('tested', []))} of {cov.get('rows', 0)} rows)")
    elif terms.get("coverage") is None and cov.get("partial") and not terms.get("allow_partial"):
        gaps.append(f"the word rests on partial coverage ({verdict.get('label')}); not tested: "
                    + "; ".join(f"{r} ({w[:100]})" for r, w in (cov.get("untested") or {}).items())[:400]
                    + " (allow_partial: true or coverage: N accepts it)")
    return gaps


def _claim(rule: Rule, ctx: Context) -> Outcome:
    c = ctx.verdicts.get(rule.subject, {})
    verdict, summary = c.get("verdict", "not-tested"), c.get("summary", "")
    if verdict in rule.want:
        gaps = _coverage_gaps(rule, c)
        if gaps:
            return Outcome("broken", f"{c.get('label', verdict)}, but " + "; ".join(gaps) + f": {summary}")
        return Outcome("held", f"{c.get('label', verdict)}: {summary}")
    if verdict == "not-tested" and ctx.skip_unselected and ctx.narrowed():
        return Outcome("not-run", f"{verdict} with this run's narrowed selection ({ctx.narrowed()}): {summary}")
    return Outcome("not-measured" if verdict == "not-tested" else "broken", f"{verdict}: {summary}")


def _matching_engines(rule: Rule, ctx: Context) -> list[decisions.Engine]:
    return [e for e in ctx.facts.engines() if e.matches(rule.subject)]


def _engine(rule: Rule, ctx: Context) -> Outcome:
    engines = _matching_engines(rule, ctx)
    if not engines:
        seen = ", ".join(sorted({e.name for e in ctx.facts.engines()})) or "none"
        return Outcome("not-measured", f"no record names engine {rule.subject} (engines with records: {seen})")
    facts = ctx.facts
    if rule.metric == "wasm_over_native_time":
        values = [(f"{it['row'].label(True)} on {w}", it["ratio"]) for w in facts.rows for it in facts.wasm_over_native(w)
                  if it["engine"] in engines]
        if not values:
            return Outcome("not-measured", f"no workload has both native and {rule.subject} throughput records")
        return _bounded(rule, values, "x")
    cats = ENGINE_METRICS[rule.metric][1]
    pairs = {i: r for e in engines for cat in cats for i, r in facts.checks(e, cat) if decisions.counted(r)}
    if rule.metric == "parity_violations":
        pairs.update({i: r for rows in facts.rows.values() for row in rows.values() if row.engine in engines
                      for i, r in row.recs["parity"] if decisions.counted(r)})
    if not pairs:
        return Outcome("not-measured", f"no decided {rule.metric.replace('_', ' ')} record for {rule.subject}")
    bad = [r for r in pairs.values() if decisions.is_finding(r)]
    per_engine = ", ".join(f"{e.label}: {sum(1 for r in bad if decisions.engine_of(r) == e)}" for e in engines)
    return _count(rule, len(bad), len(pairs), "records", per_engine)


def _workload(rule: Rule, ctx: Context) -> Outcome:
    facts = ctx.facts
    rows = facts.rows.get(rule.subject)
    if not rows:
        return Outcome("not-measured", f"no record for workload {rule.subject}")
    if rule.metric == "parity_violations":
        pairs = [(row, r) for row in rows.values() for _, r in row.recs["parity"] if decisions.counted(r)]
        if not pairs:
            return Outcome("not-measured", f"no parity record for {rule.subject}")
        bad = sorted({row.label(True) for row, r in pairs if decisions.is_finding(r)})
        return _count(rule, sum(1 for _, r in pairs if decisions.is_finding(r)), len(pairs), "parity records",
                      "differs: " + ", ".join(bad) if bad else "")
    if rule.metric == "wasm_over_native_time":
        values = [(it["row"].label(True), it["ratio"]) for it in facts.wasm_over_native(rule.subject)]
        unit, what = "x", "native and Wasm throughput on the same arch"
    else:
        cat, scale, unit = {"wasm_cold_start_s": ("cold_start_s", 1.0, " s"), "wasm_peak_rss_mib": ("peak_rss_kb", 1024.0, " MiB")}[rule.metric]
        values = []
        for row in rows.values():
            vals = [number(r.get("value")) for _, r in row.recs[cat] if number(r.get("value")) is not None]
            if row.form == "wasm" and not row.emulated and vals:
                values.append((row.label(True), (min(vals) if cat == "cold_start_s" else max(vals)) / scale))
        what = f"a Wasm {cat} record"
    if not values:
        return Outcome("not-measured", f"{rule.subject} has no {what}")
    return _bounded(rule, values, unit)


def _parity(rule: Rule, ctx: Context) -> Outcome:
    recs = [r for r in ctx.records if r.get("suite") != decisions.POLICY_SUITE and decisions.category(r) == "parity"
            and decisions.counted(r)]
    if not recs:
        return Outcome("not-measured", "no parity record in this run")
    bad = [r for r in recs if decisions.is_finding(r)]
    where = sorted({" / ".join(str(r.get(k)) for k in ("workload", "form", "runtime") if r.get(k)) for r in bad})
    return _count(rule, len(bad), len(recs), "parity records", "differ: " + "; ".join(where[:5]) if where else "")


EVALUATE = {"claims": _claim, "engines": _engine, "workloads": _workload, "parity": _parity}


def evaluate(rule: Rule, ctx: Context) -> Outcome:
    why = ctx.not_selected(rule)
    if why:
        return Outcome("not-run", why) if ctx.skip_unselected else Outcome("not-measured", f"{why} (`not_selected: skip` in the policy skips such rules)")
    return EVALUATE[rule.section](rule, ctx)


def policy_record(rule: Rule, out: Outcome, path: Path, test: str) -> dict:
    """The rule's outcome as a record, so results.json and the report's Policy section carry it."""
    return {"suite": decisions.POLICY_SUITE, "test": test, "claim": None, "workload": None, "form": None, "runtime": None,
            "arch": None, "metric": "policy_rule", "value": out.value, "unit": "", "outcome": out.status,
            "details": {"rule": rule.name, "expected": rule.expected, "measured": out.measured, "file": str(path)}}


FAILING = ("broken", "not-measured")


# ---------------------------------------------------------------- pytest plugin

POLICY = pytest.StashKey[dict]()  # {"path", "rules", "context", "outcomes"}


class PolicyBroken(Exception):
    """A rule that did not hold or could not be measured; the message is the whole story."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("wasm-claims").addoption(
        "--policy", default=None, metavar="FILE",
        help="YAML policy (claims, engines, workloads, parity rules; schema: harness/policy.schema.yaml): each rule "
             "runs as a test after the suites, so a broken or unmeasured rule fails the run")


def _known_workloads(config: pytest.Config) -> set[str]:
    try:
        return {w.name for w in discover([Path(p) for p in config.getoption("workloads")])}
    except ManifestError:
        return set()  # harness.plugin reports a bad workload itself


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("policy", None)
    if not path:
        return
    try:
        policy = load(path)
    except PolicyError as exc:
        raise pytest.UsageError(f"--policy {exc}") from None
    config.stash[POLICY] = {"path": Path(path), "rules": rules(policy), "outcomes": {}, "context": None,
                            "known_workloads": _known_workloads(config), "skip": policy.get("not_selected") == "skip"}


class PolicyFile(pytest.File):
    def collect(self):
        for rule in self.config.stash[POLICY]["rules"]:
            yield PolicyItem.from_parent(self, name=rule.name, rule=rule)


def _context(config: pytest.Config) -> Context:
    gate = config.stash[POLICY]
    if gate["context"] is None:
        state = config.stash[STATE]
        gate["context"] = Context(distributed.combine(state.records), state.suites, state.skips,
                                  {w.name for w in state.workloads}, gate["known_workloads"], config.getoption("runtime"),
                                  config.getoption("form"), gate["skip"], results_mod.environment(), state.errors)
    return gate["context"]


def judge(config: pytest.Config, rule: Rule, nodeid: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Evaluate one rule on the session's records and record it: (pytest outcome, message, properties)."""
    gate = config.stash[POLICY]
    out = evaluate(rule, _context(config))
    gate["outcomes"][rule.name] = out
    config.stash[STATE].records.append(policy_record(rule, out, gate["path"], nodeid))
    props = [("policy_status", out.status), ("requires", rule.expected), ("measured", out.measured)]
    if out.status == "not-run":
        return "skipped", f"policy rule {rule.name}: not run: {out.measured}", props
    if out.status in FAILING:
        said = "measured" if out.status == "broken" else "not measured:"
        return "failed", f"policy rule {rule.name} {out.status}: requires {rule.expected}; {said} {out.measured}", props
    return "passed", "", props


class PolicyItem(pytest.Item):
    """One policy rule, judged on the records of every test that ran before it."""

    def __init__(self, *, rule: Rule, **kwargs):
        super().__init__(**kwargs)
        self.rule = rule

    def runtest(self) -> None:
        outcome, message, props = judge(self.config, self.rule, self.nodeid)
        self.user_properties += props
        if outcome == "skipped":
            pytest.skip(message)
        if outcome == "failed":
            raise PolicyBroken(message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, PolicyBroken):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"policy rule {self.rule.name}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The policy's rules go last, after any deselection, so they judge every other test's records.
    Under pytest-xdist the controller judges them once every worker's records are in."""
    gate = config.stash.get(POLICY, None)
    if gate is not None and not distributed.is_worker(config):
        items.extend(PolicyFile.from_parent(session, path=gate["path"].resolve()).collect())


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """On an xdist controller (which runs no items): after the workers are down, each rule is
    judged and reported as a test of its own (terminal, JUnit, exit status)."""
    result = yield
    gate = session.config.stash.get(POLICY, None)
    if gate is not None and distributed.is_controller(session.config):
        path = gate["path"].resolve()
        where = str(path.relative_to(session.config.rootpath)) if session.config.rootpath in path.parents else str(path)
        for rule in gate["rules"]:
            nodeid = f"{where}::{rule.name}"
            outcome, message, props = judge(session.config, rule, nodeid)
            location = (where, 0, f"policy rule {rule.name}")
            longrepr = (str(path), 0, f"Skipped: {message}") if outcome == "skipped" else message or None
            for when, result_word in (("setup", "passed"), ("call", outcome), ("teardown", "passed")):
                report = pytest.TestReport(nodeid, location, {}, result_word, longrepr if when == "call" else None, when,
                                           user_properties=props)
                session.config.hook.pytest_runtest_logreport(report=report)
    return result


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    gate = config.stash.get(POLICY, None)
    if gate is None or not gate["outcomes"]:
        return
    terminalreporter.write_sep("-", f"wasm-claims policy {gate['path']}")
    for name, out in gate["outcomes"].items():
        colour = {"held": {"green": True}, "not-run": {"yellow": True}}.get(out.status, {"red": True})
        terminalreporter.write_line(f"{out.status:13} {name}: {out.measured}", **colour)


# ---------------------------------------------------------------- after the run: python -m harness.policy

def context_from(doc: dict, skip_unselected: bool, known_workloads: set[str]) -> Context:
    """A results document (one run, shards or a merge) as what rules are judged on."""
    run = doc.get("run") or {}
    selection = run.get("selection") or {}
    return Context([r for r in doc.get("records", []) if r.get("suite") != decisions.POLICY_SUITE],
                   [s for s in run.get("suites") or [] if s in results_mod.SUITES], doc.get("skips") or [],
                   set(run["workloads"]) if run.get("workloads") else None, known_workloads,
                   selection.get("runtimes"), selection.get("forms"), skip_unselected, doc.get("environment") or {},
                   doc.get("errors") or [])


def write_junit(path: Path, policy_path: Path, judged: list[tuple[Rule, Outcome]]) -> None:
    """One JUnit test case per rule, named as pytest --policy names them."""
    from xml.etree import ElementTree as ET

    classname = str(policy_path).replace("/", ".")
    suite = ET.Element("testsuite", name="wasm-claims policy", tests=str(len(judged)),
                       failures=str(sum(o.status in FAILING for _, o in judged)),
                       skipped=str(sum(o.status == "not-run" for _, o in judged)))
    for rule, out in judged:
        case = ET.SubElement(suite, "testcase", classname=classname, name=rule.name)
        props = ET.SubElement(case, "properties")
        for name, value in (("policy_status", out.status), ("requires", rule.expected), ("measured", out.measured)):
            ET.SubElement(props, "property", name=name, value=value)
        if out.status in FAILING:
            ET.SubElement(case, "failure", message=f"policy rule {rule.name} {out.status}: requires {rule.expected}; "
                                                   f"{'measured' if out.status == 'broken' else 'not measured:'} {out.measured}")
        elif out.status == "not-run":
            ET.SubElement(case, "skipped", message=f"policy rule {rule.name}: not run: {out.measured}")
    root = ET.Element("testsuites")
    root.append(suite)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    """Judge results after the run: for runs split with --shard (whose rules need every shard's
    records) and for merged CI matrices."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m harness.policy", description=(
        "Judge results.json files by a policy, the rules of pytest --policy, after the run: for runs split with "
        "--shard and for merged machines. Exit 0 when every rule held (or was skipped by not_selected: skip), 1 when "
        "one is broken or not measured, 2 on bad input."))
    ap.add_argument("policy", type=Path, help="the policy YAML (schema: harness/policy.schema.yaml)")
    ap.add_argument("results", type=Path, nargs="+", help="results.json of one run, or of several shards/machines to merge")
    ap.add_argument("-o", "--out-dir", type=Path, help="also write results.json and the report with the Policy section here")
    ap.add_argument("--junitxml", type=Path, help="write one JUnit test case per rule here")
    args = ap.parse_args(argv)
    try:
        policy = load(args.policy)
        doc = results_mod.load(args.results[0]) if len(args.results) == 1 else results_mod.merge(args.results)
    except (PolicyError, results_mod.ResultsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ctx = context_from(doc, policy.get("not_selected") == "skip", {w.name for w in discover()})
    judged = [(rule, evaluate(rule, ctx)) for rule in rules(policy)]
    for rule, out in judged:
        print(f"{out.status:13} {rule.name}: {out.measured}")
    doc["records"] = ctx.records + [policy_record(r, o, args.policy, f"{args.policy}::{r.name}") for r, o in judged]
    if args.out_dir:
        from harness.report import write_report

        results_mod.write_json(args.out_dir / "results.json", doc)
        print(f"report: {write_report(doc, args.out_dir)}")
    if args.junitxml:
        write_junit(args.junitxml, args.policy, judged)
    failed = [r.name for r, o in judged if o.status in FAILING]
    print(f"{len(judged) - len(failed)} of {len(judged)} policy rules held or were not run" +
          (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
