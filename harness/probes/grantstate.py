"""State that outlives a run: a network grant given to one module must not reach another.

Run without `--net`, Wasmer asks at a terminal whether the module may use the network
(yes / no / always) and stores "always" in its cache (`$WASMER_DIR/cache/pkg_capabilities`).
The probe answers "always" for module A through a pseudo-terminal (pexpect), then writes a
module B with other bytes over the same path, gives the folder back its mtime, and runs B
without `--net` and without a terminal to answer. B reaching the canary listener is an
escape: a grant that nobody gave B. A's own connection is the positive control (the prompt was
answered and the guest speaks the runtime's socket ABI). Each check gets a fresh `WASMER_DIR`,
so no grant of the user's or of an earlier check takes part.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pexpect

from harness import canary as canary_mod
from harness.probes import runner
from harness.runtimes import Limits

PROBE_NAME = "grant-outlives-module"
GUEST = "net-connect-wasix"  # connects to the listener through WASIX sockets
# Rows whose CLI asks for a network grant at a terminal and can store it: where the check applies.
PROMPTS = {"wasmer": "Would you like to allow networking", "wasmer-singlepass": "Would you like to allow networking",
           "wasmer-llvm": "Would you like to allow networking"}
ANSWER = "always"


@dataclass
class Result:
    outcome: str  # denied | escaped | inconclusive
    reason: str
    control: str = ""  # what the granted run of A did
    second: str = ""  # what B did


def other_bytes(module: bytes, tag: bytes = b"wasm-claims: another module") -> bytes:
    """The same code with a custom section appended: a module with other content (and hash)."""
    name = b"wc-other"
    payload = bytes([len(name)]) + name + tag
    assert len(payload) < 128  # one-byte LEB128 size
    return module + b"\x00" + bytes([len(payload)]) + payload


def _spawn(argv: list[str], stdin: Path, env: dict, timeout_s: float, answer: str | None, prompt: str) -> tuple[str, bool]:
    """Run argv with the guest's input from the file `stdin` and a pseudo-terminal as its
    terminal (where Wasmer asks: /dev/tty when stdin is not one); answer the prompt with `answer`
    (None: end-of-file, nobody answers). Returns (transcript, whether the prompt appeared)."""
    child = pexpect.spawn("/bin/sh", ["-c", 'exec "$@" < "$0"', str(stdin), *argv], env=env, timeout=timeout_s,
                          encoding="utf-8", codec_errors="replace")
    asked = False
    try:
        i = child.expect([prompt, pexpect.EOF, pexpect.TIMEOUT])
        seen = child.before or ""
        if i == 0:
            asked = True
            if answer is None:
                child.sendeof()
            else:
                child.sendline(answer)
            child.expect([pexpect.EOF, pexpect.TIMEOUT])
            seen += prompt + (child.before or "")
        return seen, asked
    finally:
        child.close(force=True)


def check(rt, wasm: Path, probe, arch: str, timeout_s: float = 20.0) -> Result:
    """Grant A at the prompt, overwrite it with B (same path, folder mtime restored), run B ungranted."""
    prompt = PROMPTS.get(rt.name)
    if prompt is None:
        return Result("inconclusive", f"{rt.name} asks for no grant at a terminal: nothing is stored to outlive a run")
    home = Path(tempfile.mkdtemp(prefix="wc-wasmer-home-"))
    folder = Path(tempfile.mkdtemp(prefix="wc-grant-"))
    env = {**os.environ, "WASMER_DIR": str(home), "WASMER_CACHE_DIR": str(home / "cache"), "TERM": "dumb"}
    try:
        path, stdin = folder / "module.wasm", home / "stdin"
        a = wasm.read_bytes()
        path.write_bytes(a)
        folder_mtime = folder.stat().st_mtime_ns
        with canary_mod.plant() as c:
            argv = rt.command(path, Limits(), timeout_s, arch)  # no --net: the grant comes from the prompt
            stdin.write_bytes(probe.stdin(probe.examples[0] if probe.examples else (), runner.layout(c, wasm=True)))
            first, asked = _spawn(argv, stdin, env, timeout_s, ANSWER, prompt)
            hits = c.check(first.encode("utf-8", "replace"))
        control = f"prompt {'answered ' + ANSWER if asked else 'never shown'}; " + (
            "; ".join(f"{h.canary}: {h.how}" for h in hits) or f"no connection: {first[-200:]!r}")
        if not asked or not any(h.canary == "listener" for h in hits):
            return Result("inconclusive", f"positive control failed: module A, granted at the prompt, did not connect ({control})",
                          control)
        with open(path, "r+b") as f:  # module B in place of A; the folder's mtime as it was
            f.write(other_bytes(a))
        os.utime(folder, ns=(folder_mtime, folder_mtime))
        with canary_mod.plant() as c:
            stdin.write_bytes(probe.stdin(probe.examples[0] if probe.examples else (), runner.layout(c, wasm=True)))
            second, asked_again = _spawn(argv, stdin, env, timeout_s, None, prompt)
            hits = [h for h in c.check(second.encode("utf-8", "replace")) if h.canary == "listener"]
        stored = sorted(p.name for p in home.rglob("*.json"))
        said = f"B {'was asked again and got no answer' if asked_again else 'was not asked'}; stored grants: {stored or 'none'}"
        if hits:
            return Result("escaped", f"module B (other bytes at the same path, folder mtime restored) reached the listener "
                                     f"without --net: the grant given to A at the prompt applied to it ({hits[0].how}; {said})",
                          control, second[-300:])
        return Result("denied", f"module B did not reach the listener without a grant of its own ({said})", control, second[-300:])
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)

