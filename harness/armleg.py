"""The nightly matrix's ARM job, runnable on one x86_64 machine: the harness itself runs as an
aarch64 program (Debian's arm64 Python and the aarch64 wheels of its dependencies, started
through qemu-user by binfmt_misc) and writes that machine's results.json, to be joined with the
x86_64 run by `wasm-claims merge`.

The arm64 root filesystem is made by debootstrap from the machine's own configured Debian
source (read from apt's sources, never written here) and cached; the repository is
bind-mounted at /src inside a private mount namespace, so nothing stays mounted afterwards.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from harness.toolchain import cache_root

DEB_ARCH, ARCH = "arm64", "aarch64"
SRC = "/src"  # the repository inside the root filesystem
VENV = "/opt/wasm-claims-venv"
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
BINFMT = Path("/proc/sys/fs/binfmt_misc")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
Progress = Callable[[str], None]


class ArmLegError(Exception):
    """The ARM leg cannot run here; one line saying why and what would fix it."""


def rootfs_dir() -> Path:
    return cache_root() / "arm-leg" / f"rootfs-{DEB_ARCH}"


def debian_source(paths=APT_SOURCES) -> tuple[str, str]:
    """(mirror URI, suite) of the first Debian `main` source apt is configured with, in either
    the one-line or the deb822 format."""
    files = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.glob("*.sources")) + sorted(p.glob("*.list"))
        elif p.is_file():
            files.append(p)
    for f in files:
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
                suites = fields.get("Suites", "").split()
                if "deb" in fields.get("Types", "").split() and suites and "security" not in suites[0]:
                    return fields["URIs"].split()[0], suites[0]
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+.*\bmain\b", text, re.M):
            if "security" not in m.group(2):
                return m.group(1), m.group(2)
    raise ArmLegError("no Debian apt source configured (/etc/apt/sources.list*): debootstrap has nowhere to fetch arm64 packages from")


def ensure_binfmt(progress: Progress) -> str:
    """qemu-user registered for aarch64 ELF files (mounting binfmt_misc as root if needed);
    returns the interpreter's description for the run metadata."""
    entry = BINFMT / f"qemu-{ARCH}"
    if not (BINFMT / "status").exists():
        if os.geteuid() != 0:
            raise ArmLegError("binfmt_misc is not mounted; fix (as root): mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")
        progress("mounting binfmt_misc")
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=False, capture_output=True)
    if not entry.exists() and shutil.which("update-binfmts") and os.geteuid() == 0:
        progress(f"registering qemu-{ARCH} with binfmt_misc")
        subprocess.run(["update-binfmts", "--enable", f"qemu-{ARCH}"], check=False, capture_output=True)
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        raise ArmLegError(f"no qemu-{ARCH} binfmt_misc handler; fix: apt-get install qemu-user-static binfmt-support "
                          f"&& update-binfmts --enable qemu-{ARCH}")
    interp = re.search(r"interpreter (\S+)", entry.read_text())
    return interp.group(1) if interp else f"qemu-{ARCH}"


