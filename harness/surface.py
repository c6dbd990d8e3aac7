"""What each form exposes and needs present, counted (SURFACE-1, DEPS-1).

- the WASI imports a module declares (wasmtime's `Module.imports`): the guest's whole
  interface to the outside;
- the distinct system calls a process makes and the files it opens or executes, from
  `strace -f` (Debian's strace): for the native binary, the Python interpreter running the
  workload script, and the wasmtime CLI running the module;
- the packages and files in the Python image (its labels, see `harness.images`).

"Files needed present to run" = regular files a run successfully opened or executed, outside
the kernel's pseudo-filesystems (/proc, /sys, /dev), plus the program or script named on
the command line. Counting what a run touched, not what a package ships, keeps the three
forms on one measure.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import run_process

PSEUDO_FS = ("/proc/", "/sys/", "/dev/")
STRACE_STRING_LIMIT = 4096

_CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?([a-z_][a-z0-9_]*)\(")
_RESUMED = re.compile(r"^(?:\d+\s+)?<\.\.\. ([a-z_][a-z0-9_]*) resumed>")
_FILE = re.compile(r'^(?:\d+\s+)?(open|openat|openat2|creat|execve|execveat)\((?:AT_FDCWD, |\d+, )?"((?:[^"\\]|\\.)*)"'
                   r'.*\)\s+=\s+(-?\d+)')


class SurfaceUnavailable(Exception):
    """A tool a count needs is missing; the message is the skip reason."""


@dataclass
class Trace:
    """What one or more traced runs did."""

    syscalls: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    runs: int = 0
    exit_codes: list = field(default_factory=list)

    def merge(self, other: "Trace") -> "Trace":
        self.syscalls |= other.syscalls
        self.files |= other.files
        self.runs += other.runs
        self.exit_codes += other.exit_codes
        return self

    def files_bytes(self) -> int:
        return sum(os.path.getsize(f) for f in self.files if os.path.isfile(f))


def strace_path() -> str:
    path = shutil.which("strace")
    if path is None:
        raise SurfaceUnavailable("strace is not installed (apt-get install strace; .ci/run installs it)")
    return path


def wasi_imports(module_path: Path) -> list[str]:
    """The imports a Wasm module declares, as "module.name" (sorted)."""
    import wasmtime

    from harness.runtimes.wasmtime_py import engine

    module = wasmtime.Module(engine(), Path(module_path).read_bytes())
    return sorted(f"{imp.module}.{imp.name}" for imp in module.imports)


def _regular_file(path: str, cwd: str) -> str | None:
    full = os.path.normpath(os.path.join(cwd, path))
    if full.startswith(PSEUDO_FS) or not os.path.isfile(full):
        return None
    return os.path.realpath(full)


def parse_strace(text: str, cwd: str = "/") -> Trace:
    """Syscall names and successfully opened/executed regular files from `strace -f` output."""
    trace = Trace(runs=1)
    for line in text.splitlines():
        m = _CALL.match(line) or _RESUMED.match(line)
        if m:
            trace.syscalls.add(m.group(1))
        f = _FILE.match(line)
        if f and int(f.group(3)) >= 0:
            path = _regular_file(f.group(2).encode().decode("unicode_escape"), cwd)
            if path:
                trace.files.add(path)
    return trace


def trace(cmd: list[str], stdin: bytes, timeout_s: float, *, cwd: str | None = None) -> Trace:
    """Run `cmd` under `strace -f` and return what it did (the command's files included)."""
    strace = strace_path()
    cwd = cwd or os.getcwd()
    with tempfile.TemporaryDirectory(prefix="wc-strace-") as tmp:
        log = Path(tmp) / "trace"
        outcome = run_process([strace, "-f", "-qq", "-s", str(STRACE_STRING_LIMIT), "-o", str(log), "--", *cmd],
                              stdin, timeout_s, cwd=cwd)
        if outcome.error or not log.exists():
            raise SurfaceUnavailable(f"strace could not run {cmd[0]}: {outcome.error or outcome.stderr[-300:]!r}")
        result = parse_strace(log.read_text(errors="replace"), cwd)
    result.exit_codes.append(outcome.exit_code)
    for arg in cmd:  # the program and script named on the command line are needed too
        path = _regular_file(arg, cwd) if "/" in arg else None
        if path:
            result.files.add(path)
    return result


def trace_inputs(cmd: list[str], inputs: list[bytes], timeout_s: float, *, cwd: str | None = None) -> Trace:
    """The union of what `cmd` did over several inputs."""
    total = Trace()
    for data in inputs or [b""]:
        total.merge(trace(cmd, data, timeout_s, cwd=cwd))
    return total


def form_summary(name: str, t: Trace, **extra) -> dict:
    """A numerator/denominator dict for ratio records."""
    return {"form": name, "syscalls": len(t.syscalls), "files": len(t.files), "files_bytes": t.files_bytes(),
            "runs": t.runs, "exit_codes": sorted(set(c for c in t.exit_codes if c is not None)), **extra}


CONTAINER_INFO_SCRIPT = r"""
import errno, json, os
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
field = lambda k: status.get(k, "").strip()
def ns(kind):
    try:
        return os.readlink("/proc/self/ns/" + kind)
    except OSError as exc:
        return "unreadable: %s" % exc
try:
    open("/.wc-rootfs-probe", "w").close()
    ro = False
    os.unlink("/.wc-rootfs-probe")
except OSError as exc:
    ro = exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
print(json.dumps({
    "cap_eff": field("CapEff"), "cap_bnd": field("CapBnd"), "seccomp": field("Seccomp"),
    "no_new_privs": field("NoNewPrivs"), "pid_ns": ns("pid"), "net_ns": ns("net"),
    "docker_sock": [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)],
    "pids_visible": sum(1 for d in os.listdir("/proc") if d.isdigit()),
    "net_interfaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]],
    "rootfs_read_only": ro,
}))
"""
CONTAINER_TIMEOUT_S = 60


def container_info(client, image, run_settings: dict) -> dict:
    """Run CONTAINER_INFO_SCRIPT inside `image` with `run_settings` (the container form's) and
    read what the process sees: capabilities, seccomp, no-new-privileges, namespaces, docker.sock,
    a read-only root. Raises SurfaceUnavailable when the container does not answer."""
    import json

    container = client.containers.run(image.tag, [image.python or "python3", "-c", CONTAINER_INFO_SCRIPT],
                                      detach=True, labels={"wasm-claims": "surface"}, **run_settings)
    try:
        try:
            code = container.wait(timeout=CONTAINER_TIMEOUT_S).get("StatusCode")
        except Exception as exc:  # noqa: BLE001 - the SDK raises a requests timeout
            raise SurfaceUnavailable(f"the info container did not finish within {CONTAINER_TIMEOUT_S}s: {exc}") from None
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        if code != 0:
            err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            raise SurfaceUnavailable(f"the info script failed in {image.tag} (exit {code}): {err[-400:]}")
    finally:
        try:
            container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
    return json.loads(out)


def host_namespaces() -> dict:
    """This process's pid and net namespaces, to compare with what a container sees."""
    return {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("pid", "net")}


def capability_count(hex_mask: str) -> int:
    return bin(int(hex_mask or "0", 16)).count("1")
