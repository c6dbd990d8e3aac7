"""The SIMD value model (harness.probes.simdgen): lane semantics checked on known values,
NaN freedom only where the spec gives it, every op assembles, and the installed wasmtime
agrees with the model on drawn cases (else the model is wrong)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from harness.probes import simdgen as sg
from harness.runtimes import RUNTIMES


def _v(*values, dtype) -> bytes:
    return np.array(values, dtype=dtype).tobytes()


def test_integer_lanes():
    a = _v(*range(120, 136), dtype=np.uint8)
    b = _v(*[10] * 16, dtype=np.uint8)
    assert sg.expect(sg.Case("i8x16.add_sat_s", a, b)) == _v(*[min(127, x + 10) if x < 128 else x - 256 + 10 for x in range(120, 136)], dtype=np.int8)
    assert sg.expect(sg.Case("i8x16.add_sat_u", a, b)) == _v(*[min(255, x + 10) for x in range(120, 136)], dtype=np.uint8)
    assert sg.expect(sg.Case("i16x8.shr_s", _v(*[-32768] * 8, dtype=np.int16), n=17)) == _v(*[-16384] * 8, dtype=np.int16)
    assert sg.expect(sg.Case("i64x2.shl", _v(1, 3, dtype=np.uint64), n=65)) == _v(2, 6, dtype=np.uint64)
    assert sg.expect(sg.Case("i8x16.narrow_i16x8_u", _v(*[-5, 300, 7, 255] * 2, dtype=np.int16), _v(*[0] * 8, dtype=np.int16)))[:4] == bytes([0, 255, 7, 255])
    assert sg.expect(sg.Case("i16x8.q15mulr_sat_s", _v(*[-32768] * 8, dtype=np.int16), _v(*[-32768] * 8, dtype=np.int16))) == _v(*[32767] * 8, dtype=np.int16)
    assert sg.expect(sg.Case("i32x4.dot_i16x8_s", _v(*[-32768] * 8, dtype=np.int16), _v(*[-32768] * 8, dtype=np.int16))) == _v(*[-2**31] * 4, dtype=np.int32)
    idx = _v(*[15, 0, 16, 255] * 4, dtype=np.uint8)
    assert sg.expect(sg.Case("i8x16.swizzle", bytes(range(16)), idx))[:4] == bytes([15, 0, 0, 0])
    shuffled = sg.expect(sg.Case("i8x16.shuffle", bytes(range(16)), bytes(range(16, 32)), n=tuple(range(31, 15, -1))))
    assert shuffled == bytes(range(31, 15, -1))


def test_float_lanes_and_nan_freedom():
    nan, one = _v(np.nan, 1.0, -0.0, 0.0, dtype=np.float32), _v(1.0, np.nan, 0.0, -0.0, dtype=np.float32)
    case = sg.Case("f32x4.min", nan, one)
    want = sg.expect(case)
    assert np.frombuffer(want, np.uint32)[2:].tolist() == [0x80000000, 0x80000000]  # min(-0, +0) = -0 both ways
    other_nan = bytearray(want)
    other_nan[0:4] = (0xFFC00001).to_bytes(4, "little")  # any NaN where the model has one
    lo, hi = int.from_bytes(other_nan[:8], "little"), int.from_bytes(other_nan[8:], "little")
    assert sg.wrong_lanes(case, [lo, hi]) == []
    wrong_zero = bytearray(want)
    wrong_zero[8:12] = (0).to_bytes(4, "little")  # +0 where the spec says -0
    assert sg.wrong_lanes(case, [int.from_bytes(wrong_zero[:8], "little"), int.from_bytes(wrong_zero[8:], "little")]) == [2]
    pmin = sg.Case("f32x4.pmin", nan, one)  # no NaN freedom: it returns an operand's bits
    got = bytearray(sg.expect(pmin))
    got[0:4] = (0xFFC00001).to_bytes(4, "little")
    assert sg.wrong_lanes(pmin, [int.from_bytes(got[:8], "little"), int.from_bytes(got[8:], "little")]) != []
    sat = sg.expect(sg.Case("i32x4.trunc_sat_f32x4_u", _v(np.nan, -1.0, 5e9, 3.9, dtype=np.float32)))
    assert np.frombuffer(sat, np.uint32).tolist() == [0, 0, 0xFFFFFFFF, 3]


def test_every_op_assembles_with_run_time_and_constant_operands():
    import wasmtime

    for op, spec in sg.OPS.items():
        n = tuple(range(16)) if spec.imm else 9
        for const in ((False,) * 3, (True,) * 3):
            wasmtime.wat2wasm(sg.render(sg.Case(op, bytes(range(16)), bytes(16), b"\xff" * 16, n, const)))


@settings(max_examples=60, deadline=None, database=None)
@given(sg.cases())
def test_the_model_agrees_with_the_installed_wasmtime(case):
    host = RUNTIMES["wasmtime-py"].child()
    verdict = sg.judge(case, host.request(sg.request(case, "default"), 60))
    assert verdict.outcome == "same", f"{verdict.reason}: {sg.describe(case)}"


def test_a_wrong_lane_is_a_finding():
    case = sg.Case("i32x4.add", bytes(16), bytes(16))
    assert sg.judge(case, {"results": [1, 0]}).outcome == "mismatch"
    assert sg.judge(case, {"results": [0, 0]}).outcome == "same"
    assert sg.judge(case, {"trap": "unreachable"}).finding == 1 and sg.judge(case, {"died": True, "signal": 11}).outcome == "host-crashed"
