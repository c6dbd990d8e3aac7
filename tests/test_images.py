"""Tests for harness.images: the Debian package closure and the locally built images."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import images
from harness.images import (
    DEFAULT_EXCLUDE,
    ImageError,
    ImageInfo,
    build_python_image,
    build_static_binary_image,
    package_closure,
    python_image,
)

needs_apt = pytest.mark.skipif(
    shutil.which("apt-cache") is None, reason="apt-cache not found (not a Debian/Ubuntu host)"
)


# --------------------------------------------------------------------------- unit


def test_parse_depends_or_groups_and_virtuals():
    text = """\
pkg-a
  PreDepends: libc6
 |Depends: media-types
  Depends: mime-support
  Depends: <awk>
    mawk
    gawk
  Depends: libfoo:i386
  Recommends: recommended
pkg-b
<awk>
mawk
"""
    graph, virtuals, providers = images._parse_depends(text, "amd64")
    assert graph["pkg-a"] == [["libc6"], ["media-types", "mime-support"], ["awk"]]
    assert graph["pkg-b"] == []
    assert "awk" in virtuals and providers["awk"] == ["mawk", "gawk"]
    assert "awk" not in graph  # a virtual package is no node of its own


def test_split_tag():
    assert images._split_tag("wasm-claims/python:bookworm") == ("wasm-claims/python", "bookworm")
    assert images._split_tag("python") == ("python", "latest")
    assert images._split_tag("localhost:5000/x") == ("localhost:5000/x", "latest")


@needs_apt
def test_package_closure_python3_minimal():
    closure = package_closure(["python3-minimal"])
    assert "python3.11-minimal" in closure
    assert "libc6" in closure
    assert "python3-minimal" in closure
    assert len(closure) == len(set(closure))
    assert all(":" not in p and not p.startswith("<") for p in closure)


@needs_apt
def test_package_closure_exclude_prunes_subtree():
    full = package_closure(["python3-minimal"])
    pruned = package_closure(["python3-minimal"], exclude=DEFAULT_EXCLUDE)
    assert "dpkg" in full and "dpkg" not in pruned
    assert "tar" not in pruned  # only dpkg pulled it in
    assert "libc6" in pruned and "python3.11-minimal" in pruned
    assert set(pruned) < set(full)


@needs_apt
def test_package_closure_unknown_package():
    with pytest.raises(ImageError, match="apt"):
        package_closure(["no-such-package-wasm-claims"])


# --------------------------------------------------------------------------- integration


@pytest.fixture(scope="module")
def client():
    try:
        return images.docker_client()
    except ImageError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def py_info(client) -> ImageInfo:
    try:
        return python_image(client, progress=lambda _: None)
    except ImageError as e:
        if shutil.which("apt-get") is None:
            pytest.skip(f"no Python image and no apt to build one: {e}")
        raise


def _run(client, image: str, command: list[str], **kwargs) -> str:
    out = client.containers.run(image, command, network_mode="none", remove=True, **kwargs)
    return out.decode().strip()


def test_python_image_runs_without_network(client, py_info):
    assert py_info.image_id.startswith("sha256:")
    assert py_info.size_bytes > 0
    assert py_info.origin in ("local-debian", "upstream")
    assert _run(client, py_info.tag, [py_info.python, "-c", "print(1+1)"]) == "2"
    assert _run(client, py_info.tag, ["python3", "-c", "print(1+1)"]) == "2"
    if py_info.origin == "local-debian":
        assert "libc6" in py_info.packages and "python3.11-minimal" in py_info.packages
        assert py_info.file_count > 100


def test_python_image_second_call_does_not_rebuild(client, py_info):
    lines: list[str] = []
    t0 = time.monotonic()
    again = python_image(client, progress=lines.append)
    assert time.monotonic() - t0 < 5
    assert again.image_id == py_info.image_id
    assert again == py_info
    assert not any("extracting" in line or "importing" in line for line in lines)


def test_python_image_without_build_names_the_fix(client, monkeypatch):
    monkeypatch.setattr(images, "UPSTREAM_PYTHON_IMAGE", "wasm-claims/absent:upstream-pytest")
    monkeypatch.setattr(images, "PYTHON_IMAGE_TAG", "wasm-claims/absent:local-pytest")
    monkeypatch.delenv("WASM_CLAIMS_TRY_PULL", raising=False)
    with pytest.raises(ImageError, match="wasm-claims image build"):
        python_image(client, build=False, progress=lambda _: None)


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get not found")
def test_build_python_image_fresh_tag(client, py_info):
    """A full build (debs from the cache after py_info) into a throw-away tag."""
    tag = "wasm-claims/python:pytest-build"
    lines: list[str] = []
    try:
        info = build_python_image(client, tag=tag, progress=lines.append)
        assert info.tag == tag and info.origin == "local-debian"
        assert info.python == "/usr/bin/python3"
        assert "perl-base" not in info.packages and "dpkg" not in info.packages
        assert any(line.startswith("done:") for line in lines)
        script = (
            "import os, json, hashlib, asyncio, runpy, socket, ssl, sqlite3;"
            "print(os.getuid(), os.access('/tmp', os.W_OK))"
        )
        assert _run(client, tag, ["python3", "-c", script], user="65534") == "65534 True"
        # labels carry the package list and the file count back
        reread = images._info_from_image(client.images.get(tag), tag)
        assert reread == info
    finally:
        try:
            client.images.remove(tag, force=True)
        except Exception:
            pass


def _static_binary(tmp_path: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) {\n    puts("hello from static"); return 0; }\n')
    binary = tmp_path / "hello"
    r = subprocess.run([gcc, "-static", "-Os", "-s", "-o", str(binary), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"gcc -static failed (static libc missing?): {r.stderr.strip()[:300]}")
    return binary


def test_static_binary_image(client, tmp_path):
    binary = _static_binary(tmp_path)
    tag = "wasm-claims/static-test:pytest"
    try:
        info = build_static_binary_image(client, binary, tag)
        assert info.image_id.startswith("sha256:")
        assert info.file_count == 1 and info.packages == ()
        # only the binary: docker's size is the binary's size
        assert binary.stat().st_size <= info.size_bytes <= binary.stat().st_size + 4096
        assert _run(client, tag, ["/app"]) == "hello from static"
        assert _run(client, tag, []) == "hello from static"  # CMD ["/app"]
    finally:
        try:
            client.images.remove(tag, force=True)
        except Exception:
            pass


def test_static_binary_image_missing_binary(client, tmp_path):
    with pytest.raises(ImageError, match="No binary"):
        build_static_binary_image(client, tmp_path / "absent", "wasm-claims/static-test:absent")
