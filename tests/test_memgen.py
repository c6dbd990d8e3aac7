"""The Wasm memory model, the generated probes' judge, the child-process engine host and the
sandbox verdict rule (SAFETY-2/3): unit tests, plus the model checked against the installed
wasmtime on drawn accesses (the model must agree with a correct engine)."""

from __future__ import annotations

import secrets
import sys
import textwrap

import pytest
from hypothesis import given, settings

from harness import claims, judgement
from harness.probes import memgen
from harness.probes import memmodel as mm
from harness.runtimes import RUNTIMES, VersionUnavailable
from harness.runtimes import versions
from harness.runtimes.childproc import EngineChild
from harness.runtimes.wasmtime_child import fill

NONCE, SECRET = b"n" * 16, b"s" * 16


def test_address_arithmetic_wraps_but_the_offset_does_not():
    acc = mm.Access("i32.load", mm.Shl(mm.Param(0), 3), 16, 1)
    assert mm.address(acc.expr, (0x20000200,)) == 0x1000
    assert acc.effective_address((0x20000200,)) == 0x1010 and acc.in_bounds((0x20000200,))
    big = mm.Access("i32.load", mm.Const(0xFFFFFFFF), 0xFFFFFFFF, 1)
    assert big.effective_address(()) == 0x1FFFFFFFE and not big.in_bounds(())
    edge = mm.Access("i64.load", mm.Const(mm.PAGE - 8), 0, 1)
    assert edge.in_bounds(()) and not mm.Access("i64.load", mm.Const(mm.PAGE - 7), 0, 1).in_bounds(())
    assert mm.address(mm.Add(mm.Mul(mm.Param(0), 2), mm.Const(5)), (0x80000001,)) == 9


def test_loads_extend_by_kind_and_stores_write_little_endian():
    memory = bytes([0x80, 0xFF, 0x01, 0x02]) + bytes(mm.PAGE - 4)
    at0 = mm.Const(0)
    assert mm.expect(mm.Access("i32.load8_s", at0, 0, 1), (), memory).results == (0xFFFFFF80, 0)
    assert mm.expect(mm.Access("i32.load8_u", at0, 0, 1), (), memory).results == (0x80, 0)
    assert mm.expect(mm.Access("i32.load16_s", at0, 0, 1), (), memory).results == (0xFFFFFF80, 0)
    assert mm.expect(mm.Access("i64.load32_s", at0, 0, 1), (), memory).results == (0x0201FF80, 0)
    assert mm.expect(mm.Access("i32.load", at0, 0, 1, "i32.popcnt"), (), memory).results == (bin(0x0201FF80).count("1"), 0)
    store = mm.expect(mm.Access("i32.store16", at0, 2, 1, value=0x1234_5678), (), memory)
    assert store.write == (2, b"\x78\x56")
    assert mm.expect(mm.Access("i32.store", mm.Const(mm.PAGE - 3), 0, 1), (), memory).trap


@settings(max_examples=40, deadline=None, database=None)
@given(memgen.accesses())
def test_the_model_agrees_with_the_installed_wasmtime(case):
    """A current engine must do what the model says on every drawn access (else the model is wrong)."""
    acc, args = case
    host = RUNTIMES["wasmtime-py"].child()
    reply = host.request(memgen.request(acc, args, NONCE, SECRET, "default"), 60)
    verdict = memgen.judge(acc, args, reply, NONCE, SECRET)
    assert verdict.outcome in ("denied", "trapped"), f"{verdict.reason}: {memgen.describe(acc, args)}"


def _reply(**kw):
    return {"results": None, "trap": None, "error": None, "diffs": [], "canary_store_intact": True,
            "host_buffer_intact": True, **kw}


