"""Output comparison: exact bytes, statuses, and the declared float tolerance."""

import struct

from harness.compare import difference
from harness.outcome import Outcome
from harness.workload import Compare


def ok(out: bytes) -> Outcome:
    return Outcome(stdout=out, exit_code=0)


def tensor(*values) -> bytes:
    return b"f32 %d\n" % len(values) + struct.pack(f"<{len(values)}f", *values)


def test_exact_equal_and_differs():
    assert difference(ok(b"abc"), ok(b"abc")) is None
    assert "byte 1" in difference(ok(b"abc"), ok(b"axc"))


def test_status_and_exit_code_must_match():
    assert "status differs" in difference(ok(b""), Outcome(exit_code=2))
    assert difference(Outcome(exit_code=2, stderr=b"a"), Outcome(exit_code=2, stderr=b"b")) is None
    assert "status differs" in difference(Outcome(exit_code=2), Outcome(signal=11))


def test_f32_tolerance():
    cmp = Compare("f32-tensor", rtol=1e-6, atol=1e-6)
    assert difference(ok(tensor(1.0, 2.0)), ok(tensor(1.0, 2.0000001)), cmp) is None
    assert "outside" in difference(ok(tensor(1.0, 2.0)), ok(tensor(1.0, 2.1)), cmp)


def test_nan_never_passes():
    cmp = Compare("f32-tensor", rtol=1.0, atol=1.0)
    assert difference(ok(tensor(float("nan"))), ok(tensor(float("nan"))) , cmp) is None  # identical bytes
    assert "outside" in difference(ok(tensor(1.0)), ok(tensor(float("nan"))), cmp)


def test_a_time_out_never_agrees_not_even_with_another_time_out():
    hung = Outcome(timed_out=True, wall_s=10.0)
    assert "time-out" in difference(hung, Outcome(timed_out=True, wall_s=10.0))
    assert "time-out" in difference(ok(b"x"), hung) and "time-out" in difference(hung, ok(b"x"))


def test_reference_crash_is_named_by_the_workloads_own_error_line():
    from harness.compare import reference_crash

    tb = (b"Traceback (most recent call last):\n  File \"/w/main.py\", line 3, in <module>\n    parse(x)\n"
          b"ValueError: bad length 7\n")
    assert reference_crash(Outcome(exit_code=1, stderr=tb)) == "uncaught ValueError: bad length 7"
    assert reference_crash(Outcome(signal=11)) == "killed by signal SIGSEGV"
    assert reference_crash(Outcome(exit_code=2, stderr=b"rejected: too short\n")) is None  # rejected on purpose
    assert reference_crash(Outcome(exit_code=1, stderr=b"bad input\n")) is None
    assert reference_crash(Outcome(exit_code=0, stdout=b"ok")) is None


def test_runner_prints_the_workloads_traceback_without_its_own_frames(tmp_path):
    import subprocess
    import sys

    from harness.forms.persistent import RUNNER_SCRIPT

    script = tmp_path / "main.py"
    script.write_text("import sys\n\ndef parse(d):\n    raise ValueError(f'bad length {len(d)}')\n\nparse(sys.stdin.buffer.read())\n")
    (tmp_path / "in").write_bytes(b"1234567")
    proc = subprocess.run([sys.executable, str(RUNNER_SCRIPT), "once", str(tmp_path / "in"), str(script)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert "python_runner" not in proc.stderr.decode() and "runpy" not in proc.stderr.decode(), proc.stderr.decode()
    assert proc.stderr.decode().strip().splitlines()[-1] == "ValueError: bad length 7"
    from harness.compare import reference_crash

    assert reference_crash(Outcome(exit_code=1, stderr=proc.stderr)) == "uncaught ValueError: bad length 7"
