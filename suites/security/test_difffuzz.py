"""PORT-2 / SAFETY-2: differential module fuzzing across every engine row and configuration
that runs in a child host (harness.difffuzz). One record per engine: `wasm_output_mismatch`
1 if it deviated from the majority on any module, with the module and call counts; a
deviation that is a bounds disagreement (returned where the others trapped out of bounds,
or the reverse) or a crash is also a SAFETY-2 escape record. Reproducers (shrunk .wasm,
.wat and the command) go to reports/findings/. Rows without a child host, or configurations
a version lacks, are recorded as not tested with the reason."""

from __future__ import annotations

import pytest

from harness import difffuzz
from harness.plugin import _progress, selected_runtimes
from harness.probes.memgen import ENGINE_CONFIGS, memory_host
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

EXAMPLES = {"quick": 40, "default": 1000, "thorough": 10000}
SHRINK_ATTEMPTS = {"quick": 10, "default": 200, "thorough": 1000}


def _engines(pytestconfig, record_untested):
    engines = []
    for row in selected_runtimes(pytestconfig):
        rt = RUNTIMES[row]
        avail = rt.availability(host_arch())
        host, why = memory_host(rt) if avail.available else (None, f"{row}: {avail.reason}")
        if host is None:
            record_untested(row, "default", avail.version, why)
            continue
        for config in ENGINE_CONFIGS:
            engine = difffuzz.Engine(f"{row}/{config}")
            why = engine.unsupported()
            if why:
                record_untested(row, config, avail.version, why)
            else:
                engine.version = avail.version
                engines.append(engine)
    return engines


@pytest.mark.claim("PORT-2")
@pytest.mark.parametrize("profile", list(difffuzz.PROFILES))
def test_differential_fuzzing(profile, pytestconfig, evidence, scale):
    forms = pytestconfig.getoption("form")
    if forms and "wasm" not in forms:
        pytest.skip(f"form wasm not selected (--form {','.join(forms)})")
    try:
        difffuzz.wasm_tools()
    except difffuzz.ToolMissing as exc:
        pytest.skip(str(exc))

    def untested(row, config, version, why):
        evidence.record("wasm_output_mismatch", None, "bool", claim="PORT-2", form="wasm", runtime=row, arch=host_arch(),
                        outcome="not-tested", reason=why, engine_config=config, runtime_version=version, probe="difffuzz")

    engines = _engines(pytestconfig, untested)
    if len(engines) < 2:
        pytest.skip(f"differential fuzzing needs two engine configurations; found {len(engines)}")
    run = difffuzz.campaign(engines, EXAMPLES.get(scale, 1000), SHRINK_ATTEMPTS.get(scale, 200), profile,
                            progress=_progress(pytestconfig), database_key=",".join(e.spec for e in engines))
    for e in engines:
        mine = [f for f in run.findings if e.spec in f.deviating]
        row = e.spec.rpartition("/")[0]
        common = dict(form="wasm", runtime=row, arch=host_arch(), engine_config=e.config, runtime_version=e.version,
                      probe="difffuzz", profile=profile, modules=run.modules, calls=run.calls, engines=len(engines),
                      reproducers=[str(f.directory) for f in mine])
        evidence.record("wasm_output_mismatch", int(bool(mine)), "bool", claim="PORT-2",
                        outcome="mismatch" if mine else "same", reason=(f"deviated from the majority on {len(mine)} "
                        f"module sets; first: {mine[0].command(mine[0].directory / 'module.wasm')}" if mine else
                        f"agreed with the majority on {run.modules} modules, {run.calls} calls"), **common)
        for f in (f for f in mine if f.kind == "safety"):
            evidence.record("escape", 1, "bool", claim="SAFETY-2", outcome="out-of-bounds-access",
                            reason=f"a bounds disagreement with the other engines (reproducer: {f.directory})",
                            params=(f.directory / "command.txt").read_text().strip(), category="memory", **common)
    print(f"difffuzz {profile}: {run.modules} modules, {run.calls} calls on {len(engines)} engines; "
          f"{len(run.findings)} disagreement(s)")
