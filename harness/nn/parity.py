"""Parity arithmetic and the inputs that stress it.

The error of a path is the relative error norm ||out - ref|| / ||ref|| against the float64
reference (models.reference64). NaN or infinity in an output is always a violation. Bounds
are per precision. Below FLOOR_PER_ELEMENT * sqrt(n) the norm of the reference is replaced
by that floor: outputs that small are float32 subnormals, which carry no relative precision.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from harness.nn.models import ModelSpec

BOUNDS = {
    "fp32-cpu": 1e-5,  # float32 on a CPU: observed errors are 1e-8..1e-6
    "fp32-gpu": 1e-5,  # float32 on a GPU with TF32 off
    "tf32-gpu": 5e-3,  # TF32 matmuls (10-bit mantissa): reported separately, never as fp32
}
FLOOR_PER_ELEMENT = 1e-30
F32_MAX = float(np.finfo(np.float32).max)


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """||out - ref|| / max(||ref||, floor); NaN when out is not finite or has the wrong shape."""
    out = np.asarray(out, dtype=np.float64)
    if out.shape != ref.shape or not np.all(np.isfinite(out)):
        return math.nan
    denom = max(float(np.linalg.norm(ref)), FLOOR_PER_ELEMENT * math.sqrt(ref.size))
    return float(np.linalg.norm(out - ref)) / denom


def max_abs_diff(out: np.ndarray, other: np.ndarray) -> float:
    """max |out - other| elementwise; 0.0 when they are the same numbers (NaN where both have
    NaN included), NaN when the shapes differ or one has a NaN the other has not."""
    a, b = np.asarray(out, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        return math.nan
    differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return float(np.max(np.abs(a[differ] - b[differ]))) if differ.any() else 0.0


def violates(err: float, bound: float) -> bool:
    """NaN never passes."""
    return not (err <= bound)


def input_modes(spec: ModelSpec) -> list[str]:
    modes = ["normal", "large", "small", "denormal", "mixed-denormal"]
    if spec.kind == "softmax":
        modes += ["softmax-offset", "softmax-spike", "softmax-ties"]
    return modes


@st.composite
def block_inputs(draw, spec: ModelSpec, fixed_rows: bool = False):
    """(x, description): a float32 input for the block. Hypothesis draws the shape (only the
    values where the path takes fixed shapes: max_rows rows), the mode and its parameters, and
    a seed for the bulk values (cheap to draw, and it shrinks)."""
    rows = spec.max_rows if fixed_rows else draw(st.integers(1, spec.max_rows))
    mode = draw(st.sampled_from(input_modes(spec)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.standard_normal((rows, spec.d))
    info = {"rows": rows, "mode": mode}
    if mode == "large":
        k = draw(st.floats(0.0, spec.max_log10))
        x, info["log10_scale"] = base * 10.0**k, round(k, 3)
    elif mode == "small":
        k = draw(st.floats(1.0, 30.0))
        x, info["log10_scale"] = base * 10.0**-k, round(-k, 3)
    elif mode == "denormal":
        x = base * 1e-40
    elif mode == "mixed-denormal":
        x = np.where(rng.random(base.shape) < 0.5, base * 1e-40, base)
    elif mode == "softmax-offset":
        offset = draw(st.floats(-1e4, 1e4))
        spread = draw(st.sampled_from([1e-3, 1.0, 30.0, 300.0]))
        x, info["offset"], info["spread"] = offset + spread * base, offset, spread
    elif mode == "softmax-spike":
        spike = draw(st.sampled_from([20.0, 88.0, 100.0, 1e4]))
        x = base.copy()
        x[np.arange(rows), rng.integers(0, spec.d, rows)] += spike
        info["spike"] = spike
    elif mode == "softmax-ties":
        x = np.repeat(draw(st.floats(-1e4, 1e4)) + 0 * base[:, :1], spec.d, axis=1)
    else:
        x = base
    return np.ascontiguousarray(x, dtype=np.float32), info
