"""PERF-1: cold start, from launch to exit on a trivial input, for every way of starting.

Variants (harness.bench.coldstart): the native process, `python3 script`, `docker run` of
the Python image and of a minimal image holding only the static native binary, and Wasm:
fresh compile, cached serialized module and instantiation alone inside a warm wasmtime
host, plus every installed engine x mode started as a process (one variant per runtime row,
named after it: wasmtime CLI, node:wasi, Wasmer per compiler, wasmi, WasmEdge per mode...),
and the wasmtime CLI's precompiled and cache-off variants. Rows that are not installed are
listed in a `forms_not_measured` record with their reasons.

`container_over_wasm_cold_start` divides each container variant by each Wasm variant, all
measured here in the same run; the verdict rule (threshold 10x) reads only those.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from harness import bench, images
from harness.bench import coldstart
from harness.bench.inputs import trivial
from harness.bench.suite import Unavailable, container_spec
from harness.forms import FormSpec
from harness.forms.python_process import python_interpreter
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

CONTAINER_VARIANTS = ("docker-run", "docker-run-native")
IN_HOST_VARIANTS = ("fresh-compile", "cached-module", "instantiate")
WASMTIME_CLI_EXTRAS = ("wasmtime-cli-no-cache", "wasmtime-cli-precompiled")
NOTES = {
    "process": "the static native binary as a new process",
    "python-process": "python3 script as a new process (the harness's interpreter)",
    "docker-run": "docker run --rm -i of the Python image, the container form's limits",
    "docker-run-native": "docker run --rm -i of an image holding only the static native binary",
    "fresh-compile": "wasmtime-py in a running host: compile from bytes, instantiate, run",
    "cached-module": "wasmtime-py in a running host: deserialize the serialized module from disk, instantiate, run",
    "instantiate": "wasmtime-py in a running host: instantiate an already compiled module, run",
    "wasmtime-cli": "wasmtime run as a new process, its compiled-module cache on (the CLI's default, warm)",
    "wasmtime-cli-no-cache": "wasmtime run -C cache=n as a new process: compiles every time",
    "wasmtime-cli-precompiled": "wasmtime run --allow-precompiled of a .cwasm from wasmtime compile",
    "node-wasi": "node with node:wasi as a new process (V8 compiles the module each time)",
    "wasmedge-aot": "wasmedge running the module compiled once by wasmedge compile (cached), as a new process",
}
WHERE = {"process": "native", "python-process": "python-process", "docker-run": "container",
         "docker-run-native": "container"}


def _variants(perf, workload, stdin: bytes, tmp: Path):
    """name -> callable, and the reasons some variants are missing. Builds what they need."""
    arch = host_arch()
    native = perf.open(workload, FormSpec("native", "c", "os", arch))
    timeout = workload.timeout_s
    out = {"process": coldstart.process(native.command(), stdin, timeout, "native process")}
    missing = []
    try:
        ctr = perf.open(workload, container_spec())
        script = ctr.script
        out["python-process"] = coldstart.process([python_interpreter(), str(script)], stdin, timeout, "python3 script")
        if coldstart.docker_cli() is None:
            raise Unavailable("the docker command line is not installed (fix: apt-get install docker.io)")
        out["docker-run"] = coldstart.docker_run(
            ctr.image.tag, [ctr.image.python, f"/wc/workload/{script.name}"], stdin, "docker run (Python image)",
            {str(script.parent): "/wc/workload:ro"})
        try:
            native_image = images.build_static_binary_image(ctr.client, native.binary,
                                                            f"wasm-claims/native-{workload.name}:bench")
        except images.ImageError as exc:
            raise Unavailable(f"the minimal native image could not be built: {exc}") from None
        out["docker-run-native"] = coldstart.docker_run(native_image.tag, [], stdin, "docker run (native image)")
    except Unavailable as exc:
        missing.append(f"containers: {exc}")
    wasm = perf.open(workload, FormSpec("wasm", "c", "wasmtime-py", arch))
    host = coldstart.WasmtimeHost(wasm.module, stdin, timeout)
    out.update({"fresh-compile": host.fresh_compile, "cached-module": host.cached_module,
                "instantiate": host.instantiate})
    for spec in _process_rows(perf, workload):
        runtime = spec.runtime
        try:
            form = perf.open(workload, spec)
        except Unavailable as exc:
            missing.append(f"{runtime}: {exc}")
            continue
        out[runtime] = (lambda f=form, r=runtime: coldstart._checked(r, f.run(stdin)))
        if runtime == "wasmtime-cli":
            exe = form.runtime.program(arch)
            cwasm = coldstart.precompile_for_cli(exe, form.module, tmp)
            out["wasmtime-cli-precompiled"] = coldstart.process(
                [exe, "run", "--allow-precompiled", str(cwasm)], stdin, timeout, "wasmtime run --allow-precompiled")
            out["wasmtime-cli-no-cache"] = coldstart.process(
                [exe, "run", "-C", "cache=n", str(form.module)], stdin, timeout, "wasmtime run -C cache=n")
    return out, missing, host


def _process_rows(perf, workload) -> list[FormSpec]:
    """Every selected Wasm row started as a process on the host (in-process rows are the
    warm-host variants above), whether installed or not: missing ones become reasons."""
    return [s for s in perf.specs(workload) if s.form == "wasm" and s.language == "c" and s.arch == host_arch()
            and s.runtime in RUNTIMES and "in-process" not in RUNTIMES[s.runtime].capabilities]


@pytest.mark.claim("PERF-1")
def test_cold_start(workload, perf, evidence):
    if not (workload.compiled("native") and workload.compiled("wasm")):
        pytest.skip(f"{workload.name} has neither C sources nor both a prebuilt native binary and a prebuilt .wasm: "
                    "cold start compares a native process and Wasm starts with containers, so it needs both")
    stdin = trivial(workload)
    policy = bench.policy_for(perf.scale, max_seconds=min(bench.policy_for(perf.scale).max_seconds, 1.0))
    with tempfile.TemporaryDirectory(prefix="wc-cold-") as tmp:
        try:
            variants, missing, host = _variants(perf, workload, stdin, Path(tmp))
        except Unavailable as exc:
            pytest.skip(str(exc))
        measured, failed = {}, []
        try:
            with bench.pinned():
                for name, fn in variants.items():
                    try:
                        measured[name] = bench.measure(fn, policy)
                    except bench.BenchError as exc:
                        failed.append(f"{name}: {exc}")
        finally:
            host.close()
    perf.say(f"cold start {workload.name}: " + ", ".join(f"{n} {s.median * 1000:.1f} ms" for n, s in measured.items()))
    for name, stats in measured.items():
        evidence.record("cold_start_s", stats.median, "s", workload=workload, form=WHERE.get(name, "wasm"),
                        runtime=_runtime(name), arch=host_arch(), outcome="measured", variant=name, how=_how(name),
                        median=stats.median, min=stats.min, max=stats.max, repeats=stats.repeats,
                        input_bytes=len(stdin), stats=stats.to_dict())
    for num in CONTAINER_VARIANTS:
        for den in [v for v in measured if WHERE.get(v, "wasm") == "wasm"]:
            if num in measured:
                _ratio(evidence, "container_over_wasm_cold_start", workload, measured, num, den)
    for num, den in (("docker-run", "python-process"), ("docker-run-native", "process")):
        if num in measured and den in measured:
            _ratio(evidence, "container_over_process_cold_start", workload, measured, num, den)
    if missing:
        evidence.record("forms_not_measured", len(missing), "forms", claim="PERF-1", workload=workload,
                        outcome="skipped", reasons=missing)
    if failed:
        pytest.fail("cold start variants that could not run: " + "; ".join(failed), pytrace=False)
    if not any(v in measured for v in CONTAINER_VARIANTS):
        pytest.skip("; ".join(missing) or "no container variant measured")


def _runtime(variant: str) -> str:
    if variant in IN_HOST_VARIANTS:
        return "wasmtime-py"
    if variant in WASMTIME_CLI_EXTRAS:
        return "wasmtime-cli"
    if variant in RUNTIMES:
        return variant
    return {"process": "os", "python-process": "cpython"}.get(variant, "docker")


def _how(variant: str) -> str | None:
    if variant in NOTES or variant not in RUNTIMES:
        return NOTES.get(variant)
    rt = RUNTIMES[variant]
    return f"{rt.engine_name} ({rt.mode}) run as a new process"


def _ratio(evidence, metric, workload, measured, num, den):
    n, d = measured[num], measured[den]
    r = bench.ratio(n, d, {"variant": num, "runtime": _runtime(num)}, {"variant": den, "runtime": _runtime(den)})
    evidence.record(metric, r["value"], "x", workload=workload, form=WHERE.get(den, "wasm"), runtime=_runtime(den),
                    arch=host_arch(), outcome="measured", numerator_variant=num, denominator_variant=den,
                    min=r["min"], max=r["max"], numerator=r["numerator"], denominator=r["denominator"])
