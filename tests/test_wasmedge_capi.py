"""harness.runtimes.wasmedge_capi: the wasmedge rows answer a batch in one child process
through libwasmedge, with the same answers as a `wasmedge --reactor` process per call."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.runtimes import wasmedge_capi
from harness.runtimes.base import Invoked
from harness.runtimes.cli import program_version
from harness.runtimes.wasmedge import WasmEdge, WasmEdgeAot
from harness.toolchain import host_arch

TRAPS = """(module
  (memory 1)
  (global $zero (mut i64) (i64.const 0))
  (global $calls (mut i64) (i64.const 0))
  (type $ri32 (func (result i32)))
  (type $ri64 (func (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $i32fn)
  (func $i32fn (type $ri32) i32.const 1)
  (func (export "value") (result i64) i64.const -5)
  (func (export "unreachable") (result i64) unreachable)
  (func (export "oob") (result i64) i32.const 70000 i64.load)
  (func (export "div") (result i64) i64.const 1 global.get $zero i64.div_s)
  (func (export "mismatch") (result i64) i32.const 0 call_indirect (type $ri64))
  (func (export "null") (result i64) i32.const 1 call_indirect (type $ri64))
  (func (export "count") (result i64)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1))) global.get $calls))"""
# Not folded into a loop by the AOT compiler (as `call $f i64.const 1 i64.add` would be).
OVERFLOW = """(module (global $g (mut i64) (i64.const 0))
  (func $f (export "overflow") (result i64)
    (global.set $g (i64.add (global.get $g) (i64.const 1))) call $f global.get $g i64.sub))"""
LOOP = """(module (func (export "loop") (result i64) (local $i i64) (local $acc i64)
  (loop $l (local.set $acc (i64.add (local.get $acc) (i64.mul (local.get $i) (local.get $i))))
    (local.set $i (i64.add (local.get $i) (i64.const 1)))
    (br_if $l (i64.lt_u (local.get $i) (i64.const 1000000))))
  local.get $acc))"""


def _row(rt):
    """The row with its C API child, or a skip with the reason."""
    have = rt.availability(host_arch())
    if not have.available:
        pytest.skip(have.reason)
    program = rt.program(host_arch())
    child, why = wasmedge_capi.child_for(program, program_version(program), rt.name)
    if child is None:
        pytest.skip(why)
    return rt


def _wasm(folder: Path, name: str, wat: str) -> Path:
    import wasmtime

    path = folder / f"{name}.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def _kind(got: list[Invoked]) -> list[tuple]:
    """Answers compared as the fuzzer does: the error's wording (a log timestamp on the CLI) aside."""
    return [(g.value, g.trap, g.died, g.timed_out, g.error is not None) for g in got]


@pytest.mark.parametrize("row", [WasmEdge, WasmEdgeAot], ids=["wasmedge", "wasmedge-aot"])
def test_a_batch_through_the_c_api_answers_as_a_process_per_call(row, tmp_path):
    """Values, every trap kind WasmEdge has, on_trap's search, a fresh instance per call, a file
    that does not load. WasmEdge 0.14 has no stack-overflow trap: compiled code dies by SIGSEGV
    (a real engine crash, pinned to its module in the batch); the interpreter grows its stack
    until std::bad_alloc (about a minute and many GB), so it is left out there."""
    rt = _row(row())
    traps = _wasm(tmp_path, "traps", TRAPS)
    (tmp_path / "junk.wasm").write_bytes(b"not wasm")
    jobs = [(traps, ["value"], []), (traps, ["unreachable"], ["value", "oob", "value"]), (traps, ["oob"], []),
            (traps, ["div"], []), (traps, ["mismatch"], []), (traps, ["null"], []), (traps, ["count", "count"], []),
            (tmp_path / "junk.wasm", ["value"], [])]
    if row is WasmEdgeAot:
        jobs.insert(3, (_wasm(tmp_path, "overflow", OVERFLOW), ["overflow"], []))
    batched = rt.invoke_batch(jobs, timeout_s=10)
    one_by_one = [rt.invoke_job(job, timeout_s=10) for job in jobs]
    assert [_kind(g) for g in batched] == [_kind(g) for g in one_by_one]
    kinds = [g.trap or g.died for got in batched for g in got]
    assert {"unreachable", "memory-out-of-bounds", "integer-division-by-zero", "bad-signature",
            "indirect-call-to-null"} <= set(kinds)
    assert batched[-2] == [Invoked(value=1), Invoked(value=1)]  # each call on a fresh instance
    if row is WasmEdgeAot:
        assert batched[3] == [Invoked(died=11)] and batched[4][0].trap == "integer-division-by-zero"


