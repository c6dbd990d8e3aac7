"""Peak memory of one run, measured the way each form can be: the kernel's rusage for a
process, a fresh host process for the embedded runtime (an in-process run cannot be told
apart from the harness's own memory), and the container's own cgroup accounting."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from harness.bench import BenchError
from harness.bench.coldstart import docker_run_command
from harness.outcome import Outcome
from harness.process import run_process
from harness.toolchain import build_c_file, native_target

# Why a helper: a child's ru_maxrss keeps the high-water mark of the memory it had before
# exec (Linux carries signal->maxrss across exec), so a program spawned straight from the
# harness (a Python process of tens of MB) reports the harness's size, not its own. This
# tiny static launcher forks the program from itself (a few hundred KiB) and writes the
# child's ru_maxrss to a file, passing stdin/stdout/stderr and the exit status through.
MAXRSS_C = Path(__file__).with_name("maxrss.c")


def maxrss_launcher() -> Path:
    """The launcher, built once for the host like any workload (toolchain cache)."""
    return build_c_file(MAXRSS_C, native_target(), name="wc-maxrss").path


# Runs the workload as __main__ inside the container, then reports the cgroup's peak
# (v2 memory.peak, else v1 max_usage_in_bytes) and its own ru_maxrss on stderr.
CONTAINER_WRAPPER = r"""
import json, resource, runpy, sys
script = sys.argv[1]
sys.argv = [script]
code = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
sys.stdout.flush()
peak, source = None, None
for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
    try:
        peak, source = int(open(path).read().split()[0]), path
        break
    except (OSError, ValueError):
        pass
info = {"peak_bytes": peak, "source": source, "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
sys.stderr.write("\nWC-MEMORY " + json.dumps(info) + "\n")
sys.exit(code)
"""

# A new Python process embedding wasmtime-py, as a host application would. It leaves with
# os._exit: wasmtime-py 50's WASI worker threads can panic (SIGABRT) during interpreter
# finalisation, after the run has finished and been reported.
WASMTIME_HOST = r"""
import os, sys
from harness.runtimes.wasmtime_py import WasmtimePy
out = WasmtimePy().open(sys.argv[1]).run(sys.stdin.buffer.read(), float(sys.argv[2]))
sys.stdout.buffer.write(out.stdout)
sys.stderr.write(out.describe())
sys.stdout.flush()
sys.stderr.flush()
os._exit(0 if out.status == "ok" else 3)
"""

RSS_NOTE = ("the kernel keeps RSS in per-CPU batched counters (Linux 6.2+), so ru_maxrss of a process under about "
            "1 MiB is approximate and can read 0")
_MEMORY_LINE = re.compile(rb"WC-MEMORY (\{.*\})")


def _ok(label: str, out: Outcome) -> Outcome:
    if out.status != "ok":
        raise BenchError(f"{label}: {out.describe()}")
    return out


def process_peak_kb(cmd: list[str], stdin: bytes, timeout_s: float, label: str) -> tuple[int, dict]:
    """Peak RSS (KiB) of a new process, from wait4's rusage, spawned by the small launcher."""
    with tempfile.TemporaryDirectory(prefix="wc-rss-") as tmp:
        report = Path(tmp) / "maxrss"
        out = _ok(label, run_process([str(maxrss_launcher()), str(report), *cmd], stdin, timeout_s))
        try:
            kb = int(report.read_text().strip())
        except (OSError, ValueError):
            raise BenchError(f"{label}: the launcher wrote no ru_maxrss ({out.describe()})") from None
    return kb, {"source": "rusage (ru_maxrss of the process, spawned by a minimal launcher)", "resolution": RSS_NOTE}


def wasmtime_host_peak_kb(module: Path, stdin: bytes, timeout_s: float) -> tuple[int, dict]:
    """Peak RSS of a new Python process that embeds wasmtime-py and runs the module once."""
    kb, _ = process_peak_kb([sys.executable, "-c", WASMTIME_HOST, str(module), str(timeout_s)], stdin, timeout_s + 30,
                            "wasmtime-py host process")
    return kb, {"source": "rusage of a new Python host process embedding wasmtime-py (interpreter included)"}


def container_peak_kb(image: str, python: str, script: Path, stdin: bytes, timeout_s: float) -> tuple[int, dict]:
    """The container's own accounting: its memory cgroup's peak, read inside at the end."""
    cmd = docker_run_command(image, [python, "-c", CONTAINER_WRAPPER, f"/wc/workload/{script.name}"],
                             {str(script.parent): "/wc/workload:ro"})
    out = run_process(cmd, stdin, timeout_s + 120)
    m = _MEMORY_LINE.search(out.stderr)
    if m is None:
        raise BenchError(f"container memory probe: no WC-MEMORY line ({out.describe()})")
    info = json.loads(m.group(1))
    _ok("container", out)
    if info.get("peak_bytes") is None:
        raise BenchError("container memory probe: neither cgroup v2 memory.peak nor v1 max_usage_in_bytes readable")
    return info["peak_bytes"] // 1024, {"source": f"cgroup {info['source']} (includes page cache charged to it)",
                                        "ru_maxrss_kb": info["ru_maxrss_kb"]}
