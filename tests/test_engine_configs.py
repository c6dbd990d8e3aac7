"""wasmtime-py's engine configurations (harness.runtimes.wasmtime_py.CONFIGS) take effect:
each knob is set (through the Config class or the wheel's C API) and changes what the engine
does or reports; a row that silently ran the default would be a defect, so each test looks
at an effect, not at the request."""

from __future__ import annotations

import pytest
import wasmtime

from harness.probes import memgen
from harness.probes import memmodel as mm
from harness.runtimes import RUNTIMES
from harness.runtimes.wasmtime_py import CONFIGS, WasmtimePyChild, install_dir
from harness.toolchain import cache_root

NONCE, SECRET = b"n" * 16, b"s" * 16
# A module whose machine code depends on the CPU features and the opt level.
WAT = """(module (memory (export "memory") 1)
 (func (export "f") (param i32) (result f64) (f64.copysign (f64.load (local.get 0)) (f64.const 1)))
 (func (export "g") (param i32) (result v128) (f64x2.splat (f64.load (local.get 0))))
 (func (export "h") (param i32) (result v128) (i64x2.mul (v128.load (local.get 0)) (i64x2.abs (v128.load offset=16 (local.get 0)))))
 (func (export "k") (param i32) (result f64) (f64.ceil (f64.load (local.get 0))))
 (func (export "s") (param i32) (result v128) (i8x16.abs (v128.load (local.get 0)))))"""  # pabsb: SSSE3


@pytest.fixture(scope="module")
def module_path():
    path = cache_root() / "test-engine-configs.wasm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wasmtime.wat2wasm(WAT))
    return str(path)


def _report(row, name, module_path, **extra):
    reply = row.request({"op": "engine", "module": module_path, "config": {"name": name, "knobs": CONFIGS[name]}, **extra}, 120)
    assert "applied" in reply, f"{name}: {reply}"
    return reply


@pytest.fixture(scope="module")
def own():
    return RUNTIMES["wasmtime-py"].child()


@pytest.fixture(scope="module")
def reports(own, module_path):
    return {name: _report(own, name, module_path) for name in CONFIGS}


def test_every_configuration_runs_and_sets_every_knob(reports):
    for name, reply in reports.items():
        assert set(reply["applied"]) == set(CONFIGS[name][0]), (name, reply["applied"])
        assert set(reply["applied"].values()) <= {"Config", "C API"}


def test_reservation_and_guard_knobs_change_the_mapping(reports):
    tail = {name: reports[name]["tail_bytes"] for name in ("default", "small-reservation", "guard-0")}
    assert tail["default"] >= 4 << 30, tail  # 4 GiB reserved past a 64 KiB memory, plus the guard
    assert tail["small-reservation"] <= 32 << 20, tail  # 16 MiB reservation, 64 KiB guard
    assert tail["guard-0"] < tail["default"], tail


def test_pooling_allocates_from_a_bounded_pool(own, module_path):
    pooled = _report(own, "pooling", module_path, instances=20)
    assert pooled["instances_created"] < 16 and "limit" in pooled["instances_error"], pooled
    assert _report(own, "default", module_path, instances=20)["instances_created"] == 20


def test_cranelift_flags_and_opt_level_change_the_machine_code(reports):
    code = {name: reports[name]["text_sha256"] for name in ("default", "opt-none", "no-avx512", "no-avx", "no-sse41", "sse2-only")}
    assert all(code.values()) and len(set(code.values())) == len(code), code


def _probe(row, acc, args, config):
    reply = row.request(memgen.request(acc, args, NONCE, SECRET, config), 60)
    return reply, memgen.judge(acc, args, reply, NONCE, SECRET)


@pytest.mark.parametrize("config", ["no-signals", "no-signals-dynamic", "dynamic-bounds", "guard-0"])
def test_explicit_bounds_checks_still_trap_where_the_spec_says(own, config):
    past = mm.Access("i64.load", mm.Param(0), 0, 1)
    for args, want in (((mm.PAGE - 7, 0, 0), "trapped"), ((mm.PAGE - 8, 0, 0), "denied"), ((1 << 31, 0, 0), "trapped")):
        reply, verdict = _probe(own, past, args, config)
        assert verdict.outcome == want, (config, args, verdict.reason)
        assert set(reply["applied"]) == set(CONFIGS[config][0]), reply["applied"]


@pytest.mark.parametrize("config", ["pooling", "pooling-keep-resident"])
def test_a_reused_pooling_slot_starts_zeroed_and_traps_past_its_size(own, config):
    """The previous tenant grew the slot's memory by 4 pages and filled it with its secret;
    the next instance in that slot must see zeros and trap past its own declared page."""
    reply, verdict = _probe(own, mm.Access("i64.load", mm.Param(0), 0, 1), (mm.PAGE + 8, 0, 0), config)
    assert reply["tenant"]["slot_reused"] and reply["tenant"]["size"] == 5 * mm.PAGE, reply["tenant"]
    assert reply["fresh_nonzero"] is None and reply["fresh_size"] == mm.PAGE
    assert verdict.outcome == "trapped", verdict.reason
    grown = mm.Access("i64.load", mm.Param(0), 0, 1, grow=2)  # pages it grows itself must be zeros too
    assert _probe(own, grown, (mm.PAGE + 8, 0, 0), config)[1].outcome == "denied"


def test_the_judge_names_a_stale_slot():
    acc, args = mm.Access("i32.load", mm.Param(0), 0, 1), (0, 0, 0)
    base = {"results": [0, 0], "trap": None, "diffs": [], "tenant": {"slot_reused": True}}
    for extra, words in (({"fresh_nonzero": 0x40}, "previous tenant"), ({"fresh_size": 5 * mm.PAGE}, "not its declared"),
                         ({"tenant_bytes": 0x10008}, "previous tenant's bytes")):
        verdict = memgen.judge(acc, args, {**base, **extra}, NONCE, SECRET)
        assert (verdict.outcome, verdict.finding) == ("escaped", 1) and words in verdict.reason, verdict.reason


def test_an_older_wheel_reaches_the_knobs_through_its_c_api(module_path):
    """wasmtime-py 41.0.0's Config class has no reservation, guard, signals or pooling knobs;
    its C API does, and the rows run (and take effect) through it."""
    if not (install_dir("41.0.0") / "wasmtime").is_dir():
        pytest.skip("wasmtime-py 41.0.0 is not in the cache (pytest --runtime wasmtime-py==41.0.0 installs it)")
    row = WasmtimePyChild("41.0.0", install_dir("41.0.0"))
    try:
        got = {name: _report(row, name, module_path) for name in ("default", "small-reservation", "no-signals", "pooling", "no-avx")}
        assert got["small-reservation"]["applied"] == {"memory_reservation": "C API", "memory_guard_size": "C API"}
        assert got["small-reservation"]["tail_bytes"] <= 32 << 20 < got["default"]["tail_bytes"]
        assert got["no-signals"]["applied"] == {"signals_based_traps": "C API"} and got["pooling"]["applied"] == {"pooling": "C API"}
        assert got["no-avx"]["text_sha256"] != got["default"]["text_sha256"]
        assert _report(row, "pooling", module_path, instances=20)["instances_created"] < 16
    finally:
        row.child_process.close()
