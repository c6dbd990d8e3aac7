"""SAFETY-2: generated memory probes judged by a model of Wasm semantics.

Hypothesis draws one memory access per example (harness.probes.memgen: address expressions,
offsets, widths, loads and stores and what consumes a loaded value, operands near the edges),
wasmtime-py runs it in a child process beside a canary Store and a host buffer holding a
per-run secret, with linear memory filled from a per-run nonce; command-line engines run a
self-contained module carrying the same memory (harness.probes.memcli: results and a memory
digest, no canaries); harness.probes.memmodel says what the spec requires. One record per runtime row x engine configuration
(harness.runtimes.wasmtime_py.CONFIGS for wasmtime-py rows: reservations, guards, signals-based
traps, copy-on-write, pooling with slot reuse, Cranelift opt level and CPU features, set
through the Config class or the wheel's C API): `escape` 1 for an escape, an out-of-bounds
access (a bounds trap where the spec says in bounds) or a crashed engine. A finding under
the current wasmtime-py fails the test (shrunk by Hypothesis); under any other row it is
recorded against that runtime@version. Each record's details also carry `coverage` (the
instruction families and opcodes its examples exercised, with counts), `engine_knobs` (how
each knob was set), `examples_per_s` and `first_finding_example`. Regression replays of
published advisories' exact shapes (memgen.REPLAYS) are their own `replay-...` records.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter

import pytest
from hypothesis import example, given, settings

from harness import advisories, budget
from harness.probes import calls, memcli, memgen, runner
from harness.toolchain import host_arch

PROBE = memgen.PROBE_NAME
MUST_HOLD = ("wasmtime-py",)
EXAMPLES = {"quick": 60, "default": 400, "thorough": 2000}


@pytest.mark.claim("SAFETY-2")
@pytest.mark.fuzz_budget("memgen")
def test_generated_memory(runtime, engine_config, evidence, scale, wasm_row, tmp_path, fuzz_slot):
    config = engine_config
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=PROBE, category="memory",
                  engine_config=config, runtime_version=avail.version,
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, PROBE)] if avail.available else [],
                  expected="every access does what the Wasm spec model says: value, bytes written or trap",
                  positive_control="none: the model gives the expected answer for every access")
    probe, why = _prober(rt, runtime, config, avail, tmp_path)
    if probe is None:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    if not hasattr(probe, "host"):
        common.update(positive_control="none: the model gives the expected answer for every access; no canary "
                                       "(a command-line engine: memory and results are compared with the model only)")
    nonce, secret = secrets.token_bytes(16), secrets.token_bytes(16)
    acc, args = memgen.CVE_2023_26489
    first = probe(acc, args, nonce, secret)
    if first.get("unsupported"):
        evidence.record("escape", None, "bool", outcome="not-tested", reason=first["unsupported"], **common)
        pytest.skip(f"{runtime} / {config}: {first['unsupported']}")
    not_drawn = memgen.families_not_run(lambda acc, args: probe(acc, args, nonce, secret), nonce, secret)
    drawn = memgen.drawn(not_drawn)
    tally, covered, found = runner.Tally(), Counter(), {}
    counted = budget.Counted(fuzz_slot)
    saved = [c for c in memgen.saved_findings() if memgen.could_draw(c[0], drawn)]
    explicit = 1 + len(saved)  # the issue's named case and earlier runs' findings, run first
    started = time.perf_counter()

    @counted
    def once(case):
        acc, args = case
        v = memgen.judge(acc, args, probe(acc, args, nonce, secret), nonce, secret)
        tally.add(runner.Judgement(v.outcome, v.finding, v.reason), memgen.describe(acc, args), 0.0)
        covered.update(memgen.coverage(acc))
        n = sum(tally.outcomes.values())
        if v.finding:
            found.setdefault("replayed" if n <= explicit else "generated", (n - explicit if n > explicit else n, acc, args, v))
        assert not (v.finding and runtime in MUST_HOLD), f"{runtime} / {config}: {v.reason} ({memgen.describe(acc, args)})"

    def make():
        test = given(memgen.accesses(**drawn))(once)
        for case in reversed([memgen.CVE_2023_26489, *saved]):
            test = example(case)(test)
        test._hypothesis_internal_add_digest = f"memgen/{runtime}/{config}".encode()
        return test

    smallest, as_drawn = None, False
    try:
        budget.run_hypothesis(make, EXAMPLES.get(scale, settings().max_examples), fuzz_slot, counted)
        if tally.escape:  # a finding under a row that may have them: the smallest input that shows the worst one
            smallest = _smallest_finding(probe, nonce, secret, tally.worst, runtime, config, drawn)
            if smallest is None and "generated" in found:  # too rare to find again quickly: keep it as drawn
                _, acc, args, v = found["generated"]
                smallest, as_drawn = (v.reason, memgen.describe(acc, args), memgen.keep_finding(acc, args, runtime, config, v)), True
    finally:
        details = {**tally.details(), **(fuzz_slot.details() if fuzz_slot else {})}
        elapsed = time.perf_counter() - started
        details.update(coverage=memgen.coverage_details(covered), examples_per_s=round(details["examples"] / elapsed, 2) if elapsed else None,
                       engine_knobs=first.get("applied", {}), explicit_examples=explicit, not_drawn=not_drawn,
                       first_finding_example=found["generated"][0] if "generated" in found else None,
                       saved_finding_reproduced="replayed" in found)
        if tally.worst == "inconclusive":  # nothing was judged: not tested, never "held"
            evidence.record("escape", None, "bool", outcome="not-tested",
                            reason=f"no probe could be judged: {details['reason']}", **common)
        else:
            if smallest:
                details.update(params=smallest[1], reason=smallest[0], reproducer=str(smallest[2]))
            evidence.record("escape", tally.escape, "bool", outcome=tally.worst, **common, **details,
                            findings=sum(n for o, n in tally.outcomes.items() if o in runner.FINDINGS),
                            shrunk=smallest is not None and not as_drawn)


def _prober(rt, runtime, config, avail, workdir):
    """(probe(acc, args, nonce, secret) -> reply, None) or (None, why not) (harness.probes.calls):
    wasmtime-py rows answer from their child host, beside the canaries (`probe.host`);
    command-line rows through their CLI under the configurations they offer (harness.probes.memcli)."""
    one, why = calls.prober(rt, runtime, config, avail, workdir, in_host=lambda item, config: memgen.request(*item, config),
                            as_call=lambda item: memcli.call(*item[:3]))
    if one is None:
        return None, why

    def probe(acc, args, nonce, secret):
        return one((acc, args, nonce, secret))

    if hasattr(one, "host"):
        probe.host = one.host
    return probe, None


def _smallest_finding(probe, nonce, secret, outcome: str, runtime: str, config: str,
                      drawn: dict | None = None) -> tuple[str, str, object] | None:
    """(reason, input) of a shrunk finding with this outcome (Hypothesis' find; the record's
    reason must be of its outcome), or None if none turns up quickly."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    def shows(case):
        acc, args = case
        return memgen.judge(acc, args, probe(acc, args, nonce, secret), nonce, secret).outcome == outcome

    try:
        acc, args = find(memgen.accesses(**(drawn or {})), shows, settings=settings(max_examples=300, database=None, deadline=None))
    except NoSuchExample:
        return None
    v = memgen.judge(acc, args, probe(acc, args, nonce, secret), nonce, secret)
    if v.outcome != outcome:
        return None
    return v.reason, memgen.describe(acc, args), memgen.keep_finding(acc, args, runtime, config, v)


