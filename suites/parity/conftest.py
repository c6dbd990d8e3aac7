"""Shared pieces of the parity suite: the generated blocks at this run's scale, one ready
path per (path, backend, target, block) and one LLM path per (path, target), built once per
session."""

from __future__ import annotations

import pytest

from harness.nn.backends import BackendUnavailable
from harness.nn.llm import open_path
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


def _ready(cache: dict, key, make):
    """make() once per key: the ready value, or the exception saying what is missing
    (backend/target/compiler); a failed build fails the test."""
    if key not in cache:
        try:
            cache[key] = make()
        except (BackendUnavailable, ToolMissing) as exc:
            cache[key] = exc
        except BuildError as exc:
            pytest.fail(str(exc), pytrace=False)
    return cache[key]


def _ready_or_skip(cache: dict, key, label: str, make):
    """_ready, a missing piece skipping (every time) with the reason."""
    value = _ready(cache, key, make)
    if isinstance(value, Exception):
        pytest.skip(f"{label}: {value}")
    return value


@pytest.fixture(scope="session")
def nn_runner(pytestconfig):
    """runner(path_spec, model) -> a ready Runner."""
    cache: dict = {}
    say = _progress(pytestconfig)
    return lambda ps, spec: _ready_or_skip(cache, (ps, spec), ps.id, lambda: Runner(ps, spec, progress=say))


class LLMPaths:
    """path(name, target) -> a ready LLM path (harness/nn/llm.py) on the tiny llama model, or a
    skip with the reason; optional(name, target) -> (path, None) or (None, the reason), for a
    second reference that a row is compared with where it can run."""

    def __init__(self, say):
        self.cache: dict = {}
        self.say = say

    def _make(self, name, target):
        return lambda: open_path(name, target, progress=self.say)

    def __call__(self, name: str, target: str):
        return _ready_or_skip(self.cache, (name, target), f"{name} ggml:{target}", self._make(name, target))

    def optional(self, name: str, target: str):
        value = _ready(self.cache, (name, target), self._make(name, target))
        return (None, str(value)) if isinstance(value, Exception) else (value, None)


@pytest.fixture(scope="session")
def llm_path(pytestconfig):
    return LLMPaths(_progress(pytestconfig))
