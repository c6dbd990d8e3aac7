"""harness.loadgen and harness.servers: the checks catch every kind of wrong answer, the
bounds hold, only 127.0.0.1 is ever targeted, and servers die at their deadline."""

from __future__ import annotations

import socketserver
import threading
import time
from contextlib import contextmanager

import pytest

from harness import loadgen, servers
from harness.forms.base import FormSpec


def _answer(line: bytes) -> bytes:
    return b'{"id":' + line.split(b":")[1] + b',"ok":true}\n'


def _convs(connections: int, per: int) -> list[list[bytes]]:
    return [[b"id:%d" % (c * per + k) for k in range(per)] for c in range(connections)]


@contextmanager
def line_server(behaviour):
    """A threaded TCP server on 127.0.0.1: behaviour(lines_iter, write) decides what it answers."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            try:
                behaviour(iter(self.rfile.readline, b""), lambda data: (self.wfile.write(data), self.wfile.flush()))
            except (BrokenPipeError, ConnectionResetError):
                pass

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _good(lines, write):
    for line in lines:
        write(_answer(line.rstrip(b"\n")))


def _run(behaviour, convs, **kwargs) -> loadgen.LoadResult:
    expected = loadgen.expected_answers(convs, _answer)
    with line_server(behaviour) as port:
        return loadgen.run_load(port, convs, expected, **kwargs)


@pytest.mark.parametrize("host", ["10.0.0.1", "localhost", "0.0.0.0", "::1", "example.invalid"])
def test_only_loopback_is_targeted(host):
    with pytest.raises(loadgen.LoadgenError, match="127.0.0.1"):
        loadgen.run_load(1, [[b"x"]], [[b"y"]], host=host)


def test_mismatched_expectations_are_refused():
    with pytest.raises(loadgen.LoadgenError):
        loadgen.run_load(1, [[b"x"], [b"y"]], [[b"y"]])


@pytest.mark.parametrize("window", [1, 4])
def test_a_correct_server_gives_a_clean_result(window):
    convs = _convs(8, 8)
    result = _run(_good, convs, window=window, time_limit_s=10, read_timeout_s=5)
    assert result.clean, result.summary()
    assert result.answered == result.sent == result.planned == 64
    assert len(result.latencies_s) == 64 and result.requests_per_s > 0
    assert 0 < result.percentile(50) <= result.percentile(99)
    assert not result.time_bound_hit


def test_wrong_answers_are_classified():
    """lost, duplicated, out of order and altered answers each counted as such."""
    expected = [_answer(b"id:%d" % i) for i in range(5)]
    cases = {
        "lost": expected[:2] + expected[3:],
        "duplicated": expected[:3] + [expected[2]] + expected[3:],
        "out_of_order": [expected[1], expected[0]] + expected[2:],
        "mismatched": expected[:4] + [b'{"id":4,"ok":false}\n'],
    }
    for kind, got in cases.items():
        result = loadgen.LoadResult(connections=1, window=1)
        loadgen.check_conversation(result, 0, expected, got)
        counts = {k: getattr(result, k) for k in cases}
        assert counts[kind] > 0, (kind, counts)
        assert not result.clean
        if kind in ("lost", "duplicated"):
            assert counts["out_of_order"] == 0, (kind, counts)
    clean = loadgen.LoadResult(connections=1, window=1)
    loadgen.check_conversation(clean, 0, expected, list(expected))
    assert clean.clean


def test_a_server_that_drops_an_answer_and_closes_is_caught():
    def drops_third(lines, write):
        for i, line in enumerate(lines):
            if i == 2:
                return  # close without answering
            write(_answer(line.rstrip(b"\n")))

    result = _run(drops_third, _convs(2, 5), read_timeout_s=5)
    assert result.errors["closed-early"] == 2 and result.lost == 2, result.summary()
    assert not result.clean


def test_a_server_that_duplicates_is_caught_after_the_half_close():
    def echoes_twice_at_the_end(lines, write):
        last = None
        for line in lines:
            last = _answer(line.rstrip(b"\n"))
            write(last)
        write(last)  # after the client's EOF: one answer too many

    result = _run(echoes_twice_at_the_end, _convs(3, 4), read_timeout_s=5)
    assert result.duplicated == 3 and not result.clean, result.summary()


def test_the_time_bound_stops_sending():
    def slow(lines, write):
        for line in lines:
            time.sleep(0.05)
            write(_answer(line.rstrip(b"\n")))

    t0 = time.perf_counter()
    result = _run(slow, _convs(2, 200), time_limit_s=0.3, read_timeout_s=5)
    assert time.perf_counter() - t0 < 5
    assert result.time_bound_hit and 0 < result.sent < result.planned
    assert result.clean, result.summary()  # what was sent was answered: unsent is not lost


def test_a_silent_server_times_out():
    def silent(lines, write):
        for _ in lines:
            time.sleep(10)

    t0 = time.perf_counter()
    result = _run(silent, _convs(2, 3), read_timeout_s=0.5)
    assert time.perf_counter() - t0 < 5
    assert result.errors["timeout"] == 2 and result.lost == 2


def test_connect_failure_is_an_error_not_a_hang():
    port = servers._free_port()  # nothing listens there
    result = loadgen.run_load(port, _convs(3, 2), loadgen.expected_answers(_convs(3, 2), _answer), read_timeout_s=2)
    assert result.errors["connect"] == 3 and result.answered == 0


def test_expected_answers_are_memoised():
    calls = []

    def ref(line):
        calls.append(line)
        return _answer(line)

    memo: dict = {}
    loadgen.expected_answers([[b"id:1", b"id:1"]], ref, memo)
    loadgen.expected_answers([[b"id:1"]], ref, memo)
    assert calls == [b"id:1"]


def test_percentile_is_nearest_rank():
    result = loadgen.LoadResult(connections=1, window=1, latencies_s=[float(i) for i in range(1, 101)])
    assert result.percentile(50) == 50.0 and result.percentile(99) == 99.0 and result.percentile(100) == 100.0
    assert loadgen.LoadResult(connections=1, window=1).percentile(50) is None


def test_answer_key_reads_ids_and_errors():
    assert loadgen.answer_key(b'{"id":17,"route":"llm"}\n') == 17
    assert loadgen.answer_key(b'{"id":null,"error":"bad-event"}\n') is None
    assert loadgen.answer_key(b"garbage") is None


# --------------------------------------------------------------------------- servers


PY_SPEC = FormSpec("python-process", "python", "cpython", servers.host_arch())


def test_a_python_server_answers_on_loopback_and_dies_at_its_deadline():
    server = servers.start(PY_SPEC, deadline_s=1.5)
    try:
        assert server.host == "127.0.0.1" and server.alive()
        assert server.memory()["peak_kb"] > 0
        assert servers._probe(server, timeout_s=2.0)
        t0 = time.perf_counter()
        while server.alive() and time.perf_counter() - t0 < 5:
            time.sleep(0.05)
        assert not server.alive(), "the server outlived its deadline"
    finally:
        server.stop()
    server.stop()  # idempotent


def test_serving_specs_follow_the_selection():
    specs = servers.serving_specs(runtimes=["wasmtime-cli"], forms=["wasm", "native"])
    assert [s.id for s in specs] == [f"native-{servers.host_arch()}", f"wasm-wasmtime-cli-{servers.host_arch()}"]


def test_runtimes_that_cannot_serve_say_why():
    with pytest.raises(servers.FormUnavailable, match="listening socket"):
        servers.start(FormSpec("wasm", "c", "wasmtime-py", servers.host_arch()), deadline_s=5)
