"""An asyncio load generator for line servers (one request line in, one answer line out).

N concurrent connections each send their own list of request lines, `window` at a time
(window 1: send, wait for the answer, send the next), then half-close and read to EOF.
Every answer is checked against the expected one at its position: nothing lost, nothing
duplicated, order per connection kept, content equal. Bounded three ways: the events given,
a time limit after which no new request is sent, and a hard deadline after which every
connection is cancelled. It only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import math
import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

LOOPBACK = "127.0.0.1"
MAX_ANSWER = 4 << 20
MAX_EXAMPLES = 12
ID_RE = re.compile(rb'^\{"id":(-?\d+|null)')


class LoadgenError(ValueError):
    """A request for a load the generator will not make (e.g. a non-loopback target)."""


def answer_key(line: bytes):
    """The id an answer line names (None for an error answer or an unreadable line)."""
    m = ID_RE.match(line)
    return int(m.group(1)) if m and m.group(1) != b"null" else None


@dataclass
class LoadResult:
    connections: int
    window: int
    planned: int = 0
    sent: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    mismatched: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    connect_s: float = 0.0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    time_bound_hit: bool = False
    latencies_s: list[float] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return self.answered / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the per-request latencies, in seconds."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def clean(self) -> bool:
        """Every request sent was answered, once, in order, correctly, without errors."""
        return not (self.lost or self.duplicated or self.out_of_order or self.mismatched or self.errors)

    @property
    def client_cpu_share(self) -> float:
        """Share of one core the generator itself used: near 1.0 means the client, not the
        server, may have set the pace."""
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def problem(self, kind: str, text: str, count: int = 1) -> None:
        self.errors[kind] += count
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(text)

    def summary(self) -> dict:
        p50, p99 = self.percentile(50), self.percentile(99)
        return {"connections": self.connections, "window": self.window, "planned": self.planned, "sent": self.sent,
                "answered": self.answered, "lost": self.lost, "duplicated": self.duplicated,
                "out_of_order": self.out_of_order, "mismatched": self.mismatched, "errors": dict(self.errors),
                "examples": self.examples, "requests_per_s": round(self.requests_per_s, 1),
                "p50_ms": None if p50 is None else round(p50 * 1e3, 3), "p99_ms": None if p99 is None else round(p99 * 1e3, 3),
                "wall_s": round(self.wall_s, 3), "connect_s": round(self.connect_s, 3),
                "client_cpu_share": round(self.client_cpu_share, 3), "time_bound_hit": self.time_bound_hit}


def check_conversation(result: LoadResult, conn: int, expected: list[bytes], got: list[bytes],
                       key: Callable[[bytes], object] = answer_key) -> None:
    """Compare one connection's answers with the expected ones (for the requests it sent)."""
    want, have = Counter(key(e) for e in expected), Counter(key(g) for g in got)
    lost, extra = sum((want - have).values()), sum((have - want).values())
    result.lost += lost
    result.duplicated += extra
    common = want & have
    seq_want = [k for k in (key(e) for e in expected) if common[k] > 0]
    seq_have, seen = [], Counter()
    for k in (key(g) for g in got):
        if seen[k] < common[k]:
            seen[k] += 1
            seq_have.append(k)
    disorder = sum(a != b for a, b in zip(seq_want, seq_have))
    result.out_of_order += disorder
    wrong = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
    result.mismatched += len(wrong)
    if lost or extra or disorder or wrong:
        first = wrong[0] if wrong else None
        detail = f"; first difference at #{first}: got {got[first][:120]!r}, expected {expected[first][:120]!r}" if wrong else ""
        if len(result.examples) < MAX_EXAMPLES:
            result.examples.append(f"connection {conn}: {lost} lost, {extra} extra, {disorder} out of order, "
                                   f"{len(wrong)} differ{detail}")


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard == resource.RLIM_INFINITY else min(hard, max(needed + 64, soft)), hard))


async def _read_rest(reader: asyncio.StreamReader, timeout_s: float) -> tuple[list[bytes], bool]:
    """Lines after our half-close, until the server closes (True) or the timeout (False)."""
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(timeout_s):
            while line := await reader.readline():
                lines.append(line)
        return lines, True
    except TimeoutError:
        return lines, False


class _Gate:
    """Start line: connections arrive (connected or failed), then all go at once."""

    def __init__(self, n: int):
        self.n, self.arrived = n, 0
        self.all_arrived, self.go = asyncio.Event(), asyncio.Event()
        if n == 0:
            self.all_arrived.set()

    def arrive(self) -> None:
        self.arrived += 1
        if self.arrived >= self.n:
            self.all_arrived.set()


