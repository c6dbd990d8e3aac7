"""The stored-grant probe on a stand-in CLI that asks at the terminal like Wasmer 7.4.2 does and
stores "always" keyed by the module's path and its folder's mtime (the flaw) or by its content:
the probe must see the first as an escape and the second as denied, driving the prompt through
a pseudo-terminal."""

import hashlib
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from harness.probes import grantstate, probe

FAKE = textwrap.dedent('''
    import hashlib, json, os, socket, sys
    module, key_by = sys.argv[1], sys.argv[2]
    params = dict(line.split("=", 1) for line in sys.stdin.read().split())
    port = int(bytes.fromhex(params["port"]).decode())
    home = os.environ["WASMER_DIR"]
    if key_by == "path":
        key = module + str(os.stat(os.path.dirname(module)).st_mtime_ns // 1_000_000)
    else:
        key = open(module, "rb").read().hex()
    store = os.path.join(home, "grant-" + hashlib.sha256(key.encode()).hexdigest() + ".json")
    allowed = os.path.exists(store)
    if not allowed:
        out, tty = open("/dev/tty", "w"), open("/dev/tty")
        out.write("Would you like to allow networking for this package? [options: yes/no/always]\\n"); out.flush()
        answer = tty.readline().strip()
        allowed = answer.startswith(("y", "a"))
        if answer.startswith("a"):
            json.dump({"enable_networking": True}, open(store, "w"))
    if allowed:
        socket.create_connection(("127.0.0.1", port)).sendall(b"guest")
    print("PROBE-DONE")
''')


class FakeWasmer:
    name = "wasmer"

    def __init__(self, script: Path, key_by: str):
        self.script, self.key_by = script, key_by

    def command(self, module, limits, timeout_s, arch, wasi=None):
        return [sys.executable, str(self.script), str(module), self.key_by]


@pytest.mark.parametrize("key_by, outcome", [("path", "escaped"), ("content", "denied")])
def test_grant_keyed_by_path_reaches_the_next_module(tmp_path, key_by, outcome):
    script = tmp_path / "fake_wasmer.py"
    script.write_text(FAKE)
    wasm = tmp_path / "guest.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0")
    r = grantstate.check(FakeWasmer(script, key_by), wasm, probe(grantstate.GUEST), "x86_64", timeout_s=20)
    assert r.outcome == outcome, r
    assert "answered always" in r.control and "listener" in r.control


def test_rows_without_a_prompt_are_not_checked(tmp_path):
    class Other(FakeWasmer):
        name = "wasmtime-cli"

    r = grantstate.check(Other(tmp_path, "path"), tmp_path / "x.wasm", probe(grantstate.GUEST), "x86_64")
    assert r.outcome == "inconclusive" and "asks for no grant" in r.reason


def test_other_bytes_is_another_valid_module():
    import wasmtime

    a = wasmtime.wat2wasm("(module)")
    b = grantstate.other_bytes(a)
    assert b != a and hashlib.sha256(a).digest() != hashlib.sha256(b).digest()
    wasmtime.Module(wasmtime.Engine(), b)  # still valid: a custom section
