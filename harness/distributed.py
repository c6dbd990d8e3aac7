"""Parallel and sharded runs: pytest-xdist workers hand their records to the controller, tests
that time things get the machine to themselves, and `--shard I/N` splits a selection.

- Workers measure; only the controller writes results. A worker puts its records into
  xdist's `workeroutput`; the controller adds them when the worker goes down. Counts and skip
  reasons need nothing extra: xdist replays every test report on the controller, and each
  report carries its claims in `user_properties` (set at collection).
- Benchmarks, load tests and cold starts must not share the CPU with other tests. Each test
  holds a machine-wide lock while it runs: shared for ordinary tests, exclusive for those
  (writer-preferring, so an exclusive test waits only for the tests already running and no
  new one starts beside it). Serial runs skip the lock.
- A session-level record that each worker may emit (an artifact seen once per run, a
  portability transcript grown by many tests) is combined so that `-n N` and `-n 0` give the
  same records.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import tempfile
import time
from pathlib import Path

import pytest

# Suites whose every test times something; elsewhere mark a test with @pytest.mark.exclusive.
EXCLUSIVE_SUITES = ("performance", "agent")
CLAIMS_PROPERTY = "wasm_claims"
ROW_PROPERTY = "wasm_claims_row"  # the runtime or form a test gives evidence for (skips and failures name it)
WORKER_KEY = "wasm_claims_records"
SESSION_START_KEY = "wasm_claims_session_start"  # the controller's time.time() at configure
# A record whose details carry ONCE_KEY is kept once per run (the first by test id).
ONCE_KEY = "once_per_run"
# output_transcript records of one row are united (their transcripts merged) across workers.
UNION_METRIC = "output_transcript"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


def worker_count(config: pytest.Config) -> int:
    return int(getattr(config.option, "numprocesses", 0) or 0) if is_controller(config) else 0


def parse_shard(value: str) -> tuple[int, int]:
    """`I/N` with 1 <= I <= N: run the I-th of N deterministic parts of the selection."""
    import argparse

    try:
        index, total = (int(x) for x in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not I/N (e.g. 2/4)") from None
    if not 1 <= index <= total:
        raise argparse.ArgumentTypeError(f"{value!r}: I must be between 1 and N")
    return index, total


def shard_of(nodeid: str, total: int) -> int:
    """1-based shard of a test id: a hash of the id alone, so a test lands in the same shard on
    every machine and whatever else was collected."""
    return int(hashlib.sha256(nodeid.encode()).hexdigest()[:12], 16) % total + 1


def exclusive(item: pytest.Item) -> bool:
    if item.get_closest_marker("exclusive") is not None:
        return True
    parts = Path(str(item.path)).parts
    return "suites" in parts and parts[parts.index("suites") + 1] in EXCLUSIVE_SUITES


class MachineLock:
    """A readers-writer lock across processes from two flock'ed files: `gate` queues an
    exclusive taker ahead of new shared ones, `room` is held shared by running tests and
    exclusively by a test that needs the machine alone."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.gate, self.room = directory / "gate", directory / "room"

    @contextlib.contextmanager
    def hold(self, exclusive_use: bool):
        with open(self.gate, "a") as gate, open(self.room, "a") as room:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(room, fcntl.LOCK_EX if exclusive_use else fcntl.LOCK_SH)
            finally:
                if not exclusive_use:
                    fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(room, fcntl.LOCK_UN)
                fcntl.flock(gate, fcntl.LOCK_UN)


def shared_budget(config: pytest.Config) -> dict:
    """In an xdist worker, what --fuzz-budget shares with the run's other workers (see budget)."""
    if not is_worker(config):
        return {}
    run = config.workerinput.get("testrunuid", "run")
    started = config.workerinput.get(SESSION_START_KEY)  # the controller's: workers start later
    return {"shared": Path(tempfile.gettempdir()) / f"wasm-claims-budget-{run}",
            "workers": int(config.workerinput.get("workercount", 1)),
            **({"t0": time.perf_counter() - (time.time() - started)} if started else {})}