def test_judge_words():
    acc, args = memgen.CVE_2023_26489
    want = mm.expect(acc, args, fill(NONCE, acc.memory_size)).results
    assert memgen.judge(acc, args, _reply(results=list(want)), NONCE, SECRET).outcome == "denied"
    oob = memgen.judge(acc, args, _reply(trap="memory-out-of-bounds"), NONCE, SECRET)
    assert (oob.outcome, oob.finding) == ("out-of-bounds-access", 1) and "0x1000" in oob.reason
    assert memgen.judge(acc, args, _reply(results=[want[0] ^ 1, 0]), NONCE, SECRET).outcome == "escaped"
    assert memgen.judge(acc, args, _reply(results=list(want), canary_store_intact=False), NONCE, SECRET).outcome == "escaped"
    assert memgen.judge(acc, args, {"died": True, "signal": 11}, NONCE, SECRET).outcome == "host-crashed"
    assert memgen.judge(acc, args, {"unsupported": "no knob"}, NONCE, SECRET).outcome == "not-tested"
    past = mm.Access("i64.load", mm.Param(0), 0, 1)
    secret_bytes = fill(SECRET + b"store", mm.PAGE)[64:72]
    leak = memgen.judge(past, (1 << 31, 0, 0), _reply(results=[int.from_bytes(secret_bytes, "little"), 0]), NONCE, SECRET)
    assert leak.outcome == "escaped" and "canary Store" in leak.reason
    assert memgen.judge(past, (1 << 31, 0, 0), _reply(trap="memory-out-of-bounds"), NONCE, SECRET).outcome == "trapped"


def test_store_landing_elsewhere_is_an_escape():
    acc = mm.Access("i32.store", mm.Const(0x100), 0, 1, value=0xAABBCCDD)
    assert memgen.judge(acc, (0, 0, 0), _reply(results=[0, 0], diffs=[[0x200, 0x204, "ddccbbaa"]]), NONCE, SECRET).outcome == "escaped"


def test_render_assembles_for_every_kind():
    """Every opcode, every consumer of each loaded type (both operand sides, both sinks), every
    alignment immediate and every bulk form assembles."""
    import wasmtime

    at = mm.Add(mm.Shl(mm.Param(0), 2), mm.Rotl(mm.Sub(mm.Param(1), mm.And(mm.Const(3), mm.Or(mm.Param(2), mm.Const(1)))), 5))
    for op in list(mm.LOADS) + list(mm.SIMD_LOADS):
        for consumer, c in mm.CONSUMERS[mm.loaded_type(op)].items():
            for swap, sink in ((False, "return"), (True, "store")):
                acc = mm.Access(op, at, 7, 1, consumer, operand=("const", 5) if swap else ("param",), swap=swap, sink=sink,
                                align=0, lane=1 if op.endswith("_lane") else 0)
                wasmtime.wat2wasm(memgen.render(acc))
    for op in mm.STORES:
        for align in range(mm.Access(op, at, 0, 1).natural_align + 1):
            wasmtime.wat2wasm(memgen.render(mm.Access(op, at, 7, 1, align=align, lane=1 if op.endswith("_lane") else 0)))
    for op, source in (("memory.fill", None), ("memory.copy", mm.Param(1)), ("memory.init", 3)):
        for consumer in ("id", "reinit") if op == "memory.init" else ("id",):
            wasmtime.wat2wasm(memgen.render(mm.Access(op, at, 0, 2, consumer, grow=1, length=9, source=source)))
    for op in list(mm.LOADS)[:3] + list(mm.STORES)[-2:] + list(mm.SIMD_LOADS)[-2:]:  # a second memory first
        acc = mm.Access(op, at, 7, 1, grow=1, decoy=3, sink="store", lane=1 if op.endswith("_lane") else 0)
        wasmtime.wat2wasm(memgen.render(acc))
    for op, source in (("memory.fill", None), ("memory.copy", mm.Param(1)), ("memory.init", 3)):
        wasmtime.wat2wasm(memgen.render(mm.Access(op, at, 0, 2, grow=1, length=9, source=source, decoy=1)))
    for op in list(mm.LOADS)[-4:] + list(mm.STORES)[-3:] + list(mm.SIMD_LOADS)[-3:]:  # i64-indexed (memory64)
        acc = mm.Access(op, at, mm.M64, 1, grow=1, addr64=0xFFFFFFFF, sink="store", lane=1 if op.endswith("_lane") else 0)
        wasmtime.wat2wasm(memgen.render(acc))
    for op in mm.ATOMICS:
        for consumer in ("cas-hit", "cas-miss") if op.split(".")[-1].startswith("cmpxchg") else ("id",):
            wasmtime.wat2wasm(memgen.render(mm.Access(op, at, 8, 1, consumer, grow=1, value=mm.M64, operand=("const", mm.M64))))


