"""What the performance suite's tests share: memoised timings per workload x form (so the
per-form tests and the ratio tests read the same figures, and every ratio compares numbers
from the same run) and the record details the report's charts read."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness import bench
from harness.bench.inputs import ladder
from harness.forms import FormSpec, all_specs
from harness.plugin import _progress, _spec_filter
from harness.toolchain import BuildError, host_arch


class Unavailable(Exception):
    """A form that cannot be measured here; the message is the skip reason."""


class Bench:
    """Memoised timings: (workload, spec) -> [(BenchInput, Stats)], or the reason it has none."""

    def __init__(self, config, form_factory, scale: str):
        self.config, self.form_factory, self.scale = config, form_factory, scale
        self.policy = bench.policy_for(scale)
        self.say = _progress(config)
        self._throughput: dict = {}
        self._inputs: dict = {}
        self._extra_forms: dict = {}
        self._image_versions: dict = {}
        self._closers: list = []

    def inputs(self, workload):
        if workload.name not in self._inputs:
            self._inputs[workload.name] = ladder(workload, self.scale)
        return self._inputs[workload.name]

    def specs(self, workload, **kw) -> list[FormSpec]:
        return all_specs(workload, **{**_spec_filter(self.config), **kw})

    def open(self, workload, spec: FormSpec):
        """The shared form, or Unavailable (a skip), or BuildError (a failure)."""
        if spec.runtime == SYSTEM_PYTHON_RUNTIME:
            return self._system_python_form(workload, spec)
        try:
            return self.form_factory(workload, spec)
        except pytest.skip.Exception as exc:
            raise Unavailable(str(exc.msg)) from None

    def _system_python_form(self, workload, spec: FormSpec):
        """The python-process form run by the same interpreter build as the Python image
        (the host's Debian python3, from which the image is built), so PERF-2 compares the
        container with a process and nothing else."""
        key = ("system-python", workload.name)
        if key not in self._extra_forms:
            self._extra_forms[key] = self._make_system_python_form(workload, spec)
        form = self._extra_forms[key]
        if isinstance(form, Unavailable):
            raise form
        return form

    def _make_system_python_form(self, workload, spec):
        from harness.forms.python_process import PythonProcessForm

        ctr = self.open(workload, container_spec())
        host_py = shutil.which("python3", path="/usr/bin:/bin")
        if host_py is None or not workload.has("python"):
            return Unavailable("no system python3 (/usr/bin/python3) to compare the container with")
        host_v = _python_version([host_py])
        image_v = self._image_python_version(ctr)
        if not host_v or host_v != image_v:
            return Unavailable(f"the host's python3 ({host_v or 'unknown'}) is not the image's ({image_v or 'unknown'})")
        script = workload.sources.get("python") or workload.prebuilt.get("python")
        form = PythonProcessForm(spec, script, workload.timeout_s)
        form.python = host_py
        form.details.update({"python": host_py, "python_version": host_v, "image_python_version": image_v})
        self._closers.append(form.close)
        return form

    def _image_python_version(self, ctr) -> str:
        if ctr.image.tag not in self._image_versions:
            from harness.bench.coldstart import docker_run_command

            self._image_versions[ctr.image.tag] = _python_version(docker_run_command(ctr.image.tag, [ctr.image.python]))
        return self._image_versions[ctr.image.tag]

    def close(self) -> None:
        for close in self._closers:
            close()

    def throughput(self, workload, spec: FormSpec) -> list:
        """Round-trip timings of every ladder input through one form (measured once)."""
        key = (workload.name, spec)
        if key not in self._throughput:
            try:
                form = self.open(workload, spec)
                results = []
                with bench.pinned():
                    for inp in self.inputs(workload):
                        results.append((inp, bench.measure_form(form, inp.data, self.policy)))
                self.say(f"throughput {workload.name} {spec.id}: " + ", ".join(
                    f"{i.label} {s.median * 1000:.2f} ms" for i, s in results))
                self._throughput[key] = results
            except (Unavailable, bench.BenchError, BuildError, pytest.fail.Exception) as exc:
                self._throughput[key] = exc
        value = self._throughput[key]
        if isinstance(value, Unavailable):
            pytest.skip(str(value))
        if isinstance(value, Exception):
            pytest.fail(f"{spec.id} on {workload.name}: {getattr(value, 'msg', None) or value}", pytrace=False)
        return value

    def try_throughput(self, workload, spec: FormSpec) -> tuple[list | None, str]:
        """Like throughput, but (None, reason) instead of a skip: for tests comparing many forms.
        A form that failed still fails here."""
        try:
            return self.throughput(workload, spec), ""
        except pytest.skip.Exception as exc:
            return None, str(exc.msg)


SYSTEM_PYTHON_RUNTIME = "cpython-system"


def _python_version(cmd: list[str]) -> str:
    try:
        r = subprocess.run([*cmd, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def system_python_spec() -> FormSpec:
    return FormSpec("python-process", "python", SYSTEM_PYTHON_RUNTIME, host_arch())


def python_spec() -> FormSpec:
    return FormSpec("python-process", "python", "cpython", host_arch())


def container_spec() -> FormSpec:
    return FormSpec("container", "python", "docker", host_arch())


def is_emulated(spec: FormSpec) -> bool:
    return spec.arch != host_arch()



def side(spec: FormSpec, **extra) -> dict:
    """How one side of a ratio is labelled in its record."""
    return {"form": spec.form, "runtime": spec.runtime, "arch": spec.arch, "language": spec.language,
            "emulated": is_emulated(spec), **extra}


def record_throughput(evidence, workload, spec: FormSpec, inp, stats: bench.Stats, **extra) -> dict:
    """One `throughput` record (runs/s) for one input size, spread and raw timings kept."""
    rate = stats.rate()
    return evidence.record(
        "throughput", rate["median"], "runs/s", workload=workload, spec=spec, outcome="measured",
        input_bytes=inp.input_bytes, input_label=inp.label, work=inp.work, work_unit=inp.work_unit,
        median=rate["median"], min=rate["min"], max=rate["max"], repeats=stats.repeats,
        bytes_per_s=inp.input_bytes / stats.median if stats.median else None,
        emulated=is_emulated(spec), time_s=stats.to_dict(), **extra)


def record_ratio(evidence, metric: str, workload, num: tuple, den: tuple, *, at: FormSpec | None, claim: str | None,
                 unit: str = "s", outcome: str = "measured", **extra) -> dict:
    """A ratio record num/den (each a (spec-or-label dict, Stats)); `at` names the form the
    record is filed under (the side the claim is about)."""
    (num_label, num_stats), (den_label, den_stats) = num, den
    num_label = side(num_label) if isinstance(num_label, FormSpec) else num_label
    den_label = side(den_label) if isinstance(den_label, FormSpec) else den_label
    r = bench.ratio(num_stats, den_stats, num_label, den_label, unit=unit)
    return evidence.record(
        metric, r["value"], "x", claim=claim, workload=workload, spec=at, outcome=outcome,
        min=r["min"], max=r["max"], numerator=r["numerator"], denominator=r["denominator"],
        emulated=bool(num_label.get("emulated") or den_label.get("emulated")), **extra)
