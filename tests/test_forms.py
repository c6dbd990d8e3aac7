"""Every form runs a workload to one uniform Outcome, and every fault ends as an outcome
(timeout, crash, trap), never a hang or a harness traceback."""

from pathlib import Path

import pytest

from harness.forms import FormSpec, FormUnavailable, open_form
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

ARCH = host_arch()
COMPILED = [FormSpec("native", "c", "os", ARCH)] + [FormSpec("wasm", "c", rt, ARCH) for rt in RUNTIMES]
PYTHON = [FormSpec("python-process", "python", "cpython", ARCH), FormSpec("container", "python", "docker", ARCH)]


def opened(spec, workload, **kw):
    try:
        return open_form(spec, workload, **kw)
    except FormUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("spec", COMPILED + PYTHON, ids=lambda s: s.id)
def test_sha256_in_every_form(spec, builtin):
    with opened(spec, builtin["sha256"]) as form:
        out = form.run(b"abc")
    assert out.status == "ok", out.describe()
    assert out.stdout == b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    assert out.wall_s > 0


@pytest.mark.parametrize("spec", COMPILED + PYTHON, ids=lambda s: s.id)
def test_hang_is_stopped_at_deadline(spec, data_workload):
    with opened(spec, data_workload("hang")) as form:
        out = form.run(b"", timeout_s=1.0)
    assert out.timed_out and out.status == "timeout", out.describe()
    assert out.wall_s < 15


@pytest.mark.parametrize("spec", COMPILED[:2] + PYTHON[:1], ids=lambda s: s.id)
def test_fault_is_an_outcome(spec, data_workload):
    with opened(spec, data_workload("crash")) as form:
        bad, good = form.run(b"boom"), form.run(b"ok")
    expected = {"native": "crashed", "wasm": "trapped", "python-process": "rejected"}[spec.form]
    assert bad.status == expected, bad.describe()
    assert good.status == "ok" and good.stdout == b"2\n"


def test_rust_variant_agrees_with_c(builtin):
    for form in ("native", "wasm"):
        rt = "os" if form == "native" else "wasmtime-py"
        with opened(FormSpec(form, "rust", rt, ARCH), builtin["sha256"]) as f:
            assert f.run(b"abc").stdout.startswith(b"ba7816bf")


def test_unknown_runtime_is_unavailable(builtin):
    with pytest.raises(FormUnavailable, match="unknown Wasm runtime"):
        open_form(FormSpec("wasm", "c", "nope", ARCH), builtin["sha256"])


def test_foreign_arch_native_runs_under_qemu_or_says_why(builtin):
    other = "aarch64" if ARCH == "x86_64" else "x86_64"
    with opened(FormSpec("native", "c", "os", other), builtin["sha256"]) as form:
        out = form.run(b"abc")
    assert out.stdout.startswith(b"ba7816bf") and form.details["emulated"]


def test_runner_preloads_stdlib_imports_but_not_its_own_neighbours(tmp_path, monkeypatch):
    from harness.forms import python_runner

    # As when run as a script: the runner's folder (holding base.py) is first on sys.path.
    monkeypatch.syspath_prepend(str(Path(python_runner.__file__).parent))
    script = tmp_path / "wl.py"
    script.write_text("import base\nimport json\nimport no_such_module_xyz\nfrom os import path\n")
    assert python_runner.preload_imports(str(script)) == ["json", "os"]
