"""Peak memory of each form for the same work (the largest benchmark input), median of a
few runs. Each form is measured the way it can be (harness.bench.memory): rusage for a
process, a new host process for the embedded runtime, the cgroup for the container."""

from __future__ import annotations

import statistics

import pytest

from harness.bench import BenchError, memory
from harness.bench.suite import is_emulated
from harness.forms.python_process import python_interpreter
from harness.runtimes import Limits

REPEATS = {"quick": 1, "default": 3, "thorough": 5}


def _probe(form, spec, data: bytes, timeout: float):
    if spec.form == "native":
        return memory.process_peak_kb(form.command(), data, timeout, spec.id)
    if spec.form == "wasm" and spec.runtime == "wasmtime-py":
        kb, details = memory.wasmtime_host_peak_kb(form.module, data, timeout)
        linear = form.run(data).peak_memory_kb
        return kb, {**details, "linear_memory_kb": linear}
    if spec.form == "wasm":
        cmd = form.runtime.command(form.module, Limits(), timeout, spec.arch)
        kb, details = memory.process_peak_kb(cmd, data, timeout + form.runtime.startup_allowance_s, spec.id)
        return kb, {**details, "source": f"rusage (ru_maxrss of the {spec.runtime} process, minimal launcher)"}
    if spec.form == "python-process":
        return memory.process_peak_kb([python_interpreter(), str(form.script)], data, timeout, spec.id)
    if spec.form == "container":
        return memory.container_peak_kb(form.image.tag, form.image.python, form.script, data, timeout)
    pytest.skip(f"no memory probe for form {spec.form}")


def test_peak_rss(workload, form_spec, form, perf, evidence):
    inputs = perf.inputs(workload)
    if not inputs:
        pytest.skip(f"{workload.name} has no benchmark inputs")
    inp = inputs[-1]
    samples, details = [], {}
    try:
        for _ in range(REPEATS.get(perf.scale, 3)):
            kb, details = _probe(form, form_spec, inp.data, workload.timeout_s)
            samples.append(kb)
    except BenchError as exc:
        pytest.fail(f"{form_spec.id} could not run the memory probe: {exc}", pytrace=False)
    evidence.record("peak_rss_kb", statistics.median(samples), "KiB", workload=workload, spec=form_spec,
                    outcome="measured", median=statistics.median(samples), min=min(samples), max=max(samples),
                    repeats=len(samples), input_bytes=inp.input_bytes, input_label=inp.label,
                    emulated=is_emulated(form_spec), **details)
