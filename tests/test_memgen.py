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
    assert mm.expect(mm.Access("i32.load", at0, 0, 1, "popcnt"), (), memory).results == (bin(0x0201FF80).count("1"), 0)
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
    import wasmtime

    for op in list(mm.LOADS) + list(mm.STORES):
        consumers = mm.CONSUMERS[mm.LOADS[op][1]] if op in mm.LOADS else ["id"]
        for consumer in consumers:
            wasmtime.wat2wasm(memgen.render(mm.Access(op, mm.Add(mm.Shl(mm.Param(0), 2), mm.Const(3)), 7, 1, consumer)))


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
