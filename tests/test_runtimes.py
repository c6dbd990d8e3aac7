"""The runtime adapters' own logic, with stand-in programs where an engine would be needed:
WasmEdge's log-on-stdout reading, Wasmer's and wasmi's command lines, the cargo installer,
the `runtime install` command, and the engine/mode/version every Wasm record carries. Runs
the same with or without any engine installed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness import claims, cli
from harness.evidence import Evidence
from harness.outcome import Outcome
from harness.runtimes import RUNTIMES, Limits, Preopen, VersionUnavailable, WasiSetup, row_details
from harness.runtimes.cargo_install import CargoEngine
from harness.runtimes.wasmedge import WasmEdge, WasmEdgeAot, split_log
from harness.runtimes.wasmer import Wasmer, WasmerSinglepass
from harness.runtimes.wasmi import Wasmi

# What WasmEdge 0.17 writes for a guest that prints "partial" (no newline) and then traps.
WASMEDGE_TRAP = (b"partial[2026-12-02 15:20:01.123] [error] execution failed: unreachable, Code: 0x40a\n"
                 b"[2026-12-02 15:20:01.123] [error]     In instruction: unreachable (0x00) , Bytecode offset: 0x00000031\n")
WASMEDGE_TIMEOUT = b"[2026-12-02 15:20:04.500] [error] wasmedge runtime failed: execution interrupted, Code: 0x007\n"
WASMEDGE_GAS = (b"[2026-12-02 15:53:51.169] [error] Cost exceeded limit. Force terminate the execution.\n"
                b"[2026-12-02 15:53:51.169] [info]  Gas costs: 5000000\n")


def _program(tmp_path: Path, name: str, script: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_wasmedge_log_lines_leave_stdout_and_name_the_trap():
    out = split_log(Outcome(stdout=WASMEDGE_TRAP, exit_code=134))
    assert out.stdout == b"partial"
    assert b"execution failed: unreachable" in out.stderr
    assert out.trap == "unreachable" and not out.timed_out


def test_wasmedge_time_limit_reads_as_interrupt():
    out = split_log(Outcome(stdout=b"tick\n" + WASMEDGE_TIMEOUT, exit_code=134))
    assert (out.stdout, out.trap, out.timed_out) == (b"tick\n", "interrupt", True)


def test_wasmedge_gas_limit_reads_as_out_of_fuel():
    assert split_log(Outcome(stdout=WASMEDGE_GAS, exit_code=134)).trap == "out-of-fuel"


def test_wasmedge_clean_exit_keeps_output():
    out = split_log(Outcome(stdout=b"[not a log] hello\n", exit_code=0))
    assert (out.stdout, out.trap) == (b"[not a log] hello\n", None)


@pytest.mark.parametrize("help_text, interp, aot", [
    ("--run-mode  interpreter|jit|aot", ["--run-mode=interpreter"], ["--run-mode=aot"]),  # 0.15 on
    ("--force-interpreter  Forcibly run WASM in interpreter mode.", ["--force-interpreter"], []),  # 0.14: no --run-mode
])
def test_wasmedge_commands_carry_limits_readonly_and_mode(monkeypatch, help_text, interp, aot):
    from harness.runtimes import wasmedge

    monkeypatch.setattr(wasmedge, "_help", lambda program: help_text)
    grant = WasiSetup(env=(("K", "V"),), preopens=(Preopen(Path("/h/rw"), "/rw", True), Preopen(Path("/h/ro"), "/ro", False)))
    cmd = WasmEdge().command(Path("m.wasm"), Limits(memory_bytes=64 << 20, fuel=1000), 2.5, "x86_64", wasi=grant)
    assert cmd[1:] == [*interp, "--memory-page-limit=1024", "--time-limit=2500", "--gas-limit=1000",
                       "--dir", "/rw:/h/rw", "--dir", "/ro:/h/ro:readonly", "--env", "K=V", "m.wasm"]
    aot_cmd = WasmEdgeAot().command(Path("m.so"), Limits(), 1.0, "x86_64")
    assert aot_cmd[1:1 + len(aot)] == aot and aot_cmd[1 + len(aot)].startswith("--memory-page-limit=")


def test_wasmedge_aot_compiles_once_per_module_version_and_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_CLAIMS_CACHE", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    fake = _program(tmp_path, "wasmedge", f'echo "$@" >> {calls}\n'
                    'if [ "$1" = --version ]; then echo "wasmedge version 0.0.0-test"; exit 0; fi\n'
                    'if [ "$1" = compile ]; then for a; do last=$a; done; echo so > "$last"; exit 0; fi\n'
                    'echo "ran $*"; exit 0\n')
    module = tmp_path / "m.wasm"
    module.write_bytes(b"\0asm\1\0\0\0")
    rt = WasmEdgeAot()
    first = rt.compiled(module, str(fake), metered=False)
    assert rt.compiled(module, str(fake), metered=False) == first
    assert rt.compiled(module, str(fake), metered=True) != first
    compiles = [line for line in calls.read_text().splitlines() if line.startswith("compile")]
    assert compiles[0].startswith("compile --interruptible ") and "--enable-gas-measuring" in compiles[1]
    assert len(compiles) == 2


def test_wasmer_rows_pick_their_compiler_and_map_volumes():
    grant = WasiSetup(args=("a",), preopens=(Preopen(Path("/h"), "/rw", True),))
    cmd = WasmerSinglepass().command(Path("m.wasm"), Limits(), 1.0, "x86_64", wasi=grant)
    assert cmd[1:] == ["run", "--singlepass", "--volume", "/h:/rw", "m.wasm", "--", "a"]
    assert Wasmer().command(Path("m.wasm"), Limits(), 1.0, "x86_64")[1:] == ["run", "--cranelift", "m.wasm"]


def test_wasmi_leaves_out_a_preopen_it_cannot_map_and_says_so(tmp_path, monkeypatch):
    fake = _program(tmp_path, "wasmi", 'echo "$@"; exit 0\n')
    rt = Wasmi()
    monkeypatch.setattr(rt, "find", lambda: str(fake))
    grant = WasiSetup(preopens=(Preopen(tmp_path, "/rw", True), Preopen(tmp_path, str(tmp_path), True)))
    out = rt.open(tmp_path / "m.wasm", Limits()).run(b"", 5.0, grant)
    assert out.stdout.split()[:3] == [b"run", b"--dir", str(tmp_path).encode()] and b"/rw" not in out.stdout
    assert out.extra["preopens_not_granted"] == ["/rw"] and b"not granted /rw" in out.stderr


def test_wasmi_fuel_report_is_not_guest_output(tmp_path, monkeypatch):
    fake = _program(tmp_path, "wasmi", 'printf "guest\\nfuel consumed: 5, fuel remaining: 7\\n"; exit 0\n')
    rt = Wasmi()
    monkeypatch.setattr(rt, "find", lambda: str(fake))
    out = rt.open(tmp_path / "m.wasm", Limits(fuel=12)).run(b"", 5.0)
    assert out.stdout == b"guest\n" and out.exit_code == 0


def test_cargo_install_failure_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_CLAIMS_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _program(bin_dir, "cargo", 'echo "    Updating index"; echo "error: could not find \\`x\\` with version \\`=9\\`"; '
                               'echo "more detail"; exit 101\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    engine = CargoEngine("fake", "fake-cli", "fake", "1.0.0")
    with pytest.raises(VersionUnavailable) as exc:
        engine.install("9", progress=lambda m: None)
    assert "could not find `x` with version `=9`" in str(exc.value) and "\n" not in str(exc.value)
    assert engine.installed_versions() == [] and not engine.root("9").exists()


def test_cargo_install_builds_once_and_lists_versions(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_CLAIMS_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "count"
    _program(bin_dir, "cargo", f'echo x >> {count}; mkdir -p "$3/bin"; echo > "$3/bin/fake"; exit 0\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    engine = CargoEngine("fake", "fake-cli", "fake", "1.10.0")
    for version in ("1.9.0", "1.10.0", "1.10.0"):
        assert engine.install(version, progress=lambda m: None).is_file()
    assert len(count.read_text().split()) == 2
    assert engine.installed_versions() == ["1.10.0", "1.9.0"]
    assert engine.cached_binary() == str(engine.binary_path("1.10.0"))


def test_runtime_install_rejects_unknown_engines(capsys):
    assert cli.main(["runtime", "install", "wasmedge"]) == 2
    assert "own installer" in capsys.readouterr().err


def test_runtime_install_buildable_without_cargo_skips(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WASM_CLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["runtime", "install", "--buildable"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()] == [["skip", "wasmi:"], ["skip", "wasmer:"]]
    assert "cargo not found" in out


def test_doctor_names_engine_and_mode_of_every_row(capsys):
    cli.main(["doctor"])
    out = capsys.readouterr().out
    for name, rt in RUNTIMES.items():
        assert f"runtime {name} ({rt.engine_name} {rt.mode})" in out


def test_every_wasm_record_names_engine_mode_and_version():
    ev = Evidence("s", "t", None)
    rec = ev.record("m", 1.0, form="wasm", runtime="wasmtime-cli", arch=None)
    assert rec["details"]["engine"] == "wasmtime" and rec["details"]["mode"] == RUNTIMES["wasmtime-cli"].mode
    assert rec["details"]["runtime_version"] == row_details("wasmtime-cli")["runtime_version"]
    assert "engine" not in ev.record("m", 1.0, form="native", runtime="os")["details"]


def test_safety3_summary_names_each_finding_with_engine_mode_and_version():
    claim = next(c for c in claims.registry() if c.id == "SAFETY-3")
    recs = [{"claim": "SAFETY-3", "metric": "limit_held", "value": v, "runtime": rt, "outcome": "x",
             "details": {"limit": limit, "reason": "why", "engine": "e", "mode": "m", "runtime_version": "1.2"}}
            for v, rt, limit in ((0, "wasmedge", "stack"), (0, "wasmedge-aot", "stack"), (1, "wasmtime-py", "stack"))]
    verdict = claims.decide(claim, recs, "")
    assert verdict.verdict == "partly-supported"
    findings = verdict.summary.split("; findings: ", 1)[1].split("; held: ")[0].split("; ")
    assert sorted(findings) == ["wasmedge 1.2 (e m): stack: why", "wasmedge-aot 1.2 (e m): stack: why"]
    assert "held: wasmtime-py@1.2" in verdict.summary
