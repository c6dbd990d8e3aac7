"""The data-model trap: portability of the module is not portability of the source.

workloads/data-model/main.c hashes its input with FNV-1a written with `unsigned long`
because "long is 64 bits". That holds on LP64 (x86_64, aarch64, riscv64, s390x Linux) and
not on wasm32, which is ILP32: the constants are truncated and the hash changes. The .wasm
still gives one answer on every runtime and arch (test_port_wasm.py checks that); it is the
answer of a different program than the one the author compiled for x86_64. Recorded as its
own metric, `source_data_model_difference`, next to PORT-2 but not counted as a
`wasm_output_mismatch`.
"""

from __future__ import annotations

import pytest

from harness.forms import FormSpec
from harness.toolchain import host_arch

import port_matrix

EXPLANATION = (
    "The same C source gives a different answer compiled to wasm32 than to the host's native target: wasm32 is "
    "ILP32 (long and pointers are 32 bits) while 64-bit Linux is LP64, so code that assumes a 64-bit `long` "
    "silently changes meaning. A .wasm module runs the same everywhere (see wasm_output_mismatch), but the "
    "portability of the module is not the portability of the source: the port to wasm32 is itself a port."
)


def _fields(out: bytes) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.decode("utf-8", "replace").splitlines() if " " in line)


@pytest.mark.claim("PORT-2")
def test_long_width_changes_the_answer(form_factory, port_log, evidence):
    workload = port_matrix.suite_workloads(("data-model",))[0]
    wasm_spec = FormSpec("wasm", "c", port_matrix.BASELINE_WASM_RUNTIME, host_arch())
    native_spec = FormSpec("native", "c", "os", host_arch())
    wasm, native = form_factory(workload, wasm_spec), form_factory(workload, native_spec)
    wasm_art = port_log.artifact(evidence, workload, wasm_spec, wasm, "PORT-2")
    native_art = port_log.artifact(evidence, workload, native_spec, native, "PORT-2")
    seen: dict[bytes, tuple] = {}

    def pair(data: bytes):
        w = port_matrix.checked(wasm.run(data), wasm_spec.id)
        n = port_matrix.checked(native.run(data), native_spec.id)
        seen[data] = (w, n)
        return n, w

    search = port_matrix.Search(workload, "portability/data-model/wasm32-vs-native")
    findings = search.run(pair, kinds=port_matrix.MAX_KINDS)
    details = {"examples": search.examples, "module_sha256": wasm_art.get("sha256"),
               "native_artifact_sha256": native_art.get("sha256"), "native_target": native_art.get("triple"),
               "explanation": EXPLANATION}
    if findings:
        w, n = seen[findings[0].data]
        wf, nf = _fields(w.stdout), _fields(n.stdout)
        details.update(port_matrix.findings_details(findings), input_text=findings[0].data.decode("utf-8", "replace"),
                       wasm_output=w.stdout.decode("utf-8", "replace"), native_output=n.stdout.decode("utf-8", "replace"),
                       differing_fields=sorted(k for k in wf.keys() | nf.keys() if wf.get(k) != nf.get(k)))
    evidence.record("source_data_model_difference", 1 if findings else 0, "bool", workload=workload, spec=wasm_spec,
                    target="wasm32-wasi", outcome="differs" if findings else "same-output",
                    compared_with=native_spec.to_dict(), **details)
