"""AGENT-1 under load: the agent-events server in every serving form at 1..512 concurrent
connections, every answer checked against the Python reference.

Per form x concurrency: a fresh server (so its memory peak belongs to that level), `repeats`
loads of the same events, requests/s and p50/p99 latency (median and spread of the repeats),
the serving process's peak memory and what each connection added to it. Then, per level,
the deciding ratio: Python's time per request over Wasm's (the wall time of a load over the
requests it answered; > 1: Wasm serves more at that concurrency), for each Python form
(process, container) against each Wasm runtime that could serve; the p99 latency and peak
memory ratios are recorded beside it, and native against Python for context.
"""

from __future__ import annotations

import statistics

import pytest

from harness import loadgen
from harness.forms.base import FormSpec

# (form id, concurrency) -> the measured figures, for the ratio tests below
MEASURED: dict[tuple[str, int], dict] = {}
_EXPECTED_MEMO: dict = {}
CLIENT_BOUND_SHARE = 0.9


def _spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "repeats": len(values)}


def _load_once(server, convs, expected, shape) -> loadgen.LoadResult:
    return loadgen.run_load(server.port, convs, expected, window=1, time_limit_s=shape["time_limit_s"],
                            read_timeout_s=10.0)


@pytest.mark.claim("AGENT-1")
def test_load(serving_spec: FormSpec, concurrency: int, start_server, agent_reference, evidence, load_shape, say):
    shape = load_shape
    per_connection = max(shape["min_per_connection"], shape["events"] // concurrency)
    convs = agent_reference.sample_conversations(concurrency, per_connection, seed=concurrency)
    expected = loadgen.expected_answers(convs, agent_reference.answer, _EXPECTED_MEMO)
    deadline = shape["repeats"] * (shape["time_limit_s"] + 30) + 60
    server = start_server(serving_spec, deadline_s=deadline)
    idle = server.memory()
    runs = [_load_once(server, convs, expected, shape) for _ in range(shape["repeats"])]
    mem = server.memory()
    alive = server.alive()
    logs = "" if alive else server.logs()
    server.stop()

    where = dict(spec=serving_spec, workload="agent-events")
    common = {"connections": concurrency, "events_per_connection": per_connection, "window": 1,
              "server": {k: v for k, v in server.details.items() if k != "artifact"},
              "module_sha256": server.details.get("artifact", {}).get("sha256")}
    rps = _spread([r.requests_per_s for r in runs])
    p50 = _spread([r.percentile(50) * 1e3 for r in runs if r.latencies_s])
    p99 = _spread([r.percentile(99) * 1e3 for r in runs if r.latencies_s])
    client_share = max(r.client_cpu_share for r in runs)
    errors = sum(sum(r.errors.values()) + r.lost + r.duplicated + r.out_of_order + r.mismatched for r in runs)
    outcome = "ok" if errors == 0 and alive else "errors"
    evidence.record("requests_per_s", rps["median"], "req/s", **where, outcome=outcome, **common, **rps,
                    client_cpu_share=round(client_share, 3), client_bound=client_share >= CLIENT_BOUND_SHARE,
                    runs=[r.summary() | {"examples": r.examples[:3]} for r in runs])
    for metric, figures in (("latency_p50_ms", p50), ("latency_p99_ms", p99)):
        if figures:
            evidence.record(metric, figures["median"], "ms", **where, outcome=outcome, **common, **figures)
    evidence.record("load_errors", errors, "count", **where, outcome=outcome, **common,
                    examples=[e for r in runs for e in r.examples][:8])
    peak = mem.get("peak_kb")
    if peak:
        base = idle.get("rss_kb") or 0
        # per connection: (peak - resident before the first load) / connections; at 1 connection
        # this is mostly the first requests' warm-up, not the connection itself
        evidence.record("peak_rss_kb", peak, "KiB", **where, source=mem["source"], idle_kb=base,
                        per_connection_kb=round(max(0, peak - base) / concurrency, 2), **common)
    per_request = {"median": 1e3 / rps["median"], "min": 1e3 / rps["max"], "max": 1e3 / rps["min"],
                   "repeats": rps["repeats"]} if rps["min"] > 0 else None
    MEASURED[(serving_spec.id, concurrency)] = {"spec": serving_spec, "rps": rps, "p50_ms": p50, "p99_ms": p99,
                                                "ms_per_request": per_request,
                                                "clean": errors == 0 and alive, "client_share": client_share,
                                                "peak_kib": {"median": peak, "min": peak, "max": peak, "repeats": 1}
                                                if peak else None}
    say(f"agent {serving_spec.id} c={concurrency}: {rps['median']:.0f} req/s, p50 {(p50 or {}).get('median')} ms, "
        f"p99 {(p99 or {}).get('median')} ms, peak {peak} KiB, {errors} errors")
    assert alive, f"{serving_spec.id} died under load: {logs[-800:]}"
    assert errors == 0, f"{serving_spec.id} at {concurrency} connections: " + "; ".join(
        e for r in runs for e in r.examples[:4])


def _side(m: dict, metric: str, unit: str) -> dict:
    spec = m["spec"]
    return {"form": spec.form, "runtime": spec.runtime, "arch": spec.arch, "unit": unit, **m[metric]}


def _ratio(num: dict, den: dict) -> tuple[float, float, float]:
    """median ratio, and its spread from the repeats' extremes."""
    return num["median"] / den["median"], num["min"] / den["max"], num["max"] / den["min"]


@pytest.mark.claim("AGENT-1")
def test_python_over_wasm(concurrency: int, evidence):
    """The deciding ratio per level: Python's time per request over Wasm's (= Wasm's requests/s
    over Python's; > 1: Wasm serves more), with the p99 latency and peak memory ratios beside it."""
    here = [m for (fid, c), m in MEASURED.items() if c == concurrency]
    pythons = [m for m in here if m["spec"].form in ("python-process", "container")]
    compiled = [m for m in here if m["spec"].form in ("wasm", "native")]
    if not pythons or not any(m["spec"].form == "wasm" for m in compiled):
        pytest.skip(f"no Python and Wasm load results at {concurrency} connections "
                    f"(measured: {', '.join(m['spec'].id for m in here) or 'none'})")
    for py in pythons:
        for other in compiled:
            name = other["spec"].form
            common = dict(spec=other["spec"], workload="agent-events",
                          outcome="ok" if py["clean"] and other["clean"] else "inconclusive", connections=concurrency,
                          python_form=py["spec"].form,
                          client_bound=max(py["client_share"], other["client_share"]) >= CLIENT_BOUND_SHARE)
            for metric, key, unit in ((f"python_over_{name}_time_per_request", "ms_per_request", "ms"),
                                      (f"python_over_{name}_p99_latency", "p99_ms", "ms"),
                                      (f"python_over_{name}_peak_memory", "peak_kib", "KiB")):
                if py[key] is None or other[key] is None:
                    continue
                ratio, low, high = _ratio(py[key], other[key])
                evidence.record(metric, ratio, "x", **common, min=low, max=high,
                                numerator=_side(py, key, unit), denominator=_side(other, key, unit))
