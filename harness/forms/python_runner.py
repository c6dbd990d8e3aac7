"""Serves a Python workload to many inputs from one long-lived interpreter.

Stdlib only: it is bind-mounted into the Python container and also run as a local
process. Each request forks a child, so every input gets a fresh interpreter state (as a
new process would) without paying interpreter start-up; a persistent container therefore
does not pay a cold start per fuzzed example. The script's top-level imports that resolve
without its own folder (the standard library) are loaded once in the server, as a warm host
has its libraries loaded: a request pays for its work, as a request to a cached Wasm module
does. Cold start (interpreter and imports) is measured on its own by the performance suite.

    python_runner.py serve SOCKET SCRIPT    # framed requests over a unix socket
    python_runner.py once INPUT SCRIPT      # one run, stdin from INPUT, stdio passed through

Frame: 4-byte big-endian length + JSON header, then the payload bytes the header counts.
Request header {"timeout_s", "stdin_len"}; response header {"exit_code", "signal",
"timed_out", "wall_s", "peak_rss_kb", "stdout_len", "stderr_len"}, then stdout and stderr.
"""

import ast
import importlib
import json
import os
import runpy
import select
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback


def send_frame(sock, header, *payloads):
    data = json.dumps(header).encode()
    sock.sendall(struct.pack(">I", len(data)) + data + b"".join(payloads))


def recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_frame(sock):
    (size,) = struct.unpack(">I", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, size))


def _exit_code(exc):
    """Mirror the interpreter: SystemExit(None) -> 0, int -> int, other -> print, 1."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def print_workload_traceback(exc, script):
    """The traceback as `python3 script` prints it: from the workload's own frames on, without
    this runner's and runpy's frames above them."""
    tb = exc.__traceback__
    script = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


def run_script(script):
    """Run a script as __main__ with the current fds 0/1/2; returns the exit code."""
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    sys.argv = [script]
    try:
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # noqa: BLE001 - the interpreter prints any uncaught exception
        print_workload_traceback(exc, script)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stdout must not hide the exit code
            pass
    return code


def _wait(pid, timeout_s):
    """Wait for pid with a deadline; returns (status, rusage, timed_out)."""
    deadline = time.monotonic() + timeout_s
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    try:
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                return status, usage, False
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                return status, usage, True
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, 0.002))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def serve_one(script, stdin, timeout_s, workdir):
    paths = [os.path.join(workdir, n) for n in ("in", "out", "err")]
    with open(paths[0], "wb") as f:
        f.write(stdin)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: become the workload
        try:
            os.setsid()
            for fd, (path, flags) in enumerate(zip(paths, (os.O_RDONLY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                                             os.O_WRONLY | os.O_CREAT | os.O_TRUNC))):
                new = os.open(path, flags, 0o600)
                os.dup2(new, fd)
                os.close(new)
            os._exit(run_script(script))
        finally:
            os._exit(70)
    status, usage, timed_out = _wait(pid, timeout_s)
    wall = time.perf_counter() - start
    with open(paths[1], "rb") as f:
        out = f.read()
    with open(paths[2], "rb") as f:
        err = f.read()
    header = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) and not timed_out else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) and not timed_out else None,
        "timed_out": timed_out,
        "wall_s": wall,
        "peak_rss_kb": usage.ru_maxrss,
        "stdout_len": len(out),
        "stderr_len": len(err),
    }
    return header, out, err


def preload_imports(script):
    """Import the modules the script imports at its top level, where that works without the
    script's folder on the path; returns their names. Each request's forked child inherits
    them already initialised, and nothing a child changes reaches the next request."""
    with open(script, "rb") as f:
        tree = ast.parse(f.read(), script)
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    # Only what resolves outside this runner's folder and the current one: a workload module
    # named like a harness file must not be shadowed by it.
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    loaded = []
    try:
        for name in dict.fromkeys(names):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the workload's own modules load in the child, as before
                continue
            loaded.append(name)
    finally:
        sys.path[:] = saved
    return loaded


def serve(socket_path, script):
    preload_imports(script)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = socket_path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    server.bind(tmp)
    os.rename(tmp, socket_path)  # appears only once it is listening-ready
    server.listen(4)
    workdir = tempfile.mkdtemp(prefix="wc-runner-")
    while True:
        conn, _ = server.accept()
        with conn:
            try:
                while True:
                    request = recv_frame(conn)
                    stdin = recv_exact(conn, request["stdin_len"])
                    send_frame(conn, *serve_one(script, stdin, float(request["timeout_s"]), workdir))
            except EOFError:
                continue


def once(input_path, script):
    fd = os.open(input_path, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    sys.exit(run_script(script))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("serve", "once"):
        sys.exit(__doc__)
    (serve if sys.argv[1] == "serve" else once)(sys.argv[2], sys.argv[3])
