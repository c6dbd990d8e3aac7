"""SIZE-1: what ships. The native binary, the .wasm as built, stripped of custom sections
and optimised (wasm-opt), the Python image (with its package count) and a minimal image
holding only the static native binary. `python_image_over_wasm_size` divides the Python
image by the .wasm as built; beside it, the same image over the .wasm plus the runtime
that must be installed to run it, so the report shows both readings of the claim."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness import images
from harness.bench.artifacts import strip_custom_sections, wasm_opt
from harness.bench.suite import Unavailable, container_spec
from harness.runtimes.wasmtime_cli import wasmtime_cli_path
from harness.toolchain import BuildError, ToolMissing, build, host_arch


def _exact(metric_value_unit_side: dict, value: int) -> dict:
    return {**metric_value_unit_side, "median": value, "min": value, "max": value, "unit": "bytes", "repeats": 1}


def _size_ratio(evidence, metric, workload, num: tuple, den: tuple, **extra):
    (num_label, num_bytes), (den_label, den_bytes) = num, den
    value = num_bytes / den_bytes
    evidence.record(metric, value, "x", workload=workload, form=den_label.get("form"), runtime=den_label.get("runtime"),
                    arch=host_arch(), outcome="measured", min=value, max=value,
                    numerator=_exact(num_label, num_bytes), denominator=_exact(den_label, den_bytes), **extra)


def _record_artifacts(evidence, workload, arch: str):
    """artifact_bytes for the native binary and the .wasm (as built, stripped, optimised);
    returns the .wasm sizes per language and the static C binary (for the minimal image)."""
    wasm_sizes: dict[str, int] = {}
    native_binary = None
    for lang in [lang for lang in ("c", "rust") if lang in workload.sources]:
        for target, kind in ((f"{arch}-linux", "native"), ("wasm32-wasi", "wasm")):
            try:
                art = build(workload, target, lang)
            except ToolMissing as exc:
                evidence.record("artifact_bytes", None, "bytes", workload=workload, form=kind, outcome="skipped",
                                kind=kind, language=lang, reason=str(exc))
                continue
            except BuildError as exc:
                pytest.fail(str(exc), pytrace=False)
            common = dict(workload=workload, form=kind, runtime="os" if kind == "native" else None, arch=art.target,
                          outcome="measured", language=lang, sha256=art.sha256, flags=list(art.flags))
            _record_artifact(evidence, kind, art.path, common, wasm_sizes, lang)
            if kind == "native" and lang == "c":
                native_binary = art.path
    if "c" not in workload.sources:  # the user's given artifacts are measured as they are
        for kind, path in sorted(workload.prebuilt.items()):
            if kind in ("native", "wasm"):
                common = dict(workload=workload, form=kind, runtime="os" if kind == "native" else None,
                              arch=arch if kind == "native" else "wasm32-wasi", outcome="measured", language="prebuilt",
                              prebuilt=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
                _record_artifact(evidence, kind, path, common, wasm_sizes, "prebuilt")
                native_binary = path if kind == "native" else native_binary
    return wasm_sizes, native_binary


def _record_artifact(evidence, kind: str, path: Path, common: dict, wasm_sizes: dict, label: str) -> None:
    """artifact_bytes of one binary; for a .wasm also stripped and optimised (into wasm_sizes[label])."""
    data = path.read_bytes()
    evidence.record("artifact_bytes", len(data), "bytes", kind=kind, **common)
    if kind == "wasm":
        wasm_sizes[label] = len(data)
        evidence.record("artifact_bytes", len(strip_custom_sections(data)), "bytes", kind="wasm-stripped",
                        how="custom sections removed (harness.bench.artifacts)", **common)
        opt, how = wasm_opt(data)
        evidence.record("artifact_bytes", len(opt) if opt else None, "bytes", kind="wasm-optimised",
                        how=how, **{**common, "outcome": "measured" if opt else "skipped"})


@pytest.mark.claim("SIZE-1")
def test_sizes(workload, perf, evidence):
    arch = host_arch()
    wasm_sizes, native_binary = _record_artifacts(evidence, workload, arch)
    try:
        ctr = perf.open(workload, container_spec())
    except Unavailable as exc:
        pytest.skip(f"no Python image to compare with: {exc}")
    image = ctr.image
    image_label = {"form": "container", "runtime": "docker", "kind": "python-image", "image": image.tag}
    evidence.record("image_bytes", image.size_bytes, "bytes", workload=workload, form="container", runtime="docker",
                    arch=arch, outcome="measured", kind="python-image", image=image.tag, origin=image.origin,
                    packages=len(image.packages) or None, package_names=list(image.packages), files=image.file_count)
    native_image = None
    if native_binary is not None:
        try:
            native_image = images.build_static_binary_image(ctr.client, native_binary,
                                                            f"wasm-claims/native-{workload.name}:bench")
        except images.ImageError as exc:
            evidence.record("image_bytes", None, "bytes", workload=workload, form="container", runtime="docker",
                            arch=arch, outcome="skipped", kind="native-image", reason=str(exc))
    if native_image is not None:
        evidence.record("image_bytes", native_image.size_bytes, "bytes", workload=workload, form="container",
                        runtime="docker", arch=arch, outcome="measured", kind="native-image", image=native_image.tag,
                        packages=0, files=native_image.file_count)
        _size_ratio(evidence, "python_image_over_native_image_size", workload, (image_label, image.size_bytes),
                    ({"form": "container", "runtime": "docker", "kind": "native-image"}, native_image.size_bytes))
    runtime = wasmtime_cli_path(arch)
    for lang, size in wasm_sizes.items():
        wasm_label = {"form": "wasm", "runtime": None, "kind": "wasm", "language": lang}
        _size_ratio(evidence, "python_image_over_wasm_size", workload, (image_label, image.size_bytes), (wasm_label, size),
                    language=lang)
        if runtime:
            rt_size = Path(runtime).stat().st_size
            _size_ratio(evidence, "python_image_over_wasm_with_runtime_size", workload, (image_label, image.size_bytes),
                        ({**wasm_label, "runtime": "wasmtime-cli", "runtime_bytes": rt_size}, size + rt_size),
                        language=lang, note="the .wasm plus the wasmtime CLI binary that runs it")
    if not wasm_sizes:
        pytest.skip(f"{workload.name}: no .wasm to compare with (it needs C sources with zig for wasm32-wasi, or a prebuilt .wasm)")

