"""The portability suite's helpers (suites/portability/port_matrix.py), without qemu: outcome
fingerprints, the shrinking search, the suite's own workloads, and the rows it compares."""

import dataclasses
import sys
from pathlib import Path

import pytest

from harness.outcome import Outcome
from harness.workload import InputSpec, discover

SUITE = Path(__file__).resolve().parent.parent / "suites" / "portability"
sys.path.insert(0, str(SUITE))
import port_matrix  # noqa: E402


def test_fingerprint_compares_stdout_status_and_signal():
    ok = Outcome(stdout=b"a", exit_code=0)
    assert port_matrix.difference(ok, Outcome(stdout=b"a", exit_code=0, stderr=b"other runtime noise")) is None
    assert "stdout differs" in port_matrix.difference(ok, Outcome(stdout=b"b", exit_code=0))
    assert port_matrix.difference(Outcome(exit_code=2), Outcome(exit_code=3)) is not None
    segv, abrt = Outcome(signal=11), Outcome(signal=6)
    assert port_matrix.difference(segv, Outcome(signal=11)) is None
    assert "signal=SIGABRT" in port_matrix.difference(segv, abrt)
    # A trap is the same answer whatever exit code the runtime's CLI turns it into.
    assert port_matrix.difference(Outcome(trap="unreachable"), Outcome(trap="unreachable", exit_code=134)) is None
    assert port_matrix.digest(ok) == port_matrix.digest(Outcome(stdout=b"a", exit_code=0))


def test_checked_turns_a_run_that_never_started_into_a_harness_problem():
    with pytest.raises(port_matrix.HarnessProblem, match="could not run"):
        port_matrix.checked(Outcome(error="could not start x: Exec format error"), "native-aarch64")


def _sha256():
    return next(w for w in discover([]) if w.name == "sha256")


def _pair(marker: bytes, *, field: bytes = b"token"):
    """A fake pair of runs: the outputs differ (in `field`) when the input contains `marker`."""
    def pair(data):
        bad = marker in data
        return Outcome(stdout=field + b" 1\n", exit_code=0), Outcome(stdout=field + (b" 2\n" if bad else b" 1\n"), exit_code=0)
    return pair


def test_search_shrinks_a_seed_that_differs_to_a_minimal_input():
    search = port_matrix.Search(_sha256(), "tests/portability/shrink")
    [finding] = search.run(_pair(b"\x07"))  # a seed (blocks.bin) has 0x07: delta debugging shrinks it
    assert finding.data == b"\x07" and finding.signature == "field token"
    assert finding.details()["minimal_input_hex"] == "07" and search.examples >= 1


def _no_seeds():
    return dataclasses.replace(_sha256(), input=InputSpec("bytes", 0, 64))


def test_search_shrinks_a_generated_input_with_hypothesis():
    def pair(data):
        return Outcome(exit_code=0), Outcome(exit_code=0 if sum(data) < 300 else 1)

    [finding] = port_matrix.Search(_no_seeds(), "tests/portability/gen").run(pair)
    assert len(finding.data) == 2 and sum(finding.data) == 300 and finding.signature == "status ok->rejected"


def test_search_reports_each_kind_of_difference():
    def pair(data):
        hash_differs = len(data) >= 2 and data[0] > data[1]
        e = Outcome(stdout=b"hash 1\nchars 1\n", exit_code=0)
        a = Outcome(stdout=b"hash " + (b"2" if hash_differs else b"1") + b"\nchars " + (b"9" if data else b"1") + b"\n",
                    exit_code=0)
        return e, a

    findings = port_matrix.Search(_no_seeds(), "tests/portability/kinds").run(pair, kinds=4)
    assert sorted(f.signature for f in findings) == ["field chars", "field hash"]
    details = port_matrix.findings_details(findings)
    assert details["minimal_input_hex"] == findings[0].data.hex() and len(details["findings"]) == 2


def test_signature_tells_status_token_and_field_apart():
    ok = Outcome(stdout=b"fff8 0001 -nan\n", exit_code=0)
    assert port_matrix.signature(ok, Outcome(stdout=b"fff8 0002 -nan\n", exit_code=0)) == "token 1"
    assert port_matrix.signature(ok, Outcome(signal=11)) == "status ok->crashed"
    assert port_matrix.signature(Outcome(stdout=b"words 1\n", exit_code=0), Outcome(stdout=b"words 2\n", exit_code=0)) == "field words"


def test_search_without_difference_returns_nothing_and_sees_the_seeds():
    w = _sha256()
    search = port_matrix.Search(w, "tests/portability/none")
    assert search.run(lambda data: (Outcome(exit_code=0), Outcome(exit_code=0)), kinds=3) == []
    assert set(w.seed_inputs()) <= set(search.seen)


def test_search_lets_harness_problems_through():
    def broken(data):
        raise port_matrix.HarnessProblem("qemu vanished")

    with pytest.raises(port_matrix.HarnessProblem):
        port_matrix.Search(_sha256(), "tests/portability/problem").run(broken)


def test_suite_workloads_are_valid_and_not_fixtures():
    names = {w.name for w in port_matrix.suite_workloads()}
    assert {"data-model", "float-edge"} <= names
    assert not names & {w.name for w in discover([])}
    [dm] = port_matrix.suite_workloads(("data-model",))
    assert "unsigned long" in dm.sources["c"].read_text() and dm.input.seeds


def test_artifact_details_name_triple_compiler_and_hash():
    class FakeForm:
        details = {"artifact": {"target": "aarch64-linux", "compiler": "zig cc", "compiler_version": "0.13.0",
                                "flags": ("-O2",), "sha256": "ab" * 32, "size": 1234, "language": "c"}}

    d = port_matrix.artifact_details(FakeForm())
    assert d["triple"] == "aarch64-linux-musl" and d["sha256"] == "ab" * 32 and d["size"] == 1234
    assert d["compiler"] == "zig cc" and d["compiler_version"] == "0.13.0"


def test_foreign_wasmtime_without_its_shared_libraries_is_unavailable_with_the_fix(tmp_path, monkeypatch):
    """The aarch64 wasmtime CLI is dynamically linked: under qemu without the cross libraries
    it must be 'not available' (a skip with the fix), never a row of failed runs."""
    from harness import arch as arch_mod
    from harness.runtimes import RUNTIMES

    cli = RUNTIMES["wasmtime-cli"]
    if not arch_mod.support("aarch64").emulated or not arch_mod.support("aarch64").available or cli.program("aarch64") is None:
        pytest.skip("needs qemu-aarch64 and the cached aarch64 wasmtime CLI (wasm-claims runtime fetch wasmtime --arch aarch64)")
    monkeypatch.setitem(arch_mod.CROSS_PREFIX, "aarch64", str(tmp_path))  # an empty library prefix
    av = cli.availability("aarch64")
    assert not av.available and "does not run here" in av.reason and "libgcc-s1-arm64-cross" in av.reason
