"""Fixtures of the agent suite: the serving forms, the Python reference, the events.

The agent-events server is not a stdin/stdout fixture workload (every other suite runs
those); it lives in agent-events/ next to this file and is started by harness.servers.
"""

from __future__ import annotations


import pytest

from harness import servers
from harness.forms.base import FormUnavailable
from harness.plugin import _progress, run_scale

# Load shapes per scale: concurrency levels, events per level (each connection sends
# max(MIN_PER_CONNECTION, events // connections)), repeats per level, and the time bound
# after which a load sends nothing new.
SCALES = {
    "quick": {"levels": (1, 16), "events": 600, "repeats": 2, "time_limit_s": 6.0},
    "default": {"levels": (1, 16, 128, 512), "events": 3000, "repeats": 3, "time_limit_s": 10.0},
    "thorough": {"levels": (1, 16, 128, 512), "events": 12000, "repeats": 5, "time_limit_s": 30.0},
}
MIN_PER_CONNECTION = 8


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Concurrency first, so one level's forms run back to back (their ratio compares loads
    taken seconds apart, not minutes) and every form x level is its own test."""
    if "concurrency" in metafunc.fixturenames:
        levels = SCALES[run_scale()]["levels"]
        metafunc.parametrize("concurrency", levels, ids=[f"c{n}" for n in levels])
    if "serving_spec" in metafunc.fixturenames:
        specs = servers.serving_specs(runtimes=metafunc.config.getoption("runtime"), forms=metafunc.config.getoption("form"))
        metafunc.parametrize("serving_spec", specs, ids=[s.id for s in specs])


@pytest.fixture(scope="session")
def agent_reference():
    """agent_events.py, the Python form, imported: its answer() is the reference."""
    return servers.python_reference()


@pytest.fixture(scope="session")
def load_shape(scale) -> dict:
    return {**SCALES[scale], "min_per_connection": MIN_PER_CONNECTION}


@pytest.fixture(scope="session")
def say(pytestconfig):
    return _progress(pytestconfig)


@pytest.fixture(scope="session")
def start_server(say):
    """start(spec, deadline_s) -> a fresh server; a form that cannot serve here is a skip.
    Every server started is stopped when the test that asked for it ends, or at its deadline."""
    started: list[servers.Server] = []
    unavailable: dict = {}

    def start(spec, deadline_s: float):
        if spec in unavailable:
            pytest.skip(f"{spec.id}: {unavailable[spec]}")
        try:
            server = servers.start(spec, deadline_s=deadline_s, progress=say)
        except FormUnavailable as exc:
            unavailable[spec] = str(exc)
            pytest.skip(f"{spec.id}: {exc}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_servers():
    """One server per form for a module's many short checks, stopped with the module."""
    cache: dict = {}
    yield cache
    for server in cache.values():
        server.stop()


@pytest.fixture
def agent_server(serving_spec, start_server, shared_servers):
    server = shared_servers.get(serving_spec)
    if server is None or not server.alive():
        server = shared_servers[serving_spec] = start_server(serving_spec, deadline_s=240.0)
    return server
