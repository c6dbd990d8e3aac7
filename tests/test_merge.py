"""`wasm-claims merge`: results from a CI matrix (an x86 and an ARM machine) combined into
one document, with each machine's environment, native/emulated per row, the cross-machine
comparison of output transcripts, and clear refusals."""

import json

import pytest

from harness import cli, results


def rec(metric, value, *, arch, runtime="wasmtime-cli", form="wasm", claim="PORT-2", **details):
    return {"suite": "portability", "test": "t", "claim": claim, "workload": "sha256", "form": form, "runtime": runtime,
            "arch": arch, "metric": metric, "value": value, "unit": "bool", "outcome": "", "details": details}


def transcript(arch, runs, *, runtime="wasmtime-cli", module="m" * 64, emulated=False):
    return rec("output_transcript", len(runs), arch=arch, runtime=runtime, group=f"wasm:sha256:{module}",
               module_sha256=module, emulated=emulated, transcript=runs)


def write(path, machine, arch, records=(), schema=results.SCHEMA):
    doc = results.build_results(list(records), skips=[], suites_run=["portability"], meta={"started": "2026-01-01"},
                                env={"machine": machine, "arch": arch, "cpu": f"{arch} cpu"})
    doc["schema"] = schema
    path.write_text(json.dumps(doc))
    return path


def cross(doc):
    return [r for r in doc["records"] if r["details"].get("cross_machine")]


def test_two_arches_keep_environments_and_say_native_or_emulated(tmp_path):
    a = write(tmp_path / "a.json", "x86box", "x86_64", [rec("wasm_output_mismatch", 0, arch="x86_64"),
                                                         rec("wasm_output_mismatch", 0, arch="aarch64")])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [rec("wasm_output_mismatch", 0, arch="aarch64")])
    merged = results.merge([a, b])
    machines = merged["environment"]["machines"]
    assert machines["x86box/x86_64"]["cpu"] == "x86_64 cpu" and machines["armbox/aarch64"]["cpu"] == "aarch64 cpu"
    rows = {(r["machine"], r["arch"]): r["details"]["emulated"] for r in merged["records"]}
    assert rows == {("x86box/x86_64", "x86_64"): False, ("x86box/x86_64", "aarch64"): True,
                    ("armbox/aarch64", "aarch64"): False}


def test_cross_machine_transcripts_agree(tmp_path):
    a = write(tmp_path / "a.json", "x86box", "x86_64", [transcript("x86_64", {"i1": "o1", "i2": "o2", "i3": "o3"})])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [transcript("aarch64", {"i2": "o2", "i3": "o3", "i9": "o9"})])
    merged = results.merge([a, b])
    [row] = cross(merged)
    assert (row["metric"], row["value"], row["machine"], row["arch"]) == ("wasm_output_mismatch", 0, "armbox/aarch64", "aarch64")
    assert row["details"]["common_inputs"] == 2 and row["details"]["compared_with"]["machine"] == "x86box/x86_64"
    assert next(c for c in merged["claims"] if c["id"] == "PORT-2")["verdict"] == "supported"


def test_cross_machine_mismatch_refutes_port2(tmp_path):
    a = write(tmp_path / "a.json", "x86box", "x86_64", [transcript("x86_64", {"i1": "o1", "nan": "negative"})])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [transcript("aarch64", {"i1": "o1", "nan": "positive"})])
    [row] = cross(results.merge([a, b]))
    assert row["value"] == 1 and row["details"]["mismatched_input_sha256"] == ["nan"]


def test_different_modules_or_no_common_inputs_are_not_compared(tmp_path):
    a = write(tmp_path / "a.json", "x86box", "x86_64", [transcript("x86_64", {"i1": "o1"}, module="a" * 64),
                                                         transcript("x86_64", {"i5": "o5"}, runtime="node-wasi")])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [transcript("aarch64", {"i1": "zz"}, module="b" * 64),
                                                         transcript("aarch64", {"i6": "o6"})])
    assert cross(results.merge([a, b])) == []


def test_native_transcripts_compare_as_port1(tmp_path):
    def native(arch, runs):
        return rec("output_transcript", 1, arch=arch, form="native", runtime="os", claim="PORT-1",
                   group="native:float-edge:zig 0.13", transcript=runs)

    a = write(tmp_path / "a.json", "x86box", "x86_64", [native("x86_64", {"i": "-nan"})])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [native("aarch64", {"i": "nan"})])
    [row] = cross(results.merge([a, b]))
    assert (row["metric"], row["claim"], row["value"]) == ("native_not_portable", "PORT-1", 1)


def test_refuses_other_schema_with_clear_message(tmp_path, capsys):
    a = write(tmp_path / "a.json", "x86box", "x86_64")
    b = write(tmp_path / "b.json", "armbox", "aarch64", schema="wasm-claims/0")
    with pytest.raises(results.ResultsError, match=r"schema 'wasm-claims/0' is not 'wasm-claims/1'"):
        results.merge([a, b])
    assert cli.main(["merge", str(a), str(b), "-o", str(tmp_path / "out")]) == 2
    assert "b.json: schema 'wasm-claims/0'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_refuses_duplicate_machine(tmp_path, capsys):
    a = write(tmp_path / "a.json", "x86box", "x86_64")
    b = write(tmp_path / "b.json", "x86box", "x86_64")
    with pytest.raises(results.ResultsError, match="appears twice"):
        results.merge([a, b])
    assert cli.main(["merge", str(a), str(b), "-o", str(tmp_path / "out")]) == 2
    assert "x86box/x86_64 appears twice" in capsys.readouterr().err


def test_cli_writes_merged_results_and_report(tmp_path):
    a = write(tmp_path / "a.json", "x86box", "x86_64", [transcript("x86_64", {"i1": "o1"})])
    b = write(tmp_path / "b.json", "armbox", "aarch64", [transcript("aarch64", {"i1": "o1"})])
    out = tmp_path / "merged"
    assert cli.main(["merge", str(a), str(b), "-o", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == results.SCHEMA and set(doc["environment"]["machines"]) == {"x86box/x86_64", "armbox/aarch64"}
    assert doc["run"]["merged_from"] == [str(a), str(b)]
    assert (out / "index.html").is_file()
