"""SAFETY-2: state that outlives a run. A module overwritten in place (same size, same mtime)
must run as itself on every engine row, whatever the engine caches (harness.probes.cachekey);
a network grant given at a runtime's prompt must not reach another module written over the
same path (harness.probes.grantstate).
A row that runs the old code is recorded as an escape (code nobody gave the guest ran); under
the current wasmtime-py or the wasmtime CLI it fails the test."""

from __future__ import annotations

import pytest

from harness.probes import cachekey, grantstate, probe
from harness.probes.guests import build_guest
from harness.toolchain import BuildError, ToolMissing, host_arch

MUST_HOLD = ("wasmtime-py", "wasmtime-cli")


@pytest.mark.claim("SAFETY-2")
def test_cache_keyed_by_content(runtime, evidence, wasm_row, tmp_path):
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=cachekey.PROBE_NAME,
                  category="persistent-state", runtime_version=avail.version, engine_config="default",
                  engine_cache=cachekey.CACHING.get(runtime, "none known (the check runs anyway)"),
                  expected="a module overwritten in place with the same size and mtime runs as itself",
                  positive_control="the first run must print the first module's letter")
    if not avail.available:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=avail.reason, **common)
        pytest.skip(f"{runtime}: {avail.reason}")
    r = cachekey.check(rt, tmp_path)
    outcome = {"denied": "denied", "stale-code": "escaped", "inconclusive": "not-tested"}[r.outcome]
    evidence.record("escape", None if outcome == "not-tested" else int(outcome == "escaped"), "bool", outcome=outcome,
                    reason=r.reason, first_run=r.first, second_run=r.second, **common)
    assert not (r.outcome == "stale-code" and runtime in MUST_HOLD), f"{runtime}: {r.reason}"
    if r.outcome == "inconclusive":
        pytest.skip(f"{runtime}: {r.reason}")


@pytest.mark.claim("SAFETY-2")
def test_grant_does_not_outlive_its_module(runtime, evidence, wasm_row):
    """A network grant given at the runtime's prompt to one module must not reach another module
    written over the same path (harness.probes.grantstate; the prompt driven through a pty)."""
    rt, avail = wasm_row
    common = dict(claim="SAFETY-2", form="wasm", runtime=runtime, arch=host_arch(), probe=grantstate.PROBE_NAME,
                  category="persistent-state", runtime_version=avail.version, engine_config="default",
                  expected="a module written over a granted one's path runs without the network",
                  positive_control="the first module, granted at the prompt, reaches the listener")
    if runtime not in grantstate.PROMPTS:
        pytest.skip(f"{runtime} asks for no grant at a terminal: no stored grant to outlive a run")
    if not avail.available:
        evidence.record("escape", None, "bool", outcome="not-tested", reason=avail.reason, **common)
        pytest.skip(f"{runtime}: {avail.reason}")
    guest = probe(grantstate.GUEST)
    try:
        wasm = build_guest(guest, "wasm32-wasi")
    except (BuildError, ToolMissing) as exc:
        pytest.fail(f"{guest.name} did not build: {exc}", pytrace=False)
    r = grantstate.check(rt, wasm, guest, host_arch())
    value = None if r.outcome == "inconclusive" else int(r.outcome == "escaped")
    evidence.record("escape", value, "bool", outcome=r.outcome, reason=r.reason, control=r.control, second_run=r.second,
                    **common)
    if r.outcome == "inconclusive":
        pytest.skip(f"{runtime}: {r.reason}")
