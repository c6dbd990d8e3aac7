"""Differential module fuzzing: `wasm-tools smith` turns Hypothesis bytes into a valid module
(terminating, NaNs canonicalised, everything exported, one memory, no imports; SIMD in a
second profile). harness.fuzzdriver appends driver exports that call every export with drawn
arguments and fold the results, globals and memory into one i64, so every engine row and
configuration can run it: wasmtime-py in its child process (Config knobs), the CLIs
(wasmtime, WasmEdge, Wasmer, wasmi) with their own invoke and options, node with a script.
Engines are compared by a majority in which every engine family has one vote (harness.difffuzz.judge):
"same" needs at least two families answering; a tie is "ambiguous" (nobody blamed, every answer
kept); an engine whose host crashes (a signal, a Rust panic or abort) is a host-crashed finding
whatever the others did; time-outs and errors are counted per engine. Every distinct finding
(Finding.key) is kept: the module is shrunk with `wasm-tools shrink` (its predicate is this
module's `still-differs` command), kept under reports/findings/ as .wasm + .wat + the command
that reproduces it, and saved in the Hypothesis database, whose findings the next run replays
first.

Engine specs: `ROW/CONFIG` (e.g. `wasmtime-py/default`, `wasmtime-py@6.0.0/no-signals`,
`wasmtime-cli/pooling`, `wasmedge-aot/default`), or `planted-flip:ROW/CONFIG`, a deliberately
wrong engine (it flips the lowest bit of every value it returns once a module calls an export)
that `make test` uses to prove that a disagreement is found and shrunk.

    python -m harness.difffuzz still-differs --engines A,B --seed N module.wasm   (exit 0: still differs)
    python -m harness.difffuzz throughput --modules 60   (executions/s one by one vs batched, per row)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness import budget
from harness.fuzzdriver import ALL, FNV_OFFSET, Call, instrument, prefix
from harness.runtimes.base import Invoked
from harness.runtimes import traps
from harness.runtimes.childproc import answer_of, batch_answers, failure_of
from harness.toolchain import ToolMissing, wasm_tools

SMITH_COMMON = ("--ensure-termination", "--canonicalize-nans", "true", "--export-everything", "true",
                "--max-memories", "1", "--max-imports", "0", "--max-tables", "1", "--max-memory32-bytes", str(1 << 20),
                "--min-funcs", "4", "--allow-start-export", "false", "--reference-types-enabled", "false",
                "--gc-enabled", "false", "--exceptions-enabled", "false", "--threads-enabled", "false",
                "--tail-call-enabled", "false", "--memory64-enabled", "false", "--relaxed-simd-enabled", "false",
                "--custom-page-sizes-enabled", "false", "--custom-descriptors-enabled", "false",
                # proposals not every engine here runs (node 20 has neither): a module one engine
                # rejects is compared on fewer engines
                "--extended-const-enabled", "false", "--wide-arithmetic-enabled", "false")
PROFILES = {"mvp": ("--simd-enabled", "false"), "simd": ("--simd-enabled", "true")}
EDGES = (0, 1, 2, 7, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
         0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0x3F800000, 0x7FC00000, 0x3FF0000000000000)
NUMERIC = {"i32", "i64", "f32", "f64"}
CALL_TIMEOUT_S = 30.0
PARALLEL = os.cpu_count() or 1  # engine processes answering a batch side by side
FINDINGS_DIR = Path(__file__).resolve().parent.parent / "reports" / "findings"


def smith(seed: bytes, profile: str = "mvp", traps: bool = True) -> bytes | None:
    """A valid module from seed bytes (None when smith cannot make one from so few bytes).
    traps=False: smith guards every trapping instruction, so calls return values to compare."""
    proc = subprocess.run([wasm_tools(), "smith", *SMITH_COMMON, *PROFILES[profile], "--disallow-traps", str(not traps).lower()],
                          input=seed, capture_output=True)
    return proc.stdout if proc.returncode == 0 and proc.stdout else None


def to_wat(module: bytes) -> str:
    proc = subprocess.run([wasm_tools(), "print", "-"], input=module, capture_output=True)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else f";; wasm-tools print failed: {proc.stderr[:200]!r}"


VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}


def _leb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


_IMMEDIATE = {0x41: "leb", 0x42: "leb", 0x23: "leb", 0xD2: "leb", 0x43: 4, 0x44: 8, 0xD0: 1}


def _skip_const_expr(body: bytes, j: int) -> int:
    """Past a constant expression's `end` (its constants may contain the byte 0x0B)."""
    while body[j] != 0x0B:
        op, j = body[j], j + 1
        if op == 0xFD:  # v128.const: sub-opcode 12, then 16 bytes
            _, j = _leb(body, j)
            j += 16
        elif _IMMEDIATE.get(op) == "leb":
            _, j = _leb(body, j)
        else:
            j += _IMMEDIATE.get(op, 0)  # extended-const arithmetic has no immediate
    return j + 1


