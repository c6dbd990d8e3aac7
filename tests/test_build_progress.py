"""scripts/with_progress.py: a long build shows its compile-step count and is never silent
for 30 s; its status and, on failure, the log's tail come through."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "with_progress.py"


def run(tmp_path, body):
    fake = tmp_path / "build.py"
    fake.write_text(body)
    log = tmp_path / "build.log"
    proc = subprocess.run([sys.executable, str(SCRIPT), "llama.cpp", str(log), "--", sys.executable, str(fake)],
                          capture_output=True, text=True, timeout=120)
    return proc, log


def test_steps_are_counted_and_the_log_kept(tmp_path):
    proc, log = run(tmp_path, "for i in range(1, 41):\n    print(f'[{i}/40] Building C object ggml/src/f{i}.c.o')\n")
    assert proc.returncode == 0
    assert "[llama.cpp] 1/40 compile steps (2%)" in proc.stdout  # the first step is shown at once
    assert "done (40/40 compile steps (100%))" in proc.stdout
    assert len(proc.stdout.splitlines()) <= 4  # not the 40 lines themselves
    assert log.read_text().count("Building C object") == 40


@pytest.mark.slow
def test_a_quiet_build_still_says_something_every_30_seconds(tmp_path):
    proc, _ = run(tmp_path, "import time\nprint('[ 5%] Building C object a.o', flush=True)\ntime.sleep(36)\n")
    assert proc.returncode == 0
    assert "still building: 5% of the build" in proc.stdout


def test_a_failed_build_passes_its_status_and_shows_the_log_tail(tmp_path):
    proc, _ = run(tmp_path, "import sys\nprint('[1/3] cc a.c')\nprint('a.c:1: error: no such header')\nsys.exit(3)\n")
    assert proc.returncode == 3
    assert "failed with exit status 3" in proc.stdout and "a.c:1: error: no such header" in proc.stdout