def test_atomics_trap_when_misaligned_and_read_modify_write_by_width():
    """Atomics: an address that is not a multiple of the width traps even in bounds; an RMW
    returns the old value and writes op(old, value) wrapped to its width; cmpxchg compares
    with the expected value wrapped to its width and writes the replacement only on a match."""
    memory = bytes(range(1, 17)) + bytes(mm.PAGE - 16)
    at = mm.Param(0)
    add = mm.expect(mm.Access("i32.atomic.rmw8.add_u", at, 0, 1, value=0x1FF), (3, 0, 0), memory)
    assert add.results == (4, 0) and add.writes == ((3, bytes([(4 + 0xFF) & 0xFF])),)
    assert mm.expect(mm.Access("i32.atomic.rmw.add", at, 0, 1), (2, 0, 0), memory).trap_kind == "misaligned"
    assert mm.expect(mm.Access("i64.atomic.load", at, 0, 1), (mm.PAGE - 8, 0, 0), memory).results == (0, 0)
    assert mm.expect(mm.Access("i64.atomic.load", at, 0, 1), (mm.PAGE, 0, 0), memory).trap_kind == "bounds"
    hit = mm.expect(mm.Access("i64.atomic.rmw16.cmpxchg_u", at, 0, 1, "cas-hit", operand=("const", 0xABCDEF)), (2, 0, 0), memory)
    assert hit.results == (0x0403, 0) and hit.writes == ((2, b"\xef\xcd"),)
    miss = mm.expect(mm.Access("i64.atomic.rmw16.cmpxchg_u", at, 0, 1, "cas-miss", value=0x10403, operand=("const", 7)),
                     (2, 0, 0), memory)
    assert miss.writes == ((2, b"\x07\x00"),)  # 0x10403 wrapped to 16 bits is the old value: a match
    xchg = mm.expect(mm.Access("i64.atomic.rmw.xchg", at, 0, 1, value=5), (8, 0, 0), memory)
    assert xchg.results == (int.from_bytes(bytes(range(9, 17)), "little"), 0) and xchg.writes == ((8, (5).to_bytes(8, "little")),)


def test_a_misaligned_atomic_that_returns_is_a_spec_deviation():
    acc = mm.Access("i32.atomic.load", mm.Param(0), 0, 1)
    verdict = memgen.judge(acc, (2, 0, 0), _reply(results=[0, 0]), NONCE, SECRET)
    assert (verdict.outcome, verdict.finding) == ("spec-deviation", 0)
    assert memgen.judge(acc, (2, 0, 0), _reply(trap="heap-misaligned"), NONCE, SECRET).outcome == "trapped"


def test_model_numerics():
    """Consumers follow the numeric instructions, with the spec's NaN freedom."""
    i32, f32, f64, v = mm.CONSUMERS["i32"], mm.CONSUMERS["f32"], mm.CONSUMERS["f64"], mm.CONSUMERS["v128"]
    assert i32["i32.rotr"].fn(1, 33, 0) == 0x80000000 and i32["i32.shr_s"].fn(0x80000000, 31, 0) == mm.M32
    assert i32["i32.rem_s"].fn(mm.M32 - 6, 2, 0) == mm.M32  # -7 rem 2 = -1
    with pytest.raises(mm.Trap):
        i32["i32.div_s"].fn(0x80000000, mm.M32, 0)
    assert i32["f32.convert_i32_u"].fn(0xFFFFFFFF, 0, 0) == 0x4F800000  # rounds to 2^32
    assert mm.CONSUMERS["i64"]["f32.convert_i64_u"].fn(0x8000008000000001, 0, 0) == 0x5F000001  # no double rounding
    assert f64["f64.copysign"].fn(0x3FF0000000000000, 1 << 63, 0) == 0xBFF0000000000000
    assert f32["f32.min"].fn(0, 0x80000000, 0) == 0x80000000 and f32["f32.max"].fn(0x80000000, 0, 0) == 0
    nan = f32["f32.add"].fn(0x7FC00000, 0x3F800000, 0)
    assert nan == 0x7FC00001 and nan == 0xFFC00000 and nan != 0x7F800000 and nan != 0x3F800000
    assert f32["i32.trunc_sat_f32_s"].fn(0x7FC00000, 0, 0) == 0 and f32["i32.trunc_sat_f32_u"].fn(0xBF800000, 0, 0) == 0
    assert f64["i32.trunc_sat_f64_s"].fn(0x7FF0000000000000, 0, 0) == 0x7FFFFFFF
    assert f32["f32.nearest"].fn(0x3FC00000, 0, 0) == 0x40000000 and f32["f32.nearest"].fn(0x40200000, 0, 0) == 0x40000000
    assert v["i8x16.add_sat_u"].fn(mm.splat(0xF0, 1), mm.splat(0x20, 1), 0) == mm.splat(0xFF, 1)


