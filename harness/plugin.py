"""The wasm-claims pytest plugin: options, suite selection, workload x form
parametrisation, the fixtures suites use, and results written at session end.

State lives in `config.stash`; hooks only. Suites are plain pytest modules under suites/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from harness import budget, distributed, process
from harness import results as results_mod
from harness.evidence import Evidence
from harness.forms import FORMS, FormSpec, FormUnavailable, all_specs, open_form
from harness.runtimes import RUNTIMES
from harness.toolchain import BuildError, host_arch
from harness.workload import ManifestError, Workload, discover

REPO_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = REPO_ROOT / "suites"
SUITE_CHOICES = (*results_mod.SUITES, "all")
pytest_plugins = ["harness.policy"]  # --policy FILE: the policy gate, its own plugin module

settings.register_profile("wasm-claims", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("wasm-claims-quick", parent=settings.get_profile("wasm-claims"), max_examples=8)
settings.register_profile("wasm-claims-thorough", parent=settings.get_profile("wasm-claims"), max_examples=500)


class State:
    """Everything the plugin keeps for one session."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.records: list[dict] = []
        self.skips: list[dict] = []
        self.errors: list[dict] = []  # failed or errored tests: error rows of their claims
        self.claims_of: dict[str, list[str]] = {}
        self.suites: list[str] = []
        self.forms: dict = {}
        self.started = dt.datetime.now(dt.timezone.utc)
        self.t0 = time.perf_counter()
        self.workloads: list[Workload] = []
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.budget: budget.FuzzBudget | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count outcomes; keep every skip's reason, and every failure as an error, for the claims
        (and the row: runtime or form) the test would have given evidence for."""
        if report.when != "call" and not (report.skipped or report.failed):
            return
        outcome = "skipped" if report.skipped else "failed" if report.failed else "passed"
        self.counts[outcome] += 1
        if outcome == "passed":
            return
        props = dict(report.user_properties)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
        else:
            crash = getattr(report.longrepr, "reprcrash", None)
            reason = f"test {report.when} failed: " + (crash.message if crash is not None else str(report.longrepr)[-300:])
        sink = self.skips if report.skipped else self.errors
        for claim in props.get(distributed.CLAIMS_PROPERTY, "").split() or [None]:
            sink.append({"test": report.nodeid, "claim": claim, "row": props.get(distributed.ROW_PROPERTY), "reason": reason[:500]})


STATE = pytest.StashKey[State]()


def _csv(choices):
    def parse(value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)} (choose from {', '.join(choices)})")
        return items
    parse.__name__ = "comma-separated list"
    return parse


def _runtime_specs(value: str) -> list[str]:
    """--runtime: NAME or NAME==VERSION, comma-separated (versions are resolved at configure)."""
    from harness.runtimes.versions import check_name

    try:
        return [check_name(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_runtime_specs.__name__ = "comma-separated list"


def _resolve_runtimes(config: pytest.Config) -> None:
    """Replace --runtime specs by row names, installing and registering pinned versions."""
    from harness.runtimes import VersionUnavailable
    from harness.runtimes.versions import resolve_all

    specs = config.getoption("runtime")
    if specs:
        try:
            config.option.runtime = resolve_all(specs, progress=lambda m: print(f"[wasm-claims] {m}", flush=True))
        except VersionUnavailable as exc:
            raise pytest.UsageError(f"--runtime: {exc}") from None


def selected_runtimes(config: pytest.Config) -> list[str]:
    """The runtime rows a run covers: --runtime's rows (pinned versions included), else every registered one."""
    return list(config.getoption("runtime") or RUNTIMES)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("wasm-claims", "wasm-claims: evidence for Rust + Wasm vs Python claims")
    g.addoption("--suite", choices=SUITE_CHOICES, action="append", default=None,
                help="run a verification suite from suites/ (repeatable; 'all' = every suite)")
    g.addoption("--form", type=_csv(FORMS), default=None, metavar="F[,F]",
                help=f"execution forms to run (default: all of {', '.join(FORMS)})")
    g.addoption("--runtime", type=_runtime_specs, default=None, metavar="R[==V][,R]",
                help=f"Wasm runtimes to run (default: all of {', '.join(RUNTIMES)}; missing ones are skipped with the reason); "
                     "NAME==VERSION installs that version into the cache and runs it as row NAME@VERSION (e.g. wasmtime-py==6.0.0)")
    g.addoption("--arch", type=_csv(("x86_64", "aarch64", "riscv64", "s390x", "all")), default=None, metavar="A[,A]",
                help=f"CPU architectures (default: the host's, {host_arch()}; 'all' adds qemu-emulated ones)")
    g.addoption("--workloads", action="append", default=[], metavar="PATH",
                help="extra workload folders (a workload.yaml each, or folders of them), besides the built-in fixtures/")
    g.addoption("--only-workloads", type=lambda v: [x.strip() for x in v.split(",") if x.strip()], default=None,
                metavar="NAME[,NAME]", help="run only these workloads (by name)")
    g.addoption("--report-dir", default=None, metavar="DIR",
                help="where results.json, index.html and summary.md go (default: reports/ when --suite is given)")
    g.addoption("--fuzz-budget", type=budget.parse_duration, default=None, metavar="DURATION",
                help="wall-clock budget for the session's generated probes (difffuzz, memgen, the probes' draws), "
                     "e.g. 90s, 30m, 1.5h: they run last and split what is left, each generator an equal part, "
                     "instead of the Hypothesis profile's example counts; records say what each row got")
    distributed.addoption(g)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser, args) -> None:
    """An option value given after a space (`--workloads PATH`, `--policy FILE`, `--report-dir
    DIR`) is read by pytest as a test path before this plugin's options exist, so the rootdir,
    the settings and every test id were taken from that path's folders. Now that the options
    are known, redo that choice from the real test paths (pytest's own determine_setup); on a
    pytest whose internals differ, nothing changes."""
    ns = early_config.known_args_namespace
    if ns.rootdir or ns.inifilename:
        return
    try:
        from _pytest.config.findpaths import determine_setup

        rootpath, inipath, inicfg, *_ = determine_setup(
            inifile=None, override_ini=ns.override_ini, args=ns.file_or_dir, rootdir_cmd_arg=None,
            invocation_dir=early_config.invocation_params.dir)
        if rootpath == early_config.rootpath:
            return
        derived_cutdir = str(early_config.inipath.parent if early_config.inipath else early_config.rootpath)
        early_config._rootpath, early_config._inipath, early_config._inicfg = rootpath, inipath, inicfg
        early_config._inicache.clear()
        if ns.confcutdir == derived_cutdir:
            ns.confcutdir = str(inipath.parent if inipath else rootpath)
    except (ImportError, TypeError, AttributeError, ValueError):
        return


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """An unknown Hypothesis profile (`--hypothesis-profile`, WASM_CLAIMS_HYPOTHESIS_PROFILE) is a
    one-line usage error listing the profiles; Hypothesis's own plugin would load it while
    configuring and end in an INTERNALERROR."""
    known = list(getattr(settings, "_profiles", {}))
    for name, where in ((config.getoption("hypothesis_profile", None), "--hypothesis-profile"),
                        (os.environ.get("WASM_CLAIMS_HYPOTHESIS_PROFILE"), "WASM_CLAIMS_HYPOTHESIS_PROFILE")):
        if name and known and name not in known:
            raise pytest.UsageError(f"{where} {name}: no such Hypothesis profile; known: {', '.join(known)}")


