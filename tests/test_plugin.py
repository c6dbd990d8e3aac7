"""The plugin as a user meets it, driven through pytester: options, errors, skips, results."""

import json
import shutil

import pytest

from harness import claims
from harness.forms import FormUnavailable, all_specs, open_form
from harness.toolchain import build, host_arch


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_help_lists_options(pytester):
    out = run(pytester, "--help").stdout.str()
    for opt in ("--suite", "--form", "--runtime", "--arch", "--workloads", "--report-dir"):
        assert opt in out


def test_unknown_suite_is_a_clear_error(pytester):
    result = run(pytester, "--suite", "speed")
    assert result.ret != 0
    assert "invalid choice: 'speed'" in result.stderr.str()


def test_unknown_form_is_a_clear_error(pytester):
    result = run(pytester, "--form", "vm")
    assert result.ret != 0 and "unknown vm" in result.stderr.str()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_unknown_hypothesis_profile_is_one_usage_line(pytester, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("WASM_CLAIMS_HYPOTHESIS_PROFILE", "nosuch")
    result = run(pytester, "--suite", "smoke", *(["--hypothesis-profile", "nosuch"] if how == "option" else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = [line for line in result.stderr.str().splitlines() if line.strip()]
    assert len(err) == 1 and "nosuch" in err[0] and "wasm-claims-quick" in err[0], err
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_bad_workload_manifest_is_one_message(pytester):
    d = pytester.mkdir("mine")
    (d / "w").mkdir()
    (d / "w" / "workload.yaml").write_text("name: w\nsummary: s\ninput: {strategy: bytes}\ncolour: red\n")
    result = run(pytester, "--workloads", str(d), "--suite", "smoke")
    assert result.ret != 0
    err = result.stderr.str()
    assert "bad workload" in err and "colour" in err and "Traceback" not in err


def _expected_outcomes(workload, **selection) -> tuple[int, int, list[str]]:
    """(passed, skipped, skip reasons) the smoke suite must give for this selection, from the
    plugin's own spec discovery and form factory, so the test holds whichever engines,
    Rust targets and tools this machine has."""
    passed, reasons = 0, []
    for spec in all_specs(workload, exclude=("python-process",), **selection):
        try:
            open_form(spec, workload).close()
            passed += 1
        except FormUnavailable as exc:
            reasons.append(str(exc))
    return passed, len(reasons), reasons


def test_results_written_with_every_claim(pytester, tmp_path, builtin):
    out = tmp_path / "rep"
    selection = {"forms": ["native", "wasm"], "runtimes": ["wasmtime-py", "wasmedge"], "arches": [host_arch()]}
    passed, skipped, reasons = _expected_outcomes(builtin["sha256"], **selection)
    result = run(pytester, "--suite", "smoke", "--only-workloads", "sha256", "--form", "native,wasm",
                 "--runtime", "wasmtime-py,wasmedge", "--report-dir", str(out), "--hypothesis-profile", "wasm-claims-quick")
    result.assert_outcomes(passed=passed, skipped=skipped)
    assert passed >= 2  # the C build on the host (zig) and wasmtime-py are dependencies of the package
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == "wasm-claims/1" and doc["environment"]["arch"]
    assert len(doc["claims"]) == len(claims.registry())
    assert all(c["verdict"] == "not-tested" and c["summary"] for c in doc["claims"])
    recs = [r for r in doc["records"] if r["metric"] == "output_mismatch"]
    assert {r["form"] for r in recs} == {"native", "wasm"} and all(r["value"] == 0 for r in recs)
    recorded = [s["reason"] for s in doc["skips"]]
    assert all(any(reason in s for s in recorded) for reason in reasons)
    assert "SAFETY-2" in (out / "index.html").read_text() and (out / "summary.md").exists()


def test_workload_predicate_that_fits_nothing_skips_with_what_it_needs(pytester):
    pytester.makepyfile(test_needs="""
        import pytest

        @pytest.mark.workloads(lambda w: False, needs="a workload nobody has")
        def test_it(workload, form_spec):
            raise AssertionError("must not run")
    """)
    result = run(pytester, "-rs", "--only-workloads", "sha256")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*it needs a workload nobody has*"])


def test_collect_only_keeps_the_last_report(pytester, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "results.json").write_text("{}")
    result = run(pytester, "--suite", "smoke", "--only-workloads", "sha256", "--collect-only", "--report-dir", str(out))
    assert result.ret == 0
    assert (out / "results.json").read_text() == "{}" and not (out / "index.html").exists()


@pytest.fixture
def prebuilt_hash(pytester, builtin):
    """A user's workload folder with only prebuilt artifacts (sha256 built here, then copied)."""
    sha = builtin["sha256"]
    d = pytester.mkdir("user") / "my-hash"
    d.mkdir()
    shutil.copy(build(sha, "wasm32-wasi").path, d / "hash.wasm")
    shutil.copy(build(sha, "x86_64-linux").path, d / "hash-bin")
    shutil.copy(sha.sources["python"], d / "hash.py")
    (d / "workload.yaml").write_text(
        "name: my-hash\nsummary: a user's prebuilt sha256\n"
        "prebuilt: {wasm: hash.wasm, native: hash-bin, python: hash.py}\ninput: {strategy: bytes, max_size: 256}\n")
    return d


def test_user_workload_with_prebuilt_artifacts(pytester, prebuilt_hash, tmp_path):
    result = run(pytester, "--suite", "smoke", f"--workloads={prebuilt_hash.parent}", "--only-workloads", "my-hash",
                 "--form", "native,wasm", "--runtime", "wasmtime-py", "--report-dir", str(tmp_path / "r"),
                 "--hypothesis-profile", "wasm-claims-quick", "-v")
    result.assert_outcomes(passed=2)
    assert "my-hash-native" in result.stdout.str()


def test_prebuilt_artifacts_are_used_by_portability_and_sizes(pytester, prebuilt_hash, tmp_path):
    """The given .wasm gets portability rows; rows that truly need sources skip in plain words;
    SIZE-1 measures the given files."""
    common = ("--workloads", str(prebuilt_hash.parent), "--only-workloads", "my-hash")
    collected = run(pytester, "--suite", "portability", *common, "--runtime", "wasmtime-cli", "--collect-only", "-q")
    assert f"my-hash-wasm-wasmtime-cli-{host_arch()}" in collected.stdout.str()
    skipped = run(pytester, "--suite", "portability", *common, "-k", "no-rows", "-rs", "--report-dir", str(tmp_path / "p"))
    out = skipped.stdout.str()
    assert "they need C sources" in out and "empty parameter set" not in out
    sizes = run(pytester, "--suite", "performance", *common, "-k", "test_sizes", "--report-dir", str(tmp_path / "s"))
    assert sizes.ret in (0, pytest.ExitCode.OK), sizes.stdout.str()[-2000:]
    doc = json.loads((tmp_path / "s" / "results.json").read_text())
    given = {r["details"]["kind"] for r in doc["records"]
             if r["metric"] == "artifact_bytes" and r["details"].get("language") == "prebuilt" and r["value"]}
    assert {"native", "wasm", "wasm-stripped"} <= given


def test_mismatch_is_shrunk_and_reported(pytester, builtin, tmp_path):
    """A Python reference that disagrees on 6..99-byte inputs (no seed is) is caught and shrunk."""
    d = pytester.mkdir("user") / "lying"
    shutil.copytree(builtin["sha256"].directory, d)
    manifest = (d / "workload.yaml").read_text().replace("name: sha256", "name: lying")
    (d / "workload.yaml").write_text("\n".join(line for line in manifest.splitlines() if "rust:" not in line))
    (d / "main.py").write_text((d / "main.py").read_text().replace(
        "import sys", "import sys\n_d = sys.stdin.buffer.peek(1 << 20)\n"
        "if 5 < len(_d) < 100:\n    print('lie'); sys.exit(0)", 1))
    result = run(pytester, "--suite", "smoke", "--workloads", str(d.parent), "--only-workloads", "lying",
                 "--form", "native", "--report-dir", str(tmp_path / "r"))
    result.assert_outcomes(failed=1)
    assert "differs from the Python reference on input b'\\x00\\x00\\x00\\x00\\x00\\x00'" in result.stdout.str()
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    rec = next(r for r in doc["records"] if r["metric"] == "output_mismatch")
    assert rec["value"] == 1 and rec["details"]["minimal_input_hex"] == (b"\0" * 6).hex()


def test_workloads_with_a_space_keeps_the_project_rootdir_and_settings(tmp_path):
    """`--workloads PATH` (as the README shows) must not make pytest take PATH as the test path
    that decides the rootdir: the project's settings (markers) would be dropped."""
    import subprocess
    import sys

    from harness.plugin import REPO_ROOT

    d = tmp_path / "mine" / "hang"
    shutil.copytree(REPO_ROOT / "tests" / "data" / "hang", d)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--suite", "smoke",
                           "--workloads", str(d.parent), "--only-workloads", "hang", "--collect-only", "-q", "-W", "error"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "suites/smoke/test_differential.py::test_form_matches_reference[hang-native-" in proc.stdout
    assert "Unknown pytest.mark" not in proc.stdout + proc.stderr


def test_reference_that_crashes_is_a_finding_against_the_workload(pytester, builtin, tmp_path):
    """An uncaught exception in the Python reference blames the workload with its own error
    line; the native form is not said to differ from it."""
    d = pytester.mkdir("user") / "crashy"
    shutil.copytree(builtin["sha256"].directory, d)
    manifest = (d / "workload.yaml").read_text().replace("name: sha256", "name: crashy")
    (d / "workload.yaml").write_text("\n".join(line for line in manifest.splitlines() if "rust:" not in line))
    (d / "main.py").write_text((d / "main.py").read_text().replace(
        "import sys", "import sys\n_d = sys.stdin.buffer.peek(1 << 20)\n"
        "if len(_d) % 2:\n    raise KeyError(f'odd length {len(_d)} from the workload')", 1))
    result = run(pytester, "--suite", "smoke", "--workloads", str(d.parent), "--only-workloads", "crashy",
                 "--form", "native", "--report-dir", str(tmp_path / "r"))
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "the Python reference of crashy crashed on" in out and "from the workload'" in out and "uncaught KeyError" in out
    assert "differs from the Python reference" not in out and "python_runner" not in out
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    rec = next(r for r in doc["records"] if r["metric"] == "output_mismatch")
    assert rec["value"] is None and rec["outcome"] == "reference-crashed"
    assert rec["details"]["reference_crash"].startswith("uncaught KeyError")


@pytest.mark.parametrize("option", ["--policy", "--report-dir"])
def test_a_path_option_outside_the_checkout_leaves_the_test_ids(tmp_path, option):
    """`--policy FILE` (or `--report-dir DIR`) outside the checkout must not become the folder
    pytest takes the rootdir from: the test ids are the same as without it."""
    import subprocess
    import sys

    from harness.plugin import REPO_ROOT

    elsewhere = tmp_path / "team" / "rules"
    elsewhere.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "examples" / "policy.yaml", elsewhere / "policy.yaml")
    value = str(elsewhere / "policy.yaml") if option == "--policy" else str(elsewhere)

    def ids(*extra):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--suite", "smoke",
                               "--only-workloads", "sha256", "--collect-only", "-q", *extra],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return [line for line in proc.stdout.splitlines() if "::" in line]

    plain, given = ids(), ids(option, value)
    assert plain and plain[0].startswith("suites/smoke/test_differential.py::")
    assert [i for i in given if "test_differential" in i] == plain, given[:3]
