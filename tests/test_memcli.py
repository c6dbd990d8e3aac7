"""Generated memory probes through an engine's invoke path (harness.probes.memcli): the
self-contained module must give the model's answer on a correct engine, and a wrong engine
(the planted one flips a bit of every value) must be judged an escape."""

from __future__ import annotations

import pytest

from harness import difffuzz
from harness.probes import calls, memcli, memgen
from harness.probes import memmodel as mm

NONCE, SECRET = b"n" * 16, b"s" * 16
CASES = [  # (access, args, the outcome a correct engine gets)
    (mm.Access("i64.load", mm.Param(0), 8, 1, "id"), (0x100, 0, 0), "denied"),
    (mm.Access("i32.store", mm.Param(0), 0, 1, "id", 0x1122334455), (0xFFF0, 0, 0), "denied"),
    memgen.CVE_2023_26489 + ("denied",),  # (0x20000200 << 3) wraps to 0x1000: in bounds
    (mm.Access("i32.load", mm.Param(0), 0, 1, "id"), (0xFFFE, 0, 0), "trapped"),
    (mm.Access("i32.store8", mm.Param(0), 0x10000, 1, "id", 7), (0, 0, 0), "trapped"),
    (mm.Access("memory.init", mm.Param(0), 0, 1, "id", length=5, source=2), (0xFFF0, 0, 0), "denied"),
    # writes, then traps (init again after data.drop): a command line cannot show memory after
    # the trap, which must not read as "memory unchanged" (it was judged an escape on every CLI)
    (mm.Access("memory.init", mm.Param(0), 0, 1, "reinit", length=8, source=6), (0xFFF0, 0, 0), "trapped"),
    (mm.Access("memory.copy", mm.Param(0), 0, 1, length=9, source=mm.Param(1), grow=1), (0x1FFF0, 0xFFF8, 0), "denied"),
    (mm.Access("f64.load", mm.Param(0), 0, 1, "f64.copysign", operand=("const", 0), sink="store", align=0), (0xFFF3, 0, 0), "denied"),
    # multi-memory: the probed memory is memory 1, a larger one comes first; its bound is not the probed one's
    (mm.Access("i64.load", mm.Param(0), 0, 1, decoy=2), (0x10000, 0, 0), "trapped"),
    (mm.Access("i32.load", mm.Param(0), 0, 1, "i32.popcnt", sink="store", decoy=2, grow=1), (0x1FFF0, 0, 0), "denied"),
    (mm.Access("memory.copy", mm.Param(0), 0, 1, length=9, source=mm.Param(1), decoy=16), (0xFFF0, 0x10, 0), "denied"),
    (mm.Access("i64.atomic.rmw32.cmpxchg_u", mm.Param(0), 4, 1, "cas-hit", value=5, operand=("const", 0xDEADBEEF)), (8, 0, 0), "denied"),
    (mm.Access("i32.atomic.rmw16.xor_u", mm.Param(0), 0, 1, value=5), (0xFFFF, 0, 0), "trapped"),
    # memory64: u64 offsets and high address bits; in bounds only where both are small
    (mm.Access("i64.load", mm.Param(0), 8, 1, addr64=0), (0xFFF0, 0, 0), "denied"),
    (mm.Access("i32.load8_u", mm.Param(0), 1 << 32, 1, addr64=0), (0, 0, 0), "trapped"),
    (mm.Access("f32.store", mm.Param(0), mm.M64 - 1, 1, addr64=0xFFFFFFFF), (8, 0, 0), "trapped"),
    (mm.Access("v128.load32_splat", mm.Param(0), 4, 1, "i32x4.add", operand=("param",), sink="store", addr64=0, grow=1),
     (0x1FFF8, 0, 0), "denied"),
]


@pytest.mark.parametrize("acc,args,want", CASES, ids=[f"{c[0].op}-{c[2]}" for c in CASES])
def test_a_correct_engine_gets_the_model_answer(engine_spec, acc, args, want, tmp_path):
    reply = memcli.request(difffuzz.Engine(engine_spec), acc, args, NONCE, tmp_path)
    verdict = memgen.judge(acc, args, reply, NONCE, SECRET)
    assert (verdict.outcome, verdict.finding) == (want, 0), verdict.reason
    assert not list(tmp_path.iterdir())  # the module (up to 1 MiB) is gone


def test_a_wrong_engine_is_judged_an_escape(tmp_path):
    acc, args, _ = CASES[0]
    reply = memcli.request(difffuzz.Engine("planted-flip:wasmtime-py/default"), acc, args, NONCE, tmp_path)
    verdict = memgen.judge(acc, args, reply, NONCE, SECRET)
    assert verdict.outcome == "escaped" and verdict.finding == 1


def test_the_memory_digest_matches_the_guests():
    """A store that lands elsewhere changes the digest (the judge's only view of memory)."""
    memory = bytes(range(256)) * 16
    moved = bytearray(memory)
    moved[8] ^= 1
    assert calls.digest(memory) != calls.digest(bytes(moved))
