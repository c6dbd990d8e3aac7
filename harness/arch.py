"""Which CPU architectures can run here, and how: natively or under qemu-user."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass

from harness.toolchain import host_arch

ARCHES = ("x86_64", "aarch64", "riscv64", "s390x")
# Library prefixes for dynamically linked foreign programs (Debian's libc6-<arch>-cross).
CROSS_PREFIX = {"aarch64": "/usr/aarch64-linux-gnu", "riscv64": "/usr/riscv64-linux-gnu", "s390x": "/usr/s390x-linux-gnu",
                "x86_64": "/usr/x86_64-linux-gnu"}
DEBIAN_CROSS_PACKAGE = {"aarch64": "libc6-arm64-cross", "riscv64": "libc6-riscv64-cross", "s390x": "libc6-s390x-cross",
                        "x86_64": "libc6-amd64-cross"}


@dataclass(frozen=True)
class ArchSupport:
    arch: str
    available: bool
    emulated: bool
    launcher: tuple[str, ...]  # prefix for the command line ("" when native)
    version: str
    reason: str  # why not available, with the fix

    def command(self, program: str, *args: str, dynamic: bool = False) -> list[str]:
        """The command that runs a program of this arch (with the cross libc for dynamic ones)."""
        prefix = list(self.launcher)
        if self.emulated and dynamic:
            prefix += ["-L", CROSS_PREFIX[self.arch]]
        return [*prefix, program, *args]


@functools.cache
def qemu_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version ([\w.:+~-]+)", out)
    return m.group(1) if m else out.strip().splitlines()[0] if out.strip() else "unknown"


@functools.cache
def support(arch: str) -> ArchSupport:
    """How `arch` runs on this machine, or why it cannot."""
    if arch not in ARCHES:
        return ArchSupport(arch, False, False, (), "", f"unknown arch {arch!r} (known: {', '.join(ARCHES)})")
    if arch == host_arch():
        return ArchSupport(arch, True, False, (), "native", "")
    qemu = shutil.which(f"qemu-{arch}-static") or shutil.which(f"qemu-{arch}")
    if not qemu:
        return ArchSupport(arch, False, True, (), "",
                           f"no qemu-user for {arch} on this {host_arch()} host; fix: apt-get install qemu-user-static")
    return ArchSupport(arch, True, True, (qemu,), f"qemu {qemu_version(qemu)}", "")


def all_support() -> list[ArchSupport]:
    return [support(a) for a in ARCHES]