def test_model_simd_and_bulk_accesses():
    memory = bytes(range(256)) * 256
    ext = mm.expect(mm.Access("v128.load8x8_s", mm.Const(0x80), 0, 1), (), memory).results
    assert ext == (0xFF83FF82FF81FF80, 0xFF87FF86FF85FF84)
    lane = mm.Access("v128.load16_lane", mm.Const(2), 0, 1, lane=7, value=0x1111111111111111)
    assert mm.expect(lane, (), memory).results == (0x1111111111111111, 0x0302111111111111)
    assert mm.expect(mm.Access("v128.load32_zero", mm.Const(mm.PAGE - 4), 0, 1), (), memory).results == (0xFFFEFDFC, 0)
    assert mm.expect(mm.Access("v128.load64_splat", mm.Const(mm.PAGE - 7), 0, 1), (), memory).trap
    store = mm.expect(mm.Access("v128.store32_lane", mm.Const(8), 0, 1, lane=3, value=0xAABBCCDD11223344), (), memory)
    assert store.writes == ((8, bytes.fromhex("ddccbbaa")),)
    copy = mm.expect(mm.Access("memory.copy", mm.Const(1), 0, 1, length=4, source=mm.Const(0)), (), memory)
    assert copy.writes == ((1, bytes([0, 1, 2, 3])),)  # overlapping: as if through a buffer
    assert mm.expect(mm.Access("memory.fill", mm.Const(mm.PAGE - 2), 0, 1, length=3), (), memory).trap
    grown = mm.Access("memory.fill", mm.Const(mm.PAGE - 2), 0, 1, length=3, grow=1, value=9)
    assert mm.expect(grown, (), memory).writes == ((mm.PAGE - 2, b"\x09" * 3),)
    init = mm.expect(mm.Access("memory.init", mm.Const(0), 0, 1, "reinit", length=2, source=1), (), memory)
    assert init.trap and init.writes == ((0, mm.DATA[1:3]),)  # the second init finds the segment dropped
    assert not mm.expect(mm.Access("memory.init", mm.Const(0), 0, 1, length=2, source=1), (), memory).trap
    assert mm.expect(mm.Access("f64.load", mm.Const(0), 0, 1, "f64.neg", sink="store"), (), memory).writes[0][0] == 0


def test_a_dying_child_is_an_observation_and_restarts(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent("""
        import ctypes, json, sys
        for line in sys.stdin:
            req = json.loads(line)
            if req["op"] == "crash":
                ctypes.string_at(0)
            sys.stdout.write(json.dumps({"ok": req["op"]}) + "\\n"); sys.stdout.flush()
    """))
    child = EngineChild(script)
    try:
        assert child.request({"op": "a"}, 30) == {"ok": "a"}
        died = child.request({"op": "crash"}, 30)
        assert died["died"] and died["signal"] == 11
        assert child.request({"op": "b"}, 30) == {"ok": "b"}
        assert child.request({"op": "crash"}, 30)["died"]
    finally:
        child.close()


