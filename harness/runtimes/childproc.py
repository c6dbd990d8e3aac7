"""The parent side of an engine run in a child process (harness.runtimes.wasmtime_child,
harness.runtimes.wasmedge_capi): JSON-lines requests with a deadline; a child that dies is
restarted on the next request, and its death (signal, exit status, the last lines it wrote to
stderr) is the request's answer. So a guest that crashes an engine is an observation, never a
lost test run. A batch of export calls (differential fuzzing's) is one request, bisected down
to the module when the child dies or hangs on it (batch_answers)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from harness.runtimes.base import Invoked
from harness.runtimes import traps

STDERR_TAIL = 4000


class EngineChild:
    """One long-lived child process serving requests one at a time (thread-safe)."""

    def __init__(self, script: Path, pythonpath: Path | None = None, label: str = "child"):
        self.script, self.pythonpath, self.label = Path(script), pythonpath, label
        self._proc: subprocess.Popen | None = None
        self._err = None
        self._buf = b""
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        # only the chosen wasmtime-py first on the path; nothing of the harness is imported there
        env["PYTHONPATH"] = str(self.pythonpath) if self.pythonpath else ""
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self._err = tempfile.TemporaryFile(prefix="wc-child-err-")
        self._buf = b""
        self._proc = subprocess.Popen([sys.executable, str(self.script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._err, env=env, start_new_session=True, cwd=tempfile.gettempdir())
        return self._proc

    def _stderr_tail(self) -> str:
        if self._err is None:
            return ""
        self._err.seek(0, os.SEEK_END)
        size = self._err.tell()
        self._err.seek(max(0, size - STDERR_TAIL))
        return self._err.read().decode("utf-8", "replace")

    def _reap(self) -> dict:
        """The child is gone: how it ended, in the reply's words."""
        proc, self._proc = self._proc, None
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        died = {"died": True, "exit_code": rc if rc >= 0 else None, "signal": -rc if rc < 0 else None,
                "stderr_tail": self._stderr_tail()}
        self._err.close()
        self._err = None
        return died

    def request(self, req: dict, timeout_s: float) -> dict:
        """The child's reply, or {"died": ...} / {"timed_out": True} (the child is then killed)."""
        with self._lock:
            proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
            try:
                proc.stdin.write((json.dumps(req) + "\n").encode())
                proc.stdin.flush()
            except BrokenPipeError:
                return self._reap()
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            try:
                while b"\n" not in self._buf:
                    if not sel.select(timeout_s):
                        os.killpg(proc.pid, signal.SIGKILL)
                        self._reap()
                        return {"timed_out": True}
                    chunk = os.read(proc.stdout.fileno(), 1 << 16)
                    if not chunk:
                        return self._reap()
                    self._buf += chunk
            finally:
                sel.close()
            line, _, self._buf = self._buf.partition(b"\n")
            return json.loads(line)

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
            self._proc = None
            if self._err is not None:
                self._err.close()
                self._err = None


def answer_of(r: dict) -> Invoked:
    """One call's answer in a child's reply: {"value"}, {"trap": words} (in the one trap
    vocabulary, harness.runtimes.traps), {"timed_out"} or {"error"}."""
    if "value" in r:
        return Invoked(value=r["value"])
    if "trap" in r:
        return Invoked(trap=traps.normalise(r["trap"]))
    return Invoked(timed_out=True) if r.get("timed_out") else Invoked(error=r.get("error", "?"))


def failure_of(reply: dict) -> Invoked:
    """A request the child did not answer: it died (signal), hung, or refused (unsupported, error)."""
    return Invoked(died=reply.get("signal") or (None if not reply.get("died") else -1), timed_out=bool(reply.get("timed_out")),
                   error=None if reply.get("died") or reply.get("timed_out") else
                   str(reply.get("unsupported") or reply.get("error") or reply)[:200])


def batch_answers(request: Callable[[dict, float], dict], req: dict, jobs: list[tuple[Path, list[str], list[str]]],
                  timeout_s: float, answer: Callable[[dict], Invoked] = answer_of) -> list[list[Invoked]]:
    """Per job its answers to one `req` ({"op": "invoke_batch", ...} plus the jobs) sent with
    `request`. When the child dies or hangs, the batch is bisected down to the module that did
    it (the modules before it in the batch are answered again), so a crash costs one batch and
    is pinned to one module."""
    calls = sum(len(e) + len(t) for _, e, t in jobs)
    reply = request({**req, "jobs": [{"module": str(m), "exports": e, "on_trap": t} for m, e, t in jobs]},
                    timeout_s * (calls + 1))
    if "results" in reply:
        return [[answer(r) for r in results] for results in reply["results"]]
    if (reply.get("died") or reply.get("timed_out")) and len(jobs) > 1:
        half = len(jobs) // 2
        return (batch_answers(request, req, jobs[:half], timeout_s, answer) +
                batch_answers(request, req, jobs[half:], timeout_s, answer))
    return [[failure_of(reply)] * len(e) for _, e, _ in jobs]
