"""harness.probes and harness.advisories: the registry, parameter rendering, the judgement
rules (an escape is observed, a failed positive control is never `denied`), the runtime
grants, and one real probe run natively and under wasmtime."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import advisories, canary, claims
from harness.outcome import Outcome
from harness.probes import PROBES, memgen, probe, runner, tablegen, wasigen
from harness.probes import params as P
from harness.probes.guests import build_guest, source_path, wat_text
from harness.runtimes import RUNTIMES, Limits, Preopen, WasiSetup


def test_registry_has_enough_distinct_probes_in_every_category():
    names = [p.name for p in PROBES]
    assert len(names) == len(set(names)) >= 25
    assert set(Counter(p.category for p in PROBES)) == {"filesystem", "environment", "network", "memory", "control", "resources"}
    for p in PROBES:
        src = source_path(p)
        assert src.is_file(), f"{p.name}: {src} missing"
        assert p.native or p.no_native_reason or p.language == "wat", f"{p.name}: say why there is no native control"


def test_wat_probes_assemble():
    import wasmtime

    for p in PROBES:
        if p.language == "wat":
            assert wasmtime.wat2wasm(wat_text(p))[:4] == b"\0asm"


@pytest.fixture
def lay(tmp_path):
    c = canary.plant(tmp_path)
    yield c, runner.layout(c, wasm=False)
    c.close()


@settings(max_examples=30, deadline=None)
@given(P.path_recipe("secret", nul=True))
def test_path_recipes_resolve_natively_to_their_aim(tmp_path_factory, recipe):
    """What makes the native run a positive control: the path really leads to the canary."""
    c = canary.plant(tmp_path_factory.mktemp("c"))
    try:
        path = recipe.render(runner.layout(c, wasm=False)).split(b"\0")[0].decode()
        full = path if recipe.absolute else os.path.join(c.rw, path)
        assert Path(full).read_text() == c.secret.read_text()
    finally:
        c.close()


@settings(max_examples=5, deadline=None)
@given(st.data())
def test_every_probe_renders_its_parameters(tmp_path_factory, data):
    c = canary.plant(tmp_path_factory.mktemp("c"))
    try:
        for p in PROBES:
            choices = data.draw(p.choices(), label=p.name)
            for wasm in (False, True):
                stdin = p.stdin(choices, runner.layout(c, wasm=wasm))
                assert stdin and (p.language != "c" or b"rw=" in stdin)
    finally:
        c.close()


def test_parse_report_reads_wat_and_c_lines():
    r = runner.parse_report(b"S 0000ffff\nV deadbeef\nMEMSIZE 65536\nRESULT errno=0 n=5\njunk\nPROBE-DONE\n")
    assert r["S"] == [0xFFFF] and r["V"] == [0xDEADBEEF] and r["MEMSIZE"] == ["65536"] and r["RESULT"] == ["errno=0 n=5"]


def _run(form="wasmtime-py", hits=(), missing=(), report=None, **out):
    o = Outcome(**{"exit_code": 0, "stdout": b"PROBE-DONE\n", **out})
    return runner.Run(form, o, list(hits), list(missing), report if report is not None else {"D": [0]})


FS = probe("fs-dotdot")
RO = probe("fs-otrunc-readonly")
LOAD = probe("mem-load-edges")
ESCAPED_NATIVE = _run("native", hits=[canary.Hit("secret-file", "token")])
CAPS = RUNTIMES["wasmtime-py"].capabilities


@pytest.mark.parametrize("run, control, want", [
    (_run(missing=["listener"]), ESCAPED_NATIVE, "inconclusive"),
    (_run(hits=[canary.Hit("secret-file", "token")]), ESCAPED_NATIVE, "escaped"),
    (_run(), _run("native"), "inconclusive"),  # positive control failed: never denied
    (_run(), ESCAPED_NATIVE, "denied"),
    (_run(trap="memory-out-of-bounds", exit_code=None), ESCAPED_NATIVE, "trapped"),
    (_run(trap="unreachable", exit_code=None, stdout=b""), ESCAPED_NATIVE, "inconclusive"),  # trapped before any attempt
    (_run(signal=11, exit_code=None), ESCAPED_NATIVE, "host-crashed"),
    (_run(timed_out=True, exit_code=None), ESCAPED_NATIVE, "inconclusive"),  # a harness time-out proves nothing
    (_run(timed_out=True, exit_code=None, trap="interrupt"), ESCAPED_NATIVE, "inconclusive"),
    (_run(exit_code=1, stdout=b"", stderr=b"Error: unknown import: `wasi_snapshot_preview1::sock_open`"), ESCAPED_NATIVE, "denied"),
    (_run(exit_code=3, stdout=b""), ESCAPED_NATIVE, "inconclusive"),
    (_run(exit_code=1, stdout=b"", stderr=b"error while executing at wasm backtrace:\n 0: 0x1 - f\n\nCaused by:\n    Pointer out of bounds"),
     ESCAPED_NATIVE, "trapped"),
])
def test_judge_words(run, control, want):
    j = runner.judge(FS, run, capabilities=CAPS, control=control, choices=None)
    assert j.outcome == want, j
    assert j.escape == (want in ("escaped", "host-crashed"))


def test_readonly_write_is_inconclusive_only_where_the_runtime_cannot_say_read_only():
    run = _run("wasmtime-cli", hits=[canary.Hit("readonly-dir", "data.txt truncated")])
    assert runner.judge(RO, run, capabilities=RUNTIMES["wasmtime-cli"].capabilities, control=None).outcome == "inconclusive"
    run.form = "wasmtime-py"
    assert runner.judge(RO, run, capabilities=CAPS, control=None).outcome == "escaped"


def test_memory_probe_judged_by_the_harness_own_arithmetic():
    past_end = (P.PAGE, 0)
    assert runner.judge(LOAD, _run(report={"V": [0], "D": [0]}), capabilities=CAPS, choices=past_end).outcome == "escaped"
    wrong = runner.judge(LOAD, _run(report={"V": [1], "D": [0]}), capabilities=CAPS, choices=(4096, 0))
    assert wrong.outcome == "escaped" and "read somewhere else" in wrong.reason
    from harness.probes.registry import _expected_word

    right = _run(report={"V": [_expected_word(4096)], "D": [0]})
    assert runner.judge(LOAD, right, capabilities=CAPS, choices=(4096, 0)).outcome == "denied"


def test_tally_keeps_the_worst_conclusive_outcome():
    t = runner.Tally()
    for word in ("inconclusive", "denied", "denied", "trapped"):
        t.add(runner.Judgement(word, 0, word), (), 0.1)
    assert t.worst == "denied" and t.escape == 0 and t.details()["outcomes"]["inconclusive"] == 1
    assert t.details()["inconclusive_runs"] == 1
    t.add(runner.Judgement("escaped", 1, "seen"), ("p",), 0.1)
    assert t.worst == "escaped" and t.escape == 1 and t.details()["params"] == "('p',)"
    only = runner.Tally()
    only.add(runner.Judgement("inconclusive", 0, "x"), (), 0)
    assert only.worst == "inconclusive"


def test_tally_with_more_inconclusive_than_conclusive_runs_is_inconclusive():
    t = runner.Tally()
    for _ in range(11):
        t.add(runner.Judgement("inconclusive", 0, "positive control failed"), (), 0.1)
    t.add(runner.Judgement("denied", 0, "finished"), (), 0.1)
    assert t.worst == "inconclusive" and t.escape == 0 and t.details()["reason"] == "positive control failed"
    t.add(runner.Judgement("spec-deviation", 0, "accepted"), (), 0.1)
    assert t.worst == "spec-deviation" and t.escape == 0  # a finding is shown, but is no escape


def test_a_hang_is_a_failure_only_where_the_probe_says_so():
    loop = probe("fs-symlink-loop")
    j = runner.judge(loop, _run(timed_out=True, exit_code=None), capabilities=CAPS, control=None, choices="a/secret.txt")
    assert j.outcome == "host-crashed" and j.escape == 1 and "hung" in j.reason


def test_wasi_grants_reach_each_runtime_and_the_default_is_unchanged(tmp_path):
    grant = WasiSetup(args=("a",), env=(("K", "V"),), preopens=(Preopen(tmp_path, "/rw", True),))
    cli, node = RUNTIMES["wasmtime-cli"], RUNTIMES["node-wasi"]
    plain = cli.command(Path("m.wasm"), Limits(), 1.0, "x86_64")
    granted = cli.command(Path("m.wasm"), Limits(), 1.0, "x86_64", wasi=grant)
    assert not any(a.startswith(("--dir", "--env")) for a in plain)
    assert f"--dir={tmp_path}::/rw" in granted and "--env=K=V" in granted and granted[-1] == "a"
    assert node.command(Path("m.wasm"), Limits(), 1.0, "x86_64")[-1] == "m.wasm"
    cfg = json.loads(node.command(Path("m.wasm"), Limits(), 1.0, "x86_64", wasi=grant)[-1])
    assert cfg == {"args": ["a"], "env": {"K": "V"}, "preopens": {"/rw": str(tmp_path)}}
    assert "preopen-readonly" in RUNTIMES["wasmtime-py"].capabilities and "preopen-readonly" not in cli.capabilities


def test_a_real_probe_escapes_natively_and_is_denied_under_wasmtime():
    p = probe("fs-symlink-relative")
    recipe = P.PathRecipe("secret", False, False, 0, ("/",), "", b"")
    control = runner.run_native(p, build_guest(p, "native"), recipe)
    assert runner.judge(p, control, choices=recipe).outcome == "escaped"
    session = RUNTIMES["wasmtime-py"].open(build_guest(p, "wasm32-wasi"), Limits())
    run = runner.run_wasm(p, "wasmtime-py", session, recipe)
    j = runner.judge(p, run, capabilities=CAPS, control=control, choices=recipe)
    assert j.outcome == "denied", (j, run.outcome.describe(), run.outcome.stdout)


def test_advisories_flag_versions_in_range(tmp_path):
    assert [a.id for a in advisories.flagged("wasmtime-cli", "wasmtime 5.0.0 (abc)", "mem-load-shl-fold")] == ["GHSA-ff4p-7xrq-q5r8"]
    assert advisories.flagged("wasmtime-cli", "wasmtime 6.0.1 (abc)", "mem-load-shl-fold") == []
    assert "GHSA-fm79-3f68-h2fc" in [a.id for a in advisories.flagged("wasmtime-py", "30.0.2")]
    assert advisories.flagged("node-wasi", "garbage") == []
    for a in advisories.table():
        assert set(a.probes) <= ({p.name for p in PROBES} | {memgen.PROBE_NAME, tablegen.PROBE_NAME, wasigen.PROBE_NAME}
                                 | set(memgen.REPLAYS) | set(tablegen.REPLAYS) | set(wasigen.REPLAYS)), a.id
        assert set(a.runtimes) <= set(RUNTIMES), a.id
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: X, runtimes: [node-wasi], affected: ['~~1'], summary: s}\n")
    with pytest.raises(advisories.AdvisoryError, match="bad version range"):
        advisories.table(bad)


def test_no_escapes_rule_leaves_positive_controls_out_of_the_verdict():
    recs = [{"claim": "SAFETY-2", "metric": "escape", "value": 1, "form": "native", "runtime": "os", "outcome": "escaped"},
            {"claim": "SAFETY-2", "metric": "escape", "value": 0, "form": "wasm", "runtime": "wasmtime-py", "outcome": "denied"},
            {"claim": "SAFETY-2", "metric": "escape", "value": 1, "form": "wasm", "runtime": "node-wasi", "outcome": "escaped",
             "details": {"probe": "x"}}]
    word, summary, fig = claims.rule_no_escapes(recs, "escape", exclude_forms=["native"])
    assert word == "partly-supported" and fig["held"] == ["wasmtime-py"] and fig["violated"] == ["node-wasi"]
    assert "positive controls (native): 1 of 1 escaped" in summary
    assert claims.rule_no_escapes(recs, "escape")[2]["violated"] == ["node-wasi", "os"]  # default unchanged


def test_grow_to_4gib_wraps_the_end_address_and_is_no_escape():
    """With all 65536 pages, (pages << 16) + past wraps into memory: that load is in bounds."""
    grow = probe("mem-grow-past-limit")
    full = _run(report={"G": [1], "Z": [65536], "V": [0], "X": [0], "D": [0]})
    assert runner.judge(grow, full, capabilities=CAPS, choices=(65535, 1)).outcome == "denied"
    short = _run(report={"G": [1], "Z": [2], "V": [0], "X": [0], "D": [0]})
    assert runner.judge(grow, short, capabilities=CAPS, choices=(1, 0)).outcome == "escaped"


def test_a_zero_length_iovec_array_past_memory_is_no_escape():
    """fd_write with 0 iovecs at a pointer past memory touches no byte (seen flaking CI when
    Hypothesis drew that case); one iovec there that the runtime accepted is an escape."""
    from harness.probes.registry import _judge_iovec

    report = {"MEMSIZE": [0x1070000], "RESULT": ["errno=0 n=0"]}
    assert _judge_iovec((0x7FFFFFC0, 0, 2), report) is None
    assert "iovec array" in _judge_iovec((0x7FFFFFC0, 1, 2), report)


def test_an_invalid_buffer_whose_bytes_stay_inside_memory_is_a_spec_deviation():
    """wasmtime-py 20.0.0: fd_read accepted an iovec at 0xfde8 of length 0xffffffff and moved 8
    bytes, which landed inside linear memory: a deviation from the spec, no escape. The same call
    moving bytes past the end is an escape."""
    from harness.probes.registry import _judge_iovec

    inside = {"MEMSIZE": [0x20000], "RESULT": ["errno=0 n=8"]}
    word, why = _judge_iovec((0xFDE8, 0xFFFFFFFF, 1), inside)
    assert word == "spec-deviation" and "no effect outside" in why
    j = runner.judge(probe("res-iovec-wrap"), _run(report={**inside, "D": [0]}), capabilities=CAPS, control=None,
                     choices=(0xFDE8, 0xFFFFFFFF, 1))
    assert j.outcome == "spec-deviation" and j.escape == 0
    past = {"MEMSIZE": [0x10000], "RESULT": ["errno=0 n=600"]}
    assert "written to outside linear memory" in _judge_iovec((0xFDE8, 0xFFFFFFFF, 1), past)


@pytest.mark.parametrize("name,choices", [("mem-store-shl-fold", (18, 2, 0)), ("mem-store-shl-fold", (16, 2, 0)),
                                          ("mem-store-edges", (72, 0, 256))])
def test_a_store_into_the_parameters_scratch_is_no_escape(name, choices):
    """A store that lands on the prelude's parameters (address 64 + 4i) is in bounds; the
    read-back address was taken before it, so it cannot turn into a trap (the default profile
    drew (18, 2, 0): 18 << 2 = 72, the third parameter, read as an out-of-bounds access)."""
    p = probe(name)
    session = RUNTIMES["wasmtime-py"].open(build_guest(p, "wasm32-wasi"), Limits())
    run = runner.run_wasm(p, "wasmtime-py", session, choices)
    j = runner.judge(p, run, capabilities=CAPS, choices=choices)
    assert j.outcome == "denied" and not j.escape, (j, run.outcome.describe(), run.outcome.stdout)
