"""Parallel (pytest-xdist) and sharded runs: the same records and verdicts as a serial run,
benchmarks alone on the machine, shards that split deterministically and merge back."""

import json
import threading
import time

import pytest

from harness import distributed, results


def test_shard_option_parses_and_refuses_nonsense():
    assert distributed.parse_shard("2/4") == (2, 4)
    for bad in ("0/3", "4/3", "a/b", "3"):
        with pytest.raises(Exception, match="I/N|between 1 and N"):
            distributed.parse_shard(bad)


def test_shards_partition_every_test_id_the_same_way_each_time():
    ids = [f"suites/smoke/test_x.py::test_y[w{i}-wasm-c-rt-x86_64]" for i in range(400)]
    parts = {n: [distributed.shard_of(i, 4) for i in ids] for n in range(2)}
    assert parts[0] == parts[1]  # deterministic
    counts = [parts[0].count(k) for k in (1, 2, 3, 4)]
    assert sum(counts) == 400 and min(counts) > 60  # every id in exactly one shard, none starved


def test_exclusive_lock_waits_for_running_tests_and_holds_new_ones_back(tmp_path):
    lock = distributed.MachineLock(tmp_path)
    events = []
    reader_in, reader_out = threading.Event(), threading.Event()

    def reader(name, hold_until=None):
        with lock.hold(False):
            events.append(f"{name} in")
            if hold_until is not None:
                reader_in.set()
                hold_until.wait(5)
            events.append(f"{name} out")

    def writer():
        with lock.hold(True):
            events.append("bench in")
            time.sleep(0.2)
            events.append("bench out")

    first = threading.Thread(target=reader, args=("t1", reader_out))
    first.start()
    reader_in.wait(5)
    bench = threading.Thread(target=writer)
    bench.start()
    time.sleep(0.2)  # the benchmark now waits for t1 at the gate it holds
    late = threading.Thread(target=reader, args=("t2",))
    late.start()
    time.sleep(0.2)
    assert events == ["t1 in"]  # neither the benchmark nor a new test started beside t1
    reader_out.set()
    for t in (first, bench, late):
        t.join(5)
    assert events == ["t1 in", "t1 out", "bench in", "bench out", "t2 in", "t2 out"]


def _rec(test, metric="m", **details):
    return {"suite": "portability", "test": test, "claim": "PORT-2", "workload": "sha256", "form": "wasm",
            "runtime": "wasmtime-cli", "arch": "x86_64", "metric": metric, "value": 1, "unit": "", "outcome": "",
            "details": details}


def test_combine_keeps_once_per_run_records_once_and_unites_transcripts():
    worker_a = [_rec("t::b", "artifact_bytes", once_per_run="artifact:x"),
                _rec("s (session)", "output_transcript", group="wasm:g", transcript={"i1": "o1"})]
    worker_b = [_rec("t::a", "artifact_bytes", once_per_run="artifact:x"), _rec("t::a", "other"),
                _rec("s (session)", "output_transcript", group="wasm:g", transcript={"i2": "o2"})]
    out = distributed.combine(worker_a + worker_b)
    assert [(r["test"], r["metric"]) for r in out] == [
        ("s (session)", "output_transcript"), ("t::a", "artifact_bytes"), ("t::a", "other")]
    assert out[0]["details"]["transcript"] == {"i1": "o1", "i2": "o2"} and out[0]["value"] == 2
    assert worker_a[1]["details"]["transcript"] == {"i1": "o1"}  # inputs are not changed


def _results(path, shard, tests, machine="box"):
    doc = results.build_results([_rec(t) for t in tests], skips=[], suites_run=["portability"],
                                meta={"started": "2026-01-01", **({"shard": shard} if shard else {})},
                                env={"machine": machine, "arch": "x86_64"})
    path.write_text(json.dumps(doc))
    return path


