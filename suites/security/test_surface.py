"""Attack surface (SURFACE-1) and dependencies (DEPS-1): counts per workload and form.

SURFACE-1 compares like with like, what each running process tree can reach on the host:
  container = distinct syscalls of the Python workload's process tree (strace -f of Debian's
              python3, the interpreter the local image is built from) + files in the Python image;
  wasm      = distinct syscalls of the Wasm runtime's process tree running the module (strace -f
              of the wasmtime CLI) + files it opens or executes to run it.
The WASI imports the module declares (what the guest itself can call) are recorded beside it as
a second figure (`container_over_wasi_imports`), which decides nothing.
DEPS-1 compares the files each form needs present to run (opened or executed by a traced
run, plus the program and script named): Python (interpreter + stdlib + script) over Wasm
(runtime + module). The container's own settings are recorded as information.
"""

from __future__ import annotations

import functools
import os

import pytest

from harness import strategies, surface
from harness.forms.container import RUN_LIMITS
from harness.forms.python_process import python_interpreter
from harness.runtimes import RUNTIMES
from harness.toolchain import BuildError, ToolMissing, build, host_arch, native_target

pytestmark = pytest.mark.workloads(lambda w: "c" in w.sources and w.has("python"), needs="a workload with C and Python sources")

DEBIAN_PYTHON = "/usr/bin/python3"
TRACE_TIMEOUT_S = 60


def _python() -> str:
    return DEBIAN_PYTHON if os.path.exists(DEBIAN_PYTHON) else python_interpreter()


@functools.cache
def _image():
    from harness import images

    try:
        client = images.docker_client()
        return client, images.python_image(client, build=False, progress=lambda s: None)
    except images.ImageError as exc:
        return None, str(exc)


def _need_image():
    client, image = _image()
    if client is None:
        pytest.skip(f"no Python image to count ({image})")
    return client, image


def _inputs(workload, scale: str) -> list[bytes]:
    seeds = strategies.seed_inputs(workload) or [b""]
    return seeds[:1] if scale == "quick" else seeds


_TRACES: dict = {}


def _traces(workload, scale: str) -> dict:
    """Traced runs of the three forms over the workload's seeds (once per workload)."""
    if workload.name not in _TRACES:
        _TRACES[workload.name] = _trace_forms(workload, scale)
    return _TRACES[workload.name]


def _trace_forms(workload, scale: str) -> dict:
    try:
        surface.strace_path()
        native = build(workload, native_target().name)
        module = build(workload, "wasm32-wasi")
    except (surface.SurfaceUnavailable, ToolMissing) as exc:
        return {"skip": str(exc)}
    wasmtime = RUNTIMES["wasmtime-cli"]
    if not wasmtime.availability().available:
        return {"skip": f"wasmtime CLI, the wasm form traced here: {wasmtime.availability().reason}"}
    inputs = _inputs(workload, scale)
    cwd = str(workload.directory)
    return {
        "inputs": len(inputs),
        "native": surface.trace_inputs([str(native.path)], inputs, TRACE_TIMEOUT_S, cwd=cwd),
        "python": surface.trace_inputs([_python(), str(workload.sources["python"])], inputs, TRACE_TIMEOUT_S, cwd=cwd),
        "wasm": surface.trace_inputs([wasmtime.program(host_arch()), "run", "-C", "cache=n", str(module.path)], inputs,
                                     TRACE_TIMEOUT_S, cwd=cwd),
        "module": module.path,
        "wasmtime": wasmtime.availability().version,
    }


def _need_traces(workload, scale):
    try:
        traces = _traces(workload, scale)
    except BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    except surface.SurfaceUnavailable as exc:
        pytest.skip(str(exc))
    if "skip" in traces:
        pytest.skip(traces["skip"])
    return traces


def _ratio(evidence, metric, workload, numerator: dict, denominator: dict, definition: str, claim: str):
    value = numerator["total"] / denominator["total"]
    evidence.record(metric, value, "x", claim=claim, workload=workload, min=value, max=value,
                    numerator=numerator, denominator=denominator, definition=definition,
                    note="counts, not timings: one measurement, so min = max")


