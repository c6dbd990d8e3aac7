"""Do two outcomes agree? Byte for byte, or within the float tolerance a manifest declares."""

from __future__ import annotations

import signal

import numpy as np

from harness.outcome import Outcome
from harness.workload import Compare


def _f32_tensor_diff(a: bytes, b: bytes, cmp: Compare) -> str | None:
    head_a, _, body_a = a.partition(b"\n")
    head_b, _, body_b = b.partition(b"\n")
    if head_a != head_b:
        return f"tensor headers differ: {head_a[:60]!r} vs {head_b[:60]!r}"
    if len(body_a) != len(body_b) or len(body_a) % 4:
        return f"tensor bodies differ in length: {len(body_a)} vs {len(body_b)} bytes"
    x = np.frombuffer(body_a, dtype="<f4").astype(np.float64)
    y = np.frombuffer(body_b, dtype="<f4").astype(np.float64)
    bad = ~np.isclose(x, y, rtol=cmp.rtol, atol=cmp.atol, equal_nan=False)
    if bad.any():
        i = int(np.argmax(bad))
        return f"{int(bad.sum())} of {x.size} values outside rtol={cmp.rtol} atol={cmp.atol}; first at [{i}]: {x[i]!r} vs {y[i]!r}"
    return None


TRACEBACK = b"Traceback (most recent call last):"


def reference_crash(outcome: Outcome) -> str | None:
    """How a Python reference crashed (None: it answered or rejected the input on purpose): an
    uncaught exception is exit 1 under the interpreter's traceback, named by its last line (the
    workload's own error); a signal names the signal. A crash is a finding against the
    workload, so no form is compared with it."""
    if outcome.signal is not None:
        try:
            return f"killed by signal {signal.Signals(outcome.signal).name}"
        except ValueError:
            return f"killed by signal {outcome.signal}"
    if outcome.exit_code == 1 and TRACEBACK in outcome.stderr:
        tail = outcome.stderr.rsplit(TRACEBACK, 1)[1].decode("utf-8", "replace")
        lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
        return f"uncaught {lines[-1]}" if lines else "uncaught exception"
    return None


def difference(expected: Outcome, actual: Outcome, cmp: Compare = Compare()) -> str | None:
    """None when the outcomes agree, else a one-line description of how they differ. A time-out
    is no answer, so it never agrees with anything, another time-out included."""
    if "timeout" in (expected.status, actual.status):
        return f"no answer to compare (time-out): expected {expected.describe()}; got {actual.describe()}"
    if expected.status != actual.status or expected.exit_code != actual.exit_code:
        return f"status differs: expected {expected.describe()}; got {actual.describe()}"
    if expected.status != "ok":
        return None  # both rejected the input with the same exit code: stdout is not compared
    if expected.stdout == actual.stdout:
        return None
    if cmp.mode == "f32-tensor":
        return _f32_tensor_diff(expected.stdout, actual.stdout, cmp)
    i = next((k for k, (p, q) in enumerate(zip(expected.stdout, actual.stdout)) if p != q),
             min(len(expected.stdout), len(actual.stdout)))
    return (f"stdout differs at byte {i} (lengths {len(expected.stdout)} vs {len(actual.stdout)}): "
            f"{expected.stdout[i:i + 24]!r} vs {actual.stdout[i:i + 24]!r}")


_F64_SIGN = 1 << 63
_F64_EXP = 0x7FF << 52
_F64_FRAC = (1 << 52) - 1


def _is_f64_nan(token: bytes) -> int | None:
    """The bits of a 16-hex-digit token that encodes an f64 NaN, else None."""
    if len(token) != 16:
        return None
    try:
        bits = int(token, 16)
    except ValueError:
        return None
    return bits if bits & _F64_EXP == _F64_EXP and bits & _F64_FRAC else None


def nan_sign_only(expected: bytes, actual: bytes) -> bool:
    """Whether two outputs differ only in the sign of NaN results, which the Wasm spec leaves
    open for every NaN an operation produces: each differing token is an f64 bit pattern of a
    NaN on both sides with the same payload, or "nan" against "-nan". A payload difference, or
    any difference in a non-NaN token, is not (it may be a real deviation, so it stays one)."""
    xs, ys = expected.split(), actual.split()
    if len(xs) != len(ys) or xs == ys:
        return False
    for x, y in zip(xs, ys):
        if x == y:
            continue
        bx, by = _is_f64_nan(x), _is_f64_nan(y)
        if bx is not None and by is not None and bx & ~_F64_SIGN == by & ~_F64_SIGN:
            continue
        if {x.lower(), y.lower()} == {b"nan", b"-nan"}:
            continue
        return False
    return True
