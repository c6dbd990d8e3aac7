"""Differential fuzzing reaches every engine by calling a no-argument export: each engine
that is present must print the same value and name every trap with the same word, or the
comparison would report our parsing as engine disagreements. Engines that are not installed
here are skipped with the reason."""

from __future__ import annotations

import pytest

from harness import difffuzz
from harness.outcome import Outcome
from harness.runtimes import RUNTIMES
from harness.runtimes.cli import invoked
from harness.toolchain import host_arch

TRAPS_WAT = """(module
  (type $v (func))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 1) func $ok)
  (func $ok (export "ok") (result i64) i64.const -5)
  (func (export "oob") (result i64) i32.const 70000 i64.load)
  (func (export "div") (result i64) i64.const 1 i64.const 0 i64.div_s)
  (func (export "ovf") (result i64) i64.const 0x8000000000000000 i64.const -1 i64.div_s)
  (func (export "conv") (result i64) f32.const nan i64.trunc_f32_s)
  (func (export "unr") (result i64) unreachable)
  (func $down (param $n i64) (result i64)
    local.get $n i64.eqz if (result i64) i64.const 7 else local.get $n i64.const 1 i64.sub call $down end)
  (func (export "rec") (result i64) i64.const 10000000 call $down)
  (func (export "null") (result i64) i32.const 0 call_indirect (type $v) i64.const 0)
  (func (export "sig") (result i64) i32.const 1 call_indirect (type $v) i64.const 0)
  (func (export "tab") (result i64) i32.const 9 call_indirect (type $v) i64.const 0)
)"""
EXPECTED = {"ok": 2**64 - 5, "oob": "memory-out-of-bounds", "div": "integer-division-by-zero",
            "ovf": "integer-overflow", "conv": "invalid-conversion-to-integer", "unr": "unreachable",
            "rec": "stack-overflow", "null": "indirect-call-to-null", "sig": "bad-signature", "tab": "table-out-of-bounds"}


# Traps while instantiating (segments out of bounds), and a module a pooling allocator refuses
# by its configured limit (not a trap: not comparable, never a table trap).
INSTANTIATE_WAT = {
    "data": ('(module (memory 0 15) (data (i32.const 162598410) "n") (func (export "f") (result i64) i64.const 1))',
             "memory-out-of-bounds"),
    "elem": ('(module (table 1 funcref) (elem (i32.const 5) func 0) (func (export "f") (result i64) i64.const 1))',
             "table-out-of-bounds"),
}


@pytest.fixture(scope="module")
def traps_module(tmp_path_factory):
    import wasmtime

    path = tmp_path_factory.mktemp("invoke") / "traps.wasm"
    path.write_bytes(wasmtime.wat2wasm(TRAPS_WAT))
    for name, (wat, _) in INSTANTIATE_WAT.items():
        path.with_name(f"{name}.wasm").write_bytes(wasmtime.wat2wasm(wat))
    return path


@pytest.mark.parametrize("row", sorted(RUNTIMES))
def test_every_engine_names_values_and_traps_alike(row, traps_module):
    rt = RUNTIMES[row]
    avail = rt.availability(host_arch())
    if not avail.available:
        pytest.skip(f"{row}: {avail.reason}")
    if not difffuzz.engine_configs(rt):
        pytest.skip(f"{row}: no way to invoke an export")
    engine = difffuzz.Engine(f"{row}/default")
    got = dict(zip(EXPECTED, engine.invoke(traps_module, list(EXPECTED))))
    seen = {name: g.value if g.value is not None else difffuzz.comparable_trap(g.trap) if g.trap else g.error or g
            for name, g in got.items()}
    if seen["rec"] == 7:  # an engine whose stack holds 10^7 frames (WasmEdge grows its stack on the heap)
        seen["rec"] = "stack-overflow"
    assert seen == {k: difffuzz.comparable_trap(v) if isinstance(v, str) else v for k, v in EXPECTED.items()}
    for name, (_, kind) in INSTANTIATE_WAT.items():
        assert engine.invoke(traps_module.with_name(f"{name}.wasm"), ["f"])[0].trap == kind, name


def test_a_configured_limit_is_an_error_not_a_trap(tmp_path):
    import wasmtime

    if not RUNTIMES["wasmtime-cli"].availability(host_arch()).available:
        pytest.skip("wasmtime CLI not available")
    path = tmp_path / "bigtable.wasm"
    path.write_bytes(wasmtime.wat2wasm('(module (table 998476 funcref) (func (export "f") (result i64) i64.const 1))'))
    got = difffuzz.Engine("wasmtime-cli/pooling").invoke(path, ["f"])[0]
    assert got.trap is None and "pooling" in got.error


def test_a_host_backtrace_is_not_read_as_trap_words():
    text = (b"Error: failed to run main module\n\nCaused by:\n    0: failed to invoke `f`\n"
            b"    2: wasm trap: integer divide by zero\n\nStack backtrace:\n   0: core::ptr::non_null::NonNull unreachable\n")
    assert invoked(Outcome(exit_code=134, stderr=text), RUNTIMES["wasmtime-cli"].trap_pattern).trap == "integer-division-by-zero"
    assert invoked(Outcome(exit_code=0, stdout=b"warning\n-5\n")).value == 2**64 - 5
    assert invoked(Outcome(exit_code=None, signal=11, stderr=b"out of bounds memory")).died == 11
    assert invoked(Outcome(timed_out=True)).timed_out
    assert invoked(Outcome(exit_code=1, stderr=b"Error: failed to compile\n")).error == "Error: failed to compile"
