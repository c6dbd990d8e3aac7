"""Many export calls in one command-line engine process: a WAST script (`wasmtime wast`,
`wasmi wast`, `wasmer wast`) instead of a process per call. Differential fuzzing's batches go through it.

A script cannot hand back what a call returned, only check it, so a batch is checked against
expected answers (another engine's, from the same run): `assert_return` for a value,
`assert_trap` with this engine's own words for the trap kind. Every answer that comes back is
therefore this engine's own, verified; an expectation only decides how many processes it
takes. The first job whose answers differ stops the script at its directive; that job is then
answered call by call in fresh processes (`CliRuntime.invoke_job`), and a new script goes on
from the next job. A process that dies or hangs is located by the job marker it printed last
(the spec test host's `print_i32`), and that job is answered call by call too, so a crash
still costs one batch and is pinned to one module. Each call runs on a fresh instance (the
module is defined again), as `run --invoke` does.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Callable

from harness.outcome import Outcome
from harness.process import run_process
from harness.runtimes.base import Invoked

Job = tuple[Path, list[str], list[str]]  # (module, exports, on_trap): see CliRuntime.invoke_job
MARKER = ('(module $wc_mark (import "spectest" "print_i32" (func $p (param i32))) '
          '(func (export "mark") (param i32) (call $p (local.get 0))))')
FAILED_AT = re.compile(r"failed directive on .*?:(\d+)")  # wasmtime, wasmi: the first failure ends the script
LISTED_FAILURE = re.compile(r"\((\d+):\d+\)\s*$", re.M)  # Wasmer lists them all at the end, each with (line:col)
MARK_LINE = re.compile(rb"^(?:(\d+): i32|print: (\d+))$", re.M)  # wasmtime's print_i32, wasmi's
# Each trap kind (harness.runtimes.cli's vocabulary) in the words of the spec test suite's
# assert_trap, which engines that pass it print (wasmtime and wasmi word them alike).
SPEC_TRAP_WORDS = {"memory-out-of-bounds": "out of bounds memory access", "unreachable": "unreachable",
                   "stack-overflow": "call stack exhausted", "integer-division-by-zero": "integer divide by zero",
                   "integer-overflow": "integer overflow", "invalid-conversion-to-integer": "invalid conversion to integer",
                   "bad-signature": "indirect call type mismatch", "indirect-call-to-null": "uninitialized element",
                   "table-out-of-bounds": "undefined element"}


def planned_calls(job: Job, expected: list[Invoked]) -> list[tuple[str, Invoked]] | None:
    """The calls the job makes if this engine answers as expected: its exports, then, after a
    trap, the on_trap exports up to the first that does not return (as invoke_job). None when
    the expectation is not a plain value or trap (an error, a death): nothing to check against."""
    _, exports, on_trap = job
    if not exports or len(expected) < len(exports):
        return None
    trapped = expected[len(exports) - 1].trap is not None
    names = list(exports) + (list(on_trap) if trapped else [])
    if len(expected) > len(names):
        return None
    if any(e.value is None and e.trap is None for e in expected):
        return None
    return list(zip(names, expected))


def script(jobs: list[Job], expected: list[list[Invoked]], trap_words: dict[str, str]) -> tuple[str, list[int | None]]:
    """The WAST text and, per line (1-based), the job it belongs to. A job that cannot be
    checked (no plan, a trap kind without this engine's words) gets no directives: its marker
    line fails on purpose so that it is answered call by call."""
    lines, owner = [MARKER], [None]
    for k, (job, exp) in enumerate(zip(jobs, expected)):
        lines.append(f'(invoke $wc_mark "mark" (i32.const {k}))')
        owner.append(k)
        plan = planned_calls(job, exp)
        if plan is None or any(e.trap is not None and e.trap not in trap_words for _, e in plan):
            lines.append(f'(assert_trap (invoke $wc_mark "mark" (i32.const {k})) "never")')  # fails: it returns
            owner.append(k)
            continue
        body = "".join(f"\\{b:02x}" for b in Path(job[0]).read_bytes())
        for i, (name, e) in enumerate(plan):
            lines.append(f'(module $j{k}c{i} binary "{body}")')
            check = (f'(assert_return (invoke $j{k}c{i} "{name}") (i64.const {e.value & (2**64 - 1):#x}))' if e.trap is None
                     else f'(assert_trap (invoke $j{k}c{i} "{name}") "{trap_words[e.trap]}")')
            lines.append(check)
            owner += [k, k]
    return "\n".join(lines) + "\n", owner


def answers(plan: list[tuple[str, Invoked]]) -> list[Invoked]:
    return [Invoked(value=e.value) if e.trap is None else Invoked(trap=e.trap) for _, e in plan]


def run_batch(jobs: list[Job], expected: list[list[Invoked]], command: Callable[[Path], list[str]],
              trap_words: dict[str, str], one_by_one: Callable[[Job], list[Invoked]], timeout_s: float) -> list[list[Invoked]]:
    """Per job its answers, `expected[k]` where the engine's script passed, else one_by_one's."""
    out: list[list[Invoked]] = []
    while len(out) < len(jobs):
        rest, exp = jobs[len(out):], expected[len(out):]
        text, owner = script(rest, exp, trap_words)
        with tempfile.NamedTemporaryFile("w", suffix=".wast", prefix="wc-batch-") as f:
            f.write(text)
            f.flush()
            calls = sum(len(e) for e in exp)
            outcome = run_process(command(Path(f.name)), b"", timeout_s * (calls + 1))
        reached, failed = progress(outcome, owner, len(rest))
        if reached < 0:  # the engine could not read the script at all: every job one by one
            return out + [one_by_one(j) for j in rest]
        for k in range(reached + 1):
            out.append(one_by_one(rest[k]) if k in failed else answers(planned_calls(rest[k], exp[k])))
    return out


def progress(outcome: Outcome, owner: list[int | None], n_jobs: int) -> tuple[int, set[int]]:
    """(the last job the script got through, the jobs among those that need asking one by one).
    A script stops at its first failed directive (wasmtime, wasmi) or lists every failed one
    at the end (Wasmer); a process that dies or hangs is in the job whose marker it printed
    last, and that job is asked one by one. -1: no job reached (the script was not read)."""
    if outcome.exit_code == 0 and not outcome.timed_out and not outcome.signal and not outcome.error:
        return n_jobs - 1, set()
    err = outcome.stderr.decode("utf-8", "replace")
    lines = [int(m) for m in FAILED_AT.findall(err)] + [int(m) for m in LISTED_FAILURE.findall(err)]
    failed = {owner[n - 1] for n in lines if 0 < n <= len(owner) and owner[n - 1] is not None}
    marks = MARK_LINE.findall(outcome.stdout)
    last = int(marks[-1][0] or marks[-1][1]) if marks else -1
    if last < 0:
        return -1, set()
    ended = not outcome.timed_out and not outcome.signal and outcome.exit_code is not None
    if not ended or not failed:  # died or hung in `last` (or stopped for a reason it did not say)
        failed.add(last)
    return last, {k for k in failed if k <= last}
