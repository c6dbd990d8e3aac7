"""Canaries for the sandbox probes: things only an escape can reach, planted before a probe
and checked after it, so that an escape is observed, never inferred.

One `Canaries` holds, in a fresh temporary folder:
- `outside/secret.txt` with a random token, and `outside/target.txt`, a write target: both
  outside every directory a guest is given;
- `sandbox/rw` (a writable preopen) and `sandbox/ro` (a read-only preopen holding `data.txt`);
- a random token in an environment variable of the harness process that no guest is given;
- a TCP listener on 127.0.0.1 that records every connection it accepts.

`check(output)` reports which canary an escape reached (a token in the guest's output, a
change outside or in the read-only folder, a connection); `missing()` reports a canary that is
not in place (then the probe proves nothing and is inconclusive). `close()` removes it all.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "WASM_CLAIMS_CANARY_"
GUEST_RW, GUEST_RO = "/rw", "/ro"
ACCEPT_POLL_S = 0.05


@dataclass
class Hit:
    """One canary an escape reached, and how it shows."""

    canary: str  # secret-file, write-target, outside-dir, readonly-dir, env, listener
    how: str


class Listener:
    """A loopback TCP listener that records (and counts) every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(ACCEPT_POLL_S)
        self.port = self.sock.getsockname()[1]
        self.connections: list[bytes] = []  # the first bytes each client sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"wc-canary-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    data = conn.recv(256)
                except OSError:
                    data = b""
            with self._lock:
                self.connections.append(data)

    def alive(self) -> bool:
        """Connect once from the harness: proves the canary can see a connection (not counted).
        Connections are accepted in order, so once this one is recorded every earlier one is too."""
        if self._stop.is_set() or not self._thread.is_alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                c.sendall(b"harness-liveness")
        except OSError:
            return False
        for _ in range(40):
            with self._lock:
                if any(d == b"harness-liveness" for d in self.connections):
                    self.connections.remove(b"harness-liveness")
                    return True
            self._stop.wait(ACCEPT_POLL_S / 2)
        return False

    def guest_connections(self) -> list[bytes]:
        with self._lock:
            return list(self.connections)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


HASH_WHOLE = 1 << 20  # larger files (a guest can make a sparse TiB one) are hashed by their ends


def _digest(p: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        if size <= HASH_WHOLE:
            h.update(f.read())
        else:
            h.update(f.read(HASH_WHOLE // 2))
            f.seek(size - HASH_WHOLE // 2)
            h.update(f.read())
    return h.hexdigest()


def snapshot(root: Path, mtimes: bool = False) -> dict[str, tuple]:
    """What a folder holds, by relative path: type, size, content hash, link count, link target,
    and with `mtimes` a file's modification time and inode (so a file changed in place is told
    from one replaced by a rename); access times are left out (a read changes them)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                snap[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                snap[rel] = ("dir", st.st_mode & 0o7777)
            else:
                digest = _digest(p, st.st_size) if p.is_file() else ""
                snap[rel] = ("file", st.st_size, digest, st.st_nlink, st.st_mode & 0o7777) + ((st.st_mtime_ns, st.st_ino) if mtimes else ())
    return snap


def _diff(before: dict, after: dict) -> str:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return ", ".join(f"{k}: {before.get(k, 'absent')} -> {after.get(k, 'absent')}" for k in changed[:4])


@dataclass
class Canaries:
    """Planted canaries for one probe run; use as a context manager."""

    root: Path
    secret_token: str
    env_name: str
    env_token: str
    listener: Listener
    write_original: bytes
    _before: dict = field(default_factory=dict)
    unsure: list = field(default_factory=list)  # canaries that could not be read after the run

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def secret(self) -> Path:
        return self.outside / "secret.txt"

    @property
    def target(self) -> Path:
        return self.outside / "target.txt"

    @property
    def rw(self) -> Path:
        return self.root / "sandbox" / "rw"

    @property
    def ro(self) -> Path:
        return self.root / "sandbox" / "ro"

    @property
    def port(self) -> int:
        return self.listener.port

    def missing(self) -> list[str]:
        """Canaries that are not in place: a probe run against them proves nothing."""
        gone = []
        try:
            if self.secret_token not in self.secret.read_text():
                gone.append("secret-file (token not in it)")
        except OSError as exc:
            gone.append(f"secret-file ({exc.strerror})")
        if os.environ.get(self.env_name) != self.env_token:
            gone.append(f"env ({self.env_name} not set in the harness process)")
        if not self.listener.alive():
            gone.append(f"listener (127.0.0.1:{self.port} does not accept)")
        if not (self.rw.is_dir() and self.ro.is_dir()):
            gone.append("sandbox folders")
        return gone

    def check(self, output: bytes) -> list[Hit]:
        """Every canary an escape reached, judged from the guest's output and the host's state."""
        hits = []
        if self.secret_token.encode() in output:
            hits.append(Hit("secret-file", f"the token of {self.secret} is in the guest's output"))
        if self.env_token.encode() in output:
            hits.append(Hit("env", f"the value of ${self.env_name} (never given to the guest) is in its output"))
        try:
            content = self.target.read_bytes()
        except OSError as exc:
            content = f"<{exc.strerror}>".encode()
        if content != self.write_original:
            hits.append(Hit("write-target", f"{self.target} changed: {content[:60]!r}"))
        for name, folder in (("outside-dir", self.outside), ("readonly-dir", self.ro)):
            now = snapshot(folder)
            if now != self._before[name]:
                hits.append(Hit(name, f"{folder} changed: {_diff(self._before[name], now)}"))
        if not self.listener.alive():  # also waits until the guest's connections are recorded
            self.unsure.append(f"listener (127.0.0.1:{self.port} stopped answering)")
        conns = self.listener.guest_connections()
        if conns:
            hits.append(Hit("listener", f"{len(conns)} connection(s) to 127.0.0.1:{self.port}, first sent {conns[0][:40]!r}"))
        return hits

    def close(self) -> None:
        self.listener.close()
        if os.environ.get(self.env_name) == self.env_token:
            del os.environ[self.env_name]
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Canaries":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def plant(base: Path | None = None) -> Canaries:
    """Plant a fresh set of canaries (the caller must close() it)."""
    root = Path(tempfile.mkdtemp(prefix="wc-canary-", dir=base))
    for d in ("outside", "sandbox/rw", "sandbox/ro"):
        (root / d).mkdir(parents=True)
    secret_token = "SECRET-" + secrets.token_hex(16)
    (root / "outside" / "secret.txt").write_text(secret_token + "\n")
    write_original = ("TARGET-" + secrets.token_hex(8) + "\n").encode()
    (root / "outside" / "target.txt").write_bytes(write_original)
    (root / "sandbox" / "ro" / "data.txt").write_text("read-only data\n")
    (root / "sandbox" / "rw" / "payload.txt").write_text("payload\n")
    env_name = ENV_PREFIX + secrets.token_hex(4).upper()
    env_token = "ENVTOKEN-" + secrets.token_hex(16)
    os.environ[env_name] = env_token
    try:
        listener = Listener()
    except OSError:
        del os.environ[env_name]
        shutil.rmtree(root, ignore_errors=True)
        raise
    c = Canaries(root, secret_token, env_name, env_token, listener, write_original)
    c._before = {"outside-dir": snapshot(c.outside), "readonly-dir": snapshot(c.ro)}
    return c
