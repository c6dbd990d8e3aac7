"""Shared pieces of the parity suite: the generated blocks at this run's scale and one ready
path per (path, backend, target, block), built once per session."""

from __future__ import annotations

import pytest

from harness.nn.backends import BackendUnavailable
from harness.nn.models import suite_models
from harness.nn.paths import Runner
from harness.plugin import _progress, run_scale
from harness.toolchain import BuildError, ToolMissing



def pytest_generate_tests(metafunc):
    """`model`: the generated blocks at this run's scale (read at collection, once the
    Hypothesis profile that sets the scale is loaded)."""
    if "model" in metafunc.fixturenames:
        models = suite_models(run_scale())
        metafunc.parametrize("model", models, ids=[m.id for m in models])


@pytest.fixture(scope="session")
def nn_runner(pytestconfig):
    """runner(path_spec, model) -> a ready Runner; a missing backend/target/compiler skips with the reason."""
    cache: dict = {}
    say = _progress(pytestconfig)

    def get(ps, spec):
        key = (ps, spec)
        if key not in cache:
            try:
                cache[key] = Runner(ps, spec, progress=say)
            except (BackendUnavailable, ToolMissing) as exc:
                cache[key] = exc
            except BuildError as exc:
                pytest.fail(str(exc), pytrace=False)
        value = cache[key]
        if isinstance(value, Exception):
            pytest.skip(f"{ps.id}: {value}")
        return value
    return get
