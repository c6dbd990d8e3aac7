"""Shared helpers for the harness's own tests."""

from pathlib import Path

import pytest

from harness.workload import discover, load_workload

DATA = Path(__file__).parent / "data"



@pytest.fixture(scope="session")
def builtin():
    """Built-in workloads by name."""
    return {w.name: w for w in discover()}


@pytest.fixture
def data_workload():
    return lambda name: load_workload(DATA / name)
