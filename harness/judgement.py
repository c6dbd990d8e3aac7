"""One path from records to judgements: the word of a record, of a row, and the coverage of a claim.

Every consumer of records (claims.py's rules, report/decisions.py, policy.py through
results.build_results) asks this module what a record says, so one record cannot be a
violation in one place and ignored in another.

Per record the word is one of:
- `held` / `violated`: a decided check (the rule that reads it says which side it is on);
- `inconclusive`: the run proves nothing (a failed positive control, a straddling interval);
- `not-tested`: the check did not run here, with the reason;
- `error`: the harness failed (a failed test, a build or tool error): never a violation, never a pass.

Per claim a verdict carries its **coverage**: which of the rows that the run selected (runtime@version
[configuration], or the form) were decided, and why the others were not. A word that rests on fewer
rows than were selected says so (`supported (1 of 3 rows; 2 not tested)`) and is `partial`, which a
policy rule does not accept unless it says so.

Finding words are one vocabulary (below): AGAINST_ROW count against a sandbox row (an effect
outside the guest was observed, or the host died); LISTED are shown beside the verdict.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness import advisories

WORDS = ("held", "violated", "inconclusive", "not-tested", "error")
DECIDED = ("held", "violated")
UNTESTED_OUTCOMES = frozenset({"not-tested", "skipped", "not-run"})
ERROR_OUTCOMES = frozenset({"error"})
INCONCLUSIVE_OUTCOMES = frozenset({"inconclusive"})

# escaped: an effect outside the guest observed (a canary read or changed, host state changed, memory outside written)
# out-of-bounds-access: the engine's access left linear memory (a trap where the spec says in bounds, or the reverse)
# host-crashed: the runtime process or in-process host died (signal, panic, abort)
AGAINST_ROW = ("escaped", "out-of-bounds-access", "host-crashed")
# spec-deviation: accepted what the spec rejects (or the reverse) with no effect outside the guest
# wrong-result: a value differs from the spec's (a miscompile)
# spec-permitted-nondeterminism: differs where the spec leaves the result open (a NaN's sign or payload)
# limit-not-held: a resource limit the runtime was given did not stop the guest
LISTED = ("spec-deviation", "wrong-result", "spec-permitted-nondeterminism", "limit-not-held")
FINDING_WORDS = AGAINST_ROW + LISTED


def number(value) -> float | None:
    """A finite number (bools count as 0/1, as the claim rules read them), else None."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def record_word(rec: dict, violated=None) -> str:
    """The word for one record. `violated(rec)` -> True / False / None (None: its interval
    straddles the rule's threshold) decides a record that ran; without it a value of 0 is held."""
    outcome = str(rec.get("outcome") or "")
    if outcome in UNTESTED_OUTCOMES:
        return "not-tested"
    if outcome in ERROR_OUTCOMES:
        return "error"
    if outcome in INCONCLUSIVE_OUTCOMES or number(rec.get("value")) is None:
        return "inconclusive"
    side = violated(rec) if violated is not None else number(rec["value"]) >= 0.5
    return "inconclusive" if side is None else "violated" if side else "held"


def decided(rec: dict) -> bool:
    """A check that was decided: it ran, its value is a number, and it proved something."""
    return record_word(rec) in DECIDED


def row_of(rec: dict) -> str:
    """A row as verdicts name it: runtime@version (pinned rows carry it in their name), plus the
    engine configuration when it is not the default; the form for records without a runtime."""
    details = rec.get("details") or {}
    config, version = details.get("engine_config"), details.get("runtime_version")
    row = str(rec.get("runtime") or rec.get("form") or "-")
    version = advisories.parse_version(str(version or "")) if "@" not in row else None
    row = f"{row}@{version}" if version else row
    return f"{row} [{config}]" if config and config != "default" and isinstance(config, str) else row


def base_row(row: str) -> str:
    """The runtime (or form) a row belongs to: `wasmtime-py@41.0.0 [pooling]` -> `wasmtime-py`."""
    return row.split(" [")[0].split("@")[0].split("==")[0]


