"""The table model and judge (harness.probes.tablegen), and the installed wasmtime agreeing
with the model on drawn cases."""

from __future__ import annotations

from hypothesis import given, settings

from harness.probes import tablegen as tg
from harness.runtimes import RUNTIMES

T32 = tg.Table("i32", "funcref", 4, 6)


def test_model():
    assert tg.expect(tg.Case(T32, "table.get", a=4), 4) == {"trap": True}
    assert tg.expect(tg.Case(T32, "table.get", a=3), 4) == {"results": [1, 4]}
    assert tg.expect(tg.Case(T32, "table.fill", a=2, n=2), 4) == {"results": [0, 4]}
    assert tg.expect(tg.Case(T32, "table.copy", a=0, b=3, n=2), 4) == {"trap": True}
    assert tg.expect(tg.Case(T32, "table.grow", a=3), 4) == {"grow": False}  # past the maximum: -1
    assert tg.expect(tg.Case(tg.Table("i64", "externref", 4, None), "table.grow", a=1 << 40), 4) == {"grow": True}


def test_judge_words():
    case = tg.Case(T32, "table.get", a=9)
    assert tg.judge(case, {"trap": "table-out-of-bounds", "results": None}).outcome == "trapped"
    assert tg.judge(case, {"results": [1, 4]}).outcome == "escaped"
    assert tg.judge(case, {"died": True, "signal": 6}).outcome == "host-crashed"
    grow = tg.Case(T32, "table.grow", a=2)
    assert tg.judge(grow, {"results": [4, 6]}).outcome == "denied" and tg.judge(grow, {"results": [tg.M32, 4]}).outcome == "denied"
    assert tg.judge(grow, {"results": [tg.M32, 6]}).outcome == "escaped"  # refused, yet the size changed
    assert tg.judge(case, {"error": "out of memory (failed to allocate 2251799813685240 bytes)"}).outcome == "denied"
    wasmi = "failed to instantiate table: tried to allocate more virtual memory than available"  # wasmi 2.0's refusal
    assert tg.judge(case, {"error": wasmi}).outcome == "denied"
    wasmer = "Unable to instantiate the WebAssembly module | ╰─▶ 1: Insufficient resources: Table maximum (4294967294) is larger"
    assert tg.judge(case, {"error": wasmer}).outcome == "denied"  # Wasmer 7.4's refusal, its cause on the second line


def test_every_shape_assembles():
    import wasmtime

    for table in (T32, tg.Table("i64", "externref", 0, None), tg.Table("i64", "funcref", 1 << 40, tg.M64)):
        for op in tg.OPS:
            wasmtime.wat2wasm(tg.render(tg.Case(table, op, 1, 2, 3)))


@settings(max_examples=40, deadline=None, database=None)
@given(tg.cases())
def test_the_model_agrees_with_the_installed_wasmtime(case):
    verdict = tg.judge(case, RUNTIMES["wasmtime-py"].child().request(tg.request(case, "default"), 60))
    assert verdict.outcome in ("denied", "trapped"), f"{verdict.reason}: {tg.describe(case)}"