@dataclass
class Shape:
    """What the driver needs from a module's binary: wasmtime-py aborts the process when asked
    for a v128 type, so the parent never asks an engine."""

    types: list = field(default_factory=list)  # (params, results)
    funcs: list = field(default_factory=list)  # type index of each defined function
    globals: list = field(default_factory=list)  # value type of each global, by index
    memories: int = 0
    exports: list = field(default_factory=list)  # (name, kind, index)

    def function_exports(self) -> dict[str, tuple[int, list, list]]:
        return {name: (idx, *self.types[self.funcs[idx]]) for name, kind, idx in self.exports
                if kind == 0 and idx < len(self.funcs)}


def read_shape(module: bytes) -> Shape:
    """The type, function, memory, global and export sections (smith modules import nothing)."""
    shape = Shape()
    i = 8
    while i < len(module):
        sid, size = module[i], None
        size, i = _leb(module, i + 1)
        body, i = module[i:i + size], i + size
        if sid not in (1, 3, 5, 6, 7):
            continue
        n, j = _leb(body, 0)
        if sid == 5:
            shape.memories = n
            continue
        for _ in range(n):
            if sid == 1:  # type: 0x60 params results (smith here makes plain function types only)
                np, j = _leb(body, j + 1)
                params = [VALTYPES.get(b, "?") for b in body[j:j + np]]
                nr, j = _leb(body, j + np)
                shape.types.append((params, [VALTYPES.get(b, "?") for b in body[j:j + nr]]))
                j += nr
            elif sid == 3:
                t, j = _leb(body, j)
                shape.funcs.append(t)
            elif sid == 6:  # global: valtype, mutability, constant init expression
                shape.globals.append(VALTYPES.get(body[j], "?"))
                j = _skip_const_expr(body, j + 2)
            else:
                ln, j = _leb(body, j)
                name = body[j:j + ln].decode("utf-8", "replace")
                kind = body[j + ln]
                idx, j = _leb(body, j + ln + 1)
                shape.exports.append((name, kind, idx))
    return shape


def export_signatures(module: bytes) -> tuple[dict[str, tuple[list, list]], dict[str, str]]:
    """({function export: (params, results)}, {global export: type}) read from the binary."""
    shape = read_shape(module)
    gsig = {name: shape.globals[idx] for name, kind, idx in shape.exports if kind == 3 and idx < len(shape.globals)}
    return {name: (p, r) for name, (_, p, r) in shape.function_exports().items()}, gsig


def plan_calls(shape: Shape, seed: int) -> list[Call]:
    """Every exported function with numeric parameters and results, with arguments drawn
    (deterministically from `seed` and the export's name) from edge values and random bits."""
    calls = []
    for name, (idx, params, results) in shape.function_exports().items():
        if not set(params + results) <= NUMERIC:
            continue
        rng = random.Random(f"{seed}/{name}")
        calls.append(Call(idx, tuple(params), tuple(results),
                          tuple(rng.choice(EDGES) if rng.random() < 0.6 else rng.getrandbits(64) for _ in params)))
    return calls


def driven(module: bytes, seed: int) -> tuple[bytes, int]:
    """(the module with its driver exports, the number of calls they make); ValueError when
    the module cannot be read or extended."""
    try:
        shape = read_shape(module)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"unreadable module: {exc}") from None
    calls = plan_calls(shape, seed)
    return instrument(module, calls, shape.globals, shape.memories > 0, wasm_tools()), len(calls)


# -- engines ----------------------------------------------------------------------------------

def engine_configs(rt) -> list[str]:
    """The configuration names a row runs under: Config knob sets in a child host (wasmtime-py),
    the CLI's own options otherwise; [] when the row has neither."""
    from harness.probes.memgen import ENGINE_CONFIGS, memory_host

    if memory_host(rt)[0] is not None:
        return list(ENGINE_CONFIGS)
    return list(rt.invoke_configs()) if callable(getattr(rt, "invoke_configs", None)) else []