def test_child_reports_features_of_the_installed_version():
    row = RUNTIMES["wasmtime-py"].child()
    assert row.availability().available and row.info["features"]["fuel"] in ("set_fuel", "add_fuel")
    assert {"fuel", "preopen", "child-process"} <= row.capabilities


def test_version_specs():
    assert versions.parse("wasmtime-py==6.0.0") == ("wasmtime-py", "6.0.0")
    assert versions.parse("wasmtime-py@6.0.0") == ("wasmtime-py", "6.0.0")
    assert versions.parse("node-wasi") == ("node-wasi", None)
    assert versions.resolve("wasmtime-py") is RUNTIMES["wasmtime-py"]
    with pytest.raises(ValueError, match="unknown runtime 'nope'"):
        versions.check_name("nope==1.0")
    with pytest.raises(VersionUnavailable, match="not a version number"):
        versions.resolve("wasmtime-py==not.a.version!")


def _rec(value, runtime, outcome="denied", **details):
    return {"claim": "SAFETY-2", "metric": "escape", "value": value, "form": "wasm", "runtime": runtime,
            "outcome": outcome, "details": details}


def test_sandbox_rows_names_violated_untested_and_advisory_rows():
    recs = [_rec(0, "wasmtime-py", engine_config="default"),
            _rec(1, "wasmtime-py@6.0.0", "out-of-bounds-access", probe="mem-generated", engine_config="default",
                 reason="trap where the spec says in bounds", params="i32.load (i32.shl x 3) with args 0x20000200"),
            _rec(None, "wasmtime-py@6.0.0", "not-tested", engine_config="dynamic-bounds", reason="no Config knob"),
            _rec(None, "wasmedge", "not-tested", reason="wasmedge not on PATH"),
            {"claim": "SAFETY-2", "metric": "known_advisories", "value": 1, "form": "wasm", "runtime": "wasmtime-py@6.0.0",
             "details": {"advisories": [{"id": "GHSA-ff4p-7xrq-q5r8"}]}},
            {"claim": "SAFETY-2", "metric": "escape", "value": 1, "form": "native", "runtime": "os", "outcome": "escaped"}]
    word, summary, fig = claims.rule_sandbox_rows(recs, "escape", exclude_forms=["native"])
    assert word == "partly-supported" and fig["violated"] == ["wasmtime-py@6.0.0"] and fig["held"] == ["wasmtime-py"]
    assert "mem-generated" in summary and "0x20000200" in summary
    assert "wasmtime-py@6.0.0 (GHSA-ff4p-7xrq-q5r8)" in summary and fig["controls_escaped"] == 1
    v = claims.decide(next(c for c in claims.registry() if c.id == "SAFETY-2"), recs, "")  # rows that decided nothing
    assert "wasmedge (not-tested: wasmedge not on PATH)" in v.summary
    assert "wasmtime-py@6.0.0 [dynamic-bounds] (not-tested: no Config knob)" in v.summary and v.coverage["partial"]
    limits = [dict(_rec(0, "node-wasi", limit="stack"), metric="limit_held"), dict(_rec(1, "wasmtime-py"), metric="limit_held")]
    word, summary, fig = claims.rule_sandbox_rows(limits, "limit_held", violation_if="low")
    assert fig["violated"] == ["node-wasi"] and "stack" in summary


def test_runtime_version_errors_are_one_line(pytester):
    """--runtime NAME==VERSION: an unknown name or an unusable version is one message, no traceback."""
    bad_name = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--runtime", "nope==1.0")
    assert bad_name.ret != 0 and "unknown runtime 'nope'" in bad_name.stderr.str()
    bad_version = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--runtime", "wasmtime-py==x!y")
    err = bad_version.stderr.str()
    assert bad_version.ret != 0 and "wasmtime-py==x!y: not a version number" in err and "Traceback" not in err