async def _conversation(result: LoadResult, conn: int, port: int, lines: list[bytes], expected: list[bytes],
                        gate: _Gate, stop_sending_at: list[float], read_timeout_s: float, ends: list[float]) -> None:
    got: list[bytes] = []
    sent = 0
    writer = None
    try:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, port, limit=MAX_ANSWER), read_timeout_s)
        except (OSError, TimeoutError) as exc:
            result.problem("connect", f"connection {conn}: connect failed: {exc!r}")
            return
        finally:
            gate.arrive()
        await gate.go.wait()
        while sent < len(lines) and time.perf_counter() < stop_sending_at[0]:
            batch = lines[sent:sent + result.window]
            t0 = time.perf_counter()
            writer.write(b"".join(line + b"\n" for line in batch))
            sent += len(batch)
            result.sent += len(batch)
            await writer.drain()
            for _ in batch:
                answer = await asyncio.wait_for(reader.readline(), read_timeout_s)
                if not answer:
                    result.problem("closed-early", f"connection {conn}: closed by the server after {len(got)} answers")
                    return
                result.latencies_s.append(time.perf_counter() - t0)
                result.answered += 1
                got.append(answer)
        ends.append(time.perf_counter())
        writer.write_eof()
        rest, closed = await _read_rest(reader, read_timeout_s)
        got += rest
        if not closed:
            result.problem("no-close", f"connection {conn}: the server did not close after the client's EOF")
    except TimeoutError:
        result.problem("timeout", f"connection {conn}: no answer within {read_timeout_s}s after {len(got)} answers")
    except (ConnectionError, OSError) as exc:
        result.problem("reset", f"connection {conn}: {exc!r} after {len(got)} answers")
    finally:
        check_conversation(result, conn, expected[:sent], got)
        if writer is not None:
            writer.close()


async def run_load_async(port: int, conversations: list[list[bytes]], expected: list[list[bytes]], *,
                         host: str = LOOPBACK, window: int = 1, time_limit_s: float = 30.0,
                         read_timeout_s: float = 10.0) -> LoadResult:
    """Drive one load and check every answer; see the module docstring for the bounds."""
    if host != LOOPBACK:
        raise LoadgenError(f"the load generator only targets {LOOPBACK}, not {host!r}")
    if len(expected) != len(conversations) or any(len(e) != len(c) for e, c in zip(expected, conversations)):
        raise LoadgenError("expected answers must match the conversations one for one")
    if window < 1:
        raise LoadgenError("window must be at least 1")
    _raise_fd_limit(len(conversations))
    result = LoadResult(connections=len(conversations), window=window, planned=sum(map(len, conversations)))
    gate = _Gate(len(conversations))
    stop_sending_at = [math.inf]
    ends: list[float] = []
    t_connect = time.perf_counter()
    tasks = [asyncio.create_task(_conversation(result, i, port, lines, expected[i], gate, stop_sending_at, read_timeout_s, ends))
             for i, lines in enumerate(conversations)]
    # every connection gets through connect() (or fails) before the first request goes out
    try:
        await asyncio.wait_for(gate.all_arrived.wait(), read_timeout_s + 1)
    except TimeoutError:
        result.problem("connect", f"only {gate.arrived} of {len(conversations)} connections were set up in time")
    cpu0, t0 = time.process_time(), time.perf_counter()
    result.connect_s = t0 - t_connect
    stop_sending_at[0] = t0 + time_limit_s
    gate.go.set()
    _, pending = await asyncio.wait(tasks, timeout=time_limit_s + 2 * read_timeout_s + 5)
    for t in pending:
        t.cancel()
    if pending:
        result.problem("hard-deadline", f"{len(pending)} connections still busy at the hard deadline; cancelled")
        await asyncio.wait(pending, timeout=5)
    result.client_cpu_s = time.process_time() - cpu0
    result.wall_s = (max(ends) if ends else time.perf_counter()) - t0
    result.time_bound_hit = result.sent < result.planned
    return result


def run_load(port: int, conversations: list[list[bytes]], expected: list[list[bytes]], **kwargs) -> LoadResult:
    """Synchronous entry point: one event loop per load."""
    return asyncio.run(run_load_async(port, conversations, expected, **kwargs))


def expected_answers(conversations: list[list[bytes]], reference: Callable[[bytes], bytes],
                     memo: dict | None = None) -> list[list[bytes]]:
    """The reference's answer to every request (memoised: loads repeat the same events)."""
    memo = {} if memo is None else memo
    out = []
    for lines in conversations:
        row = []
        for line in lines:
            if line not in memo:
                memo[line] = reference(line)
            row.append(memo[line])
        out.append(row)
    return out