@dataclass
class Engine:
    """One engine row x configuration: wasmtime-py rows in their child process (Config knobs),
    command-line rows through their CLI's invoke (options per configuration). `family` is
    the engine (wasmtime, v8, wasmedge, ...): the majority counts families, not rows."""

    spec: str

    def __post_init__(self):
        from harness.probes.memgen import ENGINE_CONFIGS, memory_host
        from harness.runtimes.versions import resolve

        self.planted = self.spec.startswith("planted-flip:")
        self.row, _, self.config = self.spec.removeprefix("planted-flip:").partition("/")
        self.config = self.config or "default"
        rt = resolve(self.row, progress=lambda m: print(m, file=sys.stderr))
        self.family = ("planted:" if self.planted else "") + rt.engine_name
        self.version = ""
        host, why = memory_host(rt)
        self.host, self.cli = host, None
        known = engine_configs(rt)
        if host is None and not known:
            raise ValueError(why.replace("generated memory probes need", "differential fuzzing needs") +
                             "; its CLI cannot invoke an export either")
        if self.config not in known:
            raise ValueError(f"{self.row} has no engine configuration {self.config!r} (it has: {', '.join(known)})")
        if host is not None:
            self.knobs = ENGINE_CONFIGS[self.config]
        else:
            self.cli, self.options = rt, rt.invoke_configs()[self.config]
        # all prefix exports in one request (the child host); a command line pays a process per
        # call, so observe() bisects for the trapping call instead
        self.batch = host is not None
        self.batched = True  # many modules per engine process where the row can (False: one by one, as before)

    def unsupported(self) -> str | None:
        """Why this row cannot run this configuration (None: it can), asked with a module whose
        driver returns 7."""
        with tempfile.TemporaryDirectory(prefix="wc-probe-") as tmp:
            path = Path(tmp) / "seven.wasm"
            path.write_bytes(instrument(b"\0asm\1\0\0\0", [], [], False, wasm_tools()))
            got = self.invoke(path, [ALL])[0]
        if got.value == FNV_OFFSET or (self.planted and got.value == FNV_OFFSET ^ 1):
            return None
        return got.error or (f"died by signal {got.died}" if got.died else "timed out" if got.timed_out else
                             f"unexpected answer {got}")

    def invoke(self, module_path: Path, exports: list[str], features: tuple[str, ...] = ()) -> list[Invoked]:
        """Each export on a fresh instance; `features`: proposals the module needs beyond the
        configuration (wasmtime_py.FEATURE_KNOBS, a CLI's feature_options)."""
        if self.cli is not None:
            got = self.cli.invoke(module_path, exports, self.cli.with_features(self.options, features), CALL_TIMEOUT_S)
        else:
            got = self._child(module_path, exports, features)
        if self.planted and _makes_calls(module_path):
            got = [Invoked(value=g.value ^ 1) if g.value is not None else g for g in got]
        return got

    def invoke_many(self, jobs: list[tuple[Path, list[str], list[str]]],
                    expect: list[list[Invoked]] | None = None) -> list[list[Invoked]]:
        """Per job (module, exports, on_trap) the answers to `exports`, then, if the last trapped,
        to the `on_trap` exports up to the first that does not return: in one engine process
        where the row can (wasmtime-py's child, node, `wasmtime wast` checked against `expect`,
        another engine's answers), else a process per call (the row's invoke_batch says)."""
        got = (self.cli.invoke_batch(jobs, self.options, CALL_TIMEOUT_S, expect=expect) if self.cli is not None
               else self._child_many(jobs))
        if self.planted:
            got = [[Invoked(value=g.value ^ 1) if g.value is not None else g for g in answers] if _makes_calls(path)
                   else answers for (path, _, _), answers in zip(jobs, got)]
        return got

    def _child_many(self, jobs: list[tuple[Path, list[str], list[str]]]) -> list[list[Invoked]]:
        """One request for the batch, bisected down to the module when the child dies or hangs."""
        return batch_answers(self.host.request, {"op": "invoke_batch", "timeout_s": CALL_TIMEOUT_S,
                                                 "config": {"name": self.config, "knobs": self.knobs}}, jobs, CALL_TIMEOUT_S)

    def _child(self, module_path: Path, exports: list[str], features: tuple[str, ...] = ()) -> list[Invoked]:
        from harness.runtimes.wasmtime_py import with_features

        reply = self.host.request({"op": "invoke", "module": str(module_path), "exports": exports, "timeout_s": CALL_TIMEOUT_S,
                                   "config": {"name": self.config, "knobs": with_features(self.knobs, features)}},
                                  CALL_TIMEOUT_S * (len(exports) + 1))
        if reply.get("died") or reply.get("timed_out") or "results" not in reply:
            return [failure_of(reply)] * len(exports)
        return [answer_of(r) for r in reply["results"]]


def _makes_calls(driven_path: Path) -> bool:
    """Whether the driver calls any export: the planted engine's bug is in calls, so a module
    without one (the empty module that `wasm-tools shrink` tries first) is answered right."""
    shape = read_shape(Path(driven_path).read_bytes())
    shape.exports = [e for e in shape.exports if not e[0].startswith("wc_")]
    return bool(plan_calls(shape, 0))


@dataclass
class Observation:
    """An engine's normal form of one module (None: it could not run it, `why`)."""

    form: tuple | None
    why: str = ""
    seconds: float = 0.0


# Trap kinds some engine cannot tell apart are compared as one: V8 says "null function or
# function signature mismatch" for both, and "float unrepresentable in integer range" for a
# NaN and an out-of-range truncation alike (the spec's invalid conversion and integer overflow).
COARSE_TRAPS = {"indirect-call-to-null": "indirect-call-failed", "bad-signature": "indirect-call-failed",
                "integer-overflow": "integer-overflow-or-invalid-conversion",
                "invalid-conversion-to-integer": "integer-overflow-or-invalid-conversion"}


def comparable_trap(kind: str) -> str:
    return COARSE_TRAPS.get(kind, kind)


def observe(engine: Engine, path: Path, n_calls: int) -> Observation:
    """("ok", wc_all) or ("trap", first trapping call, kind, fold of the results before it),
    or ("died", signal); the trapping call is found with the prefix exports."""
    first = engine.invoke(path, [ALL])[0]
    if first.value is not None or first.died or first.trap is None:
        return _observation(first, [])
    if engine.batch:
        return _observation(first, engine.invoke(path, [prefix(k) for k in range(1, n_calls)]) if n_calls > 1 else [])
    else:  # one process per call: bisect (prefix(k) returns iff k <= the trapping call)
        ok, hi, value, stop = 0, n_calls, FNV_OFFSET, None
        while hi - ok > 1:
            mid = (ok + hi) // 2
            got = engine.invoke(path, [prefix(mid)])[0]
            if got.value is not None:
                ok, value = mid, got.value
            else:
                hi, stop = mid, got
    return _trapped(first, ok, value, stop)


