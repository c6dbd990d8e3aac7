"""The security suite's runtime rows come from one place (harness.plugin.selected_runtimes),
so a pinned version (--runtime wasmtime-py==6.0.0) is a row of every runtime-parametrised test.
A test that also takes `engine_config` runs once per configuration that row offers
(harness.difffuzz.engine_configs: Config knob sets in a child host, CLI options otherwise), so
a row is never asked for a configuration it does not have."""

from __future__ import annotations

import pytest

from harness.difffuzz import engine_configs
from harness.plugin import selected_runtimes
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch


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


@pytest.fixture
def wasm_row(runtime, pytestconfig):
    """(adapter, availability) of this test's Wasm runtime row; skips when --form leaves wasm out.
    A row that is not available is for the test to record as not tested, with the reason."""
    forms = pytestconfig.getoption("form")
    if forms and "wasm" not in forms:
        pytest.skip(f"form wasm not selected (--form {','.join(forms)})")
    rt = RUNTIMES[runtime]
    return rt, rt.availability(host_arch())
