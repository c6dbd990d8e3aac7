"""--fuzz-budget: durations, the split over generators and rows, Hypothesis time-boxed in
chunks, and a session that ends within its budget."""

import argparse
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import budget


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("1.5h", 5400), ("45", 45), (" 2M ", 120)])
def test_durations(text, seconds):
    assert budget.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5m", "0s", "m"])
def test_bad_durations_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        budget.parse_duration(text)


def test_each_generator_gets_an_equal_part_split_among_its_rows():
    b = budget.FuzzBudget(300.0)
    b.plan({"d/mvp": "difffuzz", "d/simd": "difffuzz", **{f"m/{i}": "memgen" for i in range(4)},
            **{f"p/{i}": "probes" for i in range(10)}})
    first = b.slot("d/mvp")
    assert first.budget_s == pytest.approx(50.0, rel=0.01)  # a third for difffuzz, half of it per profile
    b.t0 -= 50  # the first row used its share
    assert b.slot("d/simd").budget_s == pytest.approx(50.0, rel=0.01)
    b.t0 -= 10  # the second ended early: its 40 s go to the rows after it
    # 240 s left for memgen and the probes, an equal part each: a quarter of 120 s per memgen row
    assert b.slot("m/0").budget_s == pytest.approx(30.0, rel=0.01)


def test_workers_side_by_side_each_spend_the_budget_not_a_share_of_it(tmp_path):
    """Two xdist workers plan the same four rows and run two each, at the same time: each
    worker's rows fill the whole budget, and rows started by the other are not waited for."""
    rows = {f"r/{i}": "g" for i in range(4)}
    a, b = (budget.FuzzBudget(100.0, shared=tmp_path, workers=2) for _ in range(2))
    a.plan(rows)
    b.plan(rows)
    assert a.slot("r/0").budget_s == pytest.approx(50.0, rel=0.02)  # 4 rows over 2 workers
    a.t0 -= 50
    b.t0 -= 50  # both worked 50 s (b on its own row)
    # r/0 and r/1 (b's) were started elsewhere or here: 2 rows left for 2 workers, 50 s each
    b.slot("r/1")
    assert a.slot("r/2").budget_s == pytest.approx(50.0, rel=0.02)
    assert b.slot("r/3").budget_s == pytest.approx(50.0, rel=0.02)  # the last row alone: capped at the time left, not 2x


def test_a_spent_budget_gives_nothing_more():
    b = budget.FuzzBudget(1.0, t0=time.perf_counter() - 5)
    b.plan({"a": "g"})
    slot = b.slot("a")
    assert slot.budget_s == 0 and slot.over()
    counted = budget.Counted(slot)
    budget.run_hypothesis(lambda: given(st.integers())(counted(lambda x: None)), 5, slot, counted, database=None)
    assert counted.ran == 1  # still one example: the row is not empty


def test_hypothesis_runs_until_the_slot_is_spent():
    slot = budget.Slot("row", 2.0, time.perf_counter())
    counted = budget.Counted(slot)

    @counted
    def body(x):
        time.sleep(0.004)

    start = time.perf_counter()
    budget.run_hypothesis(lambda: given(st.integers())(body), 5, slot, counted, database=None, deadline=None)
    took = time.perf_counter() - start
    assert 2.0 <= took < 2.0 * 1.1 + 0.3, took  # a chunk past the deadline returns at once (loaded machine: +0.3 s)
    assert counted.ran > budget.CHUNK  # more than one chunk: not the profile's 5


def test_without_a_slot_the_example_count_holds():
    counted = budget.Counted(None)
    budget.run_hypothesis(lambda: given(st.integers())(counted(lambda x: None)), 7, None, counted, database=None)
    assert counted.ran == 7


