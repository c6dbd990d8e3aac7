"""The benchmark runner (harness.bench): stopping rules, spread kept in ratios, pinning,
the deterministic input ladders, the .wasm section stripper, and the CLI."""

from __future__ import annotations

import itertools
import os
import struct
from dataclasses import replace

import pytest

from harness import bench
from harness.bench import artifacts, inputs


def _clock(step: float):
    """A fake clock advancing `step` seconds per reading."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_measure_stops_once_stable():
    stats = bench.measure(lambda: 0.010, bench.Policy(warmup=2, min_repeats=5, max_repeats=100, max_seconds=60))
    assert stats.repeats == 5 and stats.stable
    assert stats.median == stats.min == stats.max == 0.010 and stats.rel_mad == 0


def test_measure_keeps_going_while_noisy_until_the_time_cap():
    noisy = itertools.cycle([0.01, 0.03, 0.05, 0.02, 0.04])
    stats = bench.measure(lambda: next(noisy), bench.Policy(warmup=0, min_repeats=3, max_repeats=10_000, max_seconds=1.0,
                                                            rel_mad=0.01), clock=_clock(0.1))
    assert not stats.stable
    assert 3 <= stats.repeats <= 10  # the fake clock passes 1 s after a few repeats
    assert stats.min == 0.01 and stats.max >= 0.03


def test_measure_respects_max_repeats():
    growing = itertools.count(1.0)
    stats = bench.measure(lambda: next(growing), bench.Policy(warmup=0, min_repeats=2, max_repeats=7, max_seconds=1e9,
                                                            rel_mad=0.0))
    assert stats.repeats == 7 and not stats.stable


def test_measure_times_the_call_when_fn_returns_none():
    stats = bench.measure(lambda: None, bench.Policy(warmup=0, min_repeats=3, max_repeats=3), clock=_clock(0.5))
    assert stats.samples == [0.5, 0.5, 0.5]


def test_rel_mad_ignores_one_outlier():
    assert bench.rel_mad([1.0, 1.0, 1.0, 1.0, 100.0]) == 0.0
    assert bench.rel_mad([1.0, 2.0, 3.0]) == pytest.approx(1 / 2)


def test_ratio_keeps_the_spread():
    num = bench.Stats([10.0, 12.0, 14.0], True, 1.0)
    den = bench.Stats([1.0, 2.0, 4.0], True, 1.0)
    r = bench.ratio(num, den, {"form": "python-process"}, {"form": "native"})
    assert r["value"] == 6.0 and r["min"] == 2.5 and r["max"] == 14.0
    assert r["numerator"]["form"] == "python-process" and r["numerator"]["median"] == 12.0
    assert r["denominator"]["repeats"] == 3 and r["denominator"]["unit"] == "s"


def test_rate_is_work_per_second():
    s = bench.Stats([0.5, 1.0, 2.0], True, 1.0)
    assert s.rate() == {"median": 1.0, "min": 0.5, "max": 2.0}


def test_policy_validation_and_scales():
    with pytest.raises(ValueError):
        bench.Policy(min_repeats=5, max_repeats=2)
    with pytest.raises(ValueError):
        bench.policy_for("enormous")
    assert bench.policy_for("quick").max_seconds < bench.policy_for("default").max_seconds
    assert bench.policy_for("default", min_repeats=9).min_repeats == 9


def test_pin_choice(monkeypatch):
    assert bench.pin_choice({0, 1, 2, 3}, env="") == 3
    assert bench.pin_choice({0}, env="") is None
    assert bench.pin_choice({0, 1}, env="off") is None
    assert bench.pin_choice({0, 1}, env="0") == 0
    with pytest.raises(ValueError, match="not one of"):
        bench.pin_choice({0, 1}, env="7")
    with pytest.raises(ValueError, match="CPU number"):
        bench.pin_choice({0, 1}, env="fast")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no sched_setaffinity on this OS")
def test_pinned_restores_the_affinity():
    before = os.sched_getaffinity(0)
    cpu = max(before)
    with bench.pinned(cpu) as cpus:
        assert cpus == (cpu,) and os.sched_getaffinity(0) == {cpu}
        assert bench.measure(lambda: 0.001, bench.Policy(min_repeats=1)).pinned == (cpu,)
    assert os.sched_getaffinity(0) == before and bench.current_pin() is None


def test_ladders_are_deterministic_and_grow(builtin):
    for workload in builtin.values():
        first = inputs.ladder(workload, "default")
        again = inputs.ladder(workload, "default")
        assert [i.data for i in first] == [i.data for i in again], workload.name
        assert [i.label for i in first] == ["small", "medium", "large"]
        assert first[0].work < first[1].work < first[2].work
        assert inputs.trivial(workload) == inputs.ladder(workload, "quick")[0].data


def test_record_ladder_stays_under_the_planted_overflow(builtin):
    data = inputs.ladder(builtin["record-parser"], "default")[-1].data
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<H", data, pos)
        assert n <= 64
        pos += 2 + n
    assert pos == len(data)


def test_unknown_strategy_falls_back_to_seeds(builtin):
    workload = builtin["sha256"]
    odd = replace(workload, input=replace(workload.input, strategy="custom-thing"))
    got = inputs.ladder(odd)
    assert 1 <= len(got) <= 3 and all(i.work_unit == "bytes" for i in got)
    assert [len(i.data) for i in got] == sorted(len(i.data) for i in got)


def _section(sid: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([sid, len(payload)]) + payload


def test_strip_custom_sections():
    header = b"\0asm\x01\0\0\0"
    custom = _section(0, b"\x04name" + b"xyz")
    typesec = _section(1, b"\x01\x60\x00\x00")
    module = header + custom + typesec + _section(0, b"\x08producers")
    assert artifacts.strip_custom_sections(module) == header + typesec
    assert [s[0] for s in artifacts.sections(module)] == [0, 1, 0]


def test_strip_rejects_bad_modules():
    with pytest.raises(artifacts.WasmFormatError, match="not a WebAssembly"):
        artifacts.sections(b"\x7fELF....")
    with pytest.raises(artifacts.WasmFormatError, match="past the end"):
        artifacts.sections(b"\0asm\x01\0\0\0" + bytes([1, 50]) + b"\0")


def test_cli_prints_rates_per_form(capsys, monkeypatch):
    from harness.bench.__main__ import main

    monkeypatch.setattr("harness.bench.__main__.all_specs",
                        lambda w: [s for s in __import__("harness.forms", fromlist=["all_specs"]).all_specs(w)
                                   if s.form == "native" and s.language == "c"])
    assert main(["--seconds", "0.2", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["form", "examples/s", "runs", "median", "ms"]
    assert "native-" in out


def test_cli_unknown_workload(capsys):
    from harness.bench.__main__ import main

    assert main(["--workload", "nope"]) == 2
    assert "no workload" in capsys.readouterr().err


def test_records_keep_the_report_conventions(builtin):
    """throughput and ratio records carry what the report's charts read."""
    from harness.bench.suite import python_spec, record_ratio, record_throughput
    from harness.evidence import Evidence
    from harness.forms import FormSpec

    ev = Evidence(suite="performance", test="t", default_claim=None)
    workload = builtin["sha256"]
    inp = inputs.ladder(workload, "quick")[1]
    native = FormSpec("native", "c", "os", "x86_64")
    py_stats, c_stats = bench.Stats([0.04, 0.05, 0.06], True, 1.0), bench.Stats([0.01, 0.01, 0.02], True, 1.0)
    t = record_throughput(ev, workload, native, inp, c_stats)
    assert t["metric"] == "throughput" and t["unit"] == "runs/s" and t["value"] == 100.0
    assert {"input_bytes", "median", "min", "max", "repeats", "emulated"} <= set(t["details"])
    assert t["details"]["min"] == 50.0 and t["details"]["max"] == 100.0
    r = record_ratio(ev, "python_over_compiled_throughput", workload, (python_spec(), py_stats), (native, c_stats),
                     at=native, claim="SPEED-1", outcome="inconclusive")
    assert r["unit"] == "x" and r["value"] == 5.0 and r["outcome"] == "inconclusive" and r["form"] == "native"
    assert r["details"]["min"] == 2.0 and r["details"]["max"] == 6.0
    for side in ("numerator", "denominator"):
        assert {"form", "runtime", "arch", "median", "min", "max", "unit", "repeats"} <= set(r["details"][side])
    assert len(ev.sink) == 2


def test_cold_start_docker_flags_are_the_container_forms_limits():
    from harness.bench.coldstart import DOCKER_FLAGS

    assert DOCKER_FLAGS == ("--network", "none", "--memory", "512m", "--memory-swap", "512m", "--cpus", "1",
                            "--pids-limit", "128", "--read-only", "--tmpfs", "/tmp:size=64m", "--cap-drop", "ALL",
                            "--security-opt", "no-new-privileges")
