"""SAFETY-3's judge on recorded outcomes of every kind: a limit is credited only when the guest
ran, reached it, and the runtime's own limit stopped it."""

import pytest

from harness import limits
from harness.outcome import Outcome

CASE = {c.name: c for c in limits.CASES}
MiB = 1 << 20


def judge(name, out, report=None, *, wall_s=1.0, peak_kb=None, host_nofile=1 << 20):
    return limits.judge(CASE[name], out, report or {}, wall_s=wall_s, deadline_s=2.0, host_nofile=host_nofile,
                        peak_kb=peak_kb)


def pages(n_bytes):
    return n_bytes >> 16


@pytest.mark.parametrize("name, out, report, word", [
    # CPU: only the runtime's own deadline or fuel counts
    ("cpu-epoch", Outcome(trap="interrupt", timed_out=True), {}, "held"),
    ("cpu-fuel", Outcome(trap="out-of-fuel"), {}, "held"),
    ("cpu-fuel", Outcome(trap="interrupt", timed_out=True), {}, "inconclusive"),  # the clock, not fuel
    ("cpu-epoch", Outcome(timed_out=True, exit_code=None), {}, "limit-not-held"),  # only the harness stopped it
    ("cpu-epoch", Outcome(signal=11), {}, "host-crashed"),
    ("cpu-epoch", Outcome(exit_code=101, stderr=b"thread 'main' panicked at src/x.rs"), {}, "host-crashed"),
    ("cpu-epoch", Outcome(error="could not start the runtime"), {}, "error"),
    ("cpu-epoch", Outcome(exit_code=1, stderr=b"Error: unknown import: `wasi_snapshot_preview1::fd_write`"), {}, "inconclusive"),
    ("cpu-epoch", Outcome(trap="unreachable"), {}, "inconclusive"),
    # stack: a stack trap after the guest recursed; a trap of another kind or a deadline is not a stack limit
    ("stack", Outcome(trap="stack-overflow"), {"R": [1000]}, "held"),
    ("stack", Outcome(trap="stack-overflow"), {}, "inconclusive"),  # never reported a depth
    ("stack", Outcome(trap="memory-out-of-bounds"), {"R": [10]}, "inconclusive"),
    ("stack", Outcome(trap="interrupt", timed_out=True), {"R": [10 ** 6]}, "limit-not-held"),
    ("stack", Outcome(exit_code=0), {"R": [10], "X": [1]}, "limit-not-held"),
    # memory: refused at the limit, not at 0 MiB, not when the guest never ran
    ("memory", Outcome(exit_code=0), {"Z": [pages(48 * MiB), pages(64 * MiB)], "G": [-1]}, "held"),
    ("memory", Outcome(exit_code=0), {"Z": [1], "G": [-1]}, "inconclusive"),  # refused far below the limit
    ("memory", Outcome(exit_code=1, stderr=b"failed to compile"), {}, "inconclusive"),  # the guest never ran
    ("memory", Outcome(exit_code=0), {"Z": [pages(80 * MiB)], "G": [-1]}, "limit-not-held"),
    # open files: the host's RLIMIT_NOFILE is not the runtime's limit
    ("open-files", Outcome(exit_code=0, stdout=b"PROBE-DONE"), {"OPENED": ["100 stop=EMFILE"]}, "held"),
    ("open-files", Outcome(exit_code=0), {"OPENED": ["100000 stop=max"]}, "limit-not-held"),
    ("open-files", Outcome(exit_code=0), {}, "inconclusive"),
    # random-huge: filled, refused or ended, as long as the guest got there and the host survived
    ("random-huge", Outcome(exit_code=0, stdout=b"RESULT errno=0 n=0\nPROBE-DONE"), {"RESULT": ["errno=0"]}, "held"),
    ("random-huge", Outcome(trap="unreachable"), {}, "inconclusive"),
    # wasmtime-py reports a host call that ended the guest as its error text: the runtime's refusal, not ours
    ("random-huge", Outcome(exit_code=1, error="wasmtime: error while executing at wasm backtrace:\n 0: 0x1 - f\n\n"
                            "Caused by:\n    requested len 268435456 exceeds limit"), {}, "held"),
])
def test_limit_words(name, out, report, word):
    v = judge(name, out, report)
    assert v.word == word, v
    assert v.held == {"held": 1, "limit-not-held": 0, "host-crashed": 0}.get(word), v
    assert v.reason


def test_host_rlimit_refusal_is_not_the_runtime_s():
    v = judge("open-files", Outcome(exit_code=0), {"OPENED": ["1000 stop=EMFILE"]}, host_nofile=1024)
    assert v.word == "inconclusive" and "RLIMIT_NOFILE" in v.reason


def test_late_or_costly_stop_is_not_credited():
    stopped = Outcome(trap="stack-overflow")
    assert judge("stack", stopped, {"R": [5]}, wall_s=60.0).word == "limit-not-held"
    assert judge("stack", stopped, {"R": [5]}, peak_kb=4 << 20).word == "limit-not-held"


def test_preopens_not_granted_is_not_tested():
    v = judge("open-files", Outcome(exit_code=0, extra={"preopens_not_granted": "a folder"}))
    assert v.word == "not-tested" and v.held is None
