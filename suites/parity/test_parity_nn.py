"""NN-1: a block offloaded from Wasm through WASI-NN gives the float64 reference's answer.

For every path (wasi-nn and python-direct per backend x target, plus the block in pure Wasm
and natively) and every generated block, Hypothesis draws inputs (shapes, except where the
backend takes only the model's own shape, as tensorflowlite does; large and small magnitudes,
denormals, softmax-stressing values) and the relative error norm against the float64
reference must stay under the bound of the path's precision; NaN never passes.
The wasi-nn rows decide NN-1; the other paths are recorded beside them as the baseline. A
wasi-nn row also runs each input through the same backend straight from Python and records
how far the two outputs are apart (the boundary itself should change no bit).
"""

from __future__ import annotations

import statistics

import pytest
from hypothesis import assume, given

from harness.nn import parity
from harness.nn.abi import DEFAULT_PROFILE
from harness.nn.backends import backend as get_backend
from harness.nn.models import reference64
from harness.nn.paths import OFFLOAD_PATHS, PathSpec, fixed_shapes, path_specs, precision
from harness.toolchain import host_arch

PATHS = [pytest.param(ps, id=ps.id) for ps in path_specs()]


@pytest.mark.claim("NN-1")
@pytest.mark.parametrize("ps", PATHS)
def test_block_matches_float64_reference(ps, model, nn_runner, evidence):
    runner = nn_runner(ps, model)
    direct = nn_runner(PathSpec("python-direct", ps.backend, ps.target), model) if ps.path == "wasi-nn" else None
    prec = precision(ps)
    bound = parity.BOUNDS[prec]
    errors: list[float] = []
    abs_errors: list[float] = []
    vs_direct: list[float] = []  # max |wasi-nn - python-direct| per input
    worst: dict = {"err": -1.0}

    @given(parity.block_inputs(model, fixed_rows=fixed_shapes(ps)))
    def agrees(drawn):
        x, info = drawn
        ref = reference64(model, x)
        assume(bool((abs(ref) < parity.F32_MAX).all()))  # a reference beyond float32 is outside the domain
        out = runner.run(x)
        err = parity.relative_error(out, ref)
        errors.append(err)
        if err == err:
            abs_errors.append(parity.max_abs_diff(out, ref))
        if direct is not None:
            vs_direct.append(parity.max_abs_diff(out, direct.run(x)))
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
            max_abs_error=max(abs_errors, default=None),
            max_abs_diff_vs_direct=max((d for d in vs_direct if d == d), default=None) if direct is not None else None,
            identical_to_direct=sum(d == 0.0 for d in vs_direct) if direct is not None else None,
            precision=prec, target=ps.target, backend=ps.backend,
            backend_version=get_backend(ps.backend).version() if ps.path in OFFLOAD_PATHS else "zig cc (C, float32)",
            abi_profile=DEFAULT_PROFILE if ps.path == "wasi-nn" else None, model=model.to_dict(),
            worst_input=worst.get("input"), fixed_input_shape=fixed_shapes(ps) or None,
        )
