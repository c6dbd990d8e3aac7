"""The one call shape every generator uses on every row (harness.probes.calls): a wrapped
module must answer what the child host answers for the same function and arguments, a
panicking engine is a host crash, and the generators' command-line calls give the model's
answers on a correct engine and a finding on a wrong one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from harness import difffuzz
from harness.probes import calls, simdgen, tablegen
from harness.runtimes.base import Invoked

THREE = """(module (memory (export "memory") 1)
  (func $probe (param $a i32) (param $b i64) (result i64 i64 i64)
    (i32.store (i32.const 8) (local.get $a))
    (i64.extend_i32_s (local.get $a)) (local.get $b) (i64.add (i64.extend_i32_u (local.get $a)) (local.get $b))))
"""


def test_each_result_and_the_memory_digest_come_back_in_order(engine_spec, tmp_path):
    call = calls.Call(THREE, ("i32", "i64"), (0xFFFFFFFF, 5), 3, digest=True)
    reply = calls.request(difffuzz.Engine(engine_spec), call, tmp_path)
    memory = bytearray(1 << 16)
    memory[8:12] = b"\xff\xff\xff\xff"
    assert reply == {"results": [2**64 - 1, 5, 0xFFFFFFFF + 5], "memory_digest": calls.digest(bytes(memory))}
    assert not list(tmp_path.iterdir())


def test_data_is_placed_at_address_zero(tmp_path):
    wat = '(module (memory 1) (func $probe (result i64) (i64.load (i32.const 0))))'
    reply = calls.request(difffuzz.Engine("wasmtime-py/default"), calls.Call(wat, (), (), 1, data=b"\x01\x02"), tmp_path)
    assert reply == {"results": [0x0201]}


class _Panicking:
    def invoke(self, path, exports, features=()):
        return [Invoked(error="thread 'main' panicked at crates/runtime/src/table.rs:12:5")] * len(exports)


def test_a_panicking_engine_is_a_host_crash_not_an_error(tmp_path):
    reply = calls.request(_Panicking(), calls.Call(THREE, ("i32", "i64"), (1, 2), 3), tmp_path)
    assert reply["died"] and "panicked at" in reply["stderr_tail"]
    case = tablegen.Case(tablegen.Table("i32", "funcref", 1, None), "table.size")
    assert tablegen.judge(case, reply).outcome == "host-crashed"


SIMD_CASES = [simdgen.Case("i8x16.add_sat_s", bytes([127] * 16), bytes(range(16)), bytes(16), 0, (False, True, False)),
              simdgen.Case("i32x4.shl", bytes(range(16)), bytes(16), bytes(16), 33, (False, False, False)),
              simdgen.Case("f32x4.min", bytes.fromhex("0000c07f" * 4), bytes.fromhex("00000080" * 4), bytes(16), 0,
                           (False, False, False))]


@pytest.mark.parametrize("case", SIMD_CASES, ids=[c.op for c in SIMD_CASES])
def test_a_simd_call_on_a_correct_engine_gets_the_models_lanes(engine_spec, case, tmp_path):
    verdict = simdgen.judge(case, calls.request(difffuzz.Engine(engine_spec), simdgen.call(case), tmp_path))
    assert verdict.outcome == "same", verdict.reason


def test_a_wrong_engine_is_a_simd_mismatch(tmp_path):
    case = SIMD_CASES[0]
    verdict = simdgen.judge(case, calls.request(difffuzz.Engine("planted-flip:wasmtime-py/default"), simdgen.call(case), tmp_path))
    assert verdict.outcome == "mismatch" and verdict.finding


def test_a_table_call_on_a_correct_engine_is_judged_as_the_spec_says(engine_spec, tmp_path):
    engine = difffuzz.Engine(engine_spec)
    inside = tablegen.Case(tablegen.Table("i32", "externref", 3, 5), "table.grow", a=2)
    past = tablegen.Case(tablegen.Table("i32", "funcref", 3, None), "table.get", a=3)
    assert tablegen.judge(inside, calls.request(engine, tablegen.call(inside), tmp_path)).outcome == "denied"
    assert tablegen.judge(past, calls.request(engine, tablegen.call(past), tmp_path)).outcome == "trapped"


@settings(max_examples=300, deadline=None)
@given(tablegen.cases(max_elements=1 << 10))
def test_capped_tables_are_never_declared_or_grown_past_the_cap(case):
    assert case.table.minimum <= 1 << 10
    if case.op == "table.grow":
        assert case.table.minimum + case.a <= 1 << 10
