"""How fast the harness itself drives each form: examples per second for sha256 on 1 KiB
inputs (what bounds how many fuzzed examples a suite can afford).

    python -m harness.bench [--workload sha256] [--size 1024] [--seconds 3] [--rel-mad 0.02] [--pin]
"""

from __future__ import annotations

import argparse
import os
import sys

from harness.bench import BenchError, Policy, measure_form, pinned
from harness.forms import FormUnavailable, all_specs, open_form
from harness.toolchain import BuildError
from harness.workload import discover


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="sha256")
    ap.add_argument("--size", type=int, default=1024, help="input size in bytes")
    ap.add_argument("--seconds", type=float, default=3.0, help="time cap per form")
    ap.add_argument("--rel-mad", type=float, default=0.02,
                    help="stop a form early once the relative MAD of its run times is under this (0: use the whole time)")
    ap.add_argument("--pin", action="store_true",
                    help="pin the harness and the processes it starts to one CPU (steadier, but then the harness and "
                         "each form share that CPU; this benchmark measures how fast the harness drives forms, so off by default)")
    args = ap.parse_args(argv)
    workload = next((w for w in discover() if w.name == args.workload), None)
    if workload is None:
        print(f"error: no workload {args.workload!r}", file=sys.stderr)
        return 2
    policy = Policy(warmup=1, min_repeats=20, max_repeats=100_000, max_seconds=args.seconds, rel_mad=args.rel_mad)
    payloads = [os.urandom(args.size) for _ in range(16)]
    print(f"{'form':34} {'examples/s':>11} {'runs':>6} {'median ms':>10}")
    with pinned("auto" if args.pin else None) as cpus:
        for spec in all_specs(workload):
            try:
                with open_form(spec, workload) as form:
                    stats = measure_form(form, payloads, policy)
            except (FormUnavailable, BuildError) as exc:
                print(f"{spec.id:34} {'skipped':>11}  {str(exc).splitlines()[0][:90]}")
                continue
            except BenchError as exc:
                print(f"{spec.id:34} {'FAILED':>11}  {exc}")
                continue
            rate = stats.repeats / sum(stats.samples)
            print(f"{spec.id:34} {rate:11.1f} {stats.repeats:6d} {stats.median * 1000:10.2f}", flush=True)
    if cpus:
        print(f"(pinned to CPU {', '.join(map(str, cpus))}: harness and forms shared it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
