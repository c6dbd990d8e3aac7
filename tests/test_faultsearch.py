"""The fault search behind SAFETY-1/SAFETY-4 on a fake plugin: it finds and shrinks a planted
fault, falls back to the size sweep at every profile, and says so when it found nothing."""

from hypothesis import strategies as st

from harness import faultsearch


def overflow_at(n: int):
    """A fake plugin whose record parser overflows on payloads of n bytes or more."""
    return lambda data: f"overflow at {len(data)} bytes" if len(data) >= n else None


def test_hypothesis_finds_and_shrinks_the_fault():
    s = faultsearch.find_fault(overflow_at(6), st.binary(min_size=1, max_size=64), seeds=[])
    assert s.found is not None and len(s.found) == 6 and s.found_by == "hypothesis" and s.examples_to_find


def test_size_sweep_finds_what_the_strategy_cannot_reach():
    said = []
    s = faultsearch.find_fault(overflow_at(300), st.binary(max_size=16), seeds=[b"k=v"], say=said.append)
    assert s.found is not None and s.found_by == "seeds+size-sweep+bisect" and len(s.found) == 300
    assert said and "no fault" in said[0] and any("without a fault first" in n for n in s.notes)


def test_nothing_found_is_reported_as_nothing():
    s = faultsearch.find_fault(lambda data: None, st.binary(max_size=16), seeds=[b"x"])
    assert s.found is None and s.examples > len(faultsearch.SWEEP_LENGTHS)
    assert s.details()["found_by"] is None and s.details()["minimal_input_hex"] is None
