"""AGENT-1, robustness: malformed, oversized and half-finished input, and a client that
stops reading. In every serving form the server answers per protocol (an error line, or
closing that one connection) and keeps serving everyone else; every answer is compared with
the Python reference, so a form that parses differently is a finding, shrunk by Hypothesis.
"""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import loadgen
from harness.servers import LOOPBACK

RECV_TIMEOUT_S = 10.0
HOG_LIMIT_BYTES = 48 << 20  # a client that never reads stops sending once this much went out
TRICKY = [b"{", b"}", b"[", b"]", b'"', b"\\", b",", b":", b"0", b"-", b".", b"e", b" ", b"\t", b"\r", b"\x00",
          b"\x7f", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\\u", b"\\ud800", b"\\udc00", b"\\ud83d\\ude00",
          b"\\u00e9", b"\\x41", b"null", b"true", b"1e5", b"1.0", b"-0", b"NaN", b"Infinity", b"\xef\xbb\xbf"]


def _connect(server) -> socket.socket:
    assert server.host == LOOPBACK
    return socket.create_connection((LOOPBACK, server.port), timeout=RECV_TIMEOUT_S)


def exchange(server, payload: bytes, *, half_close: bool = True) -> tuple[list[bytes], str]:
    """Send, half-close, read to the end: (answer lines, 'eof' | 'reset' | 'timeout')."""
    with _connect(server) as s:
        try:
            s.sendall(payload)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close first (too-long): what it answered is still to be read
        data, end = b"", "eof"
        try:
            while chunk := s.recv(1 << 16):
                data += chunk
        except TimeoutError:
            end = "timeout"
        except ConnectionResetError:
            end = "reset"
    return data.splitlines(keepends=True), end


def _event(ident: int, text: str = "hello agent", kind: str = "message") -> bytes:
    return json.dumps({"id": ident, "kind": kind, "text": text}, separators=(",", ":")).encode()


def _still_serving(server, ref) -> None:
    line = _event(424242, "still serving the others?")
    answers, end = exchange(server, line + b"\n")
    assert server.alive(), f"{server.spec.id} died: {server.logs()[-600:]}"
    assert answers == [ref.answer(line)] and end == "eof", f"{server.spec.id} no longer serves: {answers!r} ({end})"


def _record(evidence, server, case: str, ok: bool, **details) -> None:
    evidence.record("agent_bad_input_contained", 1 if ok else 0, "bool", spec=server.spec, workload="agent-events",
                    outcome="contained" if ok else "not-contained", case=case, **details)


# --------------------------------------------------------------------------- malformed lines

_json_leaf = st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
_json_value = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=8)
_event_dict = st.fixed_dictionaries({"id": st.integers(0, 2**53 - 1),
                                     "kind": st.sampled_from(["message", "tool_call", "heartbeat"]) | st.text(max_size=8),
                                     "text": st.text(max_size=60)})


@st.composite
def _schema_break(draw) -> bytes:
    event = draw(_event_dict)
    how = draw(st.sampled_from(["drop", "extra", "replace", "id"]))
    if how == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif how == "extra":
        event[draw(st.text(max_size=6))] = draw(_json_value)
    elif how == "replace":
        event[draw(st.sampled_from(sorted(event)))] = draw(_json_value)
    else:
        event["id"] = draw(st.sampled_from([-1, 2**53, 2**64, 1.0, 1e5, True, "7", None, -0.0]))
    return json.dumps(event, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def _byte_mutation(draw) -> bytes:
    data = bytearray(json.dumps(draw(_event_dict), ensure_ascii=draw(st.booleans())).encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["insert", "delete", "truncate", "replace"]))
        if how == "insert":
            data[at:at] = draw(st.sampled_from(TRICKY))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 4))]
        elif how == "truncate":
            del data[at:]
        elif data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


_handmade = st.sampled_from([
    b"", b"   ", b"{}", b"[]", b"null", b'"id"', b'{"id":1,"kind":"message","text":"a","id":2}',
    b'{"id":1,"kind":"message","text":"\\ud800"}', b'{"id":1,"kind":"message","text":"\\udc00\\ud800"}',
    b'{"id":1,"kind":"message","text":"\\ud83d\\ude00"}', b'{"id":01,"kind":"message","text":"a"}',
    b'{"id":NaN,"kind":"message","text":"a"}', b'{"id":1,"kind":"message","text":"a",}',
    b'{"id":1,"kind":"message","text":"a"} {}', b'\xef\xbb\xbf{"id":1,"kind":"message","text":"a"}',
    b'{"i\\u0064":3,"kind":"message","text":"escaped key"}', b'{"id":-0,"kind":"heartbeat","text":"minus zero"}',
    b'{"id":9007199254740991,"kind":"tool_call","text":"max id"}', b'{"id":1,"kind":"message","text":"tab\there"}',
    b'{"id":1,"kind":"message","text":"a"}\r', b'\t{"id" : 1 , "kind" : "message" , "text" : "a"}\t',
    b'[' * 3000, b'{"id":1,"kind":"message","text":"nul \\u0000 inside"}',
])
malformed_lines = (_handmade | _schema_break() | _byte_mutation() | st.binary(max_size=200)).map(
    lambda b: b.replace(b"\n", b""))