@pytest.mark.claim("SAFETY-2")
@pytest.mark.parametrize("replay", sorted(memgen.REPLAYS))
def test_replay(runtime, engine_config, replay, evidence, wasm_row, tmp_path):
    """A published advisory's exact shape (harness.probes.memgen.REPLAYS), under every
    configuration: a regression replay, recorded under its own `replay-...` probe name so
    that what the generator finds unaided and what a replay shows stay apart."""
    advisory, acc, args = memgen.REPLAYS[replay]
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=replay, category="memory",
                  engine_config=engine_config, runtime_version=avail.version, replay_of=advisory,
                  advisories=[a.id for a in advisories.flagged(runtime, avail.version, replay)] if avail.available else [],
                  expected="the advisory's input does what the Wasm spec model says", params=memgen.describe(acc, args),
                  positive_control="none: the model gives the expected answer")
    probe, why = _prober(rt, runtime, engine_config, avail, tmp_path)
    if probe is None:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    nonce, secret = secrets.token_bytes(16), secrets.token_bytes(16)
    reply = probe(acc, args, nonce, secret)
    v = memgen.judge(acc, args, reply, nonce, secret)
    if v.outcome in ("not-tested", "inconclusive"):
        evidence.record("escape", None, "bool", outcome="not-tested" if v.outcome == "not-tested" else "inconclusive",
                        reason=v.reason, **common)
        pytest.skip(f"{runtime} / {engine_config}: {v.reason}")
    evidence.record("escape", v.finding, "bool", outcome=v.outcome, reason=v.reason, engine_knobs=reply.get("applied", {}), **common)
    assert not (v.finding and runtime in MUST_HOLD), f"{runtime} / {engine_config}: {replay}: {v.reason}"
