"""Differential fuzzing: a deliberately planted wrong engine (it flips one result) must be
found and shrunk by the same campaign the security suite runs; the comparison rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import difffuzz, fuzzdriver


def _need_wasm_tools():
    try:
        difffuzz.wasm_tools()
    except difffuzz.ToolMissing as exc:
        pytest.skip(str(exc))


def _engines_with_a_third_family():
    """wasmtime-py, its planted flip and, where node is here, V8: with two families a flip is a
    tie (no majority), with three it is a deviation."""
    from harness.runtimes import RUNTIMES
    from harness.toolchain import host_arch

    engines = [difffuzz.Engine("wasmtime-py/default"), difffuzz.Engine("planted-flip:wasmtime-py/default")]
    if not RUNTIMES["node-wasi"].availability(host_arch()).available:
        pytest.skip("node is not installed here: a third engine family is needed for a majority")
    return engines + [difffuzz.Engine("node-wasi/default")]


@pytest.mark.parametrize("families", [2, 3])
def test_planted_disagreement_is_found_shrunk_and_saved(tmp_path, families):
    from hypothesis.database import InMemoryExampleDatabase

    _need_wasm_tools()
    db = InMemoryExampleDatabase()
    engines = (_engines_with_a_third_family() if families == 3 else
               [difffuzz.Engine("wasmtime-py/default"), difffuzz.Engine("planted-flip:wasmtime-py/default")])
    run = difffuzz.campaign(engines, examples=30, shrink_attempts=8, findings_root=tmp_path, database=db)
    assert run.modules > 0 and run.findings, f"{run.modules} modules, {run.calls} calls: the planted flip was not found"
    f = run.findings[0]
    if families == 3:
        assert f.verdict == "deviation" and f.deviating == ["planted-flip:wasmtime-py/default"]
    else:  # one family against one: a tie, nobody blamed, both answers kept
        assert f.verdict == "ambiguous" and f.deviating == [] and set(f.forms) == {e.spec for e in engines}
        assert run.verdict("wasmtime-py/default")["outcome"] in ("inconclusive", "same")
        assert "agreed with the majority" not in run.verdict("wasmtime-py/default")["reason"] or run.verdicts["same"]
    assert f.shrunk is not None and len(f.shrunk) <= len(f.module)
    shrunk = f.directory / "shrunk.wasm"
    assert shrunk.is_file() and (f.directory / "shrunk.wat").read_text().startswith("(module")
    assert difffuzz.still_differs(f.engines, f.seed, shrunk)  # the reproducer reproduces
    assert "still-differs" in (f.directory / "command.txt").read_text()
    # saved in the Hypothesis database, and replayed first by the next run
    saved = list(db.fetch(difffuzz.DB_KEY + b"mvp"))
    assert saved and f.shrunk in [s[8:] for s in saved]
    again = difffuzz.campaign(engines, examples=1, shrink_attempts=1, findings_root=tmp_path / "again", database=db)
    assert again.replayed == len(saved) and again.findings


def _ok(v):
    return ("ok", v)


def test_majority_counts_engine_families_not_configurations():
    fam = {"py/a": "wasmtime", "py/b": "wasmtime", "py/c": "wasmtime", "node": "v8", "edge": "wasmedge"}
    # three wasmtime configurations against V8 and WasmEdge: the two families win
    forms = {"py/a": _ok(1), "py/b": _ok(1), "py/c": _ok(1), "node": _ok(2), "edge": _ok(2)}
    assert difffuzz.deviators(forms, fam) == ["py/a", "py/b", "py/c"]
    forms["py/b"] = _ok(2)
    assert difffuzz.deviators(forms, fam) == ["py/a", "py/c"]
    assert difffuzz.deviators({"a": _ok(1), "b": None}) == []  # an engine that could not run it is not compared
    assert difffuzz.judge({"a": _ok(1), "b": _ok(1), "c": _ok(1)}).verdict == "same"


def test_a_tie_is_ambiguous_whatever_the_row_order():
    fam = {"py": "wasmtime", "node": "v8", "edge": "wasmedge", "wasmi": "wasmi"}
    forms = {"py": _ok(1), "node": _ok(2), "edge": _ok(1), "wasmi": _ok(2)}
    for order in (list(forms), list(reversed(forms))):
        j = difffuzz.judge({k: forms[k] for k in order}, fam)
        assert j.verdict == "ambiguous" and j.deviating == [] and j.majority is None
    assert difffuzz.judge({"a": _ok(1), "b": _ok(2)}).verdict == "ambiguous"


def test_same_needs_two_engine_families():
    fam = {"wasmedge/default": "wasmedge", "wasmedge-aot/default": "wasmedge"}
    j = difffuzz.judge({"wasmedge/default": _ok(1), "wasmedge-aot/default": _ok(1)}, fam)
    assert j.verdict == "one-family" and not j.deviating
    assert difffuzz.judge({"a": _ok(1), "b": None}).verdict == "one-family"
    assert difffuzz.judge({"a": None, "b": None}).verdict == "no-answer"


class _Eng:
    def __init__(self, spec, family):
        self.spec, self.family = spec, family


def _campaign(engines, modules):
    """A Campaign fed fabricated observations: modules is a list of {spec: Observation}."""
    run = difffuzz.Campaign()
    for i, obs in enumerate(modules):
        for f in run._count(engines, b"m%d" % i, i, obs, 3):
            if f.key in run.seen:
                run.seen[f.key].modules += 1
            else:
                run.seen[f.key] = f
                run.findings.append(f)
    return run


def test_one_engine_family_alone_is_never_said_to_agree():
    """--runtime wasmedge,wasmedge-aot alone: one family voting with itself compares nothing."""
    engines = [_Eng("wasmedge/default", "wasmedge"), _Eng("wasmedge-aot/default", "wasmedge")]
    O = difffuzz.Observation
    run = _campaign(engines, [{"wasmedge/default": O(_ok(i)), "wasmedge-aot/default": O(_ok(i))} for i in range(150)])
    for e in engines:
        v = run.verdict(e.spec)
        assert v["outcome"] == "not-tested" and v["value"] is None
        assert "agreed with the majority" not in v["reason"] and "only one engine family answered (wasmedge)" in v["reason"]
    assert run.verdicts == {"one-family": 150}


def test_panic_abort_and_signal_are_host_crashed_findings():
    from harness.runtimes.base import Invoked

    panic = Invoked(error="thread 'main' panicked at crates/cranelift/src/lib.rs:12:5:")
    assert difffuzz._observation(panic, []).form == ("died", "panic")
    assert difffuzz._observation(Invoked(error="exit 101"), []).form == ("died", "panic")
    assert difffuzz._observation(Invoked(died=6), []).form == ("died", 6)
    assert difffuzz._observation(Invoked(error="failed to parse: unknown opcode"), []).form is None  # an error, not a crash
    # a crash on a prefix the whole run passed is a crash too
    assert difffuzz._observation(Invoked(trap="unreachable"), [Invoked(value=1), panic]).form == ("died", "panic")

    engines = [_Eng("py", "wasmtime"), _Eng("node", "v8"), _Eng("cli", "wasmtime-cli")]
    O = difffuzz.Observation
    # every engine crashed: no majority to deviate from, still a finding for each
    run = _campaign(engines, [{"py": O(("died", 11)), "node": O(("died", 6)), "cli": O(("died", "panic"))}])
    assert sorted(f.deviating[0] for f in run.findings if f.verdict == "host-crashed") == ["cli", "node", "py"]
    assert all(f.kind == "safety" for f in run.findings)
    v = run.verdict("cli")
    assert v["outcome"] == "host-crashed" and v["value"] == 1 and "host crashed on 1 modules" in v["reason"]


def test_time_outs_and_errors_are_counted_per_engine():
    engines = [_Eng("py", "wasmtime"), _Eng("node", "v8"), _Eng("wasmi", "wasmi")]
    O = difffuzz.Observation
    run = _campaign(engines, [
        {"py": O(_ok(1)), "node": O(None, "timed out"), "wasmi": O(_ok(1))},
        {"py": O(_ok(2)), "node": O(None, "timed out"), "wasmi": O(None, "out of fuel /tmp/x/ab.wasm")},
        {"py": O(_ok(3)), "node": O(_ok(3)), "wasmi": O(None, "out of fuel /tmp/x/cd.wasm")},
    ])
    assert run.timeouts == {"node": 2} and run.errors == {"wasmi": 2}
    assert run.compared == {"py": 2, "node": 1, "wasmi": 1}  # the second module: one family answered
    v = run.verdict("node")
    assert v["outcome"] == "same" and "2 time-outs, 0 errors" in v["reason"]
    assert run.not_compared["wasmi"]["out of fuel <module>"] == 2  # one reason, not one per module file


def test_every_distinct_finding_is_kept():
    engines = [_Eng("py", "wasmtime"), _Eng("node", "v8"), _Eng("wasmi", "wasmi")]
    O = difffuzz.Observation
    wrong_value = {"py": O(_ok(1)), "node": O(_ok(1)), "wasmi": O(_ok(2))}
    wrong_trap = {"py": O(_ok(1)), "node": O(_ok(1)), "wasmi": O(("trap", 0, "unreachable", 5))}
    tie = {"py": O(_ok(1)), "node": O(_ok(2)), "wasmi": O(None, "error")}
    run = _campaign(engines, [wrong_value, wrong_trap, wrong_value, tie])
    kinds = sorted((f.verdict, f.modules) for f in run.findings)
    # the same deviating engine twice, but two different findings (a value, a trap); the repeat is counted
    assert kinds == [("ambiguous", 1), ("deviation", 1), ("deviation", 2)]
    assert run.deviated["wasmi"] == 3 and run.ambiguous == {"py": 1, "node": 1}
    tie_finding = next(f for f in run.findings if f.verdict == "ambiguous")
    assert tie_finding.deviating == [] and tie_finding.forms["py"] == _ok(1) and tie_finding.forms["node"] == _ok(2)


def test_finding_kind_names_bounds_disagreements_and_crashes_as_safety():
    oob = ("trap", 2, "memory-out-of-bounds", 5)
    f = difffuzz.Finding(["a", "b", "c"], ["c"], 1, b"", {"a": oob, "b": oob, "c": _ok(9)})
    assert f.kind == "safety"  # returned where the others trapped out of bounds
    f = difffuzz.Finding(["a", "b", "c"], ["c"], 1, b"", {"a": _ok(9), "b": _ok(9), "c": ("trap", 0, "memory-out-of-bounds", 1)})
    assert f.kind == "safety"  # trapped out of bounds where the others went on
    f = difffuzz.Finding(["a", "b"], ["b"], 1, b"", {"a": _ok(1), "b": ("died", 11)})
    assert f.kind == "safety"
    f = difffuzz.Finding(["a", "b"], ["b"], 1, b"", {"a": _ok(1), "b": _ok(2)})
    assert f.kind == "port"
    f = difffuzz.Finding(["a", "b"], ["b"], 1, b"", {"a": ("trap", 1, "unreachable", 3), "b": _ok(2)})
    assert f.kind == "port"


class _Scripted:
    """An engine whose answers are given: prefix(k) returns iff k <= the trapping call."""

    def __init__(self, spec, trap_at=None, kind="unreachable", batch=False):
        self.spec, self.family, self.trap_at, self.kind, self.batch = spec, spec, trap_at, kind, batch
        self.asked = []

    def invoke(self, path, exports):
        from harness.runtimes.base import Invoked

        self.asked += exports
        out = []
        for name in exports:
            k = None if name == fuzzdriver.ALL else int(name.rsplit("_", 1)[1])
            if self.trap_at is not None and (k is None or k > self.trap_at):
                out.append(Invoked(trap=self.kind))
            else:
                out.append(Invoked(value=1000 + (k if k is not None else 99)))
        return out


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("trap_at", [0, 1, 5, 6])
def test_observe_finds_the_first_trapping_call(trap_at, batch):
    e = _Scripted("e", trap_at=trap_at, batch=batch)
    obs = difffuzz.observe(e, Path("m.wasm"), 7)
    assert obs.form == ("trap", trap_at, "unreachable", 1000 + trap_at if trap_at else fuzzdriver.FNV_OFFSET)
    assert difffuzz.observe(_Scripted("ok"), Path("m.wasm"), 7).form == ("ok", 1099)


def test_stack_depth_is_compared_only_up_to_the_shallowest_overflow():
    shallow = _Scripted("a", trap_at=2, kind="stack-overflow")
    deep = _Scripted("b")
    other = _Scripted("c", trap_at=1, kind="unreachable")
    obs = {e.spec: difffuzz.observe(e, Path("m.wasm"), 4) for e in (shallow, deep, other)}
    difffuzz.settle_stack_depth([shallow, deep, other], Path("m.wasm"), obs)
    assert obs["a"].form == obs["b"].form == ("upto", 2, 1002)
    assert obs["c"].form == ("trap", 1, "unreachable", 1001)  # trapped before the overflow: still compared whole


def test_driver_folds_what_the_calls_return(tmp_path):
    """The driver's fold equals the results wasmtime-py returns for the same calls."""
    import wasmtime

    _need_wasm_tools()
    wat = """(module (memory 1) (global (mut i32) (i32.const 3))
      (func (export "add") (param i32 i64) (result i64) local.get 1 local.get 0 i64.extend_i32_u i64.add)
      (func (export "f") (param f32) (result f32 i32) local.get 0 i32.const 7)
      (func (export "oob") (result i32) i32.const 70000 i32.load))"""
    module = wasmtime.wat2wasm(wat)
    shape = difffuzz.read_shape(module)
    calls = [fuzzdriver.Call(0, ("i32", "i64"), ("i64",), (5, 2**64 - 1)), fuzzdriver.Call(1, ("f32",), ("f32", "i32"), (0x7FC00001,))]
    driven = fuzzdriver.instrument(module, calls + [fuzzdriver.Call(2, (), ("i32",), ())], shape.globals, True,
                                   difffuzz.wasm_tools())
    store = wasmtime.Store()
    exports = wasmtime.Instance(store, wasmtime.Module(store.engine, driven), []).exports(store)
    h = fuzzdriver.fold([4], ["i64"])  # 5 + (2^64 - 1) wraps to 4
    h = fuzzdriver.fold([0x7FC00001, 7], ["f32", "i32"], h)  # the NaN's payload is folded
    assert exports[fuzzdriver.prefix(2)](store) & fuzzdriver.MASK64 == h
    assert exports[fuzzdriver.prefix(1)](store) & fuzzdriver.MASK64 == fuzzdriver.fold([4], ["i64"])
    with pytest.raises(wasmtime.Trap):
        exports[fuzzdriver.ALL](store)