def _observation(first: Invoked, prefixes: list[Invoked]) -> Observation:
    """The normal form from wc_all's answer and, when it trapped, the prefix exports' answers in
    order (up to the first that did not return)."""
    if first.value is not None:
        return Observation(("ok", first.value))
    if crash(first):
        return Observation(("died", crash(first)))
    if first.trap is None:
        return Observation(None, "timed out" if first.timed_out else first.error or "no answer")
    ok = 0
    while ok < len(prefixes) and prefixes[ok].value is not None:
        ok += 1
    return _trapped(first, ok, prefixes[ok - 1].value if ok else FNV_OFFSET, prefixes[ok] if ok < len(prefixes) else None)


def _trapped(first: Invoked, ok: int, value: int, stop: Invoked | None) -> Observation:
    if stop is not None and stop.trap is None:  # a death or time-out on a prefix the whole run passed
        return Observation(("died", crash(stop)) if crash(stop) else None, "a prefix timed out or failed")
    return Observation(("trap", ok, comparable_trap(first.trap), value))




def crash(answer: Invoked) -> int | str | None:
    """How the engine's host crashed on a call (None: it did not): a signal, or a Rust panic or
    abort (exit 101, `panicked at`), which the CLIs report as an exit, not a signal. A crash is a
    host-crashed finding whatever the other engines did; it is never "not compared"."""
    if answer.died:
        return answer.died
    if answer.error and traps.HOST_CRASH.search(answer.error):
        return "panic"
    return None


def observe_many(engine: Engine, items: list[tuple[Path, int]],
                 expect: list[list[Invoked]] | None = None) -> tuple[list[Observation], list[list[Invoked]] | None]:
    """observe() for many modules: one batch (see Engine.invoke_many), or module by module when
    the engine is set to (`batched` False: the throughput benchmark's baseline). Also returns
    the raw answers (None module by module), which later engines may be checked against."""
    if not getattr(engine, "batched", True):
        return [observe(engine, path, n_calls) for path, n_calls in items], None
    jobs = [(path, [ALL], [prefix(k) for k in range(1, n_calls)]) for path, n_calls in items]
    got = engine.invoke_many(jobs, expect)
    return [_observation(answers[0], answers[1:]) for answers in got], got


def settle_stack_depth(engines: list[Engine], path: Path, obs: dict[str, Observation]) -> None:
    """Stack depth is engine-dependent by design: when an engine overflowed its stack at call J,
    every engine that got past J is compared on the first J calls only (one more invoke)."""
    deep = [o.form[1] for o in obs.values() if o.form and o.form[0] == "trap" and o.form[2] == "stack-overflow"]
    if not deep:
        return
    J = min(deep)
    for e in engines:
        form = obs[e.spec].form
        if not form or form[0] == "died" or (form[0] == "trap" and form[1] < J):
            continue
        if form[0] == "trap" and form[1] == J:
            obs[e.spec] = Observation(("upto", J, form[3]))
        else:
            got = engine_prefix_value(e, path, J)
            obs[e.spec] = Observation(("upto", J, got) if got is not None else None, "no value for the prefix")


def engine_prefix_value(engine: Engine, path: Path, k: int) -> int | None:
    return FNV_OFFSET if k == 0 else engine.invoke(path, [prefix(k)])[0].value


@dataclass
class Judged:
    """One module's judgement. verdict: "same" (at least two engine families answered and all
    agree), "deviation" (a majority of families, and engines off it), "ambiguous" (a tie between
    answers: no majority, so no engine is blamed; every answer is kept), "one-family" (fewer
    than two families answered: nothing was compared) or "no-answer". `crashed` (host-crashed:
    a signal, a panic) are findings whatever the vote; they do not vote."""

    verdict: str
    deviating: list = field(default_factory=list)
    crashed: list = field(default_factory=list)
    majority: tuple | None = None


def judge(forms: dict[str, tuple | None], families: dict[str, str] | None = None) -> Judged:
    """Every engine family weighs one vote in all (split among its rows and configurations),
    so nine wasmtime configurations do not outvote V8 and WasmEdge."""
    families = families or {k: k for k in forms}
    crashed = [k for k, v in forms.items() if v is not None and v[0] == "died"]
    voting = {k: v for k, v in forms.items() if v is not None and k not in crashed}
    if len({families.get(k, k) for k in voting}) < 2:
        return Judged("one-family" if voting else "no-answer", crashed=crashed)
    size = Counter(families.get(k, k) for k in voting)
    weight: dict[tuple, float] = {}
    for k, v in voting.items():
        weight[v] = weight.get(v, 0.0) + 1.0 / size[families.get(k, k)]
    top = max(weight.values())
    leaders = [v for v, w in weight.items() if w >= top - 1e-9]
    if len(leaders) > 1:
        return Judged("ambiguous", crashed=crashed)
    majority = leaders[0]
    dev = [k for k, v in voting.items() if v != majority]
    return Judged("deviation" if dev else "same", dev, crashed, majority)