def _selected_suites(config: pytest.Config) -> list[str]:
    chosen = config.getoption("suite") or []
    if "all" in chosen:
        return [s for s in results_mod.SUITES if results_mod.suite_implemented(s)]
    return list(dict.fromkeys(chosen))


def pytest_configure(config: pytest.Config) -> None:
    state = State(config)
    config.stash[STATE] = state
    config.addinivalue_line("markers", f"{budget.MARKER}(generator): a generated-probe row that --fuzz-budget time-boxes")
    total = config.getoption("fuzz_budget", None)
    state.budget = budget.FuzzBudget(total, **{"t0": state.t0, **distributed.shared_budget(config)}) if total else None
    config.pluginmanager.register(state, "wasm-claims-state")
    state.distributed = distributed.register(config, state.records)
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(os.environ.get("WASM_CLAIMS_HYPOTHESIS_PROFILE", "wasm-claims"))
    state.suites = _selected_suites(config)
    _resolve_runtimes(config)
    if state.suites and config.args_source != pytest.Config.ArgsSource.ARGS:
        missing = [s for s in state.suites if not results_mod.suite_implemented(s)]
        if missing:
            ready = ", ".join(s for s in results_mod.SUITES if results_mod.suite_implemented(s))
            raise pytest.UsageError(f"--suite {', '.join(missing)}: not implemented yet (no tests in suites/{missing[0]}); "
                                    f"implemented: {ready}")
        config.args[:] = [str(SUITES_DIR / s) for s in state.suites]
    try:
        state.workloads = discover([Path(p) for p in config.getoption("workloads")])
    except ManifestError as exc:
        raise pytest.UsageError(f"bad workload: {exc}") from None
    only = config.getoption("only_workloads")
    if only:
        unknown = set(only) - {w.name for w in state.workloads}
        if unknown:
            raise pytest.UsageError(f"--only-workloads: unknown {', '.join(sorted(unknown))} "
                                    f"(known: {', '.join(sorted(w.name for w in state.workloads))})")
        state.workloads = [w for w in state.workloads if w.name in only]
    _check_report_dir(config)
    _end_children_on_interrupt(config)


