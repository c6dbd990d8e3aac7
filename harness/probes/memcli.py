"""Generated memory probes on engines reached only through their command line (wasmtime CLI,
node, WasmEdge, Wasmer, wasmi). Such an engine cannot be handed a filled memory or watched
by a canary beside it, so the module carries everything (harness.probes.calls): a data
segment fills linear memory with the run's nonce pattern (the same bytes the model is given),
the drawn arguments sit in exported mutable globals read at run time (an engine that inlines
the probe cannot fold them into constants, so the dynamic-index code path is what runs), and
three exports rerun the probe and return its first result, its second result, and an FNV
digest of all of memory afterwards. The reply has the shape memgen.judge reads (results or
trap, and `memory_digest` in place of the child host's byte diffs); there are no canary
fields, so these rows are judged against the spec model only.
"""

from __future__ import annotations

from pathlib import Path

from harness.probes import calls, memgen
from harness.probes import memmodel as mm
from harness.runtimes.wasmtime_child import fill

def call(acc: mm.Access, args, nonce: bytes) -> calls.Call:
    """The probe as a call: its i32 arguments and the i64 value, two results, memory's digest,
    linear memory filled with the nonce pattern."""
    return calls.Call(memgen.render(acc), ("i32",) * len(args) + ("i64",), (*args, acc.value & mm.M64), 2,
                      digest=True, data=fill(nonce, acc.initial_size), features=memgen.features(acc),
                      memory=1 if acc.decoy else 0, memory64=acc.addr64 is not None)


def request(engine, acc: mm.Access, args, nonce: bytes, workdir: Path) -> dict:
    """Run the probe on a difffuzz.Engine (a CLI row and configuration) and answer in the
    shape memgen.judge reads; the module (up to 1 MiB of data) is removed afterwards."""
    return calls.request(engine, call(acc, args, nonce), workdir)
