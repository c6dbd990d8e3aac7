"""One way for a generated probe to call its function with arguments on any engine row
(memgen, simdgen and tablegen all go through it), so every generator reaches every row.

wasmtime-py rows answer in their child host, which passes arguments and reads results as
bits (the generator's own child request: canaries, knobs, store limits). A command-line
engine (wasmtime CLI, node, WasmEdge, Wasmer, wasmi) can call only exports that take no
arguments and return one value, so `wrap` makes the module carry the call: the arguments in
exported mutable globals (read at run time, so an inlining engine cannot fold them into
constants and the dynamic code path is what runs), one export per result and, when asked,
one that returns an FNV digest of all of memory 0 afterwards. Each export runs on a fresh
instance through the row's invoker (harness.difffuzz.Engine: the row's CLI under the
configuration's options). Every row answers in one shape: {"results": [...]} (with
"memory_digest" when asked), or {"trap"}, {"died", "signal"}, {"timed_out"}, {"error"}.
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.fuzzdriver import FNV_OFFSET, FNV_PRIME, MASK64
from harness.runtimes import traps

PROBE_FUNC = "$probe"


@dataclass(frozen=True)
class Call:
    """Call `$probe` of `wat` with `args` (typed by `params`: "i32" or "i64"); it returns
    `results` i64 values. `digest`: also answer a digest of memory 0 after the call. `data`:
    bytes an active segment places at address 0 (added after assembly: a MiB of pattern would
    make a slow WAT)."""

    wat: str
    params: tuple[str, ...]
    args: tuple[int, ...]
    results: int
    digest: bool = False
    data: bytes = b""
    features: tuple[str, ...] = ()  # proposals the module needs beyond the row's configuration ("threads")
    memory: int = 0  # the memory index `digest` and `data` are about (1 where another memory comes first)
    memory64: bool = False  # that memory is i64-indexed

    @property
    def exports(self) -> list[str]:
        return [f"wc_r{i}" for i in range(self.results)] + (["wc_mem"] if self.digest else [])


def wrap(call: Call) -> str:
    """The module text with the call's globals and no-argument exports added."""
    body = call.wat.rstrip()
    assert body.endswith(")"), "a module's text ends with ')'"
    globals_ = "".join(f'\n  (global $wc_a{i} (export "wc_a{i}") (mut {t}) ({t}.const {_signed(a, t)}))'
                       for i, (t, a) in enumerate(zip(call.params, call.args)))
    invoke = " ".join(f"(global.get $wc_a{i})" for i in range(len(call.params))) + f" call {PROBE_FUNC}"
    funcs = []
    for r in range(call.results):  # keep result r: drop the ones above it, hold it, drop the ones below
        keep = " drop" * (call.results - 1 - r) + " local.set $k" + " drop" * r
        funcs.append(f'\n  (func (export "wc_r{r}") (result i64) (local $k i64) {invoke}{keep} local.get $k)')
    if call.digest:
        it = "i64" if call.memory64 else "i32"  # the memory's index type
        funcs.append(f"""
  (func (export "wc_mem") (result i64) (local $h i64) (local $p {it}) (local $n {it})
    {invoke}{" drop" * call.results}
    i64.const {FNV_OFFSET} local.set $h
    memory.size {call.memory} {it}.const 16 {it}.shl local.set $n
    block $done
      loop $words
        local.get $p local.get $n {it}.ge_u br_if $done
        local.get $p i64.load {call.memory} local.get $h i64.xor i64.const {FNV_PRIME} i64.mul local.set $h
        local.get $p {it}.const 8 {it}.add local.set $p
        br $words
      end
    end
    local.get $h)""")
    return body[:-1] + globals_ + "".join(funcs) + ")\n"


def _signed(value: int, t: str) -> int:
    bits = 32 if t == "i32" else 64
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def digest(memory: bytes) -> int:
    """FNV-1a over little-endian 64-bit words: what `wc_mem` computes in the guest."""
    h = FNV_OFFSET
    for (word,) in struct.iter_unpack("<Q", memory):
        h = ((h ^ word) * FNV_PRIME) & MASK64
    return h


