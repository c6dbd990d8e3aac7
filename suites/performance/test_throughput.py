"""Throughput at three input sizes per form, and the ratios the speed claims are about.

Each workload x form is timed once (harness.bench.suite.Bench): a round trip from the
harness's request to the form's answer, repeated until the median is stable or a time cap.
The per-form test records runs/s per input size; the ratio tests then divide figures from
this same run:

- SPEED-1 (`python_over_compiled_throughput`): Python (process) time over native / Wasm
  time on the largest input, counted (outcome "measured") only where the work, not the
  start-up, dominates both sides; otherwise kept as "inconclusive", which the verdict
  rule leaves out. The per-size
  ratios python/native, python/wasm and wasm/native are recorded beside it for the charts.
- SPEED-2 (`python_over_wasm_throughput`): Python (process and container) over Wasm on the
  pre/post-processing workloads, at every size (these layers run per request, small inputs
  included).
- PERF-2 (`container_over_process_throughput_time`): the same Python script in a persistent
  container over a local process.

Emulated (qemu) figures are never divided by native ones. Only a form that cannot run
fails a test; slow is a finding, not a failure.
"""

from __future__ import annotations

import shutil
import sys

import pytest

from harness.bench.suite import (container_spec, is_emulated, python_spec, record_ratio, record_throughput,
                                 system_python_spec)

PRE_POST = ("preprocessing", "postprocessing")
WORK_BOUND = 2.0  # SPEED-1: the largest input must take this many times the smallest, on both sides


def test_throughput(workload, form_spec, perf, evidence):
    """runs/s of one form at each input size."""
    results = perf.throughput(workload, form_spec)
    assert results, f"{workload.name} has no benchmark inputs (no generator for its strategy and no seeds)"
    for inp, stats in results:
        record_throughput(evidence, workload, form_spec, inp, stats)


def _compiled_specs(perf, workload):
    """Native and Wasm forms on the host arch (emulated ones are not compared with Python)."""
    return [s for s in perf.specs(workload) if s.form in ("native", "wasm") and not is_emulated(s)]


def _measured(perf, workload, specs):
    got, missing = {}, []
    for spec in specs:
        results, reason = perf.try_throughput(workload, spec)
        if results is None:
            missing.append(f"{spec.id}: {reason}")
        else:
            got[spec] = results
    return got, missing


def _python_or_skip(perf, workload, spec):
    if spec.form not in (perf.config.getoption("form") or (spec.form,)):
        pytest.skip(f"{spec.id} not selected (--form)")
    results, reason = perf.try_throughput(workload, spec)
    if results is None:
        pytest.skip(reason)
    return results


@pytest.mark.claim("SPEED-1")
def test_python_over_compiled(workload, perf, evidence):
    """Python process vs every compiled form on the host: per size, and on the largest for SPEED-1."""
    py = _python_or_skip(perf, workload, python_spec())
    compiled, missing = _measured(perf, workload, _compiled_specs(perf, workload))
    if not compiled:
        pytest.skip("no native or Wasm form could be measured: " + "; ".join(missing))
    natives = {s.language: (s, r) for s, r in compiled.items() if s.form == "native"}
    work_bound_seen = False
    for spec, results in compiled.items():
        native = natives.get(spec.language) if spec.form == "wasm" else None
        _per_size_ratios(evidence, workload, spec, py, results, native)
        work_bound_seen = _speed1_largest(evidence, workload, spec, py, results) or work_bound_seen
    if missing:
        evidence.record("forms_not_measured", len(missing), "forms", claim="SPEED-1", workload=workload,
                        outcome="skipped", reasons=missing)
    if not work_bound_seen:
        pytest.skip(f"{workload.name}: start-up, not work, dominates every comparison at this scale (the largest input "
                    f"takes < {WORK_BOUND:g}x the smallest's time); per-size ratios are recorded, the claim is not "
                    "decided here")


def _where(inp) -> dict:
    return dict(input_bytes=inp.input_bytes, input_label=inp.label, work=inp.work, work_unit=inp.work_unit)


