"""Every bad input a user can give is one clear line, a non-zero exit and no traceback,
before any work is done: report destinations, results files, corrupt prebuilt artifacts."""

import json
import shutil
import subprocess
import sys

import pytest

from harness import results
from harness.workload import ManifestError, load_workload

FORBIDDEN = "/proc/forbidden"  # /proc takes no new folders, even for root


def cli(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


def assert_one_line(text: str, *needles: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and all(n in lines[0] for n in needles), text


def good_results(path):
    doc = results.build_results([], skips=[], suites_run=["smoke"], meta={}, env={"machine": "m", "arch": "x86_64"})
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("where", ["forbidden", "file"])
def test_bad_report_dir_fails_before_the_run(pytester, tmp_path, where):
    dest = FORBIDDEN if where == "forbidden" else str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--suite", "smoke", "--only-workloads", "sha256",
                                           "--report-dir", dest)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line(result.stderr.str(), "--report-dir", dest, "is a file" if where == "file" else "cannot write")
    assert "collected" not in result.stdout.str()  # nothing ran


@pytest.mark.parametrize("command", ["report", "merge"])
@pytest.mark.parametrize("where", ["forbidden", "file"])
def test_unwritable_output_is_one_line(tmp_path, command, where):
    dest = FORBIDDEN if where == "forbidden" else str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    proc = cli(command, str(good_results(tmp_path / "r.json")), "-o", dest)
    assert proc.returncode == 2
    assert_one_line(proc.stderr, "-o", dest)


@pytest.mark.parametrize("damage, field", [
    (lambda d: d.pop("environment"), "environment"),
    (lambda d: d["run"].pop("suites"), "run.suites"),
    (lambda d: d["claims"][0].pop("verdict"), "claims[0].verdict"),
    (lambda d: d["claims"][1].update(verdict="maybe"), "claims[1].verdict"),
    (lambda d: d["records"].append({"metric": "x"}), "records[0].value"),
    (lambda d: d.update(skips={}), "skips"),
])
@pytest.mark.parametrize("command", ["report", "merge"])
def test_results_with_the_right_tag_but_wrong_fields_name_the_field(tmp_path, command, damage, field):
    path = good_results(tmp_path / "r.json")
    doc = json.loads(path.read_text())
    damage(doc)
    path.write_text(json.dumps(doc))
    proc = cli(command, str(path), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert_one_line(proc.stderr, str(path), f"field '{field}'")
    assert not (tmp_path / "out").exists()


def test_valid_results_still_render(tmp_path):
    proc = cli("report", str(good_results(tmp_path / "r.json")), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "index.html").exists() and not list((tmp_path / "out").glob(".writing-*"))


def _prebuilt(tmp_path, builtin, **files):
    d = tmp_path / "w"
    d.mkdir()
    shutil.copy(builtin["sha256"].sources["python"], d / "main.py")
    for name, data in files.items():
        (d / name).write_bytes(data)
        (d / name).chmod(0o755)
    kinds = {"mod.wasm": "wasm", "bin": "native"}
    prebuilt = ", ".join(f"{kinds[n]}: {n}" for n in files)
    (d / "workload.yaml").write_text(f"name: w\nsummary: s\nprebuilt: {{{prebuilt}, python: main.py}}\ninput: {{strategy: bytes}}\n")
    return d


ELF_AARCH64 = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (183).to_bytes(2, "little") + b"\0" * 44


@pytest.mark.parametrize("name, data, message", [
    ("mod.wasm", bytes(range(7, 200)), "not a WebAssembly binary"),
    ("mod.wasm", b"\0asm\x0d\0\x01\0", "not a core module"),
    ("mod.wasm", b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00\x01", "not a valid WebAssembly module: unexpected end-of-file"),
    ("mod.wasm", b"\0asm\x01\0\0\0\x0a\x04\x01\x02\x00\x0b", "not a valid WebAssembly module: "),
    ("bin", b"#!/bin/sh\necho hi\n", "not an ELF executable"),
    ("bin", ELF_AARCH64, "an ELF binary for aarch64"),
])
def test_corrupt_prebuilt_artifact_is_refused_at_load(tmp_path, builtin, name, data, message):
    if message.endswith("aarch64") and __import__("harness.toolchain").toolchain.host_arch() == "aarch64":
        pytest.skip("the foreign-arch case needs a host other than aarch64")
    d = _prebuilt(tmp_path, builtin, **{name: data})
    with pytest.raises(ManifestError, match=message) as err:
        load_workload(d)
    assert f"prebuilt.{'wasm' if name.endswith('wasm') else 'native'}" in str(err.value) and name in str(err.value)


@pytest.mark.parametrize("data, message", [
    (bytes(range(7, 200)), "not a WebAssembly binary"),
    (b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00\x01", "not a valid WebAssembly module"),  # valid header, broken body
])
def test_corrupt_prebuilt_wasm_never_reaches_a_runtime(pytester, tmp_path, builtin, data, message):
    d = _prebuilt(tmp_path, builtin, **{"mod.wasm": data})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--suite", "smoke", "--workloads", str(d),
                                           "--report-dir", str(tmp_path / "r"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line(result.stderr.str(), "bad workload", "mod.wasm", message)
    assert "differs" not in result.stdout.str() and "Traceback" not in result.stdout.str()
