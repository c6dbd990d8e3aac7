"""The shared shape of Wasm runtimes driven through their command line (wasmtime CLI,
node:wasi, WasmEdge, Wasmer, wasmi; one module each): find the program, ask its version,
build a command, run it with `harness.process.run_process` and read a trap from where that
engine writes it into the uniform Outcome.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from harness import arch as arch_mod
from harness.outcome import Outcome
from harness.process import run_process
from harness.runtimes import traps, wast
from harness.runtimes.base import Availability, Invoked, Limits, Session, WasiSetup, WasmRuntime
from harness.toolchain import host_arch


@functools.cache
def program_version(program: str, *launcher: str) -> str:
    try:
        out = subprocess.run([*launcher, program, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (out.stdout or out.stderr).strip()
    if out.returncode != 0:  # e.g. a foreign-arch binary whose shared libraries are missing
        return f"unknown (exit {out.returncode}: {text.splitlines()[-1] if text else 'no output'})"
    return text.splitlines()[0] if text else "unknown"


class CliSession(Session):
    def __init__(self, runtime: "CliRuntime", module: Path, limits: Limits, arch: str):
        self.runtime, self.module, self.limits, self.arch = runtime, module, limits, arch

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        cmd = self.runtime.command(self.module, self.limits, timeout_s, self.arch, **({"wasi": wasi} if wasi else {}))
        outcome = run_process(cmd, stdin, timeout_s + self.runtime.startup_allowance_s)
        return self.runtime.read_trap(outcome)


class CliRuntime(WasmRuntime):
    """Base for command-line runtimes: subclasses say how to find, launch and read them.
    Without "foreign-arch" in its capabilities a runtime runs only on the host arch."""

    startup_allowance_s = 5.0
    trap_pattern: re.Pattern = re.compile(r"wasm trap: ([^\n]+)")
    executable = ""  # the program's name on PATH, for the default find()
    session_class: type[CliSession] = CliSession

    def find(self) -> str | None:
        """The host program (PATH by default)."""
        return shutil.which(self.executable) if self.executable else None

    def program(self, arch: str) -> str | None:
        if arch != host_arch() and "foreign-arch" not in self.capabilities:
            return None
        return self.find()

    def install_hint(self) -> str:
        """How to add this engine (shown by doctor and in skip reasons)."""
        return f"put `{self.executable}` on PATH"

    def missing_reason(self, arch: str) -> str:
        if arch != host_arch() and "foreign-arch" not in self.capabilities:
            return f"{self.engine_name} runs here only on the host arch ({host_arch()})"
        return f"{self.engine_name} not found; fix: {self.install_hint()}"

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        raise NotImplementedError

    def launcher(self, arch: str) -> tuple[str, ...]:
        return arch_mod.support(arch).launcher

    def availability(self, arch: str | None = None) -> Availability:
        arch = arch or host_arch()
        support = arch_mod.support(arch)
        if not support.available:
            return Availability(False, reason=support.reason)
        prog = self.program(arch)
        if prog is None:
            return Availability(False, reason=self.missing_reason(arch))
        version = program_version(prog, *self.launcher(arch)).replace(prog, Path(prog).name, 1)  # some print argv[0]
        if version.startswith("unknown"):
            hint = ""
            if support.emulated and arch in arch_mod.DEBIAN_CROSS_PACKAGE:  # a dynamically linked foreign binary
                libc = arch_mod.DEBIAN_CROSS_PACKAGE[arch]
                hint = f"; fix: apt-get install {libc} {libc.replace('libc6-', 'libgcc-s1-')}"
            return Availability(False, reason=f"{prog} does not run here: {version}{hint}")
        return self.usable(prog, version) or Availability(True, version)

    def usable(self, program: str, version: str) -> Availability | None:
        """An engine-specific reason the found program cannot serve this row (e.g. a Wasmer
        built without this row's compiler); None when it can."""
        return None

    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session:
        return self.session_class(self, Path(module), limits, arch or host_arch())

    # -- differential fuzzing: call one export that takes no arguments and returns an i64 --

    def invoke_configs(self) -> dict[str, tuple[str, ...]]:
        """Engine configurations differential fuzzing runs this row under: name -> extra CLI
        options (a version that lacks one answers with an error: not tested, with it)."""
        return {"default": ()}

    def invoke_command(self, module: Path, export: str, arch: str, options: tuple[str, ...]) -> list[str] | None:
        """The command that calls `export` and prints its result (None: this CLI cannot)."""
        return None

    def invoke(self, module: Path, exports: list[str], options: tuple[str, ...] = (), timeout_s: float = 30.0,
               arch: str | None = None) -> list[Invoked]:
        """Each export on a fresh instance, one process each."""
        out = []
        for export in exports:
            cmd = self.invoke_command(Path(module), export, arch or host_arch(), options)
            if cmd is None:
                return [Invoked(error=f"{self.name} cannot invoke an export from its command line")] * len(exports)
            outcome = self.read_invoked(run_process(cmd, b"", timeout_s + self.startup_allowance_s))
            out.append(invoked(outcome, self.trap_pattern))
        return out

    def invoke_job(self, job: tuple[Path, list[str], list[str]], options: tuple[str, ...] = (), timeout_s: float = 30.0,
                   arch: str | None = None) -> list[Invoked]:
        """One job of a batch (module, exports, on_trap): each export on a fresh instance, then,
        if the last did not return, the on_trap exports in order up to the first that does not
        return either (the trapping call's search), as the batch runners of the other rows do."""
        module, exports, on_trap = job
        got = self.invoke(module, exports, options, timeout_s, arch)
        if got and got[-1].trap is not None:
            for name in on_trap:
                got += self.invoke(module, [name], options, timeout_s, arch)
                if got[-1].value is None:
                    break
        return got

    def invoke_batch(self, jobs: list[tuple[Path, list[str], list[str]]], options: tuple[str, ...] = (),
                     timeout_s: float = 30.0, arch: str | None = None,
                     expect: list[list[Invoked]] | None = None) -> list[list[Invoked]]:
        """Per job its answers (invoke_job). With `expect` (another engine's answers to the same
        jobs) and a CLI that runs WAST scripts with these options, the batch runs in a few
        script processes, every answer checked (harness.runtimes.wast); else a process per call."""
        if expect is not None and len(expect) == len(jobs) and self.wast_subcommand and (self.wast_takes_options or not options):
            return wast.run_batch(jobs, expect, lambda script: self.wast_command(script, options, arch),
                                  wast.SPEC_TRAP_WORDS, lambda job: self.invoke_job(job, options, timeout_s, arch), timeout_s)
        return [self.invoke_job(job, options, timeout_s, arch) for job in jobs]

    # WebAssembly proposals a probe may need that this CLI keeps off by default: feature -> the
    # options that turn it on (absent: on by default, or not there; a module that uses it then
    # fails to run, which the caller reads as not supported on this row)
    feature_options: dict[str, tuple[str, ...]] = {}

    def with_features(self, options: tuple[str, ...], features) -> tuple[str, ...]:
        return (*options, *(o for f in features for o in self.feature_options.get(f, ())))

    wast_subcommand = ""  # the CLI's WAST script runner (`wasmtime wast`), "" when it has none
    wast_takes_options = True  # whether that runner takes the row's configuration options

    def wast_command(self, script: Path, options: tuple[str, ...], arch: str | None = None) -> list[str]:
        """The command that runs a WAST script under these options."""
        return [self.program(arch or host_arch()), self.wast_subcommand, *options, str(script)]

    def read_invoked(self, outcome: Outcome) -> Outcome:
        """The outcome with the engine's own log separated from the printed result (WasmEdge)."""
        return outcome

    def read_trap(self, outcome: Outcome) -> Outcome:
        m = self.trap_pattern.search(outcome.stderr.decode("utf-8", "replace"))
        if m and outcome.exit_code != 0:
            outcome.trap = traps.normalise(m.group(1))
            outcome.timed_out = outcome.timed_out or outcome.trap == "interrupt"
        return outcome


INTEGER = re.compile(rb"-?\b\d+\b")


def invoked(outcome: Outcome, trap_pattern: re.Pattern | None = None) -> Invoked:
    """An Invoked from a process that called one export: exit 0 and an integer printed last
    is a value; a signal is a death; known trap words in the engine's own trap line are a
    trap. Anything else is an error, never a trap: a configured limit that refuses a module
    (a pooling allocator's table size) says "table index" too, but it is not a Wasm trap."""
    if outcome.timed_out:
        return Invoked(timed_out=True)
    if outcome.exit_code == 0 and not outcome.error:
        numbers = INTEGER.findall(outcome.stdout)
        return Invoked(value=int(numbers[-1]) & (2**64 - 1)) if numbers else Invoked(error="no result printed")
    if outcome.signal:
        return Invoked(died=outcome.signal)
    text = (outcome.stderr + b"\n" + outcome.stdout).decode("utf-8", "replace").split("Stack backtrace:")[0]
    line = trap_pattern.search(text) if trap_pattern else None
    kind = traps.kind(line.group(0)) if line else None
    if kind is not None:
        return Invoked(trap=kind)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # the first lines: an engine's cause often follows its headline ("Unable to instantiate ... ╰─▶ Insufficient resources")
    return Invoked(error=outcome.error or (" | ".join(lines[:3])[:300] if lines else f"exit {outcome.exit_code}"))