def _check_report_dir(config: pytest.Config) -> None:
    """A report folder that cannot be written fails now, in one line, not after the run."""
    out_dir = _report_dir(config)
    if out_dir is None or config.option.collectonly or config.option.help:
        return
    try:
        results_mod.check_destination(out_dir, "--report-dir")
    except results_mod.ResultsError as exc:
        raise pytest.UsageError(str(exc)) from None


def _end_children_on_interrupt(config: pytest.Config) -> None:
    """SIGTERM ends the session the way Ctrl-C does (teardown, partial report); every
    container the session creates is remembered so an interrupt can remove it."""
    process.track_containers()
    if threading.current_thread() is not threading.main_thread():
        return

    def as_keyboard_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, as_keyboard_interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))


def selected_arches(config: pytest.Config) -> list[str]:
    arches = config.getoption("arch") or [host_arch()]
    return ["x86_64", "aarch64", "riscv64", "s390x"] if "all" in arches else arches


def _spec_filter(config: pytest.Config) -> dict:
    return {"forms": config.getoption("form"), "runtimes": config.getoption("runtime"), "arches": selected_arches(config)}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`workload` alone: one test per workload; with `form_spec`: per workload x form."""
    state = metafunc.config.stash[STATE]
    names = metafunc.fixturenames
    if "workload" not in names:
        return
    marker = metafunc.definition.get_closest_marker("workloads")
    workloads = [w for w in state.workloads if marker is None or marker.args[0](w)]
    if marker is not None and not workloads:
        needs = marker.kwargs.get("needs", "a workload its @pytest.mark.workloads predicate accepts")
        skip = pytest.mark.skip(reason=f"none of the selected workloads fits: it needs {needs} (see --only-workloads)")
        argnames = ["workload", "form_spec"] if "form_spec" in names else ["workload"]
        metafunc.parametrize(argnames, [pytest.param(*[None] * len(argnames), marks=skip)], ids=["no-workload"])
        return
    if "form_spec" in names:
        exclude = getattr(metafunc.module, "EXCLUDE_FORMS", ())
        combos = [(w, s) for w in workloads for s in all_specs(w, exclude=exclude, **_spec_filter(metafunc.config))]
        metafunc.parametrize(["workload", "form_spec"], combos, ids=[f"{w.name}-{s.id}" for w, s in combos])
    else:
        metafunc.parametrize("workload", workloads, ids=[w.name for w in workloads])


def _row_of_item(item: pytest.Item) -> str | None:
    """The row a test gives evidence for, from its parameters: the Wasm runtime, else the form."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if isinstance(params.get("runtime"), str):
        return params["runtime"]
    spec = params.get("form_spec")
    if spec is not None and getattr(spec, "form", None):
        return spec.runtime if spec.form == "wasm" and spec.runtime else spec.form
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        ids = [cid for m in item.iter_markers("claim") for cid in m.args]
        state.claims_of[item.nodeid] = ids
        if ids:  # travels with every report, to an xdist controller too
            item.user_properties.append((distributed.CLAIMS_PROPERTY, " ".join(ids)))
            row = _row_of_item(item)
            if row:
                item.user_properties.append((distributed.ROW_PROPERTY, row))


def pytest_collection_finish(session: pytest.Session) -> None:
    """With --fuzz-budget, the generated rows run after everything else and share what is left."""
    state = session.config.stash.get(STATE, None)
    if state is None or state.budget is None:
        return
    rows = {item.nodeid: item.get_closest_marker(budget.MARKER).args[0] for item in session.items
            if item.get_closest_marker(budget.MARKER)}
    session.items.sort(key=lambda item: item.nodeid in rows)  # stable: each part keeps its order
    state.budget.plan(rows)


@pytest.fixture
def fuzz_slot(request) -> budget.Slot | None:
    """This row's share of --fuzz-budget, counted from now (None: no budget, use example counts)."""
    state = request.config.stash[STATE]
    return state.budget.slot(request.node.nodeid) if state.budget is not None else None


