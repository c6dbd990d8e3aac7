"""The security suite's runtime rows come from one place (harness.plugin.selected_runtimes),
so a pinned version (--runtime wasmtime-py==6.0.0) is a row of every runtime-parametrised test."""

from __future__ import annotations

from harness.plugin import selected_runtimes


def pytest_generate_tests(metafunc):
    if "runtime" in metafunc.fixturenames and not any(m.args and m.args[0] == "runtime"
                                                     for m in metafunc.definition.iter_markers("parametrize")):
        metafunc.parametrize("runtime", selected_runtimes(metafunc.config))