def deviators(forms: dict[str, tuple | None], families: dict[str, str] | None = None) -> list[str]:
    """Engines off the majority, and engines that crashed (ties blame nobody: see judge)."""
    j = judge(forms, families)
    return j.deviating + j.crashed


def run_all(engines: list[Engine], module: bytes, seed: int, workdir: Path) -> tuple[dict[str, Observation], int]:
    """Every engine's observation of the driven module, and the number of calls made."""
    return run_many(engines, [(module, seed)], workdir)[0]


def run_many(engines: list[Engine], batch: list[tuple[bytes, int]], workdir: Path,
             workers: int = PARALLEL) -> list[tuple[dict[str, Observation], int]]:
    """run_all for a batch of (module, seed): each engine answers the whole batch at once (see
    observe_many), `workers` engines at a time; a module that cannot be driven is left out
    (None in its place)."""
    items: list[tuple[Path, int] | None] = []
    for module, seed in batch:
        try:
            driven_module, n_calls = driven(module, seed)
        except ValueError:
            items.append(None)
            continue
        path = workdir / f"{hashlib.sha256(driven_module).hexdigest()[:16]}.wasm"
        path.write_bytes(driven_module)
        items.append((path, n_calls))
    live = [it for it in items if it is not None]
    per_module: list[dict[str, Observation]] = [{} for _ in live]

    def answer(group: list[Engine], expect) -> list[list[Invoked]] | None:
        answers = None
        for e in group:
            start = time.perf_counter()
            got, answers = observe_many(e, live, expect) if live else ([], None)
            each = (time.perf_counter() - start) / max(1, len(live))
            for obs, o in zip(per_module, got):
                o.seconds = each
                obs[e.spec] = o
        return answers

    # The first real engine answers first: its answers are what a script-driven CLI is checked
    # against. The others run side by side, one thread per engine process (configurations that
    # share a wasmtime-py child take turns in it).
    lead = next((e for e in engines if not getattr(e, "planted", False)), None)
    expect = answer([lead], None) if lead is not None else None
    groups: dict[object, list[Engine]] = {}
    for e in engines:
        if e is not lead:
            groups.setdefault(id(e.host) if getattr(e, "host", None) is not None else e.spec, []).append(e)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda group: answer(group, expect), groups.values()))
    out, it = [], iter(zip(live, per_module))
    for item in items:
        if item is None:
            out.append(None)
            continue
        (path, n_calls), obs = next(it)
        settle_stack_depth(engines, path, obs)
        out.append((obs, n_calls))
    return out


def still_differs(engine_specs: list[str], seed: int, module_path: Path) -> bool:
    engines = [Engine(s) for s in engine_specs]
    with tempfile.TemporaryDirectory(prefix="wc-pred-") as tmp:
        got = run_all(engines, Path(module_path).read_bytes(), seed, Path(tmp))
    if got is None:
        return False
    obs, _ = got
    j = judge({k: o.form for k, o in obs.items()}, {e.spec: e.family for e in engines})
    return bool(j.deviating or j.crashed) or j.verdict == "ambiguous"


# -- findings ---------------------------------------------------------------------------------

def bounds_trap_at(form: tuple) -> int | None:
    """The call at which a form trapped out of bounds (memory or table), None if it did not."""
    return form[1] if form[0] == "trap" and "out-of-bounds" in form[2] else None


def shape(form: tuple | None) -> str:
    """A form without its values: what kind of answer it was (ok, a trap kind, a crash)."""
    if form is None:
        return "none"
    return f"trap:{form[2]}" if form[0] == "trap" else form[0]


@dataclass
class Finding:
    engines: list[str]
    deviating: list[str]  # the engines blamed: off the majority, or crashed (none for "ambiguous")
    seed: int
    module: bytes
    forms: dict
    shrunk: bytes | None = None
    directory: Path | None = None
    notes: list = field(default_factory=list)
    verdict: str = "deviation"  # deviation | ambiguous | host-crashed
    majority: tuple | None = None
    modules: int = 1  # modules that showed this same finding (its key)

    @property
    def key(self) -> tuple:
        """What makes two findings the same: the verdict, who is blamed, and the shape of each
        blamed engine's answer against the majority's (ambiguous: every engine's answer shape)."""
        who = self.deviating if self.deviating else sorted(self.forms)
        return (self.verdict, shape(self.majority), tuple(sorted((k, shape(self.forms.get(k))) for k in who)))

    @property
    def kind(self) -> str:
        """"safety" (SAFETY-2) when a blamed engine crashed, or its bounds traps differ from the
        majority's (it returned where the others trapped out of bounds, trapped out of bounds
        where they went on, or went past their bounds trap); "ambiguous" for a tie; else "port"
        (PORT-2)."""
        if self.verdict == "ambiguous":
            return "ambiguous"
        majority = self.majority or next((f for k, f in self.forms.items() if k not in self.deviating and f), None)
        for dev in self.deviating:
            form = self.forms.get(dev)
            if form and form[0] == "died":
                return "safety"
            if form and majority and bounds_trap_at(form) != bounds_trap_at(majority):
                return "safety"
        return "port"

    def command(self, wasm: Path) -> str:
        return (f"{Path(sys.executable).name} -m harness.difffuzz still-differs --engines {','.join(self.engines)} "
                f"--seed {self.seed} {wasm}")


