"""The generated WASI probes' parts: the interpreter's encoding and output, the permission
model, the host-snapshot judge, and one short end-to-end run on wasmtime-py (its child)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings

from harness import canary
from harness.outcome import Outcome
from harness.probes import wasicalls, wasigen, wasimodel
from harness.probes.wasigen import LAYOUTS, Call

C = Call


def test_encoding_layout_and_registers():
    rec = wasicalls.encode_call("fd_read", [5, 64], refs={0}, path1=b"abc", path2=b"")
    op, mask, *args = struct.unpack_from("<II8Q", rec)
    assert (op, mask, args[:2]) == (wasicalls.OPCODE["fd_read"], 1, [5, 64])
    assert rec[72:76] == struct.pack("<I", 3) and rec[76:80] == b"abc\0" and rec[80:84] == b"\0\0\0\0"
    assert len(rec) % 4 == 0


def test_parse_output_reads_steps_data_and_end():
    out = b"0000 00 0000 0000000000000004\n0001 0d 0000 0000000000000002 6869\nnoise\nEND 0002\n"
    steps, finished = wasicalls.parse_output(out)
    assert finished and [(s.op, s.errno, s.ret, s.data) for s in steps] == [("path_open", 0, 4, b""), ("fd_read", 0, 2, b"hi")]


def test_standalone_wat_assembles_with_the_sequence_baked_in():
    import wasmtime

    data = wasigen.encode([C("fd_write", (1,), path1=b"hello")], wasigen.Path("/x"))
    assert wasmtime.wat2wasm(wasigen.standalone_wat(data))


@pytest.fixture
def tree():
    t = wasigen.plant()
    yield t
    t.close()


def _model(layout, tree):
    return wasimodel.Model(LAYOUTS[layout].grants, wasigen.model_tree(tree), str(tree.root))


@pytest.mark.parametrize("path, why", [(b"../outside/secret.txt", "climbs"), (b"{root}/outside/secret.txt", "absolute"),
                                       (b"dir_out/secret.txt", "climbs"), (b"abs_out/x", "absolute"),
                                       (b"slash_link/", "climbs")])
def test_model_paths_that_leave_must_fail(tree, path, why):
    m = _model("rw", tree)
    p = path.replace(b"{root}", str(tree.root).encode())
    exp = m.expect("path_open", [3, 0, 0, 2, 2, 0], p, b"")
    assert exp.must_fail and why in exp.why


def test_model_inside_paths_and_unfollowed_links_are_allowed(tree):
    m = _model("rw", tree)
    assert not m.expect("path_open", [3, 0, 0, 2, 2, 0], b"sub/../file.txt", b"").must_fail
    assert not m.expect("path_unlink_file", [3], b"link_out", b"").must_fail  # removes the link, inside
    assert not m.expect("path_readlink", [3, 64], b"dir_out", b"").must_fail
    assert not m.expect("path_symlink", [3], b"../outside", b"newlink").must_fail  # creating it is allowed; following is not


def test_model_permissions_of_layouts(tree):
    ro, split, cross = _model("ro", tree), _model("rw-dir-ro-files", tree), _model("ro-files+rw", tree)
    assert ro.expect("path_create_directory", [3], b"d", b"").must_fail
    assert ro.expect("path_open", [3, 0, 1, 2, 0, 0], b"new.txt", b"").must_fail
    assert not ro.expect("path_open", [3, 0, 0, 2, 0, 0], b"file.txt", b"").must_fail
    assert split.expect("path_open", [3, 0, 8, 2, 0, 0], b"file.txt", b"").must_fail  # O_TRUNC, read rights only
    assert not split.expect("path_create_directory", [3], b"d", b"").must_fail
    assert cross.expect("path_link", [3, 0, 4], b"file.txt", b"x").must_fail
    assert not cross.expect("path_link", [4, 0, 4], b"file.txt", b"x").must_fail


def test_model_follows_descriptors_and_dropped_rights(tree):
    m = _model("rw", tree)
    m.apply("path_open", [3, 0, 0, 2 | 64, 0, 0], b"file.txt", b"", 0, 7)
    assert not m.expect("fd_write", [7], b"x", b"").must_fail
    m.apply("fd_renumber", [7, 9], b"", b"", 0, 0)
    m.apply("fd_fdstat_set_rights", [9, 2, 0], b"", b"", 0, 0)
    assert m.expect("fd_write", [9], b"x", b"").must_fail
    m.apply("path_open", [3, 0, 0, 2, 0, 0], b"file.txt", b"", 0, 8)
    assert m.expect("fd_write", [8], b"x", b"").must_fail  # opened without the write right


def test_snapshot_judge(tree):
    before = canary.snapshot(tree.root, mtimes=True)
    (tree.root / "a" / "new.txt").write_text("x")
    assert wasigen.forbidden_changes(LAYOUTS["rw"], before, canary.snapshot(tree.root, mtimes=True)) == []
    assert "read-only folder" in wasigen.forbidden_changes(LAYOUTS["ro"], before, canary.snapshot(tree.root, mtimes=True))[0]
    (tree.root / "a" / "file.txt").write_text("changed")
    changes = wasigen.forbidden_changes(LAYOUTS["rw-dir-ro-files"], before, canary.snapshot(tree.root, mtimes=True))
    assert any("read-only file changed" in c for c in changes)
    (tree.root / "outside" / "target.txt").write_text("hit")
    assert any("outside every preopen" in c for c in
               wasigen.forbidden_changes(LAYOUTS["rw"], before, canary.snapshot(tree.root, mtimes=True)))


def test_judge_words(tree):
    snap = canary.snapshot(tree.root, mtimes=True)
    lay, calls = LAYOUTS["rw"], [C("path_open", (3, 0, 0, 2, 0, 0), path1=b"file.txt"), C("fd_read", (0, 64), frozenset({0}))]
    secret = tree.token.encode().hex()
    read = Outcome(exit_code=0, stdout=f"0000 00 0000 0000000000000004\n0001 0d 0000 0000000000000030 {secret}\nEND 0002\n".encode())
    assert wasigen.judge(lay, calls, tree, snap, snap, read).outcome == "escaped"
    crashed = Outcome(signal=6, stdout=b"0000 00 0000 0000000000000004\n")
    v = wasigen.judge(lay, calls, tree, snap, snap, crashed)
    assert v.outcome == "host-crashed" and "fd_read" in v.reason
    ok = Outcome(exit_code=0, stdout=b"0000 00 0000 0000000000000004\n0001 0d 0000 0000000000000002 6869\nEND 0002\n")
    assert wasigen.judge(lay, calls, tree, snap, snap, ok).outcome == "denied"
    ro_write = [C("path_open", (3, 0, 8, 2, 0, 0), path1=b"file.txt")]
    dev = Outcome(exit_code=0, stdout=b"0000 00 0000 0000000000000004\nEND 0001\n")
    assert wasigen.judge(LAYOUTS["rw-dir-ro-files"], ro_write, tree, snap, snap, dev).outcome == "spec-deviation"


def test_a_call_that_hangs_where_the_spec_says_it_returns_is_a_spec_deviation(tree):
    """WasmEdge 0.14.1's poll_oneoff never returns on a clock subscription of 0 ns (its own
    --time-limit does not end it): the engine's deviation, not a guest that ran too long."""
    snap = canary.snapshot(tree.root, mtimes=True)
    lay = LAYOUTS["rw"]
    hung = Outcome(timed_out=True, wall_s=9.0, stdout=b"0000 00 0000 0000000000000004\n")
    clock = [C("path_open", (3, 0, 0, 2, 0, 0), path1=b"file.txt"), C("poll_oneoff", (0, 3, 0))]
    v = wasigen.judge(lay, clock, tree, snap, snap, hung)
    assert v.outcome == "spec-deviation" and "poll_oneoff" in v.reason and "clock" in v.reason
    closed_fd = [C("path_open", (3, 0, 0, 2, 0, 0), path1=b"file.txt"), C("poll_oneoff", (1, 99, 0))]
    assert wasigen.judge(lay, closed_fd, tree, snap, snap, hung).outcome == "spec-deviation"
    stdin = [C("path_open", (3, 0, 0, 2, 0, 0), path1=b"file.txt"), C("poll_oneoff", (1, 0, 0))]
    assert wasigen.judge(lay, stdin, tree, snap, snap, hung).outcome == "killed"  # waiting on an open fd may block