@dataclass
class Row:
    """What the records and tests of one row say for one claim."""

    name: str
    words: Counter = field(default_factory=Counter)
    reasons: dict = field(default_factory=dict)  # word -> the first reason seen

    def add(self, word: str, reason: str = "") -> None:
        self.words[word] += 1
        if reason:
            self.reasons.setdefault(word, reason)

    @property
    def word(self) -> str:
        """violated if any check was; an error (a harness failure) keeps the row from counting as held;
        held only when held checks outnumber the inconclusive ones; else inconclusive or not tested."""
        w = self.words
        if w["violated"]:
            return "violated"
        if w["error"]:
            return "error"
        if w["held"] and w["held"] > w["inconclusive"]:
            return "held"
        if w["inconclusive"] or w["held"]:
            return "inconclusive"
        return "not-tested"

    @property
    def reason(self) -> str:
        word = self.word
        why = self.reasons.get(word) or self.reasons.get("not-tested") or ""
        if word == "inconclusive" and self.words["held"]:
            why = f"{self.words['inconclusive']} inconclusive vs {self.words['held']} held" + (f"; {why}" if why else "")
        return why


@dataclass
class Coverage:
    """Which selected rows decided a claim, and why the others did not."""

    rows: dict[str, Row]

    def of(self, word: str) -> list[str]:
        return sorted(n for n, r in self.rows.items() if r.word == word)

    @property
    def tested(self) -> list[str]:
        return sorted(n for n, r in self.rows.items() if r.word in DECIDED)

    @property
    def untested(self) -> dict[str, str]:
        """row -> 'word: reason' for every selected row that decided nothing."""
        return {n: f"{r.word}: {r.reason}".rstrip(": ") for n, r in sorted(self.rows.items()) if r.word not in DECIDED}

    @property
    def partial(self) -> bool:
        return bool(self.tested) and bool(self.untested)

    def text(self) -> str:
        n, k = len(self.rows), len(self.tested)
        kinds = Counter(r.word for r in self.rows.values() if r.word not in DECIDED)
        return f"{k} of {n} rows" + "".join(f"; {c} {w}" for w, c in sorted(kinds.items()))

    def to_dict(self) -> dict:
        inconclusive = {n: r.words["inconclusive"] for n, r in self.rows.items() if r.words["inconclusive"]}
        return {"rows": len(self.rows), "tested": self.tested, "untested": self.untested,
                "fraction": round(len(self.tested) / len(self.rows), 4) if self.rows else 0.0,
                "partial": self.partial, "inconclusive_checks": inconclusive}


def coverage(records: list[dict], *, violated=None, skips=(), errors=(), exclude_forms=()) -> Coverage:
    """Rows of one claim from its records (`violated` as in record_word), its skipped tests and its
    failed tests (`{"row", "reason"}`). A skipped or failed test whose row has records of the same
    runtime adds to that row; otherwise it is a row of its own (a runtime that is not installed)."""
    rows: dict[str, Row] = {}
    for r in records:
        if r.get("form") in exclude_forms:
            continue
        name = row_of(r)
        reason = str((r.get("details") or {}).get("reason") or "")
        rows.setdefault(name, Row(name)).add(record_word(r, violated), reason)
    by_base = defaultdict(list)
    for name in rows:
        by_base[base_row(name)].append(name)
    for word, tests in (("not-tested", skips), ("error", errors)):
        for t in tests:
            row = str(t.get("row") or "")
            if not row or row in exclude_forms:
                continue
            if word == "not-tested" and by_base.get(base_row(row)):
                continue  # one test of a row that ran was skipped: the row still stands on its records
            for name in by_base.get(base_row(row)) or [row]:
                rows.setdefault(name, Row(name)).add(word, str(t.get("reason") or ""))
    return Coverage(rows)


def qualify(word: str, cov: Coverage) -> str:
    """The verdict word as shown: with its coverage when it rests on fewer rows than were selected."""
    if word in ("supported", "refuted", "partly-supported") and cov.partial:
        return f"{word} ({cov.text()})"
    return word
