"""The benchmark runner: warm-up, repeats until the median is stable or a time cap,
min/median/max kept, and CPU pinning where the OS allows it.

Every figure the performance suite reports is a `Stats` from `measure`, and every
comparison is a `ratio` of two Stats taken in the same run, with the spread carried along
(the ratio's min is numerator min / denominator max, its max the other way round), so a
reader sees how much of a difference is noise.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

PIN_ENV = "WASM_CLAIMS_BENCH_CPU"  # a CPU number to pin to, or "off"


class BenchError(RuntimeError):
    """A form could not run the benchmark input at all (a gross failure, not a slow run)."""


@dataclass(frozen=True)
class Policy:
    """How long to measure: at least `min_repeats`, then stop once the relative median
    absolute deviation is under `rel_mad`, or at `max_seconds` / `max_repeats`."""

    warmup: int = 1
    min_repeats: int = 5
    max_repeats: int = 200
    max_seconds: float = 2.0
    rel_mad: float = 0.05

    def __post_init__(self):
        if self.min_repeats < 1 or self.max_repeats < self.min_repeats:
            raise ValueError(f"bad repeat bounds: min {self.min_repeats}, max {self.max_repeats}")
        if self.max_seconds <= 0 or self.rel_mad < 0 or self.warmup < 0:
            raise ValueError("max_seconds must be > 0, rel_mad and warmup >= 0")


POLICIES = {
    "quick": Policy(warmup=1, min_repeats=3, max_repeats=40, max_seconds=0.4, rel_mad=0.10),
    "default": Policy(warmup=1, min_repeats=5, max_repeats=200, max_seconds=1.5, rel_mad=0.05),
    "thorough": Policy(warmup=2, min_repeats=10, max_repeats=1000, max_seconds=8.0, rel_mad=0.02),
}


def policy_for(scale: str, **overrides) -> Policy:
    """The policy of a run scale (quick/default/thorough), with fields overridden."""
    if scale not in POLICIES:
        raise ValueError(f"unknown scale {scale!r} (known: {', '.join(POLICIES)})")
    base = POLICIES[scale]
    return Policy(**{**base.__dict__, **overrides})


def rel_mad(samples: list[float]) -> float:
    """Median absolute deviation over the median: a spread measure one outlier cannot move."""
    med = statistics.median(samples)
    if med == 0:
        return 0.0
    return statistics.median(abs(x - med) for x in samples) / med


@dataclass
class Stats:
    """Repeated timings of one thing, in seconds."""

    samples: list[float]
    stable: bool
    elapsed_s: float
    warmup: int = 0
    pinned: tuple[int, ...] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def repeats(self) -> int:
        return len(self.samples)

    @property
    def rel_mad(self) -> float:
        return rel_mad(self.samples)

    def rate(self, work: float = 1.0) -> dict:
        """Work per second (runs/s for work=1): median, and the spread from the extremes."""
        return {"median": work / self.median if self.median else None, "min": work / self.max if self.max else None,
                "max": work / self.min if self.min else None}

    def to_dict(self, unit: str = "s") -> dict:
        return {"median": self.median, "min": self.min, "max": self.max, "unit": unit, "repeats": self.repeats,
                "rel_mad": round(self.rel_mad, 4), "stable": self.stable, "warmup": self.warmup,
                "elapsed_s": round(self.elapsed_s, 3), "pinned_cpus": list(self.pinned) if self.pinned else None,
                "loadavg_1m": self.extra.get("loadavg_1m")}


def measure(fn: Callable[[], float | None], policy: Policy = Policy(), *, clock=time.perf_counter) -> Stats:
    """Time `fn` under `policy`. `fn` may return its own duration in seconds (when only part
    of what it does is the thing measured); None means the whole call is timed."""
    for _ in range(policy.warmup):
        fn()
    samples: list[float] = []
    stable = False
    start = clock()
    while len(samples) < policy.max_repeats:
        t0 = clock()
        own = fn()
        samples.append(own if own is not None else clock() - t0)
        if len(samples) >= policy.min_repeats:
            if rel_mad(samples) <= policy.rel_mad:
                stable = True
                break
            if clock() - start >= policy.max_seconds:
                break
    return Stats(samples, stable, clock() - start, policy.warmup, current_pin(), {"loadavg_1m": _loadavg()})


def _loadavg() -> float | None:
    """The 1-minute load average when measuring: how busy the machine was (noise)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def ratio(num: Stats, den: Stats, num_label: dict | None = None, den_label: dict | None = None, *,
          unit: str = "s") -> dict:
    """num/den of two timings from the same run: value from the medians, min/max from the
    extremes (the widest spread the repeats allow), and both sides for the record."""
    return {
        "value": num.median / den.median,
        "min": num.min / den.max,
        "max": num.max / den.min,
        "numerator": {**(num_label or {}), **num.to_dict(unit)},
        "denominator": {**(den_label or {}), **den.to_dict(unit)},
    }


# --------------------------------------------------------------------------- pinning

_PINNED: tuple[int, ...] | None = None


def current_pin() -> tuple[int, ...] | None:
    return _PINNED


def pin_choice(allowed: set[int], env: str | None = None) -> int | None:
    """Which CPU to pin to: WASM_CLAIMS_BENCH_CPU if set (None for "off"), else the
    highest-numbered allowed CPU when there is more than one (CPU 0 takes most interrupts)."""
    env = os.environ.get(PIN_ENV) if env is None else env
    if env:
        if env.strip().lower() in ("off", "none", "no"):
            return None
        try:
            cpu = int(env)
        except ValueError:
            raise ValueError(f"{PIN_ENV}={env!r}: expected a CPU number or 'off'") from None
        if cpu not in allowed:
            raise ValueError(f"{PIN_ENV}={cpu}: not one of the CPUs this process may use ({sorted(allowed)})")
        return cpu
    return max(allowed) if len(allowed) > 1 else None


@contextlib.contextmanager
def pinned(cpu: int | None | str = "auto") -> Iterator[tuple[int, ...] | None]:
    """Pin the calling thread (and the processes it starts) to one CPU for the block, where
    the OS supports it; yields the CPUs pinned to, or None when not pinned. Containers and
    servers started earlier are not moved: the record says what was pinned."""
    global _PINNED
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    choice = pin_choice(before) if cpu == "auto" else cpu
    if choice is None or _PINNED is not None:
        yield _PINNED
        return
    try:
        os.sched_setaffinity(0, {choice})
    except OSError:
        yield None
        return
    _PINNED = (choice,)
    try:
        yield _PINNED
    finally:
        _PINNED = None
        os.sched_setaffinity(0, before)


# --------------------------------------------------------------------------- forms


def run_ok(form, payload: bytes, timeout_s: float | None = None):
    """One run that must succeed: a form that cannot run the input is a BenchError."""
    out = form.run(payload, timeout_s)
    if out.status != "ok":
        raise BenchError(f"{form.spec.id} could not run a {len(payload)}-byte benchmark input: {out.describe()}")
    return out


def measure_form(form, payloads: list[bytes] | bytes, policy: Policy = Policy()) -> Stats:
    """Round trips through a form (harness request to answer), cycling over the payloads."""
    payloads = [payloads] if isinstance(payloads, bytes) else payloads
    turn = [0]
    last: list = [None]

    def once():
        last[0] = run_ok(form, payloads[turn[0] % len(payloads)])
        turn[0] += 1

    stats = measure(once, policy)
    out = last[0]
    stats.extra.update({"peak_memory_kb": out.peak_memory_kb, "memory_source": out.memory_source,
                        "stdout_bytes": len(out.stdout)})
    return stats
