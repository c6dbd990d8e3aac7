"""Searching for an input that faults a plugin: the SAFETY-1 / SAFETY-4 fault search.

Hypothesis searches with the manifest's strategy widened past its declared bounds
(`strategies.defect_search`; the defect's trigger file is never read) and shrinks what it finds;
where it finds nothing, at any profile, the manifest's seeds and a size sweep with bisection
follow. A search that still finds nothing says so: the planted defect was not reached, and a
verdict resting on it is inconclusive, never "held". Kept apart from the suite so that
tests/test_faultsearch.py checks it on a fake plugin.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hypothesis import given, settings

SWEEP_LENGTHS = (96, 128, 256, 512, 1024, 2048, 4096)  # the fallback when the search finds nothing


@dataclass
class Search:
    """What one fault search did: the minimal input, and how it was found."""

    found: bytes | None = None
    reason: str = ""
    found_by: str = "hypothesis"
    examples: int = 0  # property calls in all (generation + shrinking)
    examples_to_find: int | None = None  # calls until the first failure
    notes: list[str] = field(default_factory=list)

    def details(self) -> dict:
        return {"found_by": self.found_by if self.found is not None else None, "examples": self.examples, "examples_to_find": self.examples_to_find,
                "max_examples": settings().max_examples, "database": "none (a fresh search every run)",
                "minimal_input_hex": self.found.hex() if self.found is not None else None,
                "minimal_input_bytes": len(self.found) if self.found is not None else None,
                "fault": self.reason, "notes": self.notes}


def _record(payload: bytes) -> bytes:
    return struct.pack("<H", len(payload)) + payload


def search_fault(strategy, fails) -> Search:
    """Hypothesis with the active profile's budget; `fails(data)` -> why it faults, or None.
    The last failing call is the shrunk minimum (Hypothesis replays it last)."""
    result = Search()

    @settings(database=None)
    @given(strategy)
    def prop(data: bytes):
        result.examples += 1
        why = fails(data)
        if why:
            if result.examples_to_find is None:
                result.examples_to_find = result.examples
            result.found, result.reason = data, why
        assert why is None, why

    try:
        prop()
    except Exception as exc:  # noqa: BLE001 - a failing property is the finding; anything else is a bug
        if result.found is None:
            raise
        result.notes.append(f"hypothesis: {type(exc).__name__}")
    return result


def sweep_fault(fails, seeds: list[bytes]) -> Search:
    """The fallback: the manifest's seeds, then single records of growing length (never the
    trigger file), then bisection of the length down to the smallest that still faults."""
    result = Search(found_by="seeds+size-sweep+bisect")
    for data in seeds:
        result.examples += 1
        if fails(data):
            result.found, result.reason, result.examples_to_find = data, fails(data), result.examples
            return result
    make = lambda n: _record(b"k=" + b"a" * (n - 2))  # noqa: E731
    low = 64
    for n in SWEEP_LENGTHS:
        result.examples += 1
        why = fails(make(n))
        if why:
            result.examples_to_find = result.examples
            high = n
            while high - low > 1:  # smallest faulting length in (low, high]
                mid = (low + high) // 2
                result.examples += 1
                if fails(make(mid)):
                    high = mid
                else:
                    low = mid
            result.found = make(high)
            result.reason = fails(result.found)
            return result
        low = n
    return result


def find_fault(fails, strategy, seeds: list[bytes], say=lambda msg: None) -> Search:
    """Hypothesis first; where it finds nothing (at any profile), the seeds and the size sweep."""
    found = search_fault(strategy, fails)
    if found.found is None:
        say(f"the search found no fault in {found.examples} examples; trying seeds and a size sweep")
        fallback = sweep_fault(fails, seeds)
        fallback.examples += found.examples
        fallback.notes.append(f"the Hypothesis search ran {found.examples} examples without a fault first")
        return fallback
    return found