@pytest.mark.claim("SURFACE-1")
def test_attack_surface(workload, evidence, scale):
    traces = _need_traces(workload, scale)
    _, image = _need_image()
    imports = surface.wasi_imports(traces["module"])
    native, python, wasm = traces["native"], traces["python"], traces["wasm"]
    evidence.record("wasi_imports", len(imports), "imports", workload=workload, form="wasm", runtime="any",
                    imports=imports, module=str(traces["module"]))
    evidence.record("native_syscalls", len(native.syscalls), "syscalls", workload=workload, form="native",
                    runtime="os", arch=host_arch(), syscalls=sorted(native.syscalls), inputs=traces["inputs"],
                    tool="strace -f")
    evidence.record("python_syscalls", len(python.syscalls), "syscalls", workload=workload, form="python-process",
                    runtime="cpython", arch=host_arch(), syscalls=sorted(python.syscalls), interpreter=_python(),
                    inputs=traces["inputs"], tool="strace -f")
    evidence.record("image_files", image.file_count, "files", workload=workload, form="container", runtime="docker",
                    image=image.tag, origin=image.origin, known=image.file_count > 0)
    evidence.record("image_packages", len(image.packages), "packages", workload=workload, form="container",
                    runtime="docker", image=image.tag, packages=list(image.packages))
    if image.file_count <= 0:
        pytest.skip(f"{image.tag} carries no file count ({image.origin} image): rebuild it with `wasm-claims image build`")
    numerator = {"form": "container", "runtime": "docker", "image": image.tag, "syscalls": len(python.syscalls),
                 "image_files": image.file_count, "image_packages": len(image.packages),
                 "total": len(python.syscalls) + image.file_count, "unit": "syscalls + files"}
    # Like with like: what each running process tree can reach on the host, syscalls and files.
    denominator = {"form": "wasm", "runtime": "wasmtime-cli", "runtime_syscalls": len(wasm.syscalls),
                   "files": len(wasm.files), "wasi_imports": len(imports), "total": len(wasm.syscalls) + len(wasm.files),
                   "unit": "syscalls + files"}
    _ratio(evidence, "container_over_wasm_surface", workload, numerator, denominator, claim="SURFACE-1",
           definition="(distinct syscalls of the Python workload's process tree, strace -f of the Debian python3 the "
                      "image is built from + files in the Python image) / (distinct syscalls of the Wasm runtime "
                      "process running the module, strace -f of the wasmtime CLI + files it opens or executes); "
                      "the WASI imports the guest can call are the second figure (container_over_wasi_imports); "
                      "the Docker daemon's and runc's own syscalls are not counted for the container")
    guest = {**denominator, "total": len(imports) + len(wasm.files), "unit": "WASI imports + files"}
    value = numerator["total"] / guest["total"]
    evidence.record("container_over_wasi_imports", value, "x", workload=workload, min=value, max=value,
                    numerator=numerator, denominator=guest, outcome="info",
                    definition="the guest's view, shown beside SURFACE-1 and not deciding it: (Python syscalls + image "
                               "files) / (WASI imports of the module + files the runtime opens)")
    assert imports and native.syscalls and python.syscalls, "a trace came back empty"


@pytest.mark.claim("DEPS-1")
def test_dependency_files(workload, evidence, scale):
    traces = _need_traces(workload, scale)
    rows = {}
    for name, form, runtime in (("native", "native", "os"), ("python", "python-process", "cpython"),
                                ("wasm", "wasm", "wasmtime-cli")):
        t = traces[name]
        rows[name] = surface.form_summary(form, t, runtime=runtime, total=len(t.files), unit="files")
        evidence.record("dependency_files", len(t.files), "files", workload=workload, form=form, runtime=runtime,
                        arch=host_arch(), files=sorted(t.files), files_bytes=rows[name]["files_bytes"],
                        inputs=traces["inputs"])
    _ratio(evidence, "python_over_wasm_dependency_files", workload, rows["python"], rows["wasm"], claim="DEPS-1",
           definition="regular files a run opened or executed (outside /proc, /sys, /dev) plus the program and "
                      f"script named: Python ({_python()} + stdlib + script) over Wasm (wasmtime CLI "
                      f"{traces['wasmtime']} + its libraries + the module)")
    bytes_ratio = rows["python"]["files_bytes"] / rows["wasm"]["files_bytes"]
    evidence.record("python_over_wasm_dependency_bytes", bytes_ratio, "x", claim="DEPS-1", workload=workload,
                    min=bytes_ratio, max=bytes_ratio, numerator=rows["python"], denominator=rows["wasm"],
                    definition="bytes of the same files (the wasmtime CLI is one large binary)")
    assert rows["native"]["files"] >= 1 and rows["wasm"]["files"] >= 1


@pytest.mark.claim("SURFACE-1")
def test_container_settings(evidence):
    """Information, not pass/fail: what a process inside the container form sees."""
    client, image = _need_image()
    info = surface.container_info(client, image, RUN_LIMITS)
    host_ns = surface.host_namespaces()
    observed = {
        "effective_capabilities": (surface.capability_count(info["cap_eff"]), "capabilities", info["cap_eff"]),
        "bounding_capabilities": (surface.capability_count(info["cap_bnd"]), "capabilities", info["cap_bnd"]),
        "seccomp_mode": (int(info["seccomp"] or -1), "mode", "0 off, 1 strict, 2 filter"),
        "no_new_privileges": (int(info["no_new_privs"] or 0), "bool", info["no_new_privs"]),
        "docker_sock_present": (int(bool(info["docker_sock"])), "bool", info["docker_sock"]),
        "host_pid_namespace": (int(info["pid_ns"] == host_ns["pid"]), "bool", f"{info['pid_ns']} (host {host_ns['pid']}); "
                               f"{info['pids_visible']} pids visible"),
        "host_net_namespace": (int(info["net_ns"] == host_ns["net"]), "bool", f"{info['net_ns']} (host {host_ns['net']}); "
                               f"interfaces {info['net_interfaces']}"),
        "read_only_rootfs": (int(bool(info["rootfs_read_only"])), "bool", info["rootfs_read_only"]),
    }
    for probe, (value, unit, seen) in observed.items():
        evidence.record("container_info", value, unit, form="container", runtime="docker", arch=host_arch(),
                        outcome="info", probe=probe, observed=seen, image=image.tag,
                        settings={k: str(v) for k, v in RUN_LIMITS.items()})
