"""Hostile arguments to every wasi_ephemeral_nn host call, issued from inside a real guest.

Hypothesis drives the guest's raw trampolines (each forwards its i32 arguments unchanged to
one import) with pointers at and past the end of linear memory, wrapped-around lengths,
unknown encodings, targets, tensor types, ids and indices, and tensor structs / builder
arrays whose fields are themselves hostile. After every call: the errno is one of 0-8, no
host exception was swallowed as an unforeseen error, every access the host made lay inside
the guest's memory, and the host wrote nothing outside the out-parameters of that call.
"""

from __future__ import annotations

import struct
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from harness.nn.abi import Errno
from harness.nn.backends import OnnxRuntimeBackend, TfliteBackend, TorchBackend
from harness.nn.guest import WasmGuest, build_guest
from harness.nn.host import NNHost
from harness.nn.models import ModelSpec, model_bytes

CALLS = {"quick": 1_000, "default": 10_000, "thorough": 50_000}
BATCH = 50
U32 = 2**32
SMALL = ModelSpec("softmax", 8, seed=9, max_rows=4)


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - U32 if v >= 2**31 else v


class Arena:
    """A guest with a loaded graph, a context, and regions the fuzzer points into."""

    def __init__(self):
        self.host = NNHost([OnnxRuntimeBackend(), TfliteBackend(), TorchBackend()], audit=True)
        model = model_bytes(SMALL, "onnx")
        self.host.register("small", model)
        self.host.register("garbage", b"\x08\x07not a model")
        self.g = WasmGuest(build_guest("offload").path, self.host)
        g = self.g
        self.model = (g.put(model), len(model))
        self.name = (g.put(b"small"), 5)
        self.dims = g.put(np.array([2, 8], np.uint32))
        self.data = g.put(np.ones((2, 8), np.float32))
        self.valid_tensor = g.put(struct.pack("<5I", self.dims, 2, 1, self.data, 64))
        self.out = g.alloc(256)
        self.written = g.alloc(4)
        self.builders = g.put(struct.pack("<2I", *self.model))
        self.scratch = g.alloc(4096)
        gp = g.alloc(4)
        assert g.call("wc_nn_load_by_name", self.name[0], 5, gp) == 0
        assert g.call("wc_nn_init", int.from_bytes(g.get(gp, 4), "little"), gp) == 0
        self.size = g.memory.data_len(g.store)
        self.anchors = [self.model[0], self.name[0], self.dims, self.data, self.valid_tensor, self.out, self.written,
                        self.builders, self.scratch, self.size]

    def snapshot(self) -> np.ndarray:
        return np.frombuffer(self.g.memory.read(self.g.store, 0, self.size), dtype=np.uint8)


def pointers(arena: Arena):
    size = arena.size
    return st.one_of(
        st.just(0), st.integers(0, 64), st.integers(max(0, size - 64), size + 64), st.integers(U32 - 64, U32 - 1),
        st.integers(0, U32 - 1), st.builds(lambda a, o: (a + o) % U32, st.sampled_from(arena.anchors), st.integers(-8, 8)))


def lengths(arena: Arena):
    return st.one_of(st.integers(0, 64), st.integers(0, U32 - 1),
                     st.sampled_from([4, 8, 20, arena.size, arena.size + 1, 2**31, U32 - 1, arena.model[1]]))


def small_or_hostile():
    return st.one_of(st.integers(0, 12), st.integers(0, U32 - 1), st.sampled_from([U32 - 1, 2**31, 255, 256]))


KINDS = {  # what each argument is, so a hostile replacement is of the right sort
    "load": ("ptr", "small", "small", "small", "ptr"), "load_by_name": ("ptr", "len", "ptr"),
    "init_execution_context": ("small", "ptr"), "set_input": ("small", "small", "ptr"), "compute": ("small",),
    "get_output": ("small", "small", "ptr", "len", "ptr"),
}


def valid_args(arena: Arena, fn: str) -> tuple:
    a = arena
    return {"load": (a.builders, 1, 1, 0, a.out), "load_by_name": (a.name[0], a.name[1], a.out),
            "init_execution_context": (0, a.out), "set_input": (0, 0, a.valid_tensor), "compute": (0,),
            "get_output": (0, 0, a.out, 256, a.written)}[fn]


