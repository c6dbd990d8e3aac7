"""The embedded form: a workload loaded as an in-process plugin of a long-lived host.

The design's question for SAFETY-1 is what one bad input does to the program that hosts a
plugin. So the host is a real, separate process (`embedded_host.py`), not pytest: it loads
the workload either as a native shared library through ctypes or as a Wasm reactor through
wasmtime, serves many requests over a socket pair, and reports with each reply whether its
own data is intact. This client sends the requests, notices when the host dies (and from
which signal), and can restart it. `EmbeddedForm` wraps it in the common Form interface
(restarting a dead host before the next request), so suites can fuzz it like any form.
"""

from __future__ import annotations

import signal as _signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.forms import python_runner as proto
from harness.forms.base import Form, FormSpec, FormUnavailable
from harness.outcome import Outcome
from harness.runtimes.base import Limits
from harness.toolchain import ToolMissing, build, host_arch, native_target

HOST_SCRIPT = Path(__file__).with_name("embedded_host.py")
KINDS = ("native", "wasm")
RUNTIME_OF = {"native": "embedded-ctypes", "wasm": "embedded-wasmtime-py"}
START_TIMEOUT_S = 60.0
EXIT_WAIT_S = 5.0
REPLY_SLACK_S = 5.0


@dataclass
class HostReply:
    """One request's outcome plus what it did to the host."""

    outcome: Outcome
    host_alive: bool  # the host still runs after this request
    host_intact: bool | None  # its own data checksum still matches (None: it died, data gone)
    served: int  # requests this host process has served so far
    instances: int  # plugin instances it has created (a Wasm trap makes a new one)
    pid: int | None


class HostStartError(RuntimeError):
    """The host did not come up; the message carries its log."""


def _signal_name(sig: int | None) -> str:
    try:
        return _signal.Signals(sig).name
    except (TypeError, ValueError):
        return str(sig)


class EmbeddedHost:
    """Client of one host process; counts starts and deaths so a test can report them."""

    def __init__(self, kind: str, artifact: Path, *, fresh_instance: bool = False, limits: Limits = Limits()):
        if kind not in KINDS:
            raise ValueError(f"unknown plugin kind {kind!r} (known: {', '.join(KINDS)})")
        self.kind, self.artifact = kind, Path(artifact)
        self.fresh_instance, self.limits = fresh_instance, limits
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self._log = None
        self.starts = 0
        self.deaths: list[dict] = []  # {"signal", "exit_code", "timed_out"} per death
        self.last_start_s = 0.0

    def command(self, fd: int) -> list[str]:
        cmd = [sys.executable, str(HOST_SCRIPT), str(fd), self.kind, str(self.artifact)]
        if self.kind == "wasm":
            cmd += ["--memory-bytes", str(self.limits.memory_bytes)] + (["--fresh-instance"] if self.fresh_instance else [])
        return cmd

    def start(self) -> int:
        """Start the host and wait until its plugin is loaded; returns its pid."""
        self.stop()
        t0 = time.perf_counter()
        parent, child = socket.socketpair()
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.command(child.fileno()), pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        child.close()
        self.sock = parent
        self.starts += 1
        try:
            parent.settimeout(START_TIMEOUT_S)
            proto.send_frame(parent, {"op": "ping"})
            pid = proto.recv_frame(parent)["pid"]
        except (OSError, EOFError, ValueError) as exc:
            log = self.logs()
            self.stop()
            raise HostStartError(f"{self.kind} embedded host did not start ({exc}): {log.strip()[-800:] or 'no output'}") from None
        self.last_start_s = time.perf_counter() - t0
        return pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def _died(self, timed_out: bool) -> dict:
        """Reap the host after a broken exchange and say how it ended."""
        if timed_out and self.alive():
            self.proc.kill()
        try:
            rc = self.proc.wait(timeout=EXIT_WAIT_S)
        except subprocess.TimeoutExpired:  # the socket broke but the process lingers: end it
            self.proc.kill()
            rc = self.proc.wait()
        death = {"signal": -rc if rc < 0 and not timed_out else None, "exit_code": rc if rc >= 0 else None,
                 "timed_out": timed_out}
        self.deaths.append(death)
        self.sock.close()
        self.sock = None
        return death

    def request(self, data: bytes, timeout_s: float, *, reset: bool = False) -> HostReply:
        """Serve one input (`reset`: on a fresh Wasm instance). A dead host is not restarted
        here: the reply says it is down."""
        start = time.perf_counter()
        if not self.alive() or self.sock is None:
            last = self.deaths[-1] if self.deaths else {}
            why = f"died with {_signal_name(last.get('signal'))}" if last.get("signal") else "not running"
            return HostReply(Outcome(error=f"{self.kind} embedded host is down ({why})"), False, None, 0, 0, None)
        try:
            self.sock.settimeout(timeout_s + REPLY_SLACK_S)
            proto.send_frame(self.sock, {"op": "run", "stdin_len": len(data), "timeout_s": timeout_s, "reset": reset}, data)
            header = proto.recv_frame(self.sock)
            out = proto.recv_exact(self.sock, header["stdout_len"])
            err = proto.recv_exact(self.sock, header["stderr_len"])
        except (OSError, EOFError, ValueError) as exc:
            death = self._died(timed_out=isinstance(exc, TimeoutError))
            outcome = Outcome(signal=death["signal"], exit_code=death["exit_code"], timed_out=death["timed_out"],
                              stderr=self.logs()[-2000:].encode(), wall_s=time.perf_counter() - start,
                              extra={"host_died": True})
            return HostReply(outcome, False, None, 0, 0, None)
        outcome = Outcome(stdout=out, stderr=err, exit_code=header["rc"], trap=header["trap"], wall_s=header["wall_s"],
                          extra={"host_died": False})
        return HostReply(outcome, True, header["host_intact"], header["served"], header["instances"], header["pid"])

    def ping(self) -> dict | None:
        """The host's pid, intactness and counters, or None when it does not answer."""
        if not self.alive() or self.sock is None:
            return None
        try:
            self.sock.settimeout(REPLY_SLACK_S)
            proto.send_frame(self.sock, {"op": "ping"})
            return proto.recv_frame(self.sock)
        except (OSError, EOFError, ValueError):
            self._died(timed_out=False)
            return None

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def spec_for(kind: str, arch: str | None = None) -> FormSpec:
    """The FormSpec an embedded plugin reports under: form native/wasm (as the SAFETY-1 rule
    contrasts them), runtime naming the embedding."""
    return FormSpec(kind, "c", RUNTIME_OF[kind], arch or host_arch())


