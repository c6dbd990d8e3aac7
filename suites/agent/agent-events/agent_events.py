"""agent-events, Python form: the reference answer for one event line, and an asyncio server.

The protocol is written down in server.c (the native and Wasm form); this module must answer
byte for byte alike. `answer(line)` is the reference the load generator checks every form
against; `python agent_events.py --listen-fd 3` (an inherited listening socket, as a process)
or `--host 0.0.0.0 --port 8000` (inside a container) serves it. Standard library only, so it
runs in a bare Python image. The tokenizer is fixtures/bpe-tokenize/main.py itself, loaded
from the folder named by --bpe (or $AGENT_EVENTS_BPE, or the repository's fixture).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import socket
import sys
from pathlib import Path

MAX_LINE = 16384  # longest request line without its "\n"; longer: "too-long", then close
MAX_ID = 2**53 - 1
ROUTES = {"message": "llm", "tool_call": "tools", "tool_result": "llm", "heartbeat": "monitor"}
KEYS = ("id", "kind", "text")
BACKLOG = 1024
_HERE = Path(__file__).resolve()
DEFAULT_BPE = _HERE.parents[3] / "fixtures" / "bpe-tokenize" if len(_HERE.parents) > 3 else Path("/wc/bpe")


SAMPLE_KINDS = ("message", "message", "tool_call", "tool_result", "heartbeat", "webhook")
SAMPLE_WORDS = ("the agent calls a tool reads its result and answers the user with a short summary of the weather "
                "search results code review ticket status deploy build failed passed retry later").split() + \
    ["café", "naïve", "Zürich", "日本語", "😀", "\u00a0", "tab\there", "quote\"d", "back\\slash"]


def sample_conversations(connections: int, per_connection: int, seed: int = 0) -> list[list[bytes]]:
    """Webhook-like request lines for a load: ids unique across connections, about half of
    the lines \\u-escaped, texts of 0..60 words."""
    rng = random.Random(seed)
    out = []
    for c in range(connections):
        row = []
        for k in range(per_connection):
            event = {"id": c * per_connection + k, "kind": rng.choice(SAMPLE_KINDS),
                     "text": " ".join(rng.choice(SAMPLE_WORDS) for _ in range(rng.randint(0, 60)))}
            row.append(json.dumps(event, ensure_ascii=rng.random() < 0.5, separators=(",", ":")).encode())
        out.append(row)
    return out


def error_line(code: str) -> bytes:
    return b'{"id":null,"error":"%s"}\n' % code.encode()


def _load_bpe(folder: Path):
    spec = importlib.util.spec_from_file_location("bpe_tokenize_main", folder / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BPE = None
_RANKS = None


def use_bpe(folder: Path) -> None:
    global _BPE, _RANKS
    _BPE = _load_bpe(folder)
    _RANKS = _BPE.load_ranks()


def tokens(data: bytes) -> list[int]:
    if _BPE is None:
        use_bpe(Path(os.environ.get("AGENT_EVENTS_BPE", DEFAULT_BPE)))
    ids: list[int] = []
    for chunk in _BPE.chunks(data):
        ids.extend(_BPE.encode_chunk(chunk, _RANKS))
    return ids


class _Invalid(Exception):
    pass


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Invalid("duplicate key")
    return dict(pairs)


def _no_constants(name):
    raise _Invalid(f"{name} is not JSON")


def parse_event(text: str) -> tuple[int, str, str]:
    """(id, kind, text) or _Invalid: exactly the three keys, an integer id, two strings that
    encode to UTF-8 (no lone surrogates)."""
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise _Invalid(str(exc)) from None
    if not isinstance(doc, dict) or sorted(doc) != sorted(KEYS):
        raise _Invalid("not an event object")
    ident, kind, body = doc["id"], doc["kind"], doc["text"]
    if type(ident) is not int or not 0 <= ident <= MAX_ID or not isinstance(kind, str) or not isinstance(body, str):
        raise _Invalid("wrong field types")
    try:
        kind.encode("utf-8")
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid("lone surrogate") from None
    return ident, kind, body


def answer(line: bytes) -> bytes:
    """The answer line for one request line (without its "\\n", at most MAX_LINE bytes)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return error_line("bad-utf8")
    try:
        ident, kind, body = parse_event(text)
    except _Invalid:
        return error_line("bad-event")
    ids = ",".join(map(str, tokens(body.encode("utf-8"))))
    return b'{"id":%d,"route":"%s","tokens":[%s]}\n' % (ident, ROUTES.get(kind, "unrouted").encode(), ids.encode())


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One line in, one answer out, in order; back-pressure through drain()."""
    try:
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # asyncio's LimitOverrunError: the line is longer than MAX_LINE
                writer.write(error_line("too-long"))
                await writer.drain()
                break
            if not raw:
                break
            writer.write(answer(raw[:-1] if raw.endswith(b"\n") else raw))
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def main_async(args: argparse.Namespace) -> None:
    if args.listen_fd is not None:
        sock = socket.socket(fileno=args.listen_fd)
        server = await asyncio.start_server(serve_connection, sock=sock, limit=MAX_LINE, backlog=BACKLOG)
    else:
        server = await asyncio.start_server(serve_connection, args.host, args.port, limit=MAX_LINE, backlog=BACKLOG)
    print(f"agent-events (python asyncio) serving on {server.sockets[0].getsockname()}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen-fd", type=int, help="an inherited listening TCP socket")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--bpe", type=Path, default=Path(os.environ.get("AGENT_EVENTS_BPE", DEFAULT_BPE)),
                        help="the bpe-tokenize fixture folder (its main.py and merges.txt)")
    args = parser.parse_args()
    use_bpe(args.bpe)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
