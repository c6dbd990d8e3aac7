"""Runs one external program with stdin, a deadline and its peak RSS: the base of the
native form and of every command-line Wasm runtime. Also ends everything this process
started (child process groups, Docker containers) when a run is interrupted."""

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
        _kill_group(proc.pid)
        out, err = proc.communicate()
    except BaseException:  # Ctrl-C / SIGTERM while waiting: the child's own session would outlive us
        _kill_group(proc.pid)
        proc.wait()
        raise
    wall = time.perf_counter() - start
    rss = proc.rusage.ru_maxrss if proc.rusage else None
    rc = proc.returncode
    return Outcome(
        stdout=out, stderr=err,
        exit_code=None if (timed_out or rc < 0) else rc,
        signal=-rc if (rc < 0 and not timed_out) else None,
        timed_out=timed_out, wall_s=wall, peak_memory_kb=rss, memory_source=RUSAGE_UPPER_BOUND if rss else None,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry.name}/stat").read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int | None = None) -> list[int]:
    """Live (non-zombie) processes below `pid` (default: this one), read from /proc."""
    tree, out, todo = _children_by_parent(), [], [pid or os.getpid()]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def end_descendants(grace_s: float = 5.0) -> int:
    """End every process this one started: SIGTERM to the direct children first (a harness
    child, e.g. an xdist worker, then cleans up its own containers), up to grace_s for them to
    go, then SIGKILL to every remaining process group and process below this one (runners,
    servers, engines started in their own session). Returns how many processes there were."""
    own = os.getpid()
    procs = descendants(own)
    children = [p for p in procs if _parent(p) == own]
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    own_group = os.getpgrp()
    for pid in dict.fromkeys(procs + descendants(own)):
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if pgid != own_group:
            _kill_group(pgid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(procs)


def _parent(pid: int) -> int | None:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


_STARTED_CONTAINERS: set[str] = set()


def track_containers() -> None:
    """Remember every Docker container this process creates (through the docker SDK), so
    end_containers() can remove exactly those: other runs on the machine keep theirs."""
    try:
        from docker.models.containers import ContainerCollection
    except ImportError:
        return
    create = ContainerCollection.create
    if getattr(create, "_wc_tracked", False):
        return

    def tracked_create(self, *args, **kwargs):
        container = create(self, *args, **kwargs)
        _STARTED_CONTAINERS.add(container.id)
        return container

    tracked_create._wc_tracked = True
    ContainerCollection.create = tracked_create


def end_containers() -> int:
    """Force-remove the still-existing containers this process created; returns how many."""
    if not _STARTED_CONTAINERS:
        return 0
    import docker

    removed = 0
    try:
        client = docker.from_env(timeout=30)
    except docker.errors.DockerException:
        return 0
    for cid in list(_STARTED_CONTAINERS):
        try:
            client.containers.get(cid).remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException:
            continue
        _STARTED_CONTAINERS.discard(cid)
    return removed
