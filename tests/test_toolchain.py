"""Builds: cached by content hash, compile errors name the workload and show the compiler."""

import shutil

import pytest

from harness.toolchain import BuildError, build
from harness.workload import load_workload


def test_second_build_is_a_cache_hit(builtin, tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_CLAIMS_CACHE", str(tmp_path))
    first = build(builtin["sha256"], "wasm32-wasi")
    second = build(builtin["sha256"], "wasm32-wasi")
    assert not first.cached and second.cached and first.sha256 == second.sha256
    assert second.path.read_bytes()[:4] == b"\0asm"


def test_compile_error_is_clear(tmp_path, builtin):
    src = builtin["sha256"].directory
    d = tmp_path / "broken"
    shutil.copytree(src, d)
    (d / "workload.yaml").write_text((d / "workload.yaml").read_text().replace("name: sha256", "name: broken"))
    (d / "main.c").write_text("int wc_process( {\n")
    with pytest.raises(BuildError) as info:
        build(load_workload(d), "wasm32-wasi")
    msg = str(info.value)
    assert "broken" in msg and "wasm32-wasi" in msg and "error" in msg
