"""The wasm-claims command: doctor, report re-rendering, merge, clear errors."""

import json

from harness import results
from harness.cli import main


def test_doctor_lists_capabilities(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for cap in ("C compiler (zig cc)", "Docker engine", "runtime wasmtime-py", "arch aarch64", "GPU"):
        assert cap in out


def _results(path, machine="m", arch="x86_64"):
    doc = results.build_results([], skips=[], suites_run=[], meta={}, env={"machine": machine, "arch": arch})
    path.write_text(json.dumps(doc))
    return path


def test_report_rerenders_from_results_alone(tmp_path):
    res = _results(tmp_path / "results.json")
    assert main(["report", str(res), "-o", str(tmp_path / "out")]) == 0
    assert "PORT-2" in (tmp_path / "out" / "index.html").read_text()


def test_merge_and_bad_input(tmp_path, capsys):
    a, b = _results(tmp_path / "a.json", "x", "x86_64"), _results(tmp_path / "b.json", "y", "aarch64")
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / "results.json").exists()
    (tmp_path / "bad.json").write_text('{"schema": "other/9"}')
    assert main(["merge", str(tmp_path / "bad.json")]) == 2
    assert "schema" in capsys.readouterr().err


def test_strategies_lists_every_name_a_manifest_may_use(capsys):
    from harness import strategies

    assert main(["strategies"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert listed == set(strategies.NAMES)


def test_build_prints_each_artifact_path_and_copies_out(tmp_path, capsys):
    assert main(["build", "--only", "sha256", "--target", "wasm32-wasi", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    copied = tmp_path / "out" / "sha256" / "sha256-c-wasm32-wasi.wasm"
    assert str(copied) in out and copied.read_bytes()[:4] == b"\0asm"


def test_readme_manifest_reference_names_every_field_layer_and_strategy():
    from pathlib import Path

    from harness import strategies, workload

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    reference = readme[readme.index("### Manifest reference"):]
    props = workload.MANIFEST_SCHEMA["properties"]
    assert all(f"`{name}" in reference for name in props)
    assert all(f"`input.{name}" in reference or f"input.{name}`" in reference
               for name in props["input"]["properties"] if name != "max_size")
    assert all(f"`{layer}`" in reference for layer in workload.LAYERS)
    assert all(f"`{name}`" in reference for name in strategies.NAMES)
