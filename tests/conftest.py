"""Shared helpers for the harness's own tests."""

import os
from pathlib import Path

import pytest

from harness.toolchain import cache_root
from harness.workload import discover, load_workload

DATA = Path(__file__).parent / "data"

# pytester points HOME at a temporary folder: keep the content-hash build cache and zig's own
# cache where they are, or every pytester run would rebuild zig's libc and every workload (minutes).
os.environ.setdefault("WASM_CLAIMS_CACHE", str(cache_root()))
os.environ.setdefault("ZIG_GLOBAL_CACHE_DIR", str(Path.home() / ".cache" / "zig"))



@pytest.fixture(scope="session")
def builtin():
    """Built-in workloads by name."""
    return {w.name: w for w in discover()}


@pytest.fixture
def data_workload():
    return lambda name: load_workload(DATA / name)


def _invoke_specs() -> list[str]:
    """Engine rows a correct-engine test can call here: wasmtime-py always, the wasmtime CLI
    where it is installed (the tests pass with and without it)."""
    from harness.runtimes import RUNTIMES
    from harness.toolchain import host_arch

    return ["wasmtime-py/default"] + (["wasmtime-cli/default"] if RUNTIMES["wasmtime-cli"].availability(host_arch()).available else [])


@pytest.fixture(params=_invoke_specs())
def engine_spec(request) -> str:
    """One engine row x configuration (difffuzz.Engine's spec) that runs the module correctly."""
    return request.param
