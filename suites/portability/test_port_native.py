"""PORT-1, part two: one C source, built natively for each arch, does not always give the
same answer.

Each foreign arch's native build (run under qemu-user here, natively on an ARM CI machine)
gets the same Hypothesis inputs as the host's build (seeds first; the seed of the search is
fixed per workload). A difference is a finding for PORT-1, not a harness failure: it is
shrunk to a minimal input and recorded with what differed (FMA contraction, the default NaN's
sign, `char` signedness, byte order on s390x, ...). Crashes are outcomes too: exit status
and signal are compared along with stdout.
"""

from __future__ import annotations

import pytest

from harness.forms import FormSpec
from harness.toolchain import host_arch

import port_matrix

PORT_ROWS = "native"


@pytest.mark.claim("PORT-1")
def test_native_output_matches_host_build(subject, target_spec, form_factory, baseline_runs, port_log, evidence):
    workload = subject
    base_spec = FormSpec("native", "c", "os", host_arch())
    base = form_factory(workload, base_spec)
    target = form_factory(workload, target_spec)
    base_art = port_log.artifact(evidence, workload, base_spec, base, "PORT-1")
    art = port_log.artifact(evidence, workload, target_spec, target, "PORT-1")
    pair = port_matrix.PairedRuns(workload, base, base_spec, target, target_spec, baseline_runs)

    search = port_matrix.Search(workload, f"portability/native/{workload.name}/{target_spec.arch}")
    findings = search.run(pair, kinds=port_matrix.MAX_KINDS)
    port_log.transcript("native", workload, base_spec, base_art, pair.base_runs, "PORT-1")
    port_log.transcript("native", workload, target_spec, art, pair.runs, "PORT-1")
    evidence.record(
        "native_not_portable", 1 if findings else 0, "bool", workload=workload, spec=target_spec,
        outcome="differs" if findings else "same-output", kind="output-across-arches", examples=search.examples,
        compared_with=base_spec.to_dict(), emulated=port_matrix.emulated(target_spec.arch),
        launcher=port_matrix.launcher(target_spec.arch), artifact_sha256=art.get("sha256"),
        baseline_artifact_sha256=base_art.get("sha256"), **port_matrix.findings_details(findings),
    )
