"""Differential fuzzing: a deliberately planted wrong engine (it flips one result) must be
found and shrunk by the same campaign the security suite runs; the comparison rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import difffuzz


def test_planted_disagreement_is_found_and_shrunk(tmp_path):
    try:
        difffuzz.wasm_tools()
    except difffuzz.ToolMissing as exc:
        pytest.skip(str(exc))
    engines = [difffuzz.Engine("wasmtime-py/default"), difffuzz.Engine("planted-flip:wasmtime-py/default")]
    run = difffuzz.campaign(engines, examples=30, shrink_attempts=8, findings_root=tmp_path, database_key="planted-test")
    assert run.modules > 0 and run.findings, f"{run.modules} modules, {run.calls} calls: the planted flip was not found"
    f = run.findings[0]
    assert f.deviating == ["planted-flip:wasmtime-py/default"]
    assert f.shrunk is not None and len(f.shrunk) <= len(f.module)
    shrunk = f.directory / "shrunk.wasm"
    assert shrunk.is_file() and (f.directory / "shrunk.wat").read_text().startswith("(module")
    assert difffuzz.still_differs(f.engines, f.seed, shrunk)  # the reproducer reproduces
    assert "still-differs" in (f.directory / "command.txt").read_text()


def test_majority_and_engine_dependent_stack_depth():
    ok = ((("ok", (1,)), ("ok", (2,))), "h")
    assert difffuzz.deviators({"a": ok, "b": ok, "c": ((("ok", (1,)), ("ok", (3,))), "h")}) == ["c"]
    assert difffuzz.deviators({"a": ok, "b": None}) == []  # an engine that could not run it is not compared
    deep = ((("ok", (1,)), ("trap", "stack-overflow-or-deeper")), "x")
    assert difffuzz.deviators({"a": ok, "b": deep}) == []
    assert difffuzz.deviators({"a": ok, "b": ("died", 11)}) == ["b"]


def test_finding_kind_names_out_of_bounds_disagreements_as_safety():
    majority = ((("trap", "memory-out-of-bounds"),), "h")
    dev = ((("ok", (5,)),), "h")
    f = difffuzz.Finding(["a", "b", "c"], ["c"], 1, b"", {"a": majority, "b": majority, "c": dev})
    assert f.kind == "safety"
    f = difffuzz.Finding(["a", "b"], ["b"], 1, b"", {"a": ((("ok", (1,)),), "h"), "b": ((("ok", (2,)),), "h")})
    assert f.kind == "port"


def test_export_signatures_read_from_the_binary_match_wasmtime():
    """The parent reads export types from the binary (wasmtime-py aborts on v128 types)."""
    import os

    import wasmtime

    try:
        difffuzz.wasm_tools()
    except difffuzz.ToolMissing as exc:
        pytest.skip(str(exc))
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
