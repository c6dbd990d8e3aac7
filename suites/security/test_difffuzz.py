"""PORT-2 / SAFETY-2: differential module fuzzing across every available engine row and
configuration (harness.difffuzz): wasmtime-py under its Config knob sets, the CLIs under
their own options, node, WasmEdge (interpreter and AOT), Wasmer and wasmi. One record per
engine: `wasm_output_mismatch` 1 if it deviated from the majority on any module, with the
module and call counts and how many modules it was compared on; a deviation that is a
bounds disagreement or a crash is also a SAFETY-2 escape record. Reproducers (shrunk .wasm,
.wat and the command) go to reports/findings/. A row or configuration that cannot run, or
that was compared on none of the modules (a module counts only where at least two engine
families answered), is recorded as not tested with the reason; a host crash (signal, panic)
is a finding even then. Details per engine: time-outs, errors, crashed / deviated / tied
modules, and with --fuzz-budget what the row got (fuzz_budget_s, spent_s)."""

from __future__ import annotations

import pytest

from harness import difffuzz
from harness.plugin import _progress, selected_runtimes
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

EXAMPLES = {"quick": 150, "default": 1000, "thorough": 10000}  # modules per profile (mvp, simd)
SHRINK_ATTEMPTS = {"quick": 10, "default": 200, "thorough": 1000}


def _engines(pytestconfig, record_untested):
    engines = []
    for row in selected_runtimes(pytestconfig):
        rt = RUNTIMES[row]
        avail = rt.availability(host_arch())
        configs = difffuzz.engine_configs(rt) if avail.available else []
        if not configs:
            record_untested(row, "default", avail.version, f"{row}: {avail.reason}" if not avail.available else
                            f"{row}: neither a child host nor a command line that can invoke an export")
            continue
        for config in configs:
            engine = difffuzz.Engine(f"{row}/{config}")
            why = engine.unsupported()
            if why:
                record_untested(row, config, avail.version, why)
            else:
                engine.version = avail.version
                engines.append(engine)
    return engines


@pytest.mark.claim("PORT-2")
@pytest.mark.fuzz_budget("difffuzz")
@pytest.mark.parametrize("profile", list(difffuzz.PROFILES))
def test_differential_fuzzing(profile, pytestconfig, evidence, scale, fuzz_slot):
    forms = pytestconfig.getoption("form")
    if forms and "wasm" not in forms:
        pytest.skip(f"form wasm not selected (--form {','.join(forms)})")
    try:
        difffuzz.wasm_tools()
    except difffuzz.ToolMissing as exc:
        pytest.skip(str(exc))

    def untested(row, config, version, why):
        evidence.record("wasm_output_mismatch", None, "bool", claim="PORT-2", form="wasm", runtime=row, arch=host_arch(),
                        outcome="not-tested", reason=why, engine_config=config, runtime_version=version, probe="difffuzz",
                        profile=profile)

    engines = _engines(pytestconfig, untested)
    if len(engines) < 2:
        pytest.skip(f"differential fuzzing needs two engine configurations; found {len(engines)}")
    run = difffuzz.campaign(engines, EXAMPLES.get(scale, 1000), SHRINK_ATTEMPTS.get(scale, 200), profile,
                            progress=_progress(pytestconfig), slot=fuzz_slot)
    ties = next((f for f in run.findings if f.verdict == "ambiguous"), None)
    for e in engines:
        tied = run.ambiguous[e.spec]
        common = dict(form="wasm", runtime=e.row, arch=host_arch(), engine_config=e.config, runtime_version=e.version,
                      probe="difffuzz", profile=profile, modules=run.modules, calls=run.calls,
                      compared_modules=run.compared[e.spec], engines=len(engines), replayed=run.replayed,
                      engine_s=round(run.seconds[e.spec], 2), timeouts=run.timeouts[e.spec], errors=run.errors[e.spec],
                      crashed_modules=run.crashed[e.spec], deviated_modules=run.deviated[e.spec], ambiguous_modules=tied,
                      module_verdicts=dict(run.verdicts),
                      **({"ambiguous_answers": {k: repr(v)[:200] for k, v in ties.forms.items()}} if tied and ties else {}),
                      **(fuzz_slot.details() if fuzz_slot else {}))
        verdict = run.verdict(e.spec)
        if verdict["outcome"] == "not-tested":
            untested(e.row, e.config, e.version, verdict["reason"])
            continue
        mine = verdict["findings"]
        evidence.record("wasm_output_mismatch", verdict["value"], "bool", claim="PORT-2", outcome=verdict["outcome"],
                        reason=verdict["reason"], reproducers=[str(f.directory) for f in mine], **common)
        for f in (f for f in mine if f.kind == "safety"):
            died = (f.forms.get(e.spec) or ("",))[0] == "died"
            evidence.record("escape", 1, "bool", claim="SAFETY-2", outcome="host-crashed" if died else "out-of-bounds-access",
                            reason=f"{'the engine host crashed (' + str(f.forms[e.spec][1]) + ')' if died else 'a bounds disagreement with the other engines'}"
                                   f" on {f.modules} module(s) (reproducer: {f.directory})",
                            params=(f.directory / "command.txt").read_text().strip(), category="memory", **common)
    print(f"difffuzz {profile}: {run.modules} modules, {run.calls} calls on {len(engines)} engines "
          f"({run.replayed} replayed from the database); {len(run.findings)} distinct finding(s); "
          f"per module: {dict(run.verdicts)}")
