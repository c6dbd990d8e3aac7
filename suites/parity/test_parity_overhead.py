"""NN-2: the cost of the Wasm boundary when a block is offloaded through WASI-NN.

Per backend x target x block: seconds per set_input + compute + get_output issued by the
Wasm guest (tensors copied into and out of its linear memory by the host), over seconds per
call of the same backend graph straight from Python, on the same input. Each side is timed
as the median of repeats; each repeat runs enough calls to last about TARGET_REPEAT_S.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from harness.nn.abi import DEFAULT_PROFILE
from harness.nn.backends import backend as get_backend
from harness.nn.paths import PathSpec, path_specs
from harness.toolchain import host_arch

REPEATS = {"quick": 3, "default": 9, "thorough": 15}
TARGET_REPEAT_S = {"quick": 0.02, "default": 0.05, "thorough": 0.2}
MAX_CALLS = 500
PAIRS = [pytest.param(ps, id=f"{ps.backend}-{ps.target}") for ps in path_specs() if ps.path == "wasi-nn"]


def _side(times: list[float], form: str, runtime: str, calls: int) -> dict:
    return {"form": form, "runtime": runtime, "arch": host_arch(), "median": statistics.median(times),
            "min": min(times), "max": max(times), "unit": "s/call", "repeats": len(times), "calls_per_repeat": calls}


@pytest.mark.claim("NN-2")
@pytest.mark.parametrize("ps", PAIRS)
def test_boundary_overhead(ps, model, nn_runner, evidence, scale):
    wasm = nn_runner(ps, model)
    direct = nn_runner(PathSpec("python-direct", ps.backend, ps.target), model)
    x = np.random.default_rng(model.seed).standard_normal((model.max_rows, model.d)).astype(np.float32)
    np.testing.assert_allclose(wasm.run(x), direct.run(x), rtol=1e-4, atol=1e-6)  # same work on both sides
    for _ in range(3):  # warm both sides (lazy initialisation, caches) before anything is timed
        wasm.run(x), direct.run(x)
    start = time.perf_counter()
    for _ in range(3):
        direct.graph.run([x])
    single = (time.perf_counter() - start) / 3
    calls = int(min(MAX_CALLS, max(2, TARGET_REPEAT_S[scale] / max(single, 1e-7))))

    def time_direct() -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            direct.graph.run([x])
        return (time.perf_counter() - t0) / calls

    through, plain = [], []
    for _ in range(REPEATS[scale]):  # interleaved, so drift in machine load hits both sides alike
        through.append(wasm.offload.time_calls(x, calls))
        plain.append(time_direct())
    ratio = statistics.median(through) / statistics.median(plain)
    evidence.record(
        "nn_boundary_overhead_ratio", ratio, "x", claim="NN-2", workload=model.id, form="wasi-nn",
        runtime=ps.runtime, arch=host_arch(), outcome="measured",
        min=min(through) / max(plain), max=max(through) / min(plain),
        numerator=_side(through, "wasi-nn", ps.runtime, calls), denominator=_side(plain, "python-direct", ps.runtime, calls),
        tensor_bytes_in=x.nbytes, tensor_bytes_out=x.nbytes, backend_version=get_backend(ps.backend).version(),
        abi_profile=DEFAULT_PROFILE, target=ps.target, model=model.to_dict(),
        overhead_s_per_call=statistics.median(through) - statistics.median(plain),
    )
