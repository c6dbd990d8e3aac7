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


def test_planted_disagreement_is_found_shrunk_and_saved(tmp_path):
    from hypothesis.database import InMemoryExampleDatabase

    _need_wasm_tools()
    db = InMemoryExampleDatabase()
    engines = [difffuzz.Engine("wasmtime-py/default"), difffuzz.Engine("planted-flip:wasmtime-py/default")]
    run = difffuzz.campaign(engines, examples=30, shrink_attempts=8, findings_root=tmp_path, database=db)
    assert run.modules > 0 and run.findings, f"{run.modules} modules, {run.calls} calls: the planted flip was not found"
    f = run.findings[0]
    assert f.deviating == ["planted-flip:wasmtime-py/default"]
    assert f.shrunk is not None and len(f.shrunk) <= len(f.module)
    shrunk = f.directory / "shrunk.wasm"
    assert shrunk.is_file() and (f.directory / "shrunk.wat").read_text().startswith("(module")
    assert difffuzz.still_differs(f.engines, f.seed, shrunk)  # the reproducer reproduces
    assert "still-differs" in (f.directory / "command.txt").read_text()
    # saved in the Hypothesis database, and replayed first by the next run
    saved = list(db.fetch(difffuzz.DB_KEY + b"mvp"))
    assert saved and saved[0][8:] == f.shrunk
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
    assert difffuzz.deviators({"a": _ok(1), "b": _ok(1), "c": ("died", 11)}) == ["c"]


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
