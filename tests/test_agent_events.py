"""The agent-events reference (suites/agent/agent-events/agent_events.py): the protocol's
answers, which every serving form is checked against, on hand-picked lines."""

from __future__ import annotations

import json

import pytest

from harness import servers


@pytest.fixture(scope="module")
def ae():
    return servers.python_reference("agent_events_under_test")


def test_an_event_is_routed_and_tokenized_like_bpe_tokenize(ae):
    bpe = ae._BPE
    ranks = bpe.load_ranks()
    text = "the agent calls a tool"
    want = [t for chunk in bpe.chunks(text.encode()) for t in bpe.encode_chunk(chunk, ranks)]
    line = json.dumps({"kind": "tool_call", "text": text, "id": 12}).encode()
    assert ae.answer(line) == b'{"id":12,"route":"tools","tokens":[%s]}\n' % ",".join(map(str, want)).encode()


@pytest.mark.parametrize("kind,route", [("message", "llm"), ("tool_result", "llm"), ("heartbeat", "monitor"),
                                        ("webhook", "unrouted"), ("message\u0000", "unrouted")])
def test_routes(ae, kind, route):
    answer = json.loads(ae.answer(json.dumps({"id": 1, "kind": kind, "text": ""}).encode()))
    assert answer == {"id": 1, "route": route, "tokens": []}


@pytest.mark.parametrize("line", [
    b"", b"{}", b"[1]", b'{"id":1,"kind":"m"}', b'{"id":1,"kind":"m","text":"t","x":0}',
    b'{"id":1,"kind":"m","text":"t","id":1}', b'{"id":true,"kind":"m","text":"t"}', b'{"id":1.0,"kind":"m","text":"t"}',
    b'{"id":-1,"kind":"m","text":"t"}', b'{"id":9007199254740992,"kind":"m","text":"t"}', b'{"id":NaN,"kind":"m","text":"t"}',
    b'{"id":"1","kind":"m","text":"t"}', b'{"id":1,"kind":"m","text":"\\ud800"}', b'{"id":1,"kind":"\\udc00","text":"t"}',
    b'{"id":1,"kind":"m","text":5}', b'{"id":1,"kind":"m","text":"t"} x',
])
def test_bad_events(ae, line):
    assert ae.answer(line) == b'{"id":null,"error":"bad-event"}\n'


@pytest.mark.parametrize("line", [b"\xff", b'{"id":1,"kind":"m","text":"\xed\xa0\x80"}', b"\xc3"])
def test_bad_utf8(ae, line):
    assert ae.answer(line) == b'{"id":null,"error":"bad-utf8"}\n'


@pytest.mark.parametrize("line,ident", [(b'{"id":-0,"kind":"m","text":""}', 0), (b' {"i\\u0064":7,"kind":"m","text":""}\r', 7),
                                        (b'{"id":9007199254740991,"kind":"m","text":"\\ud83d\\ude00"}', 2**53 - 1)])
def test_edge_cases_that_are_events(ae, line, ident):
    assert json.loads(ae.answer(line))["id"] == ident


def test_sample_conversations_are_deterministic_valid_and_unique(ae):
    a, b = ae.sample_conversations(4, 5, seed=3), ae.sample_conversations(4, 5, seed=3)
    assert a == b and len(a) == 4 and all(len(row) == 5 for row in a)
    answers = [json.loads(ae.answer(line)) for row in a for line in row]
    assert sorted(x["id"] for x in answers) == list(range(20))