def build(call: Call, workdir: Path) -> Path:
    """The wrapped module, assembled, with `data` at address 0, in `workdir`."""
    import wasmtime

    text = wrap(call)
    wasm = wasmtime.wat2wasm(text)
    if call.data:
        wasm = with_data(wasm, call.data, call.memory, call.memory64)
    out = Path(workdir) / f"{hashlib.sha256(wasm).hexdigest()[:24]}.wasm"
    out.write_bytes(wasm)
    return out


def request(engine, call: Call, workdir: Path) -> dict:
    """Run the call on a difffuzz.Engine (a row and configuration), each export on a fresh
    instance, stopping at the first that does not return; the module (and what an engine
    compiles from it) is removed afterwards."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = build(call, Path(tmp))
        got = engine.invoke(path, call.exports[:1], call.features)
        if got[0].value is not None and len(call.exports) > 1:
            got += engine.invoke(path, call.exports[1:], call.features)
    for g in got:
        if g.died or (g.error and traps.HOST_CRASH.search(g.error)):  # a signal, or a panic's exit
            return {"died": True, "signal": g.died, "stderr_tail": g.error or ""}
        if g.timed_out:
            return {"timed_out": True}
        if g.trap:
            return {"trap": g.trap}
        if g.error:
            return {"error": g.error}
    values = [g.value for g in got]
    return {"results": values[:call.results], **({"memory_digest": values[call.results]} if call.digest else {})}


def prober(rt, runtime: str, config: str, avail, workdir: Path, in_host, as_call):
    """(probe(item) -> reply, None) or (None, why not) for one row x configuration: a
    wasmtime-py row answers `in_host(item, config)` (the generator's child request) in its
    child host, and `probe.host` is that host; a command-line row answers `as_call(item)`
    through its CLI under the configuration's options."""
    from harness import difffuzz
    from harness.probes.memgen import memory_host

    if not avail.available:
        return None, f"{runtime}: {avail.reason}"
    host, why = memory_host(rt)
    if host is not None:
        def probe(item):
            return host.request(in_host(item, config), 60)

        probe.host = host
        return probe, None
    if config not in difffuzz.engine_configs(rt):
        return None, why
    engine = difffuzz.Engine(f"{runtime}/{config}")
    unsupported = engine.unsupported()
    if unsupported:
        return None, f"{runtime} / {config}: {unsupported}"
    return (lambda item: request(engine, as_call(item), workdir)), None


# -- an active data segment added to an assembled module --------------------------------------

def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_leb(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        n |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return n, i


def with_data(module: bytes, data: bytes, memory: int = 0, memory64: bool = False) -> bytes:
    """The module with one more data segment, active at address 0 of `memory`, holding `data`:
    appended to its data section (after any passive segment, whose index stays) and counted
    in its data count section, or as a new data section after the code."""
    target = b"\x00" if memory == 0 else b"\x02" + _leb(memory)  # flags 0 (memory 0) or 2 and the index
    segment = target + (b"\x42" if memory64 else b"\x41") + b"\x00\x0b" + _leb(len(data)) + data  # (i32/i64.const 0) end, bytes
    out, i, added = bytearray(module[:8]), 8, False
    while i < len(module):
        sid = module[i]
        size, body_at = _read_leb(module, i + 1)
        body = module[body_at:body_at + size]
        if sid == 12:  # data count
            count, _ = _read_leb(body, 0)
            body = _leb(count + 1)
        elif sid == 11:
            count, at = _read_leb(body, 0)
            body, added = _leb(count + 1) + body[at:] + segment, True
        out += bytes([sid]) + _leb(len(body)) + body
        i = body_at + size
    if not added:
        body = _leb(1) + segment
        out += b"\x0b" + _leb(len(body)) + body
    return bytes(out)
