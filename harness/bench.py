"""How fast the harness itself drives each form: examples per second for sha256 on 1 KiB
inputs (what bounds how many fuzzed examples a suite can afford).

    python -m harness.bench [--workload sha256] [--size 1024] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from harness.forms import FormUnavailable, all_specs, open_form
from harness.toolchain import BuildError
from harness.workload import discover


def measure(form, payloads: list[bytes], seconds: float) -> tuple[float, int, float]:
    """(examples/s, runs, median latency ms) over repeated runs within a time cap."""
    form.run(payloads[0])  # warm-up: first container/server start is not counted
    latencies = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(latencies) < 5:
        t = time.perf_counter()
        out = form.run(payloads[len(latencies) % len(payloads)])
        latencies.append(time.perf_counter() - t)
        if out.status != "ok":
            raise RuntimeError(f"{form.spec.id}: {out.describe()}")
    total = time.perf_counter() - start
    return len(latencies) / total, len(latencies), statistics.median(latencies) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="sha256")
    ap.add_argument("--size", type=int, default=1024, help="input size in bytes")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per form")
    args = ap.parse_args(argv)
    workload = next((w for w in discover() if w.name == args.workload), None)
    if workload is None:
        print(f"error: no workload {args.workload!r}", file=sys.stderr)
        return 2
    payloads = [os.urandom(args.size) for _ in range(16)]
    print(f"{'form':34} {'examples/s':>11} {'runs':>6} {'median ms':>10}")
    for spec in all_specs(workload):
        try:
            with open_form(spec, workload) as form:
                rate, runs, med = measure(form, payloads, args.seconds)
        except (FormUnavailable, BuildError) as exc:
            print(f"{spec.id:34} {'skipped':>11}  {str(exc).splitlines()[0][:90]}")
            continue
        except RuntimeError as exc:
            print(f"{spec.id:34} {'FAILED':>11}  {exc}")
            continue
        print(f"{spec.id:34} {rate:11.1f} {runs:6d} {med:10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
