"""Runs one external program with stdin, a deadline and its peak RSS: the base of the
native form and of every command-line Wasm runtime."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from harness.outcome import Outcome


class _RusagePopen(subprocess.Popen):
    """Popen that reaps with wait4, so the child's own peak RSS is kept."""

    rusage = None

    def _try_wait(self, wait_flags):  # noqa: D401 - CPython's private hook, stable since 3.3
        try:
            pid, status, self.rusage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            pid, status = self.pid, 0
        return pid, status


# Linux carries the spawning process's RSS high-water mark across exec into ru_maxrss, so a
# child of this (large) Python process reads at least the harness's own size. Kept as an
# upper bound and labelled so; exact peaks come from harness.bench.memory's tiny launcher.
RUSAGE_UPPER_BOUND = "rusage upper bound (includes the harness's pre-exec high-water mark; exact: harness.bench.memory)"


def run_process(cmd: list[str], stdin: bytes, timeout_s: float, *, env: dict | None = None, cwd=None) -> Outcome:
    """Run cmd to completion or kill it (and its process group) at the deadline."""
    start = time.perf_counter()
    try:
        proc = _RusagePopen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, start_new_session=True)
    except OSError as exc:
        # ENOEXEC (exec format error) is evidence for portability claims, so keep errno.
        return Outcome(error=f"could not start {cmd[0]}: {exc.strerror or exc}", wall_s=time.perf_counter() - start,
                       extra={"errno": exc.errno})
    timed_out = False
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    rss = proc.rusage.ru_maxrss if proc.rusage else None
    rc = proc.returncode
    return Outcome(
        stdout=out, stderr=err,
        exit_code=None if (timed_out or rc < 0) else rc,
        signal=-rc if (rc < 0 and not timed_out) else None,
        timed_out=timed_out, wall_s=wall, peak_memory_kb=rss, memory_source=RUSAGE_UPPER_BOUND if rss else None,
    )
