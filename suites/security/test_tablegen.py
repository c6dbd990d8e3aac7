"""SAFETY-2: generated table probes (harness.probes.tablegen). Hypothesis draws a table
declaration (i32 or i64 index, funcref or externref, limits up to the index type's extremes)
and one table instruction; wasmtime-py runs it in its child host under every engine
configuration (with a store limit on table elements), every command-line row through its CLI
under each configuration it offers (harness.probes.calls; tables declared and grown only up
to that many elements, since a command line has no store limit to set); a model of the spec says what must happen. One record per row x
configuration: `escape` 1 when the host died (a panic takes the embedding process down) or
an access past the table's size did not trap, with coverage and the first input that showed
it. A finding under the current wasmtime-py fails the test."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import example, given, settings

from harness import advisories
from harness.probes import calls, findings, memgen, runner, tablegen
from harness.toolchain import host_arch

EXAMPLES = {"quick": 30, "default": 200, "thorough": 1000}
MUST_HOLD = ("wasmtime-py",)


@pytest.mark.claim("SAFETY-2")
def test_generated_tables(runtime, engine_config, evidence, scale, wasm_row, tmp_path):
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=tablegen.PROBE_NAME, category="tables",
                  grow_table_elements_limit=tablegen.GROW_TABLE_ELEMENTS,
                  engine_config=engine_config, runtime_version=avail.version,
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, tablegen.PROBE_NAME)] if avail.available else [],
                  expected="every table instruction does what the spec says; no declaration takes the host down",
                  positive_control="none: the model gives the expected answer")
    probe, why = calls.prober(rt, runtime, engine_config, avail, tmp_path, in_host=tablegen.request, as_call=tablegen.call)
    if probe is None:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    cap = None if hasattr(probe, "host") else tablegen.GROW_TABLE_ELEMENTS  # no store limit on a command line
    if cap:
        common.update(table_elements_cap=cap)
    check = tablegen.judge(tablegen.TABLE64_CHECK, probe(tablegen.TABLE64_CHECK))
    table64 = check.outcome == "denied"  # i64-indexed tables are drawn only where this row runs them
    not_drawn = {} if table64 else {"table64": f"table.size on an i64-indexed table: {check.outcome}: {check.reason}"[:300]}
    tally, covered, found = runner.Tally(), Counter(), []
    started = time.perf_counter()

    def once(case):
        v = tablegen.judge(case, probe(case))
        tally.add(runner.Judgement("inconclusive" if v.outcome == "not-tested" else v.outcome, v.finding, v.reason),
                  tablegen.describe(case), 0.0)
        covered.update([case.op, f"table:{case.table.index}", f"elem:{case.table.elem}"])
        n = sum(tally.outcomes.values())
        if v.finding and not found and n > len(saved):  # the first generated one (saved cases run first)
            found.append(n - len(saved))
        assert not (v.finding and runtime in MUST_HOLD), f"{runtime} / {engine_config}: {v.reason}"

    test = given(tablegen.cases(max_elements=cap, table64=table64))(once)
    saved = [c for c in tablegen.saved_findings() if tablegen.within(c, cap) and (table64 or c.table.index == "i32")]  # run first
    for case in reversed(saved):
        test = example(case)(test)
    test._hypothesis_internal_add_digest = f"tablegen/{runtime}/{engine_config}".encode()
    kept = None
    try:
        settings(settings(), max_examples=EXAMPLES.get(scale, 200))(test)()
        if tally.escape:  # a finding on a row where it does not fail the test: shrink it and keep the reproducer
            case = findings.shrink(tablegen.cases(max_elements=cap, table64=table64),
                                   lambda c: tablegen.judge(c, probe(c)).finding == 1)
            if case is not None:
                v = tablegen.judge(case, probe(case))
                kept = (v.reason, tablegen.describe(case), str(tablegen.keep_finding(case, runtime, engine_config, v)))
    finally:
        details = tally.details()
        elapsed = time.perf_counter() - started
        details.update(coverage=memgen.coverage_details(covered), first_finding_example=found[0] if found else None,
                       examples_per_s=round(details["examples"] / elapsed, 2) if elapsed else None, explicit_examples=len(saved),
                       not_drawn=not_drawn)
        if kept:
            details.update(reason=kept[0], params=kept[1], reproducer=kept[2], shrunk=True)
        if tally.worst == "inconclusive":
            evidence.record("escape", None, "bool", outcome="not-tested", reason=f"no probe could be judged: {details['reason']}", **common)
        else:
            evidence.record("escape", tally.escape, "bool", outcome=tally.worst, **common, **details,
                            findings=sum(n for o, n in tally.outcomes.items() if o in runner.FINDINGS))


@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("replay", sorted(tablegen.REPLAYS))
def test_table_replay(runtime, engine_config, replay, evidence, wasm_row, tmp_path):
    """A published advisory's exact table shape, recorded under its own `replay-...` name."""
    advisory, case = tablegen.REPLAYS[replay]
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=replay, category="tables",
                  engine_config=engine_config, runtime_version=avail.version, replay_of=advisory, params=tablegen.describe(case),
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, replay)] if avail.available else [],
                  expected="the advisory's input does what the spec says", positive_control="none: the model gives the expected answer")
    probe, why = calls.prober(rt, runtime, engine_config, avail, tmp_path, in_host=tablegen.request, as_call=tablegen.call)
    if probe is None:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    v = tablegen.judge(case, probe(case))
    if v.outcome in ("not-tested", "inconclusive"):
        evidence.record("escape", None, "bool", outcome=v.outcome, reason=v.reason, **common)
        pytest.skip(f"{runtime} / {engine_config}: {v.reason}")
    evidence.record("escape", v.finding, "bool", outcome=v.outcome, reason=v.reason, **common)
    assert not (v.finding and runtime in MUST_HOLD), f"{runtime} / {engine_config}: {replay}: {v.reason}"
