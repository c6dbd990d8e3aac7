"""Generated memory probes on engines reached only through their command line (wasmtime CLI,
node, WasmEdge, Wasmer, wasmi). Such an engine cannot be handed a filled memory or watched
by a canary beside it, so the module carries everything: a data segment fills linear memory
with the run's nonce pattern (the same bytes the model is given), and three exports rerun the
probe and return its first result, its second result, and an FNV digest of all of memory
afterwards. The drawn arguments reach the probe at run time: the exports read them from
exported mutable globals (the CLIs' invoke passes no arguments), so an engine that inlines
the probe cannot fold them into constants and the dynamic-index code path is what runs. The reply has the shape memgen.judge reads
(results or trap, and `memory_digest` in place of the child host's byte diffs); there are no
canary fields, so these rows are judged against the spec model only.
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
from pathlib import Path

from harness.fuzzdriver import FNV_OFFSET, FNV_PRIME, MASK64
from harness.probes import memgen
from harness.probes import memmodel as mm
from harness.runtimes.wasmtime_child import fill

EXPORTS = ("wc_r0", "wc_r1", "wc_mem")


def digest(memory: bytes) -> int:
    """FNV-1a over little-endian 64-bit words: what `wc_mem` computes in the guest."""
    h = FNV_OFFSET
    for (word,) in struct.iter_unpack("<Q", memory):
        h = ((h ^ word) * FNV_PRIME) & MASK64
    return h


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


def _with_pattern(module: bytes, pattern: bytes) -> bytes:
    """The module with one more data segment, active at address 0 of memory 0, holding the
    pattern: appended to its data section (after any passive segment, whose index stays) and
    counted in its data count section, or as a new data section after the code."""
    segment = b"\x00\x41\x00\x0b" + _leb(len(pattern)) + pattern  # flags 0, (i32.const 0) end, bytes
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


def render(acc: mm.Access, args) -> str:
    globals = "\n  ".join(f'(global $a{i} (export "wc_a{i}") (mut i32) (i32.const {a & mm.M32}))' for i, a in enumerate(args))
    consts = " ".join(f"(global.get $a{i})" for i in range(len(args))) + " (global.get $av)"
    return f"""(module (memory (export "memory") {acc.pages})
  {globals}
  (global $av (export "wc_av") (mut i64) (i64.const {acc.value & mm.M64}))
  {memgen.probe_func(acc)}{memgen.data_segment(acc)}
  (func (export "wc_r0") (result i64) {consts} call $probe drop)
  (func (export "wc_r1") (result i64) (local $b i64) {consts} call $probe local.set $b drop local.get $b)
  (func (export "wc_mem") (result i64) (local $h i64) (local $p i32) (local $n i32)
    {consts} call $probe drop drop
    i64.const {FNV_OFFSET} local.set $h
    memory.size i32.const 16 i32.shl local.set $n
    block $done
      loop $words
        local.get $p local.get $n i32.ge_u br_if $done
        local.get $p i64.load local.get $h i64.xor i64.const {FNV_PRIME} i64.mul local.set $h
        local.get $p i32.const 8 i32.add local.set $p
        br $words
      end
    end
    local.get $h))
"""


def build(acc: mm.Access, args, nonce: bytes, workdir: Path) -> Path:
    """The self-contained probe module in `workdir` (the nonce is per run: nothing to cache)."""
    import wasmtime

    text = render(acc, args)
    out = Path(workdir) / f"{hashlib.sha256(text.encode() + nonce).hexdigest()[:24]}.wasm"
    out.write_bytes(_with_pattern(wasmtime.wat2wasm(text), fill(nonce, acc.initial_size)))
    return out


def request(engine, acc: mm.Access, args, nonce: bytes, workdir: Path) -> dict:
    """Run the probe on a difffuzz.Engine (a CLI row and configuration) and answer in the
    shape memgen.judge reads. The module (up to 1 MiB of data) and anything an engine
    compiles from it are removed afterwards."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = build(acc, args, nonce, Path(tmp))
        first = engine.invoke(path, [EXPORTS[0]])[0]
        got = [first] if first.value is None else [first, *engine.invoke(path, list(EXPORTS[1:]))]
    for g in got:
        if g.died:
            return {"died": True, "signal": g.died}
        if g.timed_out:
            return {"timed_out": True}
        if g.trap:
            return {"trap": g.trap}
        if g.error:
            return {"error": g.error}
    return {"results": [got[0].value, got[1].value], "memory_digest": got[2].value}
