"""The native form: the workload's own binary as a process (under qemu-user for a foreign arch)."""

from __future__ import annotations

from pathlib import Path

from harness import arch as arch_mod
from harness.forms.base import Form, FormSpec, FormUnavailable
from harness.outcome import Outcome
from harness.process import run_process


class NativeForm(Form):
    def __init__(self, spec: FormSpec, binary: Path, default_timeout_s: float, *, dynamic: bool = False):
        super().__init__(spec, default_timeout_s)
        support = arch_mod.support(spec.arch)
        if not support.available:
            raise FormUnavailable(support.reason)
        self.binary, self.dynamic, self.support = Path(binary), dynamic, support
        self.details.update({"emulated": support.emulated, "launcher": support.version})

    def command(self) -> list[str]:
        return self.support.command(str(self.binary), dynamic=self.dynamic)

    def _run(self, stdin: bytes, timeout_s: float) -> Outcome:
        return run_process(self.command(), stdin, timeout_s)
