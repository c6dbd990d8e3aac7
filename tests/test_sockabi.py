"""The network probes speak WasmEdge's own socket numbering (net.h agrees with
harness.probes.sockabi), and the judge never reads an ABI refusal (EINVAL) as 'denied'.
Where `wasmedge` is on PATH the probe runs for real against the canary listener."""

from __future__ import annotations

import re
import shutil

import pytest

from harness import canary
from harness.outcome import Outcome
from harness.probes import probe, runner, sockabi
from harness.probes.guests import C_DIR

NET = probe("net-connect-loopback")
CONTROL = runner.Run("native", Outcome(exit_code=0, stdout=b"PROBE-DONE\n"), [canary.Hit("listener", "connection")])


def _defines() -> dict[str, int]:
    text = (C_DIR / "net.h").read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define WC_WASMEDGE_(\w+) (\d+)", text)}


def test_net_h_uses_wasmedges_numbering():
    d = _defines()
    assert d == {"AF_INET4": sockabi.WASMEDGE["AF_INET4"], "SOCK_STREAM": sockabi.WASMEDGE["SOCK_STREAM"]}
    assert (d["AF_INET4"], d["SOCK_STREAM"]) == (1, 2)  # WasmEdge's api.hpp: INET4=1, SOCK_STREAM=2
    assert "wc_sock_open(WC_WASMEDGE_AF_INET4, WC_WASMEDGE_SOCK_STREAM" in (C_DIR / "net.h").read_text()


def _wasm_run(stdout: bytes, hits=()):
    return runner.Run("wasmedge", Outcome(exit_code=0, stdout=stdout), list(hits))


def test_judge_reads_an_abi_refusal_as_untested_and_a_connection_as_an_escape():
    refused = _wasm_run(b"sock_open -> errno 28\nPROBE-DONE\n")
    assert runner.judge(NET, refused, control=CONTROL).outcome == "inconclusive"
    connected = _wasm_run(b"sock_open -> errno 0\nsock_connect -> errno 0\nPROBE-DONE\n",
                          hits=[canary.Hit("listener", "1 connection: b'probe net-connect'")])
    assert runner.judge(NET, connected, control=CONTROL).outcome == "escaped"
    denied = _wasm_run(b"sock_open -> errno 76\nPROBE-DONE\n")  # ENOTCAPABLE: a real refusal
    assert runner.judge(NET, denied, control=CONTROL).outcome == "denied"


@pytest.mark.skipif(shutil.which("wasmedge") is None, reason="wasmedge is not on PATH (the real-ABI check needs it)")
def test_wasmedge_accepts_the_probes_socket_call():
    from harness.probes.guests import build_guest
    from harness.runtimes import RUNTIMES, Limits

    rt = RUNTIMES["wasmedge"]
    session = rt.open(build_guest(NET, "wasm32-wasi"), Limits())
    try:
        run = runner.run_wasm(NET, "wasmedge", session, ())
    finally:
        session.close()
    assert not sockabi.refused_for_abi(run.outcome.stdout), run.outcome.describe()
    assert runner.judge(NET, run, capabilities=rt.capabilities, control=CONTROL).outcome in ("escaped", "denied")