@st.composite
def hostile_call(draw, arena: Arena):
    """(function, args, writes): a valid call with any subset of its arguments replaced by hostile
    values (so each check is reached on its own), and for load / set_input sometimes a builder
    array or tensor struct in scratch whose own fields are hostile. `writes` are (ptr, bytes) the
    fuzzer puts in guest memory first."""
    hostile = {"ptr": pointers(arena), "len": lengths(arena), "small": small_or_hostile()}
    fn = draw(st.sampled_from(sorted(KINDS)))
    args = [draw(hostile[kind]) if draw(st.booleans()) else v for kind, v in zip(KINDS[fn], valid_args(arena, fn))]
    s, writes = arena.scratch, []
    if fn == "load" and draw(st.booleans()):  # a builder array in scratch with hostile (or the real model's) pairs
        pairs = draw(st.lists(st.tuples(hostile["ptr"], hostile["len"]) | st.just(arena.model), min_size=0, max_size=4))
        writes.append((s, b"".join(struct.pack("<2I", p % U32, n % U32) for p, n in pairs)))
        args[0], args[1] = s, draw(st.just(len(pairs)) | hostile["small"])
    elif fn == "set_input" and draw(st.booleans()):  # a tensor struct in scratch with hostile fields
        dims = draw(st.lists(st.integers(0, U32 - 1) | st.integers(0, 16), min_size=0, max_size=10))
        writes.append((s + 64, struct.pack(f"<{len(dims)}I", *dims)))
        fields = (draw(st.just(s + 64) | hostile["ptr"]), draw(st.just(len(dims)) | hostile["small"]),
                  draw(hostile["small"]), draw(st.just(arena.data) | hostile["ptr"]), draw(hostile["len"]))
        writes.append((s, struct.pack("<5I", *(f % U32 for f in fields))))
        args[2] = s
    return fn, tuple(a % U32 for a in args), writes


def allowed_writes(fn: str, args: tuple) -> list[tuple[int, int]]:
    """The only ranges a call may write: its out-parameters."""
    if fn in ("load", "load_by_name", "init_execution_context"):
        return [(args[-1], 4)]
    if fn == "get_output":
        return [(args[2], args[3]), (args[4], 4)]
    return []


@pytest.mark.claim("NN-1")
def test_host_survives_hostile_arguments(evidence, scale):
    arena = Arena()
    target = CALLS[scale]
    calls: Counter = Counter()
    errnos: Counter = Counter()
    problems: list[str] = []
    examples = -(-target // BATCH)

    @settings(max_examples=examples, database=None)
    @given(st.lists(hostile_call(arena), min_size=BATCH, max_size=BATCH))
    def survives(batch):
        for fn, args, writes in batch:
            for ptr, data in writes:
                arena.g.memory.write(arena.g.store, data, ptr)
            before = arena.snapshot()
            audit_from = len(arena.host.audit)
            errno = arena.g.call(f"raw_{fn}", *(_i32(a) for a in args)) & 0xFFFFFFFF
            after = arena.snapshot()
            calls[fn] += 1
            errnos[Errno(errno).name if errno in Errno._value2member_map_ else f"bad-{errno}"] += 1
            if errno not in Errno._value2member_map_:
                problems.append(f"{fn}{args}: errno {errno} outside 0-8")
            for p, n, size in arena.host.audit[audit_from:]:
                if p + n > size:
                    problems.append(f"{fn}{args}: host accessed [{p}, {p + n}) of {size}")
            changed = np.flatnonzero(before != after)
            ok = np.zeros(changed.shape, bool)
            for p, n in allowed_writes(fn, args):
                ok |= (changed >= p) & (changed < p + n)
            if not ok.all():
                problems.append(f"{fn}{args}: wrote outside its out-parameters at {changed[~ok][:4].tolist()}")
            del arena.host.audit[:]
        assert not arena.host.unexpected, arena.host.unexpected[0]
        assert not problems, problems[0]

    try:
        survives()
    finally:
        total = sum(calls.values())
        faults = len(problems) + len(arena.host.unexpected)
        evidence.record(
            "nn_host_fuzz_faults", faults, "count", claim="NN-1", workload="wasi_ephemeral_nn", form="wasi-nn",
            runtime="nn-host", outcome="held" if faults == 0 else "fault", calls=total, calls_required=target,
            calls_per_function=dict(calls), errno_histogram=dict(errnos), unexpected_host_exceptions=len(arena.host.unexpected),
            out_of_bounds_or_stray=len(problems), first_problem=(problems or arena.host.unexpected or [None])[0],
            abi_profile=arena.host.profile.name, memory_bytes=arena.size,
        )
    assert total >= target, f"only {total} hostile calls ran (need {target})"
