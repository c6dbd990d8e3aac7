"""Client side of python_runner: one connection to a long-lived server (local process
or container) that runs many inputs; restarts the server if it died."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Callable, Protocol

from harness.forms import python_runner as proto
from harness.outcome import Outcome

RUNNER_SCRIPT = Path(proto.__file__).resolve()
START_TIMEOUT_S = 30.0


class ServerHandle(Protocol):
    """What a launcher returns: a running server we can check, read logs from and stop."""

    def alive(self) -> bool: ...
    def logs(self) -> str: ...
    def stop(self) -> None: ...


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries its logs."""


class PersistentServer:
    """Sends each input as one framed request; a dead server is reported, then restarted."""

    def __init__(self, launch: Callable[[Path], ServerHandle], socket_path: Path, label: str):
        self._launch, self._socket_path, self.label = launch, socket_path, label
        self._handle: ServerHandle | None = None
        self._conn: socket.socket | None = None
        self.starts = 0

    def _connect(self) -> socket.socket:
        if self._conn is not None:
            return self._conn
        if self._socket_path.exists():
            self._socket_path.unlink()
        self._handle = self._launch(self._socket_path)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._socket_path.exists():
            if not self._handle.alive() or time.monotonic() > deadline:
                logs = self._handle.logs()
                self._handle.stop()
                self._handle = None
                raise ServerStartError(f"{self.label} did not start within {START_TIMEOUT_S:.0f}s: {logs.strip()[-800:] or 'no output'}")
            time.sleep(0.01)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(self._socket_path))
        self._conn = conn
        return conn

    def run(self, stdin: bytes, timeout_s: float) -> Outcome:
        start = time.perf_counter()
        try:
            conn = self._connect()
            conn.settimeout(timeout_s + 10.0)
            proto.send_frame(conn, {"timeout_s": timeout_s, "stdin_len": len(stdin)}, stdin)
            header = proto.recv_frame(conn)
            out = proto.recv_exact(conn, header["stdout_len"])
            err = proto.recv_exact(conn, header["stderr_len"])
        except ServerStartError as exc:
            return Outcome(error=str(exc), wall_s=time.perf_counter() - start)
        except (OSError, EOFError, ValueError) as exc:
            logs = self._handle.logs()[-400:] if self._handle else ""
            self.close()
            return Outcome(error=f"{self.label} connection failed: {exc}; server said: {logs.strip() or 'nothing'}",
                           wall_s=time.perf_counter() - start)
        return Outcome(
            stdout=out, stderr=err, exit_code=header["exit_code"], signal=header["signal"],
            timed_out=header["timed_out"], wall_s=header["wall_s"], peak_memory_kb=header["peak_rss_kb"],
            memory_source="rusage of the forked request handler (includes the server it forked from)",
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._handle is not None:
            self._handle.stop()
            self._handle = None
