"""Execution forms and the factory that makes a workload runnable in one of them."""

from __future__ import annotations

from harness.forms.base import FORMS, Form, FormSpec, FormUnavailable
from harness.runtimes import Limits
from harness.toolchain import TARGETS, ToolMissing, build, host_arch, native_target
from harness.workload import Workload

__all__ = ["FORMS", "Form", "FormSpec", "FormUnavailable", "open_form"]


def _artifact(workload: Workload, spec: FormSpec, target: str, progress):
    """The built artifact for a spec, or the user's prebuilt one (host arch only)."""
    prebuilt_key = "wasm" if spec.form == "wasm" else "native"
    if spec.language != "rust" and "c" not in workload.sources and prebuilt_key in workload.prebuilt:
        if spec.form == "native" and spec.arch != host_arch():
            raise FormUnavailable(f"{workload.name} ships a prebuilt native binary only; it cannot be rebuilt for {spec.arch}")
        return workload.prebuilt[prebuilt_key], {"prebuilt": str(workload.prebuilt[prebuilt_key])}
    try:
        artifact = build(workload, target, spec.language, progress=progress)
    except ToolMissing as exc:
        raise FormUnavailable(str(exc)) from None
    return artifact.path, {"artifact": artifact.to_dict()}


def _python_script(workload: Workload):
    script = workload.sources.get("python") or workload.prebuilt.get("python")
    if script is None:
        raise FormUnavailable(f"{workload.name} has no Python implementation")
    return script


def open_form(spec: FormSpec, workload: Workload, *, persistent: bool = True, limits: Limits = Limits(), progress=None) -> Form:
    """Build what the spec needs and return a ready Form. Raises FormUnavailable (skip) or BuildError (fail)."""
    from harness.forms.container import ContainerForm
    from harness.forms.native import NativeForm
    from harness.forms.python_process import PythonProcessForm
    from harness.forms.wasm import WasmForm

    timeout = workload.timeout_s
    if spec.form == "native":
        target = f"{spec.arch}-linux"
        if target not in TARGETS or (spec.language == "rust" and TARGETS[target].rust is None):
            raise FormUnavailable(f"no {spec.language} build target for {spec.arch}")
        path, details = _artifact(workload, spec, target, progress)
        form = NativeForm(spec, path, timeout, dynamic=spec.language == "rust")
    elif spec.form == "wasm":
        path, details = _artifact(workload, spec, "wasm32-wasi", progress)
        form = WasmForm(spec, path, timeout, limits)
    elif spec.form == "python-process":
        form, details = PythonProcessForm(spec, _python_script(workload), timeout, persistent=persistent), {}
    elif spec.form == "container":
        form, details = ContainerForm(spec, _python_script(workload), timeout, persistent=persistent, progress=progress), {}
    else:
        raise FormUnavailable(f"unknown form {spec.form!r} (known: {', '.join(FORMS)})")
    form.details.update(details)
    return form


def native_spec(arch: str | None = None, language: str = "c") -> FormSpec:
    return FormSpec("native", language, "os", native_target(arch).arch)


def all_specs(workload: Workload, *, forms=None, runtimes=None, arches=None, exclude=()) -> list[FormSpec]:
    """Every way to run this workload that the selection allows (available or not: the
    unavailable ones become visible skips)."""
    from harness.runtimes import RUNTIMES

    forms = forms or FORMS
    arches = arches or [host_arch()]
    runtimes = runtimes or list(RUNTIMES)
    compiled = [lang for lang in ("c", "rust") if lang in workload.sources] or (["c"] if workload.prebuilt else [])
    specs = []
    for arch in arches:
        for lang in compiled:
            if "native" in forms and (lang == "c" or workload.prebuilt.get("native") is None):
                specs.append(FormSpec("native", lang, "os", arch))
            if "wasm" in forms:
                specs += [FormSpec("wasm", lang, rt, arch) for rt in runtimes]
        if arch == host_arch() and workload.has("python"):
            specs += [FormSpec(f, "python", rt, arch) for f, rt in (("python-process", "cpython"), ("container", "docker"))
                      if f in forms]
    return [s for s in specs if s.form not in exclude]
