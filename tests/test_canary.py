"""harness.canary: planted canaries are in place, every kind of escape shows, and nothing is left behind."""

from __future__ import annotations

import os
import socket

import pytest

from harness import canary


@pytest.fixture
def planted(tmp_path):
    c = canary.plant(tmp_path)
    yield c
    c.close()


def test_plant_puts_everything_in_place(planted):
    assert planted.missing() == []
    assert planted.secret_token in planted.secret.read_text()
    assert os.environ[planted.env_name] == planted.env_token
    assert planted.rw.is_dir() and (planted.ro / "data.txt").is_file()
    assert not planted.rw.is_relative_to(planted.outside) and not planted.outside.is_relative_to(planted.rw)
    assert planted.check(b"nothing to see") == []


def test_liveness_probe_is_not_counted_as_a_connection(planted):
    assert planted.listener.alive() and planted.listener.alive()
    assert planted.check(b"") == []


@pytest.mark.parametrize("escape, canary_name", [
    ("read-secret", "secret-file"), ("read-env", "env"), ("write-target", "write-target"),
    ("create-outside", "outside-dir"), ("touch-readonly", "readonly-dir"), ("hardlink-readonly", "readonly-dir"),
    ("connect", "listener"),
])
def test_each_escape_is_observed(planted, escape, canary_name):
    output = b""
    if escape == "read-secret":
        output = planted.secret.read_bytes()
    elif escape == "read-env":
        output = f"{planted.env_name}={planted.env_token}".encode()
    elif escape == "write-target":
        planted.target.write_text("pwned")
    elif escape == "create-outside":
        (planted.outside / "new").write_text("x")
    elif escape == "touch-readonly":
        (planted.ro / "data.txt").write_text("changed")
    elif escape == "hardlink-readonly":
        os.link(planted.ro / "data.txt", planted.rw / "alias")
    elif escape == "connect":
        with socket.create_connection(("127.0.0.1", planted.port), timeout=2) as s:
            s.sendall(b"guest")
        for _ in range(100):
            if planted.listener.guest_connections():
                break
            planted.listener._stop.wait(0.02)
    hits = planted.check(output)
    assert canary_name in {h.canary for h in hits}, hits


def test_changes_inside_the_writable_folder_are_not_escapes(planted):
    (planted.rw / "scratch").write_text("fine")
    os.symlink("../../outside/secret.txt", planted.rw / "link")
    assert planted.check(b"") == []


def test_a_missing_canary_is_reported(planted):
    del os.environ[planted.env_name]
    planted.listener.close()
    missing = " ".join(planted.missing())
    assert "env" in missing and "listener" in missing


def test_close_leaves_nothing_behind(tmp_path):
    c = canary.plant(tmp_path)
    root, name, port = c.root, c.env_name, c.port
    c.close()
    assert not root.exists() and name not in os.environ
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
