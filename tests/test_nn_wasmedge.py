"""WasmEdge's own WASI-NN plugin as an LLM row (harness/nn/wasmedge_nn.py): how it is found,
how its output is read and brought to the other paths' terms, and the row end to end with a
stand-in `wasmedge` that keeps the plugin's contract. The last test runs the real plugin where
one is installed and skips, naming what is missing, where not."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from harness.nn import ggml, tinyllama
from harness.nn.backends import BackendUnavailable
from harness.nn.wasmedge_nn import (PLUGIN_FILE, find, loaded_versions, parse_run, parse_version, read_completion,
                                    resolve_at_limit)

needs_model = pytest.mark.skipif(not ggml.llama_available() or importlib.util.find_spec("gguf") is None,
                                 reason=f"{ggml.LLAMA_MISSING}; or {tinyllama.GGUF_MISSING}")
EOS = b"</s>"
VERSION_0_14_1 = ('/opt/we/bin/wasmedge version 0.14.1\n (plugin "wasi_logging") version 0.1.0.0\n'
                  '/opt/we/lib/wasmedge/libwasmedgePluginWasiNN.so (plugin "wasi_nn") version 0.10.1.0\n')


# -- reading what WasmEdge prints --------------------------------------------------------------
def test_version_lists_wasmedge_and_the_loaded_plugins():
    version, plugins = parse_version(VERSION_0_14_1)
    assert version == "0.14.1"
    assert plugins == {"wasi_logging": ("", "0.1.0.0"),
                       "wasi_nn": ("/opt/we/lib/wasmedge/libwasmedgePluginWasiNN.so", "0.10.1.0")}
    assert parse_version("wasmedge version 0.13.5\n") == ("0.13.5", {})
    assert parse_version("bash: wasmedge: cannot execute\n") == (None, {})


def test_run_output_drops_wasmedge_log_records_and_reads_the_guest_lines():
    log = b"[2026-12-06 09:30:00.123] [info] [WASI-NN] GGML backend: a log line\n"
    meta = {"input_tokens": 5, "output_tokens": 3, "llama_build_number": 3651, "llama_commit": "8f1d81a0b"}
    stderr = log + b'{"wc_llm_seconds": 0.012500000}\n' + log + json.dumps(meta).encode() + b"\n"
    assert parse_run(log + b"the text\x00", stderr) == (b"the text\x00", meta, 0.0125)
    with pytest.raises(RuntimeError, match="wc_llm_seconds"):
        parse_run(b"x", json.dumps(meta).encode() + b"\n")
    with pytest.raises(RuntimeError, match="metadata JSON"):
        parse_run(b"x", b"wasi-nn errno 5\n")


# -- the plugin's count and text in the other paths' terms ---------------------------------------
def test_the_stop_token_the_plugin_keeps_is_taken_off():
    assert read_completion(b"abc" + EOS, 4, 32, EOS) == (b"abc", 3)  # stopped early: at the end of sequence
    assert read_completion(EOS, 1, 32, EOS) == (b"", 0)
    assert read_completion(b"a</s>bc", 32, 32, EOS) == (b"a</s>bc", 32)  # the piece inside the text is text
    assert read_completion(b"abc", 32, 32, EOS) == (b"abc", 32)  # stopped at n-predict
    assert read_completion(b"abc" + EOS, 32, 32, EOS) is None  # the stop token last, or "</s>" spelled out
    with pytest.raises(RuntimeError, match="without the end-of-sequence piece"):
        read_completion(b"abc", 3, 32, EOS)
    with pytest.raises(RuntimeError, match="33 tokens, 32 were asked"):
        read_completion(b"abc", 33, 32, EOS)


def test_a_completion_at_the_limit_is_decided_by_asking_for_one_token_more():
    text = b"abc" + EOS
    assert resolve_at_limit(text, 32, (text, 32), EOS) == (b"abc", 31)  # stops there again: the stop token
    assert resolve_at_limit(text, 32, (text + b"d", 33), EOS) == (text, 32)  # goes on: "</s>" was plain text
    with pytest.raises(RuntimeError, match="not deterministic"):
        resolve_at_limit(text, 32, (b"xyz", 33), EOS)


def test_plugin_options_carry_the_host_thread_count_and_the_model_context():
    """WasmEdge's defaults are 4 threads and a 512-token context; the host's are ggml.THREADS and
    the model's context: the row sends both, and the host accepts the same JSON."""
    raw = ggml.options_json(9, seed=3, threads=ggml.THREADS, ctx_size=256)
    assert json.loads(raw) == {"n-predict": 9, "temp": 0.0, "seed": 3, "threads": ggml.THREADS, "ctx-size": 256}
    assert ggml.parse_options(raw).n_predict == 9
    assert set(json.loads(ggml.options_json(9))) == {"n-predict", "temp", "seed"}


# -- finding WasmEdge and its plugin -----------------------------------------------------------
def _program(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prog = folder / "wasmedge"
    prog.write_text(f"#!{sys.executable}\n{script}")
    prog.chmod(0o755)
    return prog


def test_wasmedge_plugin_row_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("WASMEDGE_PLUGIN_PATH", str(tmp_path))
    with pytest.raises(BackendUnavailable, match=r"`wasmedge` \(not on PATH\) and its WASI-NN plugin .*WASMEDGE_PLUGIN_PATH"):
        find()
    _program(tmp_path / "bin", "")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(BackendUnavailable, match=re.escape(f"its WASI-NN plugin ({PLUGIN_FILE} in none of {tmp_path}, ")):
        find()


def test_a_plugin_file_wasmedge_does_not_load_is_not_a_row(monkeypatch, tmp_path):
    """Found in WASMEDGE_PLUGIN_PATH but not listed by `wasmedge --version` (a broken or foreign
    build): not tested, with what WasmEdge said."""
    prog = _program(tmp_path / "bin", "import sys\nprint('wasmedge version 0.14.1')\n")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / PLUGIN_FILE).write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("WASMEDGE_PLUGIN_PATH", str(tmp_path / "plugins"))
    program, plugin = find()
    assert (program, plugin) == (str(prog), tmp_path / "plugins" / PLUGIN_FILE)
    with pytest.raises(BackendUnavailable, match=r"is there but .* lists no wasi_nn plugin: wasmedge version 0.14.1"):
        loaded_versions(program, plugin)


