"""Every installed runtime adapter does what it declares (harness.runtimes.conformance), and
the conformance check catches an adapter that declares more than it does. Adapters that are
not installed here are skipped with their reason: nothing assumes which engines exist."""

from __future__ import annotations

import pytest

from harness.runtimes import RUNTIMES, conformance
from harness.runtimes.wasmtime_cli import WasmtimeCli
from harness.toolchain import host_arch

PAIRS = [(name, check) for name, rt in RUNTIMES.items() for check in conformance.applicable(rt)]


@pytest.mark.parametrize("name,check", PAIRS, ids=[f"{n}-{c.name}" for n, c in PAIRS])
def test_declaration_matches_behaviour(name, check):
    runtime = RUNTIMES[name]
    avail = runtime.availability(host_arch())
    if not avail.available:
        pytest.skip(f"{name}: {avail.reason}")
    assert check.run(runtime) is None


@pytest.mark.parametrize("name", list(RUNTIMES))
def test_declared_capabilities_are_known(name):
    assert RUNTIMES[name].capabilities <= conformance.KNOWN


def _installed_cli() -> WasmtimeCli:
    rt = WasmtimeCli()
    avail = rt.availability(host_arch())
    if not avail.available:
        pytest.skip(f"the mis-declaring adapters wrap wasmtime-cli: {avail.reason}")
    return rt


def test_a_false_readonly_declaration_is_caught():
    """wasmtime's CLI grants every --dir writable: declaring read-only preopens must fail."""
    _installed_cli()

    class ClaimsReadonly(WasmtimeCli):
        name = "claims-readonly"
        capabilities = WasmtimeCli.capabilities | {"preopen-readonly"}

    found = conformance.mismatches(ClaimsReadonly())
    assert len(found) == 1 and found[0].startswith("preopen-readonly:"), found


def test_a_swallowed_trap_and_a_missing_limit_are_caught():
    """An adapter that loses traps (WasmEdge's old stdout mix-up), so fuel looks unenforced
    too, and declares a deadline it does not pass to the runtime fails those checks."""
    _installed_cli()

    class LosesTraps(WasmtimeCli):
        name = "loses-traps"
        capabilities = WasmtimeCli.capabilities | {"made-up"}

        def read_trap(self, outcome):
            return outcome

        def command(self, module, limits, timeout_s, arch, **kw):
            cmd = super().command(module, limits, timeout_s, arch, **kw)
            at = next(i for i, a in enumerate(cmd) if a.startswith("timeout="))
            return cmd[:at - 1] + cmd[at + 1:]  # without `-W timeout=...`

    found = conformance.mismatches(LosesTraps())
    names = sorted(f.partition(":")[0] for f in found)
    assert names == ["epoch", "fuel", "trap-seen-as-trap", "unknown capability 'made-up' (known"], found