@settings(max_examples=30, deadline=None)
@given(wasigen.sequences(2))
def test_sequences_reference_only_earlier_descriptor_steps(calls):
    for i, c in enumerate(calls):
        assert all(c.args[k] < i and calls[c.args[k]].op in ("path_open", "sock_accept") for k in c.refs)
    assert wasigen.encode(calls, wasigen.Path("/r"))


def test_end_to_end_on_wasmtime_py(tmp_path):
    """The current wasmtime-py (its child): a read inside is allowed, escapes are refused, and a
    reproducer is written for a finding."""
    from harness.runtimes import RUNTIMES

    session = RUNTIMES["wasmtime-py"].child().open(wasigen.interpreter())
    calls = [C("path_open", (3, 0, 0, 2, 0, 0), path1=b"file.txt"), C("fd_read", (0, 64), frozenset({0})),
             C("path_open", (3, 1, 0, 2, 0, 0), path1=b"dir_out/secret.txt"), C("path_create_directory", (3,), path1=b"d"),
             C("fd_renumber", (4, 4))]
    v, extra = wasigen.run_sequence(session, LAYOUTS["ro"], calls)
    steps, finished = wasicalls.parse_output(extra["stdout"].encode("latin-1"))
    assert finished and v.outcome == "denied", v.reason
    assert steps[1].data == b"alpha file\n" and steps[2].errno != 0 and steps[3].errno != 0
    out = wasigen.write_reproducer(tmp_path, "wasmtime-py", "x", LAYOUTS["ro"], calls, v, extra)
    assert wasigen.load_sequence(out / "sequence.json") == (LAYOUTS["ro"], calls)
    assert "path_open" in (out / "README.txt").read_text()


