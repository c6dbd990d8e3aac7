"""The input strategies keep the size bounds a manifest declares."""

from hypothesis import given, settings

from harness import strategies


@settings(max_examples=50, deadline=None)
@given(strategies.pcm_s16le(min_size=100, max_size=300))
def test_pcm_stays_in_its_sample_bounds(data):
    assert 200 <= len(data) <= 601  # 100..300 samples of 2 bytes, or an odd count one byte over


@settings(max_examples=50, deadline=None)
@given(strategies.token_ids(min_size=0, max_size=24, vocab=64))
def test_tokens_stay_in_their_bounds(data):
    assert len(data) <= 24
    assert sum(b >= 64 for b in data) <= 1  # at most one id past the vocabulary, to be rejected