def test_export_signatures_read_from_the_binary_match_wasmtime():
    """The parent reads export types from the binary (wasmtime-py aborts on v128 types)."""
    import os

    import wasmtime

    _need_wasm_tools()
    checked = 0
    for _ in range(20):
        module = difffuzz.smith(os.urandom(600), "mvp")
        if not module:
            continue
        funcs, globals_ = difffuzz.export_signatures(module)
        mod = wasmtime.Module(wasmtime.Engine(), module)
        assert funcs == {e.name: ([str(t) for t in e.type.params], [str(t) for t in e.type.results])
                         for e in mod.exports if isinstance(e.type, wasmtime.FuncType)}
        assert globals_ == {e.name: str(e.type.content) for e in mod.exports if isinstance(e.type, wasmtime.GlobalType)}
        checked += 1
    assert checked


class _DyingHost:
    """A wasmtime-py child that dies (SIGSEGV) on any batch holding the module named `bad`."""

    def __init__(self, bad):
        self.bad, self.requests = bad, 0

    def request(self, req, timeout_s):
        self.requests += 1
        if any(job["module"].endswith(self.bad) for job in req["jobs"]):
            return {"died": True, "signal": 11}
        return {"results": [[{"value": int(Path(job["module"]).stem[1:])}] for job in req["jobs"]]}


