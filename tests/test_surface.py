"""Surface counting: strace parsing, WASI imports, capability masks, a real traced run."""

from __future__ import annotations

import os
import shutil

import pytest
import wasmtime

from harness import surface


def test_parse_strace_counts_calls_and_only_successful_regular_files(tmp_path):
    lib = tmp_path / "lib.so"
    lib.write_bytes(b"x" * 10)
    text = "\n".join([
        f'101 execve("{tmp_path}/prog", ["prog"], 0x7ffd /* 3 vars */) = -1 ENOENT (No such file or directory)',
        f'101 openat(AT_FDCWD, "{lib}", O_RDONLY|O_CLOEXEC) = 3',
        '101 openat(AT_FDCWD, "/missing/file", O_RDONLY) = -1 ENOENT (No such file or directory)',
        '101 openat(AT_FDCWD, "/proc/self/status", O_RDONLY) = 4',
        f'101 openat(AT_FDCWD, "{tmp_path}", O_RDONLY|O_DIRECTORY) = 5',
        '102 read(3,  <unfinished ...>',
        '102 <... futex resumed>) = 0',
        '[pid   103] mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f00',
        '101 --- SIGCHLD {si_signo=SIGCHLD} ---',
        '101 +++ exited with 0 +++',
    ])
    t = surface.parse_strace(text)
    assert t.syscalls == {"execve", "openat", "read", "futex", "mmap"}
    assert t.files == {os.path.realpath(lib)}
    assert t.files_bytes() == 10


def test_relative_paths_resolve_against_the_working_directory(tmp_path):
    (tmp_path / "data.txt").write_text("hi")
    t = surface.parse_strace('7 openat(AT_FDCWD, "data.txt", O_RDONLY) = 3', cwd=str(tmp_path))
    assert t.files == {os.path.realpath(tmp_path / "data.txt")}


def test_wasi_imports_of_a_module(tmp_path):
    wasm = tmp_path / "m.wasm"
    wasm.write_bytes(wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
        ' (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (memory (export "memory") 1))'))
    assert surface.wasi_imports(wasm) == ["wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.proc_exit"]


def test_capability_count():
    assert surface.capability_count("0000000000000005") == 2
    assert surface.capability_count("") == 0


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed (apt-get install strace)")
def test_trace_a_real_program():
    true = shutil.which("true")
    t = surface.trace_inputs([true], [b"", b"x"], 30)
    assert t.runs == 2 and "execve" in t.syscalls and "exit_group" in t.syscalls
    assert os.path.realpath(true) in t.files and t.exit_codes == [0, 0]


def test_missing_strace_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(surface.shutil, "which", lambda name: None)
    with pytest.raises(surface.SurfaceUnavailable, match="apt-get install strace"):
        surface.strace_path()
