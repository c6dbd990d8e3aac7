"""WasmEdge, found on PATH (its own installer; no Debian or PyPI package), one row per mode:
`wasmedge` (the interpreter, its default) and `wasmedge-aot` (`wasmedge compile` ahead of
time, cached by module hash, WasmEdge version and flags, then `--run-mode=aot`, or the compiled file
alone on 0.14 and older, which have no `--run-mode`: see run_mode_flags). No row for
`--run-mode=jit`: on a zig-built module it logs "JIT session error: Symbols not found:
[ __atomic_load ]" and silently falls back to the interpreter, so its figures would be the
interpreter's under another name.

Where it writes what: its log (traps included) goes to STDOUT next to the guest's output, and
a trap exits 134; a `--time-limit` stop reads `execution interrupted`. The adapter moves the
log lines to stderr and reads the trap from them. AOT code is compiled `--interruptible` so
that the time limit can stop it, and with gas metering only for runs that ask for fuel.

Differential fuzzing's batches (invoke_batch) go through WasmEdge's C API instead, the whole batch
in one child process (harness.runtimes.wasmedge_capi), where libwasmedge lies next to the program;
else, and said once on stderr, a `--reactor` process per call as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from harness.outcome import Outcome
from harness.runtimes import traps, wasmedge_capi
from harness.runtimes.base import Availability, Invoked, Limits, WasiSetup
from harness.runtimes.cli import CliRuntime, CliSession, program_version
from harness.toolchain import cache_root, host_arch

INSTALL_HINT = ("install WasmEdge with its own installer (no Debian or PyPI package provides it) and put `wasmedge` "
                "on PATH")
# One spdlog record: `[2026-12-02 15:01:02.345] [error] text`, wherever it starts in stdout.
LOG_RECORD = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\] \[(?:trace|debug|info|warning|error|critical)\] [^\n]*\n?")
TRAP_LINE = re.compile(r"\[error\] (?:(?:execution failed|wasmedge runtime failed): ([^,\n]+)|(Cost exceeded limit))")
COMPILE_TIMEOUT_S = 600


def split_log(outcome: Outcome) -> Outcome:
    """Move WasmEdge's log records from stdout to stderr and read a trap from them."""
    records = LOG_RECORD.findall(outcome.stdout)
    if records:
        outcome.stdout = LOG_RECORD.sub(b"", outcome.stdout)
        outcome.stderr = b"".join(records) + outcome.stderr
    m = TRAP_LINE.search(outcome.stderr.decode("utf-8", "replace"))
    if m and outcome.exit_code != 0:
        outcome.trap = traps.normalise(m.group(1) or m.group(2))
        outcome.timed_out = outcome.timed_out or outcome.trap == "interrupt"
    return outcome


