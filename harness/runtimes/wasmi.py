"""wasmi, the interpreter (its `wasmi_cli` crate, built with cargo into the cache).

Its CLI meters fuel (`--fuel N`) but has no time or memory limit, and `--dir PATH` preopens
a directory only under its own host path: it cannot give a guest `/rw` for a temporary
folder. Such a preopen is left out (the guest gets less, never more, than asked) and the
outcome says so (`extra["preopens_not_granted"]` and a first stderr line); "preopen" is not
declared, so nothing that needs one counts on it; "preopen-same-name" is (a folder under its
own host path, what the generated WASI probes ask for)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from harness.outcome import Outcome
from harness.runtimes.base import Limits, WasiSetup
from harness.runtimes.cargo_install import CargoCliRuntime, CargoEngine
from harness.runtimes.cli import CliSession

FUEL_LINE = re.compile(rb"fuel consumed: \d+, fuel remaining: \d+\n\Z")
WASMI = CargoEngine("wasmi", "wasmi_cli", "wasmi", "2.0.0",
                    build_note="its first build took 36 min on 2 busy cores at nice 10: release with fat LTO")


class WasmiSession(CliSession):
    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        dropped = [p.guest for p in (wasi.preopens if wasi else ()) if str(p.host) != p.guest]
        if dropped:
            wasi = dataclasses.replace(wasi, preopens=tuple(p for p in wasi.preopens if p.guest not in dropped))
        out = super().run(stdin, timeout_s, wasi)
        if self.limits.fuel is not None:  # the CLI reports fuel on stdout after the guest's own output
            out.stdout = FUEL_LINE.sub(b"", out.stdout)
        if dropped:
            out.extra["preopens_not_granted"] = dropped
            out.stderr = f"wasm-claims: not granted {', '.join(dropped)} (wasmi's --dir cannot map a guest path)\n".encode() + out.stderr
        return out


class Wasmi(CargoCliRuntime):
    name = "wasmi"
    engine = "wasmi"
    mode = "interp"
    executable = "wasmi"
    capabilities = frozenset({"fuel", "preopen-same-name"})
    trap_pattern = re.compile(r"Error: (?:failed during execution of [^:]*|failed to instantiate and start the Wasm module): "
                              r"([^\n]+)")
    session_class = WasmiSession
    cargo = WASMI
    wast_subcommand = "wast"
    wast_takes_options = False  # `wasmi wast` has no --compilation-mode: only the default row batches

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        opts = [a for p in wasi.preopens for a in ("--dir", str(p.host))]
        opts += [a for k, v in wasi.env for a in ("--env", f"{k}={v}")]
        if limits.fuel is not None:
            opts += ["--fuel", str(limits.fuel)]
        return [self.program(arch), "run", *opts, str(module), *wasi.args]

    def invoke_configs(self) -> dict[str, tuple[str, ...]]:
        """Its compilation modes: lazy translation (the default), eager, and lazy (validation too)."""
        return {"default": (), "eager": ("--compilation-mode", "eager"), "lazy": ("--compilation-mode", "lazy")}

    def invoke_command(self, module: Path, export: str, arch: str, options: tuple[str, ...]) -> list[str] | None:
        return [self.program(arch), "run", *options, "--invoke", export, str(module)]
