"""Time-outs and interrupts: a hanging workload costs a bounded time and is reported as
what it is, and Ctrl-C / SIGTERM end every process the run started while the last complete
report stays where it was (the unfinished run goes to partial/)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.process import descendants

DATA = Path(__file__).parent / "data"
ECHO = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())\n"


def hang_workload(tmp_path, *, python_hangs: bool, timeout_s: float = 1) -> Path:
    """tests/data/hang with a chosen side hanging: the Python reference, or the C program only."""
    d = tmp_path / "wl" / "hang"
    shutil.copytree(DATA / "hang", d)
    if not python_hangs:
        (d / "main.py").write_text(ECHO)
    (d / "workload.yaml").write_text((d / "workload.yaml").read_text().replace("timeout_s: 1", f"timeout_s: {timeout_s}"))
    return d


def smoke(workload_dir, out, *extra):
    return ["-p", "no:cacheprovider", "--suite", "smoke", "--workloads", str(workload_dir), "--only-workloads", "hang",
            "--form", "native", "--report-dir", str(out), "--hypothesis-profile", "wasm-claims-quick", *extra]


def mismatch_record(out):
    doc = json.loads((out / "results.json").read_text())
    return next(r for r in doc["records"] if r["metric"] == "output_mismatch")


def test_reference_time_out_is_a_finding_against_the_workload_and_bounded(pytester, tmp_path):
    out = tmp_path / "r"
    start = time.monotonic()
    result = pytester.runpytest_subprocess(*smoke(hang_workload(tmp_path, python_hangs=True), out))
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "the Python reference of hang timed out (1s)" in text and "a finding against the workload" in text
    assert "stopped drawing inputs after 3 time-outs" in text
    rec = mismatch_record(out)
    assert rec["value"] is None and rec["outcome"] == "reference-timeout" and rec["details"]["reference_timeouts"] == 3
    assert time.monotonic() - start < 300  # 3 x 1 s of time-outs, not 8 examples x 2 sides


def test_form_time_out_never_agrees(pytester, tmp_path):
    out = tmp_path / "r"
    wl = hang_workload(tmp_path, python_hangs=False)
    with open(wl / "main.c", "a") as f:  # a source no cache has seen: a first build, to see its progress
        f.write(f"/* {tmp_path} */\n")
    result = pytester.runpytest_subprocess(*smoke(wl, out))
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "native-" in text and "timed out (1s) on 3 input(s) the Python reference answered" in text
    # the build's progress reached the terminal while the test ran, not only in the failure's captured output
    assert "[wasm-claims] building hang (c)" in text.split("= FAILURES =")[0]
    rec = mismatch_record(out)
    assert rec["value"] == 1 and rec["outcome"] == "timeout" and rec["details"]["form_timeouts"] == 3


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()[:120]
    except OSError:
        return b"(gone)"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_ends_every_child_and_keeps_the_last_report(tmp_path, signum):
    out = tmp_path / "r"
    out.mkdir()
    (out / "results.json").write_text("previous complete run")
    (out / "index.html").write_text("previous page")
    wl = hang_workload(tmp_path, python_hangs=False, timeout_s=600)
    # As from a terminal: a run started in the background by a shell without job control
    # inherits SIGINT ignored, and Python then keeps ignoring it (the CI here ran that way).
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "pytest", *smoke(wl, out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 600
        spinning = []
        while not spinning and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            spinning = [p for p in descendants(proc.pid) if b"hang-c-" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert spinning, "the hanging workload never started"
        children = descendants(proc.pid)
        proc.send_signal(signum)
        try:
            output = proc.communicate(timeout=120)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:  # say where it hangs: faulthandler dumps every thread on SIGABRT
            left = {p: _cmdline(p) for p in descendants(proc.pid) if _alive(p)}
            proc.send_signal(signal.SIGABRT)
            dump = proc.communicate(timeout=30)[0].decode(errors="replace")
            pytest.fail(f"the run did not end within 120 s of {signum.name}; alive below it: {left}\n{dump[-4000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-2000:]
    time.sleep(0.5)
    assert not [p for p in children if _alive(p)], output[-2000:]
    assert (out / "results.json").read_text() == "previous complete run"
    assert (out / "index.html").read_text() == "previous page"
    partial = json.loads((out / "partial" / "results.json").read_text())
    assert partial["run"]["complete"] is False and (out / "partial" / "index.html").exists()
    assert "PARTIAL" in output and not list(out.glob(".writing-*"))