@functools.cache
def can_compile(program: str) -> str:
    """'' when this WasmEdge has its LLVM compiler, else why not."""
    try:
        out = subprocess.run([program, "compile", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if out.returncode == 0 else "this WasmEdge was built without LLVM (`wasmedge compile` is missing)"


@functools.cache
def _help(program: str | None) -> str:
    if program is None:
        return ""
    try:
        out = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout + out.stderr


def run_mode_flags(program: str, run_mode: str) -> list[str]:
    """How this WasmEdge is told its mode: `--run-mode=MODE` where it has that option (0.15 on);
    0.14 and older run a compiled file natively by themselves and take `--force-interpreter`
    for the interpreter (without it they would run a universal file's compiled code)."""
    if "--run-mode" in _help(program):
        return [f"--run-mode={run_mode}"]
    return ["--force-interpreter"] if run_mode == "interpreter" else []


class WasmEdge(CliRuntime):
    name = "wasmedge"
    engine = "wasmedge"
    mode = "interp"
    executable = "wasmedge"
    capabilities = frozenset({"epoch", "fuel", "memory-limit", "preopen", "preopen-readonly"})
    run_mode = "interpreter"

    trap_pattern = TRAP_LINE
    feature_options = {"threads": ("--enable-threads",)}  # `run` and `compile` both take it (memory64: none in 0.14)

    def install_hint(self) -> str:
        return INSTALL_HINT

    def read_trap(self, outcome: Outcome) -> Outcome:
        return split_log(outcome)

    def read_invoked(self, outcome: Outcome) -> Outcome:
        return split_log(outcome)

    def invoke_command(self, module: Path, export: str, arch: str, options: tuple[str, ...]) -> list[str] | None:
        program = self.program(arch)
        return [program, *run_mode_flags(program, self.run_mode), *options, "--reactor", str(module), export]

    def invokable(self, module: Path, arch: str | None, flags: tuple[str, ...] = ()) -> Path | str:
        """The file invoke runs for this module (the module itself here), or why there is none."""
        return Path(module)

    def invoke_batch(self, jobs, options=(), timeout_s=30.0, arch=None, expect=None):
        """The whole batch in one child process through the C API (harness.runtimes.wasmedge_capi:
        the same library as the program, each call on a fresh instance, traps read as the CLI's),
        where it can serve: the host arch, no CLI options, libwasmedge next to the program; else a
        process per call, and the reason is said once on stderr."""
        program = self.program(arch or host_arch())
        child, why = ((None, "CLI options or a foreign arch") if options or arch not in (None, host_arch()) else
                      (None, "wasmedge not found") if program is None else
                      wasmedge_capi.child_for(program, program_version(program), self.name))
        if child is None:
            _say(f"{self.name}: batches answered a process per call, not through the C API: {why}")
            return super().invoke_batch(jobs, options, timeout_s, arch, expect)
        files = [self.invokable(module, arch) for module, _, _ in jobs]
        runnable = [(f, exports, on_trap) for f, (_, exports, on_trap) in zip(files, jobs) if isinstance(f, Path)]
        got = iter(child.invoke_batch(runnable, timeout_s, force_interpreter=self.run_mode == "interpreter"))
        return [next(got) if isinstance(f, Path) else [Invoked(error=f)] * len(exports)
                for f, (_, exports, _) in zip(files, jobs)]

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        pages = max(1, limits.memory_bytes >> 16)
        opts = [*run_mode_flags(self.program(arch), self.run_mode), f"--memory-page-limit={pages}",
                f"--time-limit={int(timeout_s * 1000)}"]
        if limits.fuel is not None:
            opts.append(f"--gas-limit={limits.fuel}")
        opts += [a for p in wasi.preopens for a in ("--dir", f"{p.guest}:{p.host}" + ("" if p.writable else ":readonly"))]
        opts += [a for k, v in wasi.env for a in ("--env", f"{k}={v}")]
        return [self.program(arch), *opts, str(module), *wasi.args]


class AotSession(CliSession):
    """Runs the module compiled ahead of time (compiled when the session opens, cached); a
    compile failure becomes every run's error."""

    def __init__(self, runtime: "WasmEdgeAot", module: Path, limits: Limits, arch: str):
        super().__init__(runtime, module, limits, arch)
        try:
            self.compiled, self.failure = runtime.compiled(module, runtime.program(arch), metered=limits.fuel is not None), ""
        except RuntimeError as exc:
            self.compiled, self.failure = None, str(exc)

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        if self.compiled is None:
            return Outcome(error=self.failure)
        return CliSession(self.runtime, self.compiled, self.limits, self.arch).run(stdin, timeout_s, wasi)


class WasmEdgeAot(WasmEdge):
    name = "wasmedge-aot"
    mode = "aot"
    run_mode = "aot"
    session_class = AotSession

    def usable(self, program: str, version: str) -> Availability | None:
        why = can_compile(program)
        return Availability(False, version, f"{why}; the aot mode needs it") if why else None

    def invoke(self, module: Path, exports: list[str], options: tuple[str, ...] = (), timeout_s: float = 30.0,
               arch: str | None = None) -> list[Invoked]:
        """The compiled module run (see invokable), compiled with the proposals the run enables."""
        enabling = {o for opts in self.feature_options.values() for o in opts}
        compiled = self.invokable(module, arch, tuple(o for o in options if o in enabling))
        if not isinstance(compiled, Path):
            return [Invoked(error=compiled)] * len(exports)
        return super().invoke(compiled, exports, options, timeout_s, arch)

    def invokable(self, module: Path, arch: str | None, flags: tuple[str, ...] = ()) -> Path | str:
        """Compiled next to the module (a fuzzing run's modules are not worth caching)."""
        try:
            return self.compiled(Path(module), self.program(arch or host_arch()), metered=False, into=Path(module).parent,
                                 flags=flags)
        except RuntimeError as exc:
            return str(exc)

    def compiled(self, module: Path, program: str, *, metered: bool, into: Path | None = None, flags: tuple[str, ...] = ()) -> Path:
        """`wasmedge compile` output for this module, WasmEdge version and flags (cached under
        the cache root, or under `into`)."""
        flags = ["--interruptible", *flags] + (["--enable-gas-measuring"] if metered else [])
        data = Path(module).read_bytes()
        key = hashlib.sha256(data + program_version(program).encode() + " ".join(flags).encode()).hexdigest()
        out = (into or cache_root() / "wasmedge-aot") / key[:24] / f"{Path(module).stem}.so"
        if out.is_file():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f"{out.stem}.tmp{os.getpid()}.so")
        try:
            proc = subprocess.run([program, "compile", *flags, str(module), str(staged)], capture_output=True, text=True,
                                  timeout=COMPILE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"wasmedge compile failed: {exc}") from None
        if proc.returncode != 0 or not staged.is_file():
            text = (proc.stdout + proc.stderr).strip().splitlines()
            raise RuntimeError(f"wasmedge compile failed (exit {proc.returncode}): {text[-1] if text else 'no output'}")
        staged.replace(out)
        return out


@functools.cache
def _say(line: str) -> None:
    """A progress line, once per run."""
    print(line, file=sys.stderr)
