"""The security suite's runtime rows come from one place (harness.plugin.selected_runtimes),
so a pinned version (--runtime wasmtime-py==6.0.0) is a row of every runtime-parametrised test.
A test that also takes `engine_config` runs once per configuration that row offers
(harness.difffuzz.engine_configs: Config knob sets in a child host, CLI options otherwise), so
a row is never asked for a configuration it does not have."""

from __future__ import annotations

from harness.difffuzz import engine_configs
from harness.plugin import selected_runtimes
from harness.runtimes import RUNTIMES


def pytest_generate_tests(metafunc):
    if "runtime" not in metafunc.fixturenames or any(m.args and m.args[0] == "runtime"
                                                     for m in metafunc.definition.iter_markers("parametrize")):
        return
    rows = selected_runtimes(metafunc.config)
    if "engine_config" in metafunc.fixturenames:
        pairs = [(row, config) for row in rows for config in (engine_configs(RUNTIMES[row]) or ["default"])]
        metafunc.parametrize(["runtime", "engine_config"], pairs, ids=[f"{r}-{c}" for r, c in pairs])
    else:
        metafunc.parametrize("runtime", rows)