def shrink(engine_specs: list[str], seed: int, module: bytes, attempts: int, workdir: Path,
           timeout_s: float = 1800) -> bytes | None:
    """`wasm-tools shrink` with this module's still-differs as the predicate (None if it failed
    or ran out of time)."""
    pred = workdir / "still-differs.sh"
    repo = Path(__file__).resolve().parent.parent
    pred.write_text("#!/bin/sh\n"
                    f"cd '{repo}' && exec '{sys.executable}' -m harness.difffuzz still-differs "
                    f"--engines '{','.join(engine_specs)}' --seed {seed} \"$1\" >/dev/null 2>&1\n")
    pred.chmod(pred.stat().st_mode | stat.S_IEXEC)
    src, out = workdir / "input.wasm", workdir / "shrunk.wasm"
    src.write_bytes(module)
    try:
        proc = subprocess.run([wasm_tools(), "shrink", "--attempts", str(attempts), str(pred), str(src), "-o", str(out)],
                              capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    return out.read_bytes() if proc.returncode == 0 and out.is_file() else None


def keep(f: Finding, root: Path = FINDINGS_DIR) -> Path:
    """reports/findings/<hash>/: module.wasm (+ shrunk.wasm), .wat, command.txt, result.json."""
    best = f.shrunk or f.module
    d = root / f"difffuzz-{hashlib.sha256(best).hexdigest()[:12]}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "module.wasm").write_bytes(f.module)
    (d / "module.wat").write_text(to_wat(f.module))
    if f.shrunk:
        (d / "shrunk.wasm").write_bytes(f.shrunk)
        (d / "shrunk.wat").write_text(to_wat(f.shrunk))
    (d / "command.txt").write_text(f.command(d / ("shrunk.wasm" if f.shrunk else "module.wasm")) + "\n")
    (d / "result.json").write_text(json.dumps({"engines": f.engines, "deviating": f.deviating, "seed": f.seed,
                                               "kind": f.kind, "verdict": f.verdict, "modules": f.modules, "forms": {k: repr(v)[:2000] for k, v in f.forms.items()},
                                               "module_bytes": len(f.module), "shrunk_bytes": len(f.shrunk or b"")}, indent=1))
    f.directory = d
    return d


@dataclass
class Campaign:
    """What one fuzzing run saw: module and call counts, per engine how many modules it was
    compared on, crashed, deviated or tied on, its time-outs and errors and why it could not be
    compared on the others, and every distinct finding (Finding.key)."""

    modules: int = 0
    calls: int = 0
    replayed: int = 0  # earlier findings from the Hypothesis database, run again first
    compared: Counter = field(default_factory=Counter)  # modules on which at least two families answered
    seconds: Counter = field(default_factory=Counter)  # spec -> seconds its observations took
    timeouts: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    crashed: Counter = field(default_factory=Counter)  # host-crashed (signal, panic), whatever the others did
    deviated: Counter = field(default_factory=Counter)  # off the majority
    ambiguous: Counter = field(default_factory=Counter)  # a tie, no majority: nobody blamed
    verdicts: Counter = field(default_factory=Counter)  # per module: same, deviation, ambiguous, one-family, no-answer
    not_compared: dict = field(default_factory=dict)  # spec -> Counter of reasons
    findings: list = field(default_factory=list)
    seen: dict = field(default_factory=dict)  # Finding.key -> the first finding with it

    def add(self, engines: list[Engine], module: bytes, seed: int, workdir: Path) -> list[Finding]:
        """Run one module everywhere, count it, and return its findings (none if all agree)."""
        return self.add_many(engines, [(module, seed)], workdir)

    def add_many(self, engines: list[Engine], batch: list[tuple[bytes, int]], workdir: Path) -> list[Finding]:
        """add() for a batch: every engine answers the whole batch in one go (run_many)."""
        return [f for (module, seed), got in zip(batch, run_many(engines, batch, workdir)) if got is not None
                for f in self._count(engines, module, seed, *got)]

    def _count(self, engines, module, seed, obs, n_calls) -> list[Finding]:
        self.modules += 1
        self.calls += n_calls
        forms = {k: o.form for k, o in obs.items()}
        families = {e.spec: e.family for e in engines}
        j = judge(forms, families)
        self.verdicts[j.verdict] += 1
        for spec, o in obs.items():
            self.seconds[spec] += o.seconds
            if o.form is None:  # one reason per kind of failure, not per module file
                (self.timeouts if o.why == "timed out" else self.errors)[spec] += 1
                self.not_compared.setdefault(spec, Counter())[MODULE_PATH.sub("<module>", o.why)] += 1
            elif spec in j.crashed:
                self.crashed[spec] += 1
            elif j.verdict == "one-family":
                self.not_compared.setdefault(spec, Counter())[
                    f"only one engine family answered ({families.get(spec, spec)}): nothing to compare with"] += 1
            else:
                self.compared[spec] += 1
                if j.verdict == "ambiguous":
                    self.ambiguous[spec] += 1
                elif spec in j.deviating:
                    self.deviated[spec] += 1
        specs = [e.spec for e in engines]
        found = [Finding(specs, [k], seed, module, forms, verdict="host-crashed", majority=j.majority) for k in j.crashed]
        if j.verdict == "deviation":
            found.append(Finding(specs, j.deviating, seed, module, forms, majority=j.majority))
        elif j.verdict == "ambiguous":
            found.append(Finding(specs, [], seed, module, forms, verdict="ambiguous"))
        return found


    def verdict(self, spec: str) -> dict:
        """One engine's PORT-2 record: outcome (not-tested, host-crashed, mismatch, inconclusive
        when every compared module was a tie, same), value, reason, and its findings. "same" is
        only said of modules on which at least two engine families answered."""
        compared, crashed = self.compared[spec], self.crashed[spec]
        tied, deviated = self.ambiguous[spec], self.deviated[spec]
        reasons = self.not_compared.get(spec) or Counter()
        failures = f"{self.timeouts[spec]} time-outs, {self.errors[spec]} errors"
        if not compared and not crashed:
            return {"outcome": "not-tested", "value": None, "findings": [],
                    "reason": f"compared on none of {self.modules} modules ({failures}); most often: "
                              f"{reasons.most_common(1)[0][0] if reasons else 'no answer'}"}
        mine = [f for f in self.findings if spec in f.deviating]
        skipped = (f"; not compared on {self.modules - compared - crashed} ({failures}; most often: "
                   f"{reasons.most_common(1)[0][0]})" if reasons else "")
        ties = f"; {tied} ties between engine families (ambiguous: nobody blamed, every answer kept)" if tied else ""
        if mine:
            first = mine[0].command(mine[0].directory / "module.wasm") if mine[0].directory else "not kept"
            return {"outcome": "host-crashed" if crashed else "mismatch", "value": 1, "findings": mine,
                    "reason": (f"host crashed on {crashed} modules; " if crashed else "") +
                              (f"deviated from the majority on {deviated} modules; " if deviated else "") +
                              f"{len(mine)} distinct finding(s); first: {first}" + ties + skipped}
        if compared == tied:
            return {"outcome": "inconclusive", "value": None, "findings": [],
                    "reason": f"every one of the {compared} compared modules was a tie between engine families, "
                              "so there was no majority to agree with" + skipped}
        return {"outcome": "same", "value": 0, "findings": [],
                "reason": f"agreed with the majority on {compared - tied} of {self.modules} modules with at least two "
                          f"engine families answering, {self.calls} calls" + ties + skipped}


DB_KEY = b"wasm-claims/difffuzz/"
MODULE_PATH = re.compile(r'"?/\S*?\.wasm"?')
REPLAY_MAX = 50


def campaign(engines: list[Engine], examples: int, shrink_attempts: int, profile: str = "mvp",
             findings_root: Path = FINDINGS_DIR, progress=lambda m: None, database=None,
             slot: budget.Slot | None = None, batch: int = 25) -> Campaign:
    """Earlier disagreements from the Hypothesis database first, then Hypothesis draws smith
    seeds and argument seeds (`examples` of them, or until `slot`, a --fuzz-budget share, is
    spent), run everywhere `batch` modules at a time (one engine process per batch where the row
    has one); every distinct finding (Finding.key; later modules with the same key are counted on
    it) is shrunk, kept under
    `findings_root` and saved to the database (seed + module)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    db = database if database is not None else settings.default.database
    key = DB_KEY + profile.encode()
    result = Campaign()

    def found(f: Finding) -> None:
        if f.key in result.seen:
            result.seen[f.key].modules += 1
            return
        result.seen[f.key] = f
        progress(f"difffuzz: {f.verdict}: {', '.join(f.deviating) or 'a tie between ' + ', '.join(sorted(f.forms))}; shrinking")
        with tempfile.TemporaryDirectory(prefix="wc-shrink-") as sh:
            f.shrunk = shrink(f.engines, f.seed, f.module, shrink_attempts, Path(sh),
                              1800 if slot is None else max(10.0, slot.left()))
        keep(f, findings_root)
        result.findings.append(f)
        if db is not None:
            db.save(key, f.seed.to_bytes(8, "little") + (f.shrunk or f.module))

    with tempfile.TemporaryDirectory(prefix="wc-difffuzz-") as tmp:
        work = Path(tmp)
        for entry in list(db.fetch(key))[:REPLAY_MAX] if db is not None else []:
            result.replayed += 1
            for f in result.add(engines, entry[8:], int.from_bytes(entry[:8], "little"), work):
                found(f)

        counted = budget.Counted(slot)
        pending: list[tuple[bytes, int]] = []
        cost = {"seconds": 0.0, "modules": 0}

        def full() -> bool:
            """A batch is due: `batch` modules, or, in a slot, as many as the time left runs
            (measured per module so far; the first batch is small), so a batch never overruns it."""
            if slot is None:
                return len(pending) >= batch
            per_module = cost["seconds"] / cost["modules"] if cost["modules"] else None
            due = min(batch, 5) if per_module is None else max(1, min(batch, int(slot.left() / per_module)))
            return len(pending) >= due

        def flush():
            before, start = result.modules, time.perf_counter()
            findings = result.add_many(engines, pending, work)
            cost["seconds"] += time.perf_counter() - start
            cost["modules"] += len(pending)
            pending.clear()
            for f in findings:
                found(f)
            if result.modules // 100 > before // 100:
                progress(f"difffuzz {profile}: {result.modules} modules, {len(result.findings)} disagreement(s)")

        def make():
            @given(st.binary(min_size=16, max_size=2048), st.integers(0, 2**32 - 1), st.booleans())
            @counted
            def one(data, seed, traps):
                module = smith(data, profile, traps)
                if module is not None:
                    pending.append((module, seed))
                    if full():
                        flush()
            return one

        budget.run_hypothesis(make, examples, slot, counted, deadline=None, database=None)
        flush()
    return result


def available_engines(rows: list[str] | None = None, progress=lambda m: None) -> list[Engine]:
    """Every row x configuration here that can invoke an export (what the security suite runs)."""
    from harness.runtimes import RUNTIMES
    from harness.toolchain import host_arch

    unknown = [r for r in rows or [] if r not in RUNTIMES]
    if unknown:
        raise ValueError(f"no runtime row {', '.join(map(repr, unknown))} (rows: {', '.join(RUNTIMES)})")
    engines = []
    for row in rows or list(RUNTIMES):
        rt = RUNTIMES[row]
        if not rt.availability(host_arch()).available:
            continue
        for config in engine_configs(rt):
            e = Engine(f"{row}/{config}")
            why = e.unsupported()
            if why:
                progress(f"{e.spec}: not run ({why})")
            else:
                engines.append(e)
    return engines


def throughput(engines: list[Engine], modules: int, batch: int = 25, seed: int = 1) -> dict:
    """Module executions per second, one by one (as before batching) and batched, on the same
    smith modules in one run, per row and summed; and whether both ways saw the same forms."""
    rng = random.Random(seed)
    drawn: list[tuple[bytes, int]] = []
    while len(drawn) < modules:
        module = smith(rng.randbytes(rng.randrange(64, 2048)), "mvp", rng.random() < 0.5)
        if module is not None:
            drawn.append((module, rng.getrandbits(32)))
    out = {"modules": modules, "batch": batch, "engines": {}}
    with tempfile.TemporaryDirectory(prefix="wc-bench-") as tmp:
        runs = {}
        for mode in ("one-by-one", "batched"):
            for e in engines:
                e.batched = mode == "batched"
            start = time.perf_counter()
            got = []
            for i in range(0, len(drawn), batch if mode == "batched" else 1):  # one by one: as before, one engine at a time
                got += run_many(engines, drawn[i:i + (batch if mode == "batched" else 1)], Path(tmp),
                                PARALLEL if mode == "batched" else 1)
            wall = time.perf_counter() - start
            runs[mode] = got
            executions = sum(len(obs) for obs, _ in filter(None, got))
            out[mode] = {"wall_s": round(wall, 2), "executions": executions, "per_s": round(executions / wall, 1)}
            for e in engines:
                spent = sum(obs[e.spec].seconds for obs, _ in filter(None, got))
                row = out["engines"].setdefault(e.spec, {})
                row[mode] = {"seconds": round(spent, 2), "per_s": round(len(drawn) / spent, 1) if spent else None}
    pairs = [(a[0], b[0]) for a, b in zip(runs["one-by-one"], runs["batched"]) if a and b]
    differing = [d for d in ({k: [o.form, b[k].form] for k, o in a.items() if o.form != b[k].form} for a, b in pairs) if d]
    out["same_forms"] = f"{len(pairs) - len(differing)} of {sum(1 for a in runs['batched'] if a)} modules"
    out["differing"] = differing
    out["speedup"] = round(out["batched"]["per_s"] / out["one-by-one"]["per_s"], 2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.difffuzz", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sd = sub.add_parser("still-differs", help="exit 0 if the engines still disagree on the module (wasm-tools shrink's predicate)")
    sd.add_argument("--engines", required=True, help="comma-separated engine specs (ROW/CONFIG or planted-flip:ROW/CONFIG)")
    sd.add_argument("--seed", type=int, required=True, help="the argument seed the finding was made with")
    sd.add_argument("module")
    bench = sub.add_parser("throughput", help="module executions per second, one by one vs batched, on the same modules")
    bench.add_argument("--modules", type=int, default=60)
    bench.add_argument("--batch", type=int, default=25)
    bench.add_argument("--rows", default="", help="comma-separated runtime rows (default: every available one)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "throughput":
            engines = available_engines([r for r in args.rows.split(",") if r] or None, lambda m: print(m, file=sys.stderr))
            print(json.dumps(throughput(engines, args.modules, args.batch), indent=1))
            return 0
        return 0 if still_differs(args.engines.split(","), args.seed, Path(args.module)) else 1
    except (ValueError, ToolMissing) as exc:
        print(f"difffuzz: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