def test_pinned_rows_flow_into_the_security_suite(pytester, monkeypatch):
    """A pinned version (already installed in the cache: this test installs nothing) is a row of
    every runtime-parametrised security test."""
    import os
    import pwd

    from harness.runtimes.wasmtime_py import install_dir

    if "WASM_CLAIMS_CACHE" not in os.environ:  # pytester moves HOME; keep the user's cache
        monkeypatch.setenv("WASM_CLAIMS_CACHE", os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".cache", "wasm-claims"))

    if not (install_dir("6.0.0") / "wasmtime").is_dir():
        pytest.skip("wasmtime-py 6.0.0 is not in the cache (pytest --runtime wasmtime-py==6.0.0 installs it)")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--suite", "security", "--runtime", "wasmtime-py==6.0.0",
                                           "--collect-only", "-q")
    out = result.stdout.str()
    assert "test_generated_memory[wasmtime-py@6.0.0-default]" in out and "test_limit[wasmtime-py@6.0.0-stack]" in out
    assert "test_probe[wasmtime-py@6.0.0-mem-load-shl-fold]" in out


def test_rows_are_named_runtime_at_version_and_config():
    assert judgement.row_of(_rec(0, "wasmtime-py", runtime_version="50.0.1")) == "wasmtime-py@50.0.1"
    assert judgement.row_of(_rec(0, "wasmtime-py@6.0.0", runtime_version="6.0.0", engine_config="no-signals")) == "wasmtime-py@6.0.0 [no-signals]"
    assert judgement.row_of(_rec(0, "wasmtime-cli", runtime_version="wasmtime 49.0.3 (abc)")) == "wasmtime-cli@49.0.3"


def test_findings_are_kept_and_replayed(tmp_path):
    """A finding is saved as a reproducer (probe.wat, case.json, command, result) and read back
    as the same case, which the next run replays first."""
    acc = mm.Access("f64.load", mm.Sub(mm.Param(0), mm.Rotl(mm.Const(3), 2)), 16, 2, "f64.copysign",
                    operand=("const", 1 << 63), swap=True, align=1, grow=1, sink="store")
    init = mm.Access("memory.copy", mm.Param(0), 0, 1, length=9, source=mm.Or(mm.Param(1), mm.Const(1)))
    for case in ((acc, (0x1FFF5, 2, 0)), (init, (0, 1, 2))):
        d = memgen.keep_finding(*case, "wasmtime-py@41.0.0", "default", memgen.Verdict("out-of-bounds-access", 1, "r"), tmp_path)
        assert {p.name for p in d.iterdir()} == {"probe.wat", "case.json", "command.txt", "result.json"}
        assert "wasmtime-py==41.0.0" in (d / "command.txt").read_text()
    assert sorted(memgen.saved_findings(tmp_path), key=repr) == sorted([(acc, (0x1FFF5, 2, 0)), (init, (0, 1, 2))], key=repr)
    (tmp_path / "memgen-broken").mkdir()
    (tmp_path / "memgen-broken" / "case.json").write_text("{}")
    assert len(memgen.saved_findings(tmp_path)) == 2


@settings(max_examples=200, deadline=None, database=None)
@given(memgen.accesses(atomics=False, multi_memory=False, memory64=False, simd=False))
def test_a_row_without_a_family_is_never_drawn_it(case):
    """Switched off (a row that cannot run them): no v128 anywhere, no atomics, one i32 memory."""
    acc, _ = case
    text = memgen.render(acc)
    assert "v128" not in text and "atomic" not in text and "$decoy" not in text and " i64 " not in text.split("\n")[0]
    assert memgen.could_draw(acc, memgen.drawn({f: "no" for f in memgen.FEATURE_CHECKS}))


def test_families_a_row_does_not_run_are_named_with_its_answer():
    def probe(acc, args):  # an engine that compiles no SIMD and no shared memory
        text = memgen.render(acc)
        if "v128" in text or "shared" in text:
            return {"error": "Unable to compile: unsupported feature"}
        return _reply(results=list(mm.expect(acc, args, fill(NONCE, acc.initial_size)).results))

    missing = memgen.families_not_run(probe, NONCE, SECRET)
    assert set(missing) == {"simd", "atomic"} and "unsupported feature" in missing["simd"]
    assert memgen.drawn(missing) == {"atomics": False, "multi_memory": True, "memory64": True, "simd": False}
