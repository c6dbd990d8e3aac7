"""Structured evidence: the facts a test measured, each tied to a claim.

Tests get an `Evidence` through the `evidence` fixture and call `record(...)`; the plugin
collects every record into results.json, where claims.py turns them into verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

RECORD_FIELDS = ("suite", "test", "claim", "workload", "form", "runtime", "arch", "metric", "value", "unit", "outcome")


class PortabilityFinding(UserWarning):
    """A measured difference that decides a claim (shown in pytest's warnings summary), as
    opposed to a harness failure, which fails the test. It lives in the harness package because
    a pytest-xdist controller re-creates a worker's warning by importing its class's module."""


@dataclass
class Evidence:
    suite: str
    test: str
    default_claim: str | None
    sink: list = field(default_factory=list)

    def record(self, metric: str, value, unit: str = "", *, claim: str | None = None, workload=None, spec=None,
               form: str | None = None, runtime: str | None = None, arch: str | None = None, outcome: str = "",
               **details) -> dict:
        """Add one measurement or observation. `spec` (a FormSpec) fills form/runtime/arch."""
        if spec is not None:
            form, runtime, arch = form or spec.form, runtime or spec.runtime, arch or spec.arch
            details.setdefault("language", spec.language)
        if form == "wasm" and runtime:  # every Wasm record names its engine, mode and version
            from harness.runtimes import row_details

            details = {**row_details(runtime, arch), **details}
        if isinstance(value, float) and not math.isfinite(value):
            details["non_finite"] = repr(value)
            value = None
        rec = {
            "suite": self.suite, "test": self.test, "claim": claim or self.default_claim,
            "workload": getattr(workload, "name", workload), "form": form, "runtime": runtime, "arch": arch,
            "metric": metric, "value": value, "unit": unit, "outcome": outcome, "details": details,
        }
        self.sink.append(rec)
        return rec