def _per_size_ratios(evidence, workload, spec, py, results, native):
    """python/native or python/wasm, and wasm/native, at every input size (for the charts)."""
    metric = "python_over_native_throughput" if spec.form == "native" else "python_over_wasm_throughput"
    for i, ((inp, py_stats), (_, c_stats)) in enumerate(zip(py, results)):
        record_ratio(evidence, metric, workload, (python_spec(), py_stats), (spec, c_stats), at=spec, claim="SPEED-1",
                     **_where(inp))
        if native is not None:
            native_spec, native_results = native
            record_ratio(evidence, "wasm_over_native_throughput", workload, (spec, c_stats),
                         (native_spec, native_results[i][1]), at=spec, claim="SPEED-1", **_where(inp))


def _speed1_largest(evidence, workload, spec, py, results) -> bool:
    """The SPEED-1 figure: Python over the compiled form on the largest input, counted only
    when that input's work, not start-up, dominates both sides. Returns whether it counted."""
    (inp, py_stats), (_, c_stats) = py[-1], results[-1]
    growth = {"python": py_stats.median / py[0][1].median, "compiled": c_stats.median / results[0][1].median}
    work_bound = min(growth.values()) >= WORK_BOUND
    record_ratio(evidence, "python_over_compiled_throughput", workload, (python_spec(), py_stats), (spec, c_stats),
                 at=spec, claim="SPEED-1", outcome="measured" if work_bound else "inconclusive",
                 basis=f"largest input; counted only when both sides take >= {WORK_BOUND:g}x their smallest-input "
                       "time, so work, not start-up, is what is compared",
                 time_growth_over_smallest=growth, **_where(inp))
    return work_bound


@pytest.mark.claim("SPEED-2")
@pytest.mark.workloads(lambda w: w.layer in PRE_POST, needs="a pre- or post-processing workload (layer in workload.yaml)")
def test_python_over_wasm_pre_post(workload, perf, evidence):
    """Python (process, container) over each Wasm runtime on a pre/post-processing workload."""
    wasm, missing = _measured(perf, workload, [s for s in _compiled_specs(perf, workload) if s.form == "wasm"])
    if not wasm:
        pytest.skip("no Wasm form could be measured: " + "; ".join(missing))
    pythons = {}
    for spec in (python_spec(), container_spec()):
        results, reason = perf.try_throughput(workload, spec) if spec.form in (perf.config.getoption("form") or (spec.form,)) \
            else (None, "not selected (--form)")
        if results is None:
            missing.append(f"{spec.id}: {reason}")
        else:
            pythons[spec] = results
    if not pythons:
        pytest.skip("no Python form could be measured: " + "; ".join(missing))
    for py_spec, py in pythons.items():
        for spec, results in wasm.items():
            for (inp, py_stats), (_, w_stats) in zip(py, results):
                record_ratio(evidence, "python_over_wasm_throughput", workload, (py_spec, py_stats), (spec, w_stats),
                             at=spec, claim="SPEED-2", python_form=py_spec.form, **_where(inp))
    if missing:
        evidence.record("forms_not_measured", len(missing), "forms", claim="SPEED-2", workload=workload,
                        outcome="skipped", reasons=missing)


@pytest.mark.claim("PERF-2")
def test_container_over_process(workload, perf, evidence):
    """The same Python script served by a persistent container vs by a local process run by
    the same interpreter build (the host's python3, the image's source); the harness's own
    interpreter is compared too, labelled, when the two differ."""
    ctr = _python_or_skip(perf, workload, container_spec())
    same, reason = perf.try_throughput(workload, system_python_spec())
    pairs = [(system_python_spec(), same, True)] if same else []
    if sys.executable != shutil.which("python3", path="/usr/bin:/bin") or not same:
        pairs.append((python_spec(), _python_or_skip(perf, workload, python_spec()), False))
    for spec, proc, same_build in pairs:
        metric = "container_over_process_throughput_time" if same_build or not same else \
            "container_over_harness_python_throughput_time"
        for (inp, p_stats), (_, c_stats) in zip(proc, ctr):
            record_ratio(evidence, metric, workload, (container_spec(), c_stats), (spec, p_stats), at=container_spec(),
                         claim="PERF-2", same_interpreter_build=same_build, **_where(inp),
                         process_python=perf.open(workload, spec).details.get("python_version") or sys.version.split()[0],
                         same_build_unavailable=reason or None,
                         note="both persistent (one interpreter forks per input); container: docker, 1 CPU quota")

