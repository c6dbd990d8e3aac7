"""PORT-2: generated SIMD value probes judged lane-exact (harness.probes.simdgen). Hypothesis
draws one v128 instruction and its operands per example; wasmtime-py runs it in its child
host under every engine configuration (harness.runtimes.wasmtime_py.CONFIGS: the CPU-feature
rows run the lowering paths of other CPUs here), every command-line row through its CLI under
each configuration it offers, with the operands read at run time (harness.probes.calls); a NumPy model with the spec's NaN rules says
what each lane must be. One record per row x configuration: `wasm_output_mismatch` 1 when any
lane differed (a miscompile, with the reproducer), with coverage (the opcodes drawn, with
counts). A crashed engine is also a SAFETY-2 escape record. A mismatch under the current
wasmtime-py fails the test."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import example, given, settings

from harness.probes import calls, findings, memgen, simdgen
from harness.toolchain import host_arch

EXAMPLES = {"quick": 40, "default": 300, "thorough": 1500}
MUST_HOLD = ("wasmtime-py",)


@pytest.mark.claim("PORT-2")
def test_simd_values(runtime, engine_config, evidence, scale, wasm_row, tmp_path):
    rt, avail = wasm_row
    common = dict(claim="PORT-2", form="wasm", runtime=runtime, arch=host_arch(), probe=simdgen.PROBE_NAME,
                  engine_config=engine_config, runtime_version=avail.version)
    probe, why = calls.prober(rt, runtime, engine_config, avail, tmp_path, in_host=simdgen.request, as_call=simdgen.call)
    if probe is None:
        evidence.record("wasm_output_mismatch", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    check = simdgen.judge(simdgen.CHECK, probe(simdgen.CHECK))
    if check.outcome != "same":  # a row that compiles no SIMD at all (Wasmer's singlepass): not tested, with its answer
        why = f"{runtime} / {engine_config} runs no SIMD: i8x16.add on two constants: {check.outcome}: {check.reason}"[:300]
        evidence.record("wasm_output_mismatch", None, "bool", outcome="not-tested", reason=why, **common)
        pytest.skip(why)
    counts, covered, found = Counter(), Counter(), []
    started = time.perf_counter()

    def once(case):
        reply = probe(case)
        v = simdgen.judge(case, reply)
        counts[v.outcome] += 1
        covered.update(simdgen.coverage(case))
        if v.outcome == "not-tested":
            pytest.skip(f"{runtime} / {engine_config}: {v.reason}")
        n = sum(counts.values())
        if v.finding and not found:
            found.append((n - len(saved) if n > len(saved) else None, v, simdgen.describe(case)))
        assert not (v.finding and runtime in MUST_HOLD), f"{runtime} / {engine_config}: {v.reason} ({simdgen.describe(case)})"

    test = given(simdgen.cases())(once)
    saved = simdgen.saved_findings()  # earlier runs' findings, run first
    for case in reversed(saved):
        test = example(case)(test)
    test._hypothesis_internal_add_digest = f"simdgen/{runtime}/{engine_config}".encode()
    try:
        settings(settings(), max_examples=EXAMPLES.get(scale, 300))(test)()
        if found:  # a finding on a row where it does not fail the test: shrink it and keep the reproducer
            case = findings.shrink(simdgen.cases(), lambda c: simdgen.judge(c, probe(c)).finding == 1)
            if case is not None:
                v = simdgen.judge(case, probe(case))
                found[0] = (found[0][0], v, simdgen.describe(case), str(simdgen.keep_finding(case, runtime, engine_config, v)))
    finally:
        examples = sum(counts.values())
        elapsed = time.perf_counter() - started
        details = dict(examples=examples, outcomes=dict(counts), examples_per_s=round(examples / elapsed, 2) if elapsed else None,
                       coverage=memgen.coverage_details(covered), explicit_examples=len(saved))
        if found:
            n, v, case, *kept = found[0]
            details.update(first_finding_example=n, params=case, **({"reproducer": kept[0], "shrunk": True} if kept else {}))
            evidence.record("wasm_output_mismatch", 1, "bool", outcome="mismatch", reason=v.reason, **common, **details)
            if v.outcome == "host-crashed":
                evidence.record("escape", 1, "bool", **dict(common, claim="SAFETY-2"), outcome="host-crashed", reason=v.reason,
                                category="simd", params=case)
        elif counts.get("same"):
            evidence.record("wasm_output_mismatch", 0, "bool", outcome="same",
                            reason=f"every lane as the model says on {counts['same']} drawn instructions", **common, **details)
        else:
            evidence.record("wasm_output_mismatch", None, "bool", outcome="not-tested",
                            reason=f"no case could be judged: {dict(counts)}", **common)