def test_a_crash_costs_only_the_batch_bisected_to_the_module():
    e = difffuzz.Engine("wasmtime-py/default")
    e.host = _DyingHost("m5.wasm")
    jobs = [(Path(f"/x/m{i}.wasm"), [fuzzdriver.ALL], []) for i in range(8)]
    got = e.invoke_many(jobs)
    assert [g[0].value for g in got] == [0, 1, 2, 3, 4, None, 6, 7]
    assert got[5][0].died == 11 and difffuzz._observation(got[5][0], []).form == ("died", 11)
    assert e.host.requests <= 1 + 2 * 3  # the batch, then one bisection path down to the module


def test_node_batch_resumes_after_the_module_that_stopped_it(monkeypatch):
    from harness.outcome import Outcome
    from harness.runtimes import node

    calls = []

    def fake_run(cmd, stdin, timeout_s):
        import json

        jobs = json.loads(Path(cmd[-1]).read_text())
        calls.append([j["module"] for j in jobs])
        lines = []
        for j in jobs:
            if j["module"] == "m2.wasm" and len(calls) == 1:
                return Outcome(stdout="".join(lines).encode(), signal=6)
            lines.append(json.dumps({"results": [{"value": j["module"][1]}]}) + "\n")
        return Outcome(stdout="".join(lines).encode(), exit_code=0)

    monkeypatch.setattr(node, "run_process", fake_run)
    rt = node.NodeWasi()
    monkeypatch.setattr(rt, "program", lambda arch=None: "node")
    got = rt.invoke_batch([(Path(f"m{i}.wasm"), [fuzzdriver.ALL], []) for i in range(5)])
    assert [g[0].value for g in got] == [0, 1, None, 3, 4] and got[2][0].died == 6
    assert calls == [["m0.wasm", "m1.wasm", "m2.wasm", "m3.wasm", "m4.wasm"], ["m3.wasm", "m4.wasm"]]


def test_batched_and_one_by_one_see_the_same_answers():
    _need_wasm_tools()
    engines = [difffuzz.Engine("wasmtime-py/default"), difffuzz.Engine("wasmtime-py/opt-none")]
    out = difffuzz.throughput(engines, modules=6, batch=4)
    assert out["same_forms"] == "6 of 6 modules"
    assert out["batched"]["executions"] == out["one-by-one"]["executions"] == 12
    assert set(out["engines"]) == {"wasmtime-py/default", "wasmtime-py/opt-none"}