def _run(cmd: list[str], what: str, log: Path, env: dict | None = None) -> None:
    """Run a long step with its output in `log`; a failure is one line naming the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ArmLegError(f"{what} failed (exit {proc.returncode}): {tail[0][:200]} (full log: {log})")


def ensure_rootfs(progress: Progress) -> Path:
    """An arm64 Debian with Python, made once by debootstrap (its second stage runs under qemu)."""
    root = rootfs_dir()
    if (root / ".ready").is_file():
        return root
    if os.geteuid() != 0:
        raise ArmLegError("making the arm64 root filesystem needs root (debootstrap, chroot, mounts); run as root")
    if shutil.which("debootstrap") is None:
        raise ArmLegError("debootstrap not found; fix: apt-get install debootstrap")
    mirror, suite = debian_source()
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    progress(f"debootstrap {DEB_ARCH} {suite} with {', '.join(PACKAGES)} (several minutes, once; log in {root.parent})")
    _run(["debootstrap", f"--arch={DEB_ARCH}", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(tmp),
          mirror], "debootstrap", root.parent / "debootstrap.log")
    (tmp / ".ready").write_text(f"{suite} {DEB_ARCH}\n")
    tmp.replace(root)
    return root


def prebuild(repo: Path, progress: Progress) -> int:
    """Build every C workload for every target here, with the host's zig: zig cross-compiles,
    so the bytes are those an emulated zig would make (the cache key ignores where the checkout
    lies), in seconds instead of the tens of minutes zig takes under qemu."""
    from harness.toolchain import TARGETS, build
    from harness.workload import discover

    built = 0
    for w in discover([repo / "suites" / "portability" / "workloads"]):
        if "c" in w.sources:
            for t in TARGETS.values():  # the portability suite starts every arch's binary on this one
                built += not build(w, t, "c", progress=lambda m: progress(f"host zig: {m}")).cached
    return built


def _chroot(root: Path, repo: Path, script: str) -> list[str]:
    """A shell in the arm64 root, /src bound to the repository and the build cache to the
    host's (builds only: other cache entries hold machine code for the host), in its own mount
    namespace."""
    builds = cache_root() / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    inner_builds = f"{root}/root/.cache/wasm-claims/builds"
    mounts = (f"mount -t proc proc {root}/proc && mount --rbind /sys {root}/sys && mount --rbind /dev {root}/dev && "
              f"mkdir -p {root}{SRC} {inner_builds} && mount --bind {repo} {root}{SRC} && "
              f"mount --bind {builds} {inner_builds} && ")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            mounts + f"exec chroot {root} /bin/sh -c {_quote(script)}"]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _guest_env() -> dict:
    """What pip needs inside: the host's CA bundle (copied in) and its pip settings."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "HTTP", "HTTPS", "NO_PROXY", "http", "https", "no_proxy"))}
    env.pop("PIP_FIND_LINKS", None)  # a host folder of x86_64 wheels
    env.update(PATH=f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root", LANG="C.UTF-8",
               PIP_CERT="/etc/ssl/certs/wasm-claims-host-ca.crt", WASM_CLAIMS_EMULATED="qemu-user via binfmt_misc")
    return env


def ensure_venv(root: Path, repo: Path, progress: Progress) -> None:
    """The harness and its dependencies as aarch64 wheels in a venv inside the root, redone when
    pyproject.toml changes."""
    stamp = root / VENV.lstrip("/") / ".wasm-claims-stamp"
    key = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    ca = Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
    if ca.is_file():
        shutil.copyfile(ca, root / "etc/ssl/certs/wasm-claims-host-ca.crt")
    if Path("/etc/resolv.conf").is_file():
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    if stamp.is_file() and stamp.read_text() == key:
        return
    progress("installing the harness and its aarch64 wheels into the arm64 Python (minutes under emulation, once)")
    script = f"python3 -m venv {VENV} && {VENV}/bin/pip install --quiet -e {SRC} && echo -n {key} > {VENV}/.wasm-claims-stamp"
    _run(_chroot(root, repo, script), "pip install in the arm64 root", root.parent / "pip.log", env=_guest_env())


def run(repo: Path, out_dir: Path, pytest_args: list[str], progress: Progress = print) -> int:
    """Make what is missing, then pytest inside the arm64 root; returns pytest's exit status.
    `out_dir` must be inside the repository (it is reached through /src)."""
    out_dir = out_dir.resolve()
    repo = repo.resolve()
    if repo not in out_dir.parents and out_dir != repo:
        raise ArmLegError(f"{out_dir}: the ARM leg writes inside the repository ({repo}), which it sees as {SRC}")
    interp = ensure_binfmt(progress)
    root = ensure_rootfs(progress)
    ensure_venv(root, repo, progress)
    progress(f"{prebuild(repo, progress)} artifacts built on the host (the rest from the cache)")
    inner_out = f"{SRC}/{out_dir.relative_to(repo).as_posix()}"
    args = " ".join(_quote(a) for a in pytest_args)
    script = f"cd {SRC} && python -m pytest -p no:cacheprovider --report-dir {inner_out} {args}"
    progress(f"running pytest as {ARCH} ({interp}): {' '.join(pytest_args)}")
    return subprocess.run(_chroot(root, repo, script), env=_guest_env()).returncode