def test_merge_joins_shards_of_one_machine_and_refuses_overlaps(tmp_path):
    a = _results(tmp_path / "a.json", "1/2", ["t::a", "t::b"])
    b = _results(tmp_path / "b.json", "2/2", ["t::c"])
    merged = results.merge([a, b])
    assert list(merged["environment"]["machines"]) == ["box/x86_64"]
    assert sorted(r["test"] for r in merged["records"]) == ["t::a", "t::b", "t::c"]
    assert merged["run"]["shards"] == {"box/x86_64": ["1/2", "2/2"]}
    with pytest.raises(results.ResultsError, match="shard 1/2 of machine box/x86_64 appears twice"):
        results.merge([a, a])
    c = _results(tmp_path / "c.json", "2/2", ["t::b"])
    with pytest.raises(results.ResultsError, match=r"overlaps shard 1/2 in 1 test\(s\), e.g. t::b"):
        results.merge([a, c])
    whole = _results(tmp_path / "w.json", None, ["t::z"])
    with pytest.raises(results.ResultsError, match="appears twice"):
        results.merge([a, whole])
    other = _results(tmp_path / "o.json", None, ["t::a"], machine="armbox")
    assert len(results.merge([a, b, other])["environment"]["machines"]) == 2


def _comparable(doc):
    """Records as facts: timings and worker-dependent fields left out."""
    keep = ("suite", "claim", "workload", "form", "runtime", "arch", "metric", "unit")
    return sorted(json.dumps({k: r.get(k) for k in keep}, sort_keys=True) for r in doc["records"])


def _tests(doc):
    return sorted({r["test"] for r in doc["records"] if "::" in r["test"]} | {s["test"] for s in doc["skips"]})


@pytest.mark.slow
def test_parallel_run_matches_serial_run(pytester, tmp_path):
    """`-n 2` and `-n 0` on the same selection: the same tests, records and verdicts."""
    docs = {}
    for n in ("0", "2"):
        out = tmp_path / f"n{n}"
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-n", n, "--suite", "smoke", "--suite", "portability", "--only-workloads", "sha256",
            "--form", "native,wasm,python-process", "--hypothesis-profile", "wasm-claims-quick", "--hypothesis-seed", "1",
            "--report-dir", str(out), timeout=900)
        assert result.ret == 0, result.stdout.str()[-3000:]
        docs[n] = json.loads((out / "results.json").read_text())
    serial, parallel = docs["0"], docs["2"]
    assert parallel["run"]["parallel"]["workers"] == 2 and "parallel" not in serial["run"]
    assert _tests(parallel) == _tests(serial)
    assert _comparable(parallel) == _comparable(serial)
    assert {k: v for k, v in parallel["run"]["tests"].items()} == serial["run"]["tests"]
    assert [(c["id"], c["verdict"]) for c in parallel["claims"]] == [(c["id"], c["verdict"]) for c in serial["claims"]]


def test_a_harness_that_ran_emulated_marks_its_records_emulated(tmp_path):
    x86 = _results(tmp_path / "x.json", None, ["t::a"], machine="box")
    doc = json.loads(x86.read_text())
    doc["environment"] = {"machine": "box", "arch": "aarch64", "emulated": "qemu-user via binfmt_misc"}
    doc["records"][0]["arch"] = "aarch64"
    arm = tmp_path / "arm.json"
    arm.write_text(json.dumps(doc))
    merged = results.merge([x86, arm])
    flags = {(r["machine"], r["details"]["emulated"], r["details"].get("harness_emulated")) for r in merged["records"]}
    assert flags == {("box/x86_64", False, None), ("box/aarch64", True, "qemu-user via binfmt_misc")}


def test_warnings_the_suites_raise_are_importable_by_an_xdist_controller():
    """xdist re-creates a worker's warning on the controller by importing its class's module; a
    class defined in a suite module (not importable there) crashes the whole run."""
    import importlib
    import sys

    sys.path.insert(0, str(results.SUITES_DIR / "portability"))
    try:
        import port_matrix
    finally:
        sys.path.pop(0)
    category = port_matrix.PortabilityFinding
    assert getattr(importlib.import_module(category.__module__), category.__name__) is category
    assert category.__module__.startswith("harness.")
