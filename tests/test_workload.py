"""Manifests: valid ones load, broken ones give one clear message naming file and field."""

import pytest

from harness.workload import ManifestError, discover, load_workload

GOOD = """\
name: demo
summary: a demo
sources: {c: main.c, python: main.py}
input: {strategy: bytes, max_size: 16}
"""


def make(tmp_path, text, files=("main.c", "main.py"), name="demo"):
    d = tmp_path / name
    d.mkdir()
    (d / "workload.yaml").write_text(text)
    for f in files:
        (d / f).write_text("")
    return d


def test_builtin_workloads_all_load():
    names = {w.name for w in discover()}
    assert {"mandelbrot", "bpe-tokenize", "json-extract", "image-normalize", "sha256", "record-parser",
            "audio-logmel", "tiny-transformer"} <= names


def test_valid_manifest(tmp_path):
    wl = load_workload(make(tmp_path, GOOD))
    assert wl.name == "demo" and wl.input.max_size == 16 and wl.compare.mode == "exact"


@pytest.mark.parametrize("text, expected", [
    (GOOD + "colour: blue\n", ["workload.yaml", "colour", "known fields"]),
    (GOOD.replace("max_size: 16", "max_size: lots"), ["input.max_size", "integer"]),
    (GOOD.replace("strategy: bytes", "strategy: poetry"), ["input.strategy", "poetry", "expected one of"]),
    (GOOD.replace("c: main.c", "c: missing.c"), ["sources.c", "missing.c", "not found"]),
    (GOOD.replace("name: demo", "name: other"), ["name", "folder name"]),
    (GOOD.replace("summary: a demo\n", ""), ["summary", "required"]),
    ("- just\n- a list\n", ["mapping"]),
    ("name: [unclosed\n", ["not valid YAML"]),
])
def test_bad_manifest_messages(tmp_path, text, expected):
    with pytest.raises(ManifestError) as info:
        load_workload(make(tmp_path, text))
    for word in expected:
        assert word in str(info.value)


def test_workloads_path_without_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no workload.yaml"):
        discover([tmp_path])