@pytest.mark.claim("AGENT-1")
def test_malformed_events(agent_server, agent_reference, evidence):
    """Each malformed line travels between two good events on one connection: three answers,
    in order, equal to the reference's, then a clean close."""
    failing: list[bytes] = []
    examples = [0]

    @given(line=malformed_lines)
    def answered_like_the_reference(line: bytes):
        examples[0] += 1
        before, after = _event(1, "before"), _event(2, "after")
        answers, end = exchange(agent_server, b"\n".join([before, line, after]) + b"\n")
        want = [agent_reference.answer(x) for x in (before, line, after)]
        if answers != want or end != "eof":
            failing[:] = [line]
        assert answers == want and end == "eof", (
            f"{agent_server.spec.id} on {line[:200]!r}: answered {answers!r} ({end}), the reference {want!r}")

    answered_like_the_reference._hypothesis_internal_add_digest = f"agent-events/{agent_server.spec.id}".encode()
    try:
        answered_like_the_reference()
        _still_serving(agent_server, agent_reference)
    finally:
        _record(evidence, agent_server, "malformed-json", not failing and agent_server.alive(), examples=examples[0],
                minimal_input_hex=failing[0].hex() if failing else None)


# --------------------------------------------------------------------------- oversized lines


def _padded_event(ident: int, size: int) -> bytes:
    line = _event(ident, "")
    return _event(ident, "a" * (size - len(line)))


@pytest.mark.claim("AGENT-1")
def test_oversized_lines(agent_server, agent_reference, evidence):
    """A line of exactly MAX_LINE bytes is an event; one byte more is "too-long", after which
    the server closes that connection (and only that one)."""
    limit = agent_reference.MAX_LINE
    too_long = agent_reference.error_line("too-long")
    ok = False
    try:
        first, at_limit, over = _event(1), _padded_event(2, limit), _padded_event(3, limit + 1)
        assert len(at_limit) == limit and len(over) == limit + 1
        answers, end = exchange(agent_server, b"\n".join([first, at_limit, over, _event(4)]) + b"\n")
        assert answers == [agent_reference.answer(first), agent_reference.answer(at_limit), too_long], answers[:4]
        assert end in ("eof", "reset"), f"the connection stayed open after too-long ({end})"
        # no newline at all: a megabyte of junk
        answers, end = exchange(agent_server, b"x" * (1 << 20), half_close=False)
        assert answers == [too_long] and end in ("eof", "reset"), (answers[:2], end)
        _still_serving(agent_server, agent_reference)
        ok = True
    finally:
        _record(evidence, agent_server, "oversized-line", ok, max_line=limit)


# --------------------------------------------------------------------------- half-closed and aborted connections


@pytest.mark.claim("AGENT-1")
def test_half_closed_and_aborted(agent_server, agent_reference, evidence):
    """EOF after a last line without "\\n": that line is still an event, then a clean close.
    EOF with nothing sent: a clean close. A connection reset mid-line: the others go on."""
    ok = False
    try:
        lines = [_event(i, f"event {i}") for i in range(3)] + [_event(3, "no newline after me")]
        answers, end = exchange(agent_server, b"\n".join(lines))
        assert answers == [agent_reference.answer(x) for x in lines] and end == "eof", (answers, end)
        assert exchange(agent_server, b"") == ([], "eof")
        with _connect(agent_server) as s:
            s.sendall(b'{"id":1,"kind":"mess')
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        _still_serving(agent_server, agent_reference)
        ok = True
    finally:
        _record(evidence, agent_server, "half-closed-and-reset", ok)


# --------------------------------------------------------------------------- a client that stops reading


@pytest.mark.claim("AGENT-1")
def test_client_that_stops_reading(agent_server, agent_reference, evidence):
    """One client sends without ever reading its answers. The server must push back (its
    sends block, so the server's memory stays bounded) and serve 8 other clients meanwhile."""
    line = _event(7, " ".join(["a tool result the client will never read"] * 12)) + b"\n"
    chunk = line * 64
    sent, blocked = 0, False
    ok = False
    hog = _connect(agent_server)
    try:
        hog.settimeout(1.0)
        t0 = time.perf_counter()
        while sent < HOG_LIMIT_BYTES and time.perf_counter() - t0 < 30:
            try:
                sent += hog.send(chunk)
            except TimeoutError:
                blocked = True
                break
        before = agent_server.memory()
        convs = agent_reference.sample_conversations(8, 10, seed=99)
        expected = loadgen.expected_answers(convs, agent_reference.answer)
        result = loadgen.run_load(agent_server.port, convs, expected, time_limit_s=10.0, read_timeout_s=10.0)
        assert result.clean, f"others were not served while one client stopped reading: {result.examples[:3]}"
        assert blocked, (f"{agent_server.spec.id} took {sent >> 20} MiB from a client that reads nothing without "
                         "pushing back (no back-pressure)")
        ok = True
    finally:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        hog.close()
        _record(evidence, agent_server, "client-stops-reading", ok, hog_sent_bytes=sent, hog_blocked=blocked,
                server_memory=locals().get("before"))
    _still_serving(agent_server, agent_reference)