def test_the_aot_row_runs_compiled_code_through_the_c_api(tmp_path):
    """The compiled file's native code, not the interpreter (that reads the same file's Wasm
    when told to): a million loop iterations take a small part of the interpreter's time."""
    interp, aot = _row(WasmEdge()), _row(WasmEdgeAot())
    job = [(_wasm(tmp_path, "loop", LOOP), ["loop"], [])]
    got, seconds = {}, {}
    for rt in (interp, aot):
        rt.invoke_batch(job)  # the child started, the module compiled, before timing
        start = time.perf_counter()
        got[rt.name] = rt.invoke_batch(job)
        seconds[rt.name] = time.perf_counter() - start
    assert got["wasmedge"] == got["wasmedge-aot"] and got["wasmedge"][0][0].value is not None
    assert seconds["wasmedge-aot"] * 5 < seconds["wasmedge"], seconds


class _DyingChild:
    """Stands in for the engine child: it dies on any batch that holds the bad module."""

    def __init__(self, bad: str):
        self.bad, self.requests = bad, 0

    def request(self, req: dict, timeout_s: float) -> dict:
        self.requests += 1
        if any(job["module"].endswith(self.bad) for job in req["jobs"]):
            return {"died": True, "signal": 11}
        return {"results": [[{"value": int(Path(job["module"]).stem[1:])}] for job in req["jobs"]]}


def test_a_crash_in_the_child_is_pinned_to_its_module():
    capi = wasmedge_capi.CapiChild(Path("/x/libwasmedge.so"), "test")
    capi.child = _DyingChild("m5.wasm")
    got = capi.invoke_batch([(Path(f"/x/m{i}.wasm"), ["all"], []) for i in range(8)], 1.0, force_interpreter=True)
    assert [g[0].value for g in got] == [0, 1, 2, 3, 4, None, 6, 7] and got[5] == [Invoked(died=11)]
    assert capi.child.requests <= 1 + 2 * 3  # the batch, then one bisection path down to the module


def test_a_trap_message_without_trap_words_is_an_error_as_on_the_cli():
    assert wasmedge_capi._answer({"trap": "wasm function not found"}) == Invoked(error="wasm function not found")
    assert wasmedge_capi._answer({"trap": "integer divide by zero"}) == Invoked(trap="integer-division-by-zero")
    assert wasmedge_capi._answer({"timed_out": True}) == Invoked(timed_out=True)


def test_the_library_is_found_next_to_the_program(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib64").mkdir()
    (tmp_path / "bin" / "wasmedge").write_text("")
    for name in ("libwasmedge.so.0.1.0", "libwasmedge.so.0"):
        (tmp_path / "lib64" / name).write_text("")
    assert wasmedge_capi.library_path(str(tmp_path / "bin" / "wasmedge")) == tmp_path / "lib64" / "libwasmedge.so.0"
    (tmp_path / "lib64" / "libwasmedge.so.0").unlink()
    (tmp_path / "lib64" / "libwasmedge.so.0.1.0").unlink()
    assert wasmedge_capi.library_path(str(tmp_path / "bin" / "wasmedge")) is None


def test_without_the_library_a_batch_is_a_process_per_call_and_says_why(monkeypatch, capsys):
    rt = WasmEdge()
    monkeypatch.setattr(rt, "program", lambda arch=None: "/nowhere/bin/wasmedge")
    monkeypatch.setattr(rt, "invoke_job", lambda job, options=(), timeout_s=30.0, arch=None: [Invoked(value=3)])
    got = rt.invoke_batch([(Path("/x/m.wasm"), ["all"], [])] * 2)
    assert got == [[Invoked(value=3)]] * 2
    assert "not through the C API: no libwasmedge.so* in lib/ or lib64/ of /nowhere" in capsys.readouterr().err
