"""harness.runtimes.wast: a batch of calls in one `wasmtime wast` process, every answer the
engine's own (checked against an expectation, or asked call by call where it differs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.outcome import Outcome
from harness.runtimes import wast
from harness.runtimes.base import Invoked
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

MODULES = {
    "seven": '(module (func (export "all") (result i64) i64.const 7))',
    "big": '(module (func (export "all") (result i64) i64.const -1))',
    "trap": ('(module (memory 1) (func (export "all") (result i64) i32.const 70000 i64.load)'
             ' (func (export "p1") (result i64) i64.const 11) (func (export "p2") (result i64) unreachable))'),
}


@pytest.fixture
def modules(tmp_path) -> dict[str, Path]:
    import wasmtime

    out = {}
    for name, wat in MODULES.items():
        out[name] = tmp_path / f"{name}.wasm"
        out[name].write_bytes(wasmtime.wat2wasm(wat))
    return out


def _jobs(modules):
    return [(modules["seven"], ["all"], []), (modules["trap"], ["all"], ["p1", "p2"]), (modules["big"], ["all"], [])]


TRUE = [[Invoked(value=7)], [Invoked(trap="memory-out-of-bounds"), Invoked(value=11), Invoked(trap="unreachable")],
        [Invoked(value=2**64 - 1)]]


def test_the_plan_follows_the_expectation_up_to_the_first_call_that_does_not_return(modules):
    jobs = _jobs(modules)
    assert [n for n, _ in wast.planned_calls(jobs[1], TRUE[1])] == ["all", "p1", "p2"]
    assert wast.planned_calls(jobs[0], [Invoked(error="no")]) is None
    assert wast.planned_calls(jobs[0], []) is None


def test_how_far_a_script_got_is_read_from_its_failures_and_markers():
    owner = [None, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert wast.progress(Outcome(exit_code=0), owner, 3) == (2, set())
    # wasmtime, wasmi: the first failed directive ends the script
    assert wast.progress(Outcome(exit_code=1, stdout=b"0: i32\n1: i32\n",
                                 stderr=b"Caused by:\n 0: failed directive on /tmp/x.wast:6\n"), owner, 3) == (1, {1})
    # Wasmer: every failure listed at the end, the script ran through
    listed = b"Failed directives on x.wast:\n  * expected Core(I64(6)), got I64(5) (3:1)\n  * RuntimeError: unreachable\n" \
             b"    at <unnamed> (b[0]:0x1f) (9:1)\n"
    assert wast.progress(Outcome(exit_code=1, stdout=b"0: i32\n1: i32\nprint: 2\n", stderr=listed), owner, 3) == (2, {0, 2})
    # a death: the job whose marker came last is asked again alone
    assert wast.progress(Outcome(exit_code=None, signal=11, stdout=b"0: i32\n7: i64\n1: i32\n"), owner, 3) == (1, {1})
    assert wast.progress(Outcome(exit_code=2, stderr=b"error: unknown subcommand"), owner, 3) == (-1, set())


@pytest.fixture(params=["wasmtime-cli", "wasmi", "wasmer", "wasmer-singlepass"])
def cli(request):
    """Each row whose CLI runs WAST scripts, where it is installed."""
    row = RUNTIMES[request.param]
    if row.program(host_arch()) is None:
        pytest.skip(f"{request.param}: not installed here")
    return row


def test_a_batch_that_matches_its_expectation_takes_one_process(modules, cli):
    asked = []
    got = wast.run_batch(_jobs(modules), TRUE, lambda s: cli.wast_command(s, ()), wast.SPEC_TRAP_WORDS,
                         lambda job: asked.append(job) or cli.invoke_job(job), 30.0)
    assert got == TRUE and asked == []


def test_a_job_whose_answers_differ_is_asked_call_by_call_and_the_rest_still_batched(modules, cli):
    """A wrong expectation never becomes the answer: the engine's own answer replaces it."""
    wrong = [[Invoked(value=8)], TRUE[1], [Invoked(trap="unreachable")]]
    asked = []
    got = wast.run_batch(_jobs(modules), wrong, lambda s: cli.wast_command(s, ()), wast.SPEC_TRAP_WORDS,
                         lambda job: asked.append(job[0].stem) or cli.invoke_job(job), 30.0)
    assert got == TRUE
    assert asked == ["seven", "big"]


def test_the_cli_row_checks_its_batch_against_another_engines_answers(modules, cli):
    assert cli.invoke_batch(_jobs(modules), expect=TRUE) == TRUE
    assert cli.invoke_batch(_jobs(modules)) == TRUE  # without one: a process per call, same answers


def test_a_dying_process_is_pinned_to_its_job(modules, cli):
    """The process dies in job 1 (after its marker): jobs before it keep the script's answers,
    job 1 is asked alone, and the script goes on after it."""
    runs = []

    def command(script):
        runs.append(script.read_text())
        if len(runs) == 1:
            return ["sh", "-c", "printf '0: i32\\n1: i32\\n'; kill -SEGV $$"]
        return cli.wast_command(script, ())

    asked = []
    got = wast.run_batch(_jobs(modules), TRUE, command, wast.SPEC_TRAP_WORDS, lambda job: asked.append(job[0].stem) or TRUE[1], 30.0)
    assert got == TRUE and asked == ["trap"] and len(runs) == 2


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_wasmi_compilation_modes_batch_through_the_mode_driver(modules, mode):
    """`wasmi wast` has no --compilation-mode; the driver built beside the CLI (same crates) has."""
    row = RUNTIMES["wasmi"]
    if row.program(host_arch()) is None or row.mode_driver() is None:
        pytest.skip("wasmi or its WAST mode driver is not built here (wasm-claims runtime install --buildable)")
    options = ("--compilation-mode", mode)
    assert row.wast_command(Path("s.wast"), options)[:2] == [row.mode_driver(), mode]
    assert row.invoke_batch(_jobs(modules), options, expect=TRUE) == TRUE