class Distributed:
    """The plugin half that runs in xdist workers, the controller, and sharded runs."""

    def __init__(self, config: pytest.Config, records: list[dict]):
        self.config, self.records = config, records
        self.exclusive_tests = 0
        self.started = time.time()
        self.lock = None
        if is_worker(config):
            run = config.workerinput.get("testrunuid", "run")
            self.lock = MachineLock(Path(tempfile.gettempdir()) / f"wasm-claims-lock-{run}")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        shard = config.getoption("shard")
        if shard is None:
            return
        index, total = shard
        keep = [i for i in items if shard_of(i.nodeid, total) == index]
        dropped = [i for i in items if shard_of(i.nodeid, total) != index]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        if self.lock is None:
            return (yield)
        alone = exclusive(item)
        self.exclusive_tests += alone
        with self.lock.hold(alone):
            return (yield)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if is_worker(self.config):
            self.config.workeroutput[WORKER_KEY] = json.dumps(
                {"records": self.records, "exclusive_tests": self.exclusive_tests}, default=str)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """Each worker learns when the session started (for --fuzz-budget's clock)."""
        node.workerinput[SESSION_START_KEY] = self.started

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """A worker finished (or crashed: its records are lost, its tests' reports are not)."""
        data = json.loads(getattr(node, "workeroutput", {}).get(WORKER_KEY, "{}") or "{}")
        self.records.extend(data.get("records", []))
        self.exclusive_tests += data.get("exclusive_tests", 0)

    def run_metadata(self) -> dict:
        """What the report says about how the run was split."""
        meta = {}
        shard = self.config.getoption("shard")
        if shard:
            meta["shard"] = f"{shard[0]}/{shard[1]}"
        workers = worker_count(self.config)
        if workers:
            meta["parallel"] = {
                "workers": workers, "dist": self.config.getoption("dist"),
                "exclusive_tests": self.exclusive_tests,
                "isolation": (f"tests of the {' and '.join(EXCLUSIVE_SUITES)} suites and tests marked exclusive held a "
                              "machine-wide exclusive lock: no other test ran while they measured"),
            }
        return meta


def combine(records: list[dict]) -> list[dict]:
    """Records from several workers (or shards of one machine) as one serial run would have them: once-per-run records kept
    once, a portability row's transcript parts united, stable order (by test id)."""
    out, seen, rows = [], set(), {}
    for rec in sorted(records, key=lambda r: str(r.get("test"))):
        details = rec.get("details") or {}
        once = details.get(ONCE_KEY)
        if once is not None:
            if (rec.get("machine"), once) in seen:
                continue
            seen.add((rec.get("machine"), once))
        if rec.get("metric") == UNION_METRIC:
            key = tuple(rec.get(k) for k in ("machine", "workload", "form", "runtime", "arch")) + (details.get("group"),)
            if key in rows:
                kept = rows[key]
                kept["details"]["transcript"].update(details.get("transcript") or {})
                kept["value"] = len(kept["details"]["transcript"])
                continue
            rec = {**rec, "details": {**details, "transcript": dict(details.get("transcript") or {})}}
            rows[key] = rec
        out.append(rec)
    return out


def addoption(group) -> None:
    group.addoption("--shard", type=parse_shard, default=None, metavar="I/N",
                    help="run only the I-th of N deterministic parts of the selection (CI matrices; "
                         "`wasm-claims merge` joins the shards' results.json)")


def register(config: pytest.Config, records: list[dict]) -> Distributed:
    config.addinivalue_line("markers", "exclusive: the test times something; under pytest-xdist no other test runs beside it")
    plugin = Distributed(config, records)
    config.pluginmanager.register(plugin, "wasm-claims-distributed")
    return plugin
