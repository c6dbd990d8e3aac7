"""The serving loop of an engine child (harness.runtimes.wasmtime_child,
harness.runtimes.wasmedge_capi): one JSON request a line on stdin, one JSON reply a line on
stdout; a request that raises is answered {"error"} (or {"unsupported"} for the child's own
refusals) and the server goes on. Standard library only: a child imports it by its bare name
(the child's own folder is first on sys.path), never anything else of the harness."""

from __future__ import annotations

import json
import sys


def serve(ops: dict, refusals: tuple[type[Exception], ...] = ()) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # only replies go to the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            res = ops[req["op"]](req)
        except refusals as exc:
            res = {"unsupported": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one request failed, the server goes on
            res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
        out.write(json.dumps(res) + "\n")
        out.flush()
