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


def _defines(abi: str = "WASMEDGE") -> dict[str, int]:
    text = (C_DIR / "net.h").read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(rf"#define WC_{abi}_(\w+) (\d+)", text)}


def test_net_h_uses_wasmedges_numbering():
    d = _defines()
    assert d == {"AF_INET4": sockabi.WASMEDGE["AF_INET4"], "SOCK_STREAM": sockabi.WASMEDGE["SOCK_STREAM"]}
    assert (d["AF_INET4"], d["SOCK_STREAM"]) == (1, 2)  # WasmEdge's api.hpp: INET4=1, SOCK_STREAM=2
    assert "wc_sock_open(WC_WASMEDGE_AF_INET4, WC_WASMEDGE_SOCK_STREAM" in (C_DIR / "net.h").read_text()


def test_net_h_uses_wasix_numbering_for_wasmer():
    assert _defines("WASIX") == sockabi.WASIX
    assert sockabi.WASIX == {"AF_INET4": 1, "SOCK_STREAM": 1, "PROTO_TCP": 6}  # wasmer-wasix-types' enums
    text = (C_DIR / "net.h").read_text()
    assert 'import_module("wasix_32v1")' in text
    assert "#define WC_WASIX" in (C_DIR / "net_connect_wasix.c").read_text()


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


# -- the WASI 0.2 component probe (wasi:sockets) ------------------------------------------

P2 = probe("net-connect-p2")


def test_the_wit_error_codes_are_sockabis_in_order():
    """A component's imported enum must match the host's case for case: the WIT and the
    names the judge prints come from one list."""
    from harness.probes.guests import COMPONENT_DIR

    wit = (COMPONENT_DIR / "net_p2.wit").read_text()
    body = re.search(r"enum error-code \{([^}]*)\}", wit).group(1)
    assert tuple(c.strip() for c in body.split(",") if c.strip()) == sockabi.P2_ERROR_CODES
    assert sockabi.P2_ERROR_CODES[1] == "access-denied" and sockabi.P2_ERROR_CODES[8] == "would-block"


def test_steps_name_each_socket_call():
    out = b"stdin ok\ncreate-tcp-socket error 01\nPROBE-DONE\n"
    assert sockabi.steps(out) == "stdin: ok, create-tcp-socket: access-denied"
    assert sockabi.steps(b"start-connect error 0e\n") == "start-connect: connection-refused"
    c = b"sock_open -> errno 0\nThe current package is requesting networking access.\nsock_connect (port bytes little-endian) -> errno 29\n"
    assert sockabi.steps(c) == "sock_open: errno 0, sock_connect (port bytes little-endian): errno 29"
    assert sockabi.steps(b"a -> 1\nb -> 2\nc -> 3\n", limit=2) == "a: 1, b: 2, +1 more"
    assert sockabi.steps(b"garbage\nPROBE-DONE\n") == ""


def test_a_failed_grant_control_makes_the_run_prove_nothing():
    control = runner.Run("wasmtime-cli", Outcome(exit_code=0, stdout=b"stdin ok\ncreate-tcp-socket error 02\nPROBE-DONE\n"))
    quiet = runner.Run("wasmtime-cli", Outcome(exit_code=0, stdout=b"stdin ok\ncreate-tcp-socket error 01\nPROBE-DONE\n"))
    j = runner.judge(P2, quiet, control=control, choices=())
    assert j.outcome == "inconclusive" and "with the network granted" in j.reason
    ok = runner.Run("wasmtime-cli", Outcome(exit_code=0, stdout=b"PROBE-DONE\n"), [canary.Hit("listener", "connection")])
    j = runner.judge(P2, quiet, control=ok, choices=())
    assert j.outcome == "denied" and "access-denied" in j.reason


def _runtime_or_skip(name: str):
    from harness.runtimes import RUNTIMES
    from harness.toolchain import host_arch

    rt = RUNTIMES[name]
    avail = rt.availability(host_arch())
    if not avail.available:
        pytest.skip(f"{name}: {avail.reason}")
    return rt


def _granted_and_plain(p, name: str):
    """(runtime, run with the network granted, run without) of probe p under runtime `name`."""
    from harness.probes.guests import build_guest
    from harness.runtimes import Limits

    rt = _runtime_or_skip(name)
    session = rt.open(build_guest(p, "wasm32-wasi"), Limits())
    try:
        return rt, runner.run_wasm(p, name, session, (), network=True), runner.run_wasm(p, name, session, ())
    finally:
        session.close()


def test_the_component_reaches_the_listener_only_when_the_network_is_granted():
    """For real under the wasmtime CLI: with `-S inherit-network` the component's connection
    arrives (the probe speaks wasi:sockets correctly), without it wasmtime refuses it."""
    rt, granted, plain = _granted_and_plain(P2, "wasmtime-cli")
    assert runner.judge(P2, granted, capabilities=rt.capabilities, choices=()).outcome == "escaped", granted.outcome.describe()
    assert b"probe net-connect-p2" in granted.hits[0].how.encode()
    j = runner.judge(P2, plain, capabilities=rt.capabilities, control=granted, choices=())
    assert j.outcome == "denied", (j, plain.outcome.describe())
    assert "access-denied" in j.reason


def test_wasmer_grant_reaches_the_listener_through_wasix():
    """With --net the WASIX probe's connection arrives (it speaks Wasmer's ABI); without it the
    judge gets a conclusive word, never an ABI refusal."""
    wasix = probe("net-connect-wasix")
    rt, granted, plain = _granted_and_plain(wasix, "wasmer")
    assert granted.hits, granted.outcome.describe()
    j = runner.judge(wasix, plain, capabilities=rt.capabilities, control=granted, choices=())
    assert j.outcome in ("denied", "escaped"), (j, plain.outcome.describe())
