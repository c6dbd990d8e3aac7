"""`--fuzz-budget DURATION`: a wall-clock budget for the generated probes, so a nightly job is
time-boxed the way `cargo fuzz -max_total_time` is, instead of running a fixed example count.

The budget counts from the start of the session. The generated rows (tests marked
`fuzz_budget("GENERATOR")`: difffuzz, memgen, the probes' Hypothesis draws) run after every
other selected test, so the fixed tests' time is spent first and the rest is split: each
generator gets an equal part, shared by its rows. A row's share is fixed when it starts, from
the time then left, so time a row did not use (a skip, an early end) goes to the rows after it.
A row runs Hypothesis in chunks until its share is spent; every row records what it got
(`fuzz_budget_s`, `spent_s` and its own counts) in the record's details.

Under pytest-xdist every worker plans the same rows but runs only some, side by side with the
others: a worker marks each row it starts in a folder the run's workers share, leaves the rows
started elsewhere out of what is still to come, and scales its share by the number of workers
(never past the time left), so the session as a whole spends the budget, not half of it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "fuzz_budget"
CHUNK = 50  # examples per Hypothesis run inside a slot
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `1.5h` or plain seconds -> seconds (argparse type: a bad value is one line)."""
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (examples: 90s, 30m, 1.5h)")
    return float(m.group(1)) * _UNIT[m.group(2)]


parse_duration.__name__ = "duration"


@dataclass
class Slot:
    """One row's share of the budget, from when it started."""

    name: str
    budget_s: float
    start: float

    @property
    def deadline(self) -> float:
        return self.start + self.budget_s

    def over(self) -> bool:
        return time.perf_counter() >= self.deadline

    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def details(self, **counts) -> dict:
        return {"fuzz_budget_s": round(self.budget_s, 2), "spent_s": round(time.perf_counter() - self.start, 2), **counts}


class FuzzBudget:
    """The session's budget and the generated rows still to start (nodeid -> weight)."""

    def __init__(self, total_s: float, t0: float | None = None, shared: Path | None = None, workers: int = 1):
        self.total_s = total_s
        self.t0 = time.perf_counter() if t0 is None else t0
        self.pending: dict[str, float] = {}
        self.slots: list[Slot] = []
        self.shared, self.workers = shared, max(1, workers)
        if shared is not None:
            shared.mkdir(parents=True, exist_ok=True)

    def plan(self, rows: dict[str, str]) -> None:
        """rows: nodeid -> generator. Every generator weighs the same, split among its rows."""
        per_gen: dict[str, int] = {}
        for gen in rows.values():
            per_gen[gen] = per_gen.get(gen, 0) + 1
        self.pending = {node: 1.0 / (len(per_gen) * per_gen[gen]) for node, gen in rows.items()}

    def left(self) -> float:
        return max(0.0, self.t0 + self.total_s - time.perf_counter())

    def slot(self, nodeid: str) -> Slot:
        weight = self.pending.pop(nodeid, 1.0 / max(1, len(self.pending) + 1))
        started = self._started(nodeid)
        rest = sum(w for node, w in self.pending.items() if _mark(node) not in started)
        share = min(self.left(), self.left() * self.workers * weight / (weight + rest))
        s = Slot(nodeid, share, time.perf_counter())
        self.slots.append(s)
        return s

    def _started(self, nodeid: str) -> set[str]:
        """Mark `nodeid` started for the other workers; the marks of every row started so far."""
        if self.shared is None:
            return set()
        (self.shared / _mark(nodeid)).touch()
        return {p.name for p in self.shared.iterdir()}

    def summary(self) -> dict:
        return {"budget_s": self.total_s, "spent_s": round(time.perf_counter() - self.t0, 2),
                "rows": [{"row": s.name, "budget_s": round(s.budget_s, 2)} for s in self.slots]}


def _mark(nodeid: str) -> str:
    return hashlib.sha1(nodeid.encode()).hexdigest()[:16]


class Counted:
    """Wraps a Hypothesis test body: counts the runs and, once the slot is spent, returns at
    once (the chunk then ends in milliseconds instead of running its examples); the first
    example always runs, so a row whose share is spent still tests something."""

    def __init__(self, slot: Slot | None):
        self.slot, self.ran = slot, 0

    def __call__(self, body):
        @functools.wraps(body)
        def inner(*args, **kwargs):
            if self.ran and self.slot is not None and self.slot.over():  # the first one runs: a row is never empty
                return None
            self.ran += 1
            return body(*args, **kwargs)
        return inner


def run_hypothesis(make_test, examples: int, slot: Slot | None, counted: Counted, **overrides) -> None:
    """Run `make_test()` (a fresh @given test each time, its body wrapped by `counted`, settings
    from the active profile with `overrides`): `examples` examples without a slot, else chunks
    until the slot is spent or a chunk finds no new examples (a small strategy is exhausted)."""
    from hypothesis import settings

    current = settings()
    if slot is None:
        settings(current, max_examples=examples, **overrides)(make_test())()
        return
    while True:
        before = counted.ran
        settings(current, max_examples=CHUNK, **overrides)(make_test())()
        if slot.over() or counted.ran - before < CHUNK // 2:
            break