class EmbeddedForm(Form):
    """The Form interface over an EmbeddedHost; a host that died is restarted before the next
    request (the restart is counted in `host.starts`)."""

    def __init__(self, kind: str, artifact: Path, default_timeout_s: float, *, fresh_instance: bool = False,
                 limits: Limits = Limits()):
        super().__init__(spec_for(kind), default_timeout_s)
        self.kind = kind
        self.host = EmbeddedHost(kind, artifact, fresh_instance=fresh_instance, limits=limits)
        self.details.update({"plugin_form": f"{kind}-embedded", "artifact_path": str(artifact),
                             "fresh_instance_per_request": fresh_instance})
        try:
            self.host.start()
        except HostStartError as exc:
            raise FormUnavailable(str(exc)) from None

    def request(self, stdin: bytes, timeout_s: float | None = None, *, reset: bool = False) -> HostReply:
        if not self.host.alive():
            self.host.start()
        return self.host.request(stdin, timeout_s or self.default_timeout_s, reset=reset)

    def _run(self, stdin: bytes, timeout_s: float) -> Outcome:
        return self.request(stdin, timeout_s).outcome

    def close(self) -> None:
        self.host.stop()


def plugin_target(kind: str) -> str:
    return native_target(shared=True).name if kind == "native" else "wasm32-wasi-reactor"


def open_embedded(workload, kind: str, *, fresh_instance: bool = False, limits: Limits = Limits(),
                  progress=None) -> EmbeddedForm:
    """Build the workload's plugin (shared library or reactor module) and start its host.
    Raises FormUnavailable (no C source, no compiler) or BuildError."""
    if "c" not in workload.sources:
        raise FormUnavailable(f"{workload.name} has no C source to build as an in-process plugin")
    try:
        artifact = build(workload, plugin_target(kind), "c", progress=progress)
    except ToolMissing as exc:
        raise FormUnavailable(str(exc)) from None
    form = EmbeddedForm(kind, artifact.path, workload.timeout_s, fresh_instance=fresh_instance, limits=limits)
    form.details["artifact"] = artifact.to_dict()
    return form