def test_an_exhausted_strategy_stops_before_the_deadline():
    slot = budget.Slot("row", 30.0, time.perf_counter())
    counted = budget.Counted(slot)
    budget.run_hypothesis(lambda: given(st.booleans())(counted(lambda x: None)), 5, slot, counted, database=None)
    assert not slot.over() and counted.ran <= 4


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_bad_budget_is_a_usage_error(pytester):
    result = run(pytester, "--fuzz-budget", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--fuzz-budget" in result.stderr.str() and "not a duration" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_help_documents_the_budget(pytester):
    assert "--fuzz-budget" in run(pytester, "--help").stdout.str()


GENERATED_ROWS = """
        import time
        import pytest
        from hypothesis import given, strategies as st
        from harness import budget

        @pytest.mark.fuzz_budget("alpha")
        @pytest.mark.parametrize("row", ["a1", "a2"])
        def test_alpha(row, fuzz_slot, evidence):
            counted = budget.Counted(fuzz_slot)
            body = counted(lambda x: time.sleep(0.02))
            budget.run_hypothesis(lambda: given(st.integers())(body), 3, fuzz_slot, counted, database=None, deadline=None)
            evidence.record("m", counted.ran, "count", claim="SAFETY-2", form="wasm", runtime=row, **fuzz_slot.details())

        @pytest.mark.fuzz_budget("beta")
        def test_beta(fuzz_slot, evidence):
            counted = budget.Counted(fuzz_slot)
            body = counted(lambda x: time.sleep(0.02))
            budget.run_hypothesis(lambda: given(st.integers())(body), 3, fuzz_slot, counted, database=None, deadline=None)
            evidence.record("m", counted.ran, "count", claim="SAFETY-2", form="wasm", runtime="b", **fuzz_slot.details())

        def test_fixed():
            time.sleep(2)
    """


def test_session_with_generated_rows_ends_within_its_budget(pytester, tmp_path):
    """Fixed tests run first; the generated rows split what is left and the session ends
    within 10 % of the budget; each row's record says what it got."""
    pytester.makepyfile(test_gen=GENERATED_ROWS)
    start = time.perf_counter()
    result = run(pytester, "--fuzz-budget", "15s", "-v", "--report-dir", str(tmp_path / "r"))
    took = time.perf_counter() - start
    result.assert_outcomes(passed=4)
    order = [line.split("::")[1].split()[0] for line in result.stdout.lines if "::test_" in line and "PASSED" in line]
    assert order[0] == "test_fixed", order  # the generated rows run last
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    rows = {r["runtime"]: r for r in doc["records"] if r["metric"] == "m"}
    session = doc["run"]["fuzz_budget"]
    assert session["budget_s"] == 15 and 15 * 0.9 <= session["spent_s"] <= 15 * 1.1, session  # used, not overrun
    assert sum(r["details"]["spent_s"] for r in rows.values()) <= (15 - 2) * 1.1, rows
    assert rows["b"]["details"]["fuzz_budget_s"] > rows["a1"]["details"]["fuzz_budget_s"]  # beta: one row, half the budget
    assert all(r["value"] >= 1 for r in rows.values()) and max(r["value"] for r in rows.values()) > 3  # not the profile's 3
    assert took < 15 * 1.1 + 20  # the subprocess's own start and report on top


def test_xdist_workers_each_spend_the_budget(pytester, tmp_path):
    """With two workers the rows run side by side: together they get about twice the budget's
    time, and the session still ends within 10 % of it (one worker's plan used to keep half)."""
    pytester.makepyfile(test_gen=GENERATED_ROWS)
    result = run(pytester, "-n", "2", "--fuzz-budget", "15s", "--report-dir", str(tmp_path / "r"))
    result.assert_outcomes(passed=4)
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    session = doc["run"]["fuzz_budget"]
    assert 15 * 0.9 <= session["spent_s"] <= 15 * 1.1, session
    spent = sum(r["details"]["spent_s"] for r in doc["records"] if r["metric"] == "m")
    assert spent > 15 * 1.1, spent  # more than one worker's wall time: both workers used the budget
