"""The Wasm form: one .wasm module run by a runtime adapter (harness.runtimes)."""

from __future__ import annotations

from pathlib import Path

from harness.forms.base import Form, FormSpec, FormUnavailable
from harness.outcome import Outcome
from harness.runtimes import RUNTIMES, Limits


class WasmForm(Form):
    def __init__(self, spec: FormSpec, module: Path, default_timeout_s: float, limits: Limits = Limits()):
        super().__init__(spec, default_timeout_s)
        runtime = RUNTIMES.get(spec.runtime)
        if runtime is None:
            raise FormUnavailable(f"unknown Wasm runtime {spec.runtime!r} (known: {', '.join(RUNTIMES)})")
        avail = runtime.availability(spec.arch)
        if not avail.available:
            raise FormUnavailable(f"{spec.runtime} on {spec.arch}: {avail.reason}")
        self.module, self.runtime = Path(module), runtime
        self.session = runtime.open(self.module, limits, spec.arch)
        self.details.update({"runtime_version": avail.version, "engine": runtime.engine_name, "mode": runtime.mode,
                             "capabilities": sorted(runtime.capabilities)})

    def _run(self, stdin: bytes, timeout_s: float) -> Outcome:
        return self.session.run(stdin, timeout_s)

    def close(self) -> None:
        self.session.close()
