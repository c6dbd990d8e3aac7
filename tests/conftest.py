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
