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
from harness.runtimes.base import Limits, VersionUnavailable, WasiSetup
from harness.runtimes.cargo_install import CargoCliRuntime, CargoEngine
from harness.runtimes.cli import CliSession

FUEL_LINE = re.compile(rb"fuel consumed: \d+, fuel remaining: \d+\n\Z")
WASMI = CargoEngine("wasmi", "wasmi_cli", "wasmi", "2.0.0",
                    build_note="its first build took 36 min on 2 busy cores at nice 10: release with fat LTO")
# `wasmi wast` with a compilation mode (drivers/wasmi_wast: the same crates at the same version),
# so the eager and lazy rows answer differential fuzzing's batches in one process too.
WASMI_WAST = CargoEngine("wasmi-wast-mode", "wasmi-wast-mode", "wasmi-wast-mode", WASMI.default_version,
                         build_note="about a minute on 2 busy cores", path=Path(__file__).with_name("drivers") / "wasmi_wast")


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

    def for_version(self, version: str, progress=print) -> "Wasmi":
        """The CLI, and for the pinned version the WAST driver that takes a compilation mode
        (without it the eager and lazy rows answer batches a process per call, as they say)."""
        pinned = super().for_version(version, progress)
        if version == WASMI_WAST.default_version:
            try:
                WASMI_WAST.install(version, progress)
            except VersionUnavailable as exc:
                progress(f"note: {exc}; wasmi's eager and lazy rows answer differential fuzzing a process per call")
        return pinned

    def mode_driver(self) -> str | None:
        """The built WAST driver for this row's version, if any."""
        if (self.pinned or WASMI.default_version) != WASMI_WAST.default_version:
            return None
        path = WASMI_WAST.binary_path(WASMI_WAST.default_version)
        return str(path) if path.is_file() else None

    @property
    def wast_takes_options(self) -> bool:  # type: ignore[override]
        """`wasmi wast` has no --compilation-mode; the driver has."""
        return self.mode_driver() is not None

    def wast_command(self, script: Path, options: tuple[str, ...], arch: str | None = None) -> list[str]:
        driver = self.mode_driver()
        if driver is None:
            return super().wast_command(script, options, arch)
        mode = dict(zip(options[::2], options[1::2])).get("--compilation-mode", "lazy-translation")
        return [driver, mode, str(script)]

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
