"""The content-key check tells a cache keyed by path, size and mtime from one keyed by content."""

from __future__ import annotations

from pathlib import Path

from harness.outcome import Outcome
from harness.probes import cachekey


class FakeEngine:
    """'Runs' a module by printing the letter in its data segment, through a cache keyed by `key`."""

    def __init__(self, key):
        self.key, self.cache = key, {}

    def open(self, path: Path):
        engine = self

        class Session:
            def run(self, stdin, timeout_s, wasi=None):
                data = path.read_bytes()
                letter = engine.cache.setdefault(engine.key(path, data), b"A" if b"A\n" in data else b"B")
                return Outcome(exit_code=0, stdout=letter + b"\n")

        return Session()


def test_same_size_modules_differ():
    a, b = cachekey.module("A"), cachekey.module("B")
    assert len(a) == len(b) and a != b


def test_a_cache_keyed_by_path_and_mtime_runs_stale_code(tmp_path):
    stale = FakeEngine(lambda p, d: (str(p), p.stat().st_size, p.stat().st_mtime_ns))
    assert cachekey.check(stale, tmp_path).outcome == "stale-code"


def test_a_cache_keyed_by_content_holds(tmp_path):
    assert cachekey.check(FakeEngine(lambda p, d: d), tmp_path).outcome == "denied"
