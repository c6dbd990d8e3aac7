"""NN-1: a block offloaded from Wasm through WASI-NN gives the float64 reference's answer.

For every path (wasi-nn and python-direct per backend x target, plus the block in pure Wasm
and natively) and every generated block, Hypothesis draws inputs (shapes, except where the
backend takes only the model's own shape, as tensorflowlite does; large and small magnitudes,
denormals, softmax-stressing values) and the relative error norm against the float64
reference must stay under the bound of the path's precision; NaN never passes.
The wasi-nn rows decide NN-1; the other paths are recorded beside them as the baseline.
"""

from __future__ import annotations

import statistics

import pytest
from hypothesis import assume, given

from harness.nn import parity
from harness.nn.abi import DEFAULT_PROFILE
from harness.nn.backends import backend as get_backend
from harness.nn.models import reference64
from harness.nn.paths import OFFLOAD_PATHS, fixed_shapes, path_specs, precision
from harness.toolchain import host_arch

PATHS = [pytest.param(ps, id=ps.id) for ps in path_specs()]


@pytest.mark.claim("NN-1")
@pytest.mark.parametrize("ps", PATHS)
def test_block_matches_float64_reference(ps, model, nn_runner, evidence):
    runner = nn_runner(ps, model)
    prec = precision(ps)
    bound = parity.BOUNDS[prec]
    errors: list[float] = []
    worst: dict = {"err": -1.0}

    @given(parity.block_inputs(model, fixed_rows=fixed_shapes(ps)))
    def agrees(drawn):
        x, info = drawn
        ref = reference64(model, x)
        assume(bool((abs(ref) < parity.F32_MAX).all()))  # a reference beyond float32 is outside the domain
        err = parity.relative_error(runner.run(x), ref)
        errors.append(err)
        if not err <= worst["err"]:
            worst.update(err=err, input=info)
        assert not parity.violates(err, bound), (
            f"{ps.id} on {model.id}: relative error {err:.3g} > {bound:g} ({prec}) for input {info}")

    agrees._hypothesis_internal_add_digest = f"nn-parity/{ps.id}/{model.id}".encode()
    try:
        agrees()
    finally:
        bad = [e for e in errors if parity.violates(e, bound)]
        finite = [e for e in errors if e == e]
        evidence.record(
            "nn_parity_violation" if ps.path == "wasi-nn" else "nn_baseline_parity_violation",
            1 if bad else 0, "bool", claim="NN-1", workload=model.id, form=ps.path, runtime=ps.runtime,
            arch=host_arch(), outcome="mismatch" if bad else "agrees",
            max_rel_error=max(finite) if finite else None, median_rel_error=statistics.median(finite) if finite else None,
            nan_outputs=len(errors) - len(finite), examples=len(errors), violations=len(bad), bound=bound,
            precision=prec, target=ps.target, backend=ps.backend,
            backend_version=get_backend(ps.backend).version() if ps.path in OFFLOAD_PATHS else "zig cc (C, float32)",
            abi_profile=DEFAULT_PROFILE if ps.path == "wasi-nn" else None, model=model.to_dict(),
            worst_input=worst.get("input"), fixed_input_shape=fixed_shapes(ps) or None,
        )