def test_mtime_in_a_read_only_folder_is_a_permission_finding_not_an_escape(tree):
    import os

    before = canary.snapshot(tree.root, mtimes=True)
    os.utime(tree.root / "a" / "file.txt", ns=(1, 1))
    meta: list = []
    after = canary.snapshot(tree.root, mtimes=True)
    assert wasigen.forbidden_changes(LAYOUTS["rw-dir-ro-files"], before, after, meta) == [] and meta == []
    assert wasigen.forbidden_changes(LAYOUTS["ro"], before, after, meta) == [] and "mtime" in meta[0]


def test_a_file_renamed_over_is_an_entry_change_and_a_sparse_giant_is_snapshotted(tree):
    before = canary.snapshot(tree.root, mtimes=True)
    (tree.root / "a" / "sub" / "inner.txt").rename(tree.root / "a" / "file.txt")
    with open(tree.root / "a" / "big", "wb") as f:
        f.truncate(1 << 40)
    after = canary.snapshot(tree.root, mtimes=True)
    assert wasigen.forbidden_changes(LAYOUTS["rw-dir-ro-files"], before, after) == []  # the folder is writable
    assert wasigen.forbidden_changes(LAYOUTS["ro"], before, after)


def test_model_trailing_slash_follows_only_in_lookups(tree):
    m = _model("rw", tree)
    assert m.expect("path_open", [3, 0, 2, 2, 0, 0], b"slash_link/", b"").must_fail
    assert not m.expect("path_rename", [3, 3], b"in_link", b"slash_link/").must_fail
