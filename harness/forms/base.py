"""What every execution form shares: the spec that names it and the uniform interface."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from harness.outcome import Outcome

FORMS = ("native", "wasm", "python-process", "container")


@dataclass(frozen=True)
class FormSpec:
    """One way to run a workload: form x language x runtime x arch."""

    form: str
    language: str  # c, rust, python
    runtime: str  # os, wasmtime-py, wasmtime-cli, node-wasi, wasmedge, cpython, docker
    arch: str

    @property
    def id(self) -> str:
        lang = "" if self.language in ("c", "python") else f"-{self.language}"
        if self.form == "wasm":
            return f"wasm{lang}-{self.runtime}-{self.arch}"
        return f"{self.form}{lang}-{self.arch}"

    def to_dict(self) -> dict:
        return {"form": self.form, "language": self.language, "runtime": self.runtime, "arch": self.arch}


class FormUnavailable(Exception):
    """This form cannot run here (missing tool, engine or arch); the message is the skip reason."""


class Form(abc.ABC):
    """A workload made runnable in one form; built/started once, then run on many inputs."""

    def __init__(self, spec: FormSpec, default_timeout_s: float):
        self.spec = spec
        self.default_timeout_s = default_timeout_s
        self.details: dict = {}  # artifact, image, runtime version...: goes into evidence

    @abc.abstractmethod
    def _run(self, stdin: bytes, timeout_s: float) -> Outcome: ...

    def run(self, stdin: bytes, timeout_s: float | None = None) -> Outcome:
        return self._run(stdin, timeout_s or self.default_timeout_s)

    def close(self) -> None:
        """Stop servers and containers the form started."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