def _progress(config: pytest.Config):
    """say(msg): a progress line on the terminal now, even inside a test, where pytest captures
    output (a first build or image step takes minutes and must not look like a hang)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")

    def say(msg: str) -> None:
        if reporter is None or config.option.verbose < 0:
            return
        if capman is None:
            reporter.write_line(f"[wasm-claims] {msg}")
            return
        with capman.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(f"[wasm-claims] {msg}")
            reporter.flush()
    return say


@pytest.fixture(scope="session")
def wc_state(pytestconfig) -> State:
    return pytestconfig.stash[STATE]


@pytest.fixture(scope="session")
def form_factory(pytestconfig):
    """open(workload, spec) -> a ready Form, built/started once per session and shared.
    A missing capability skips the test with the reason; a build error fails it."""
    state = pytestconfig.stash[STATE]
    say = _progress(pytestconfig)

    def get(workload: Workload, spec: FormSpec, **kwargs):
        key = (workload.name, spec, tuple(sorted(kwargs.items())))
        if key not in state.forms:
            try:
                state.forms[key] = open_form(spec, workload, progress=say, **kwargs)
            except FormUnavailable as exc:
                state.forms[key] = exc
            except BuildError as exc:
                pytest.fail(str(exc), pytrace=False)
        value = state.forms[key]
        if isinstance(value, FormUnavailable):
            pytest.skip(f"{spec.id}: {value}")
        return value

    yield get
    for value in state.forms.values():
        if not isinstance(value, Exception):
            value.close()


@pytest.fixture
def form(form_factory, workload, form_spec):
    return form_factory(workload, form_spec)


@pytest.fixture
def reference(form_factory, workload):
    """The Python implementation as a local process: the reference output."""
    return form_factory(workload, FormSpec("python-process", "python", "cpython", host_arch()))


def run_scale() -> str:
    """How much work a suite should do: 'quick' (CI's end-to-end run), 'default' or 'thorough',
    read from the active Hypothesis profile so one switch scales fuzzing and benchmarks alike."""
    profile = settings._current_profile or "wasm-claims"
    return {"wasm-claims-quick": "quick", "wasm-claims-thorough": "thorough"}.get(profile, "default")


@pytest.fixture(scope="session")
def scale() -> str:
    return run_scale()


@pytest.fixture
def evidence(request) -> Evidence:
    state = request.config.stash[STATE]
    claims = state.claims_of.get(request.node.nodeid, [])
    path = Path(str(request.node.path))
    suite = path.parent.name if SUITES_DIR in path.parents else "tests"
    return Evidence(suite=suite, test=request.node.nodeid, default_claim=claims[0] if len(claims) == 1 else None,
                    sink=state.records)


def _report_dir(config: pytest.Config) -> Path | None:
    explicit = config.getoption("report_dir")
    if explicit:
        return Path(explicit)
    return REPO_ROOT / "reports" if config.stash[STATE].suites else None


INTERRUPTED = (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
PARTIAL_DIR = "partial"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    interrupted = exitstatus in INTERRUPTED
    if interrupted:
        ended = process.end_descendants() + process.end_containers()
        if ended:
            _progress(config)(f"interrupted: ended {ended} process(es)/container(s) this run started")
    out_dir = _report_dir(config)
    if state is None or out_dir is None or config.option.collectonly or distributed.is_worker(config):
        return  # --collect-only measures nothing: keep the last run's report; workers hand records to the controller
    from hypothesis import settings as hyp_settings

    from harness.report import write_report

    meta = {
        "started": state.started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - state.t0, 2),
        "workloads": [w.name for w in state.workloads],
        "selection": {k: v for k, v in _spec_filter(config).items()},
        "hypothesis": {"profile": hyp_settings._current_profile, "max_examples": hyp_settings().max_examples,
                       "seed": config.getoption("hypothesis_seed", None)},
        "tests": dict(state.counts),
        **({"fuzz_budget": state.budget.summary()} if state.budget is not None else {}),
        "exit_status": int(exitstatus),
        "complete": not interrupted,
        **state.distributed.run_metadata(),
    }
    doc = results_mod.build_results(distributed.combine(state.records), skips=state.skips, errors=state.errors,
                                    suites_run=state.suites or ["(custom)"], meta=meta)
    # An unfinished run goes to partial/ and leaves the last complete report where it was.
    target = out_dir / PARTIAL_DIR if interrupted else out_dir
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    try:
        results_mod.write_complete(target, lambda d: (results_mod.write_json(d / "results.json", doc), write_report(doc, d)))
        if not interrupted:
            shutil.rmtree(out_dir / PARTIAL_DIR, ignore_errors=True)
    except OSError as exc:
        if reporter is not None:
            reporter.write_line(f"wasm-claims: could not write the report to {target}: {exc}", red=True)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("-", "wasm-claims verdicts" + (" (PARTIAL: the run was interrupted)" if interrupted else ""))
        for c in doc["claims"]:
            reporter.write_line(f"{c['id']:10} {c['label']:17} {c['summary'][:140]}")
        reporter.write_line(f"results: {target / 'results.json'}  report: {target / 'index.html'}")
