"""The performance suite's session fixture: one memoised Bench (harness.bench.suite)."""

import pytest

from harness.bench.suite import Bench


@pytest.fixture(scope="session")
def perf(pytestconfig, form_factory, scale) -> Bench:
    perf = Bench(pytestconfig, form_factory, scale)
    yield perf
    perf.close()