# -- the row end to end, with a stand-in for WasmEdge ---------------------------------------------
FAKE_WASMEDGE = '''
"""Stands in for `wasmedge --nn-preload NAME:GGML:AUTO:GGUF llm.wasm NAME OPTIONS`: runs the same
command guest on the project's host and answers as WasmEdge 0.14.1's plugin does: no token ids,
and the end-of-sequence token it stopped at counted and spelled out at the end of the text."""
import json, os, sys
plugin = os.path.join(os.environ["WASMEDGE_PLUGIN_PATH"], "libwasmedgePluginWasiNN.so")
if sys.argv[1:] == ["--version"]:
    print(f"{sys.argv[0]} version 0.14.1\\n{plugin} (plugin \\"wasi_nn\\") version 0.10.1.0")
    sys.exit(0)
from harness.nn.llm import model_file, run_command
args = sys.argv[1:]
assert args[0] == "--nn-preload" and os.path.isfile(plugin), args
name, encoding, target, gguf = args[1].split(":", 3)
assert (name, encoding, target, gguf) == (args[3], "GGML", "AUTO", str(model_file())), args
out, err = run_command(sys.stdin.buffer.read(), args[4])
seconds, meta = (json.loads(line) for line in err.splitlines())
meta.pop("output_token_ids")
if meta["output_tokens"] < json.loads(args[4])["n-predict"]:
    out, meta["output_tokens"] = out + b"</s>", meta["output_tokens"] + 1
with open(os.environ["FAKE_WASMEDGE_LOG"], "a") as log:
    log.write(args[4] + "\\n")
sys.stdout.buffer.write(out)
sys.stderr.write(json.dumps(seconds) + "\\n[2026-01-01 00:00:00.000] [info] a log line\\n" + json.dumps(meta) + "\\n")
'''


@needs_model
def test_wasmedge_plugin_row_runs_the_command_guest(monkeypatch, tmp_path):
    """The row's plumbing (discovery, --nn-preload, the options it adds, text on stdout, timing
    and metadata after WasmEdge's log on stderr, the stop token taken off, the completion at the
    limit asked again) with a stand-in `wasmedge` running the same guest."""
    from harness.nn.llm import DirectPath, open_path

    _program(tmp_path / "bin", FAKE_WASMEDGE)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / PLUGIN_FILE).write_bytes(b"")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WASMEDGE_PLUGIN_PATH", str(tmp_path / "plugins"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    monkeypatch.setenv("FAKE_WASMEDGE_LOG", str(tmp_path / "calls"))
    path, direct = open_path("wasmedge-plugin"), DirectPath()
    stops = direct.complete(b"binary", 32).count  # this model ends "binary" with the stop token
    assert 0 < stops < 31
    for prompt, n in ((b"the model runs", 10), (b"binary", 32), (b"binary", stops + 1)):
        got, want = path.complete(prompt, n), direct.complete(prompt, n)
        assert got.tokens is None and got.count == len(want.tokens) and got.same_as(want), (prompt, n)
        assert got.seconds > 0 and got.process_seconds > got.seconds
    assert not path.complete(b"the model runs", 10).same_as(direct.complete(b"the model runs", 9))
    calls = [json.loads(line) for line in (tmp_path / "calls").read_text().splitlines()]
    assert [c["n-predict"] for c in calls] == [10, 32, stops + 1, stops + 2, 10]
    assert all(c["threads"] == ggml.THREADS and c["ctx-size"] == tinyllama.SUITE_MODEL.n_ctx for c in calls)
    assert path.stops == {"completions": 4, "at_end_of_sequence": 2, "asked_again": 1}
    assert path.backend_version.startswith("WasmEdge 0.14.1, wasi_nn plugin 0.10.1.0")


def _real_plugin() -> str | None:
    """Why the real plugin cannot run here (None when it can)."""
    try:
        loaded_versions(*find())
    except BackendUnavailable as exc:
        return str(exc)
    return None


@needs_model
def test_real_wasmedge_plugin_gives_the_direct_completion():
    """WasmEdge's plugin (its own llama.cpp) against llama-cpp-python, where one is installed."""
    if (why := _real_plugin()) is not None:
        pytest.skip(why)
    from harness.nn.llm import DirectPath, open_path

    path, direct = open_path("wasmedge-plugin"), DirectPath()
    stops = direct.complete(b"binary", 32).count  # ends with the stop token: at stops + 1 the plugin is asked again
    for prompt, n in ((b"the wasm runtime hands the tensor", 16), (b"binary", 32), (b"binary", stops + 1),
                      ("ünïcode ✓ <s>".encode(), 16)):
        got, want = path.complete(prompt, n), direct.complete(prompt, n)
        assert got.same_as(want) and got.prompt_tokens == want.prompt_tokens, (prompt, got, want)
    assert path.stops == {"completions": 4, "at_end_of_sequence": 2, "asked_again": 1}
    assert "llama.cpp b" in path.backend_version
