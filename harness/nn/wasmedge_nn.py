"""WasmEdge's own WASI-NN plugin as an LLM path, beside the project's host: the same guest
(guests/llm.c built as a command) run by

    wasmedge --nn-preload default:GGML:AUTO:<model.gguf> llm.wasm default <options> < prompt

where WasmEdge and its `wasi_nn` plugin are installed. They are found, never built or fetched:
`wasmedge` on PATH, the plugin (libwasmedgePluginWasiNN.so) in a WASMEDGE_PLUGIN_PATH folder
or where WasmEdge's installer puts it, and `wasmedge --version` must list it as loaded. Without
them the row is not tested, saying which is missing. No `--dir`: the guest reads only stdin,
and the plugin opens the preloaded model itself.

What is compared. The plugin's output metadata (output 1) reports how many tokens it generated
(`output_tokens`, with `input_tokens` and the llama.cpp build) but not their ids, so this path is
compared by its generated text, byte for byte, and its number of generated tokens. Where the
plugin's contract differs from the other paths', the row adapts to it instead of counting a
mismatch (observed with WasmEdge 0.14.1, plugin 0.10.1, llama.cpp b3651):
  - it keeps the end-of-sequence token it stops at: counted in `output_tokens`, its piece
    ("</s>") appended to the text; the other paths stop before it. `read_completion` takes it
    off. Only a completion of exactly n-predict tokens ending in that piece is ambiguous (the
    stop token as the last one, or the last tokens spelling it in plain characters): the row
    asks once more with one token more and reads the answer (`resolve_at_limit`).
  - it ignores get_output's out_max: the whole output is copied into the guest's buffer, past
    its end if longer, and the full length reported (the host answers too_large with the size
    needed, the buffer untouched). The command guest's buffers are far larger than any
    completion asked for here, and it refuses to print an output longer than its buffer.
  - its defaults are not the host's: 4 threads (on a loaded 2-core machine a completion took
    50 s instead of 0.08 s) and a 512-token context. The row sends the host's thread count and
    the model's context length, so the work and the too-long-prompt limit are the same.

Timing. The command guest times its own wc_llm_complete call (set_input, compute, get_output)
with WASI's monotonic clock and writes the seconds to stderr: the span the harness times
around the reactor's call on its own host, so the row's tokens/s leaves out process start and
model load. The whole process's seconds are kept beside it (`process_seconds`). It is still
not a boundary overhead: the plugin builds a new llama.cpp context in set_input (to tokenize)
and again in every compute, and its llama.cpp is its own build (version and compile flags),
not the library the direct call uses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from harness.nn import ggml
from harness.nn.backends import BackendUnavailable

PLUGIN_FILE = "libwasmedgePluginWasiNN.so"
PLUGIN_NAME = "wasi_nn"
MODEL_NAME = "default"
RUN_TIMEOUT_S = 300
MISSING_HINT = ("install WasmEdge with its installer and its WASI-NN ggml plugin, put `wasmedge` on PATH and the "
                "plugin folder in WASMEDGE_PLUGIN_PATH (the project never builds or fetches them)")
SECONDS_KEY = "wc_llm_seconds"  # the command guest's timing line (guests/llm.c)
# `wasmedge --version`: "<argv[0]> version 0.14.1", then one line per loaded plugin,
# "/path/libwasmedgePluginWasiNN.so (plugin "wasi_nn") version 0.10.1.0" (no path for built-in ones)
VERSION_LINE = re.compile(r"^\S*wasmedge version (\S+)", re.M)
PLUGIN_LINE = re.compile(r'^ *(?P<path>.*?) ?\(plugin "(?P<name>[^"]+)"\) version (?P<version>\S+)\s*$', re.M)


def plugin_dirs(program: str | None) -> list[Path]:
    """Where WasmEdge looks for plugins: WASMEDGE_PLUGIN_PATH, then its install's own folders."""
    dirs = [Path(p) for p in os.environ.get("WASMEDGE_PLUGIN_PATH", "").split(os.pathsep) if p]
    if program:
        prefix = Path(program).resolve().parent.parent
        dirs += [prefix / "lib" / "wasmedge", prefix / "lib64" / "wasmedge", prefix / "plugin"]
    return dirs + [Path.home() / ".wasmedge" / "plugin"]


def find() -> tuple[str, Path]:
    """(wasmedge program, plugin file); BackendUnavailable saying what is missing."""
    program = shutil.which("wasmedge")
    for d in plugin_dirs(program):
        if (d / PLUGIN_FILE).is_file():
            plugin = d / PLUGIN_FILE
            break
    else:
        plugin = None
    if program is None or plugin is None:
        missing = " and ".join(m for m, absent in (("`wasmedge` (not on PATH)", program is None),
                                                    (f"its WASI-NN plugin ({PLUGIN_FILE} in none of "
                                                     f"{', '.join(map(str, plugin_dirs(program)))})", plugin is None))
                               if absent)
        raise BackendUnavailable(f"WasmEdge's WASI-NN plugin row: {missing} not found; {MISSING_HINT}")
    return program, plugin


def parse_version(text: str) -> tuple[str | None, dict[str, tuple[str, str]]]:
    """`wasmedge --version` -> (WasmEdge's version, {plugin name: (file, version)})."""
    m = VERSION_LINE.search(text)
    return (m.group(1) if m else None,
            {p["name"]: (p["path"].strip(), p["version"]) for p in PLUGIN_LINE.finditer(text)})


def row_env(plugin: Path) -> dict[str, str]:
    """The environment of every `wasmedge` the row starts: the found plugin's folder alone in
    WASMEDGE_PLUGIN_PATH (WasmEdge then loads plugins from there instead of its defaults)."""
    return {**os.environ, "WASMEDGE_PLUGIN_PATH": str(plugin.parent)}


def loaded_versions(program: str, plugin: Path) -> tuple[str, str]:
    """(WasmEdge's version, the wasi_nn plugin's version) as `wasmedge --version` reports them with
    the row's environment; BackendUnavailable when the file is there but WasmEdge does not load it."""
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, env=row_env(plugin), timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendUnavailable(f"WasmEdge's WASI-NN plugin row: `{program} --version` failed: {exc}") from None
    version, plugins = parse_version(out.stdout + out.stderr)
    if out.returncode != 0 or version is None or PLUGIN_NAME not in plugins:
        said = (out.stdout + out.stderr).strip().replace("\n", " | ")[-400:]
        raise BackendUnavailable(f"WasmEdge's WASI-NN plugin row: {plugin} is there but `{program} --version` "
                                 f"(exit {out.returncode}) lists no {PLUGIN_NAME} plugin: {said or 'no output'}")
    return version, plugins[PLUGIN_NAME][1]


def parse_run(stdout: bytes, stderr: bytes) -> tuple[bytes, dict, float]:
    """(completion text, output metadata, the guest's seconds): the guest writes the text to
    stdout, then a {"wc_llm_seconds": S} line and the plugin's metadata JSON as its last lines
    on stderr; WasmEdge's own log records are dropped from both."""
    from harness.runtimes.wasmedge import LOG_RECORD

    text, meta, seconds = LOG_RECORD.sub(b"", stdout), None, None
    for line in reversed(LOG_RECORD.sub(b"", stderr).splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        if SECONDS_KEY in doc:
            seconds = float(doc[SECONDS_KEY])
            break
        if meta is None:
            meta = doc
    if meta is None or seconds is None:
        what = "metadata JSON from the plugin" if meta is None else f"{{{SECONDS_KEY!r}: ...}} line from the guest"
        raise RuntimeError(f"no {what} on stderr: {stderr[-400:]!r}")
    return text, meta, seconds


def read_completion(text: bytes, output_tokens: int, n_predict: int, stop_piece: bytes) -> tuple[bytes, int] | None:
    """The plugin's (text, output_tokens) in the other paths' terms: (generated text, generated
    tokens) without the end-of-sequence token the plugin keeps; None when it cannot tell (exactly
    n_predict tokens ending in the stop token's piece: see resolve_at_limit)."""
    ends = bool(stop_piece) and text.endswith(stop_piece) and output_tokens > 0
    if output_tokens < n_predict:  # the plugin stops early only at the end of sequence
        if not ends:
            raise RuntimeError(f"the plugin stopped after {output_tokens} of {n_predict} tokens without the "
                               f"end-of-sequence piece {stop_piece!r}: {text[-80:]!r}")
        return text[: -len(stop_piece)], output_tokens - 1
    if output_tokens > n_predict:
        raise RuntimeError(f"the plugin generated {output_tokens} tokens, {n_predict} were asked for")
    return None if ends else (text, output_tokens)


def resolve_at_limit(text: bytes, output_tokens: int, longer: tuple[bytes, int], stop_piece: bytes) -> tuple[bytes, int]:
    """read_completion's undecided case, from the same prompt asked for one token more (`longer`:
    its raw text and output_tokens): if that run also stops at output_tokens, the last token was
    the stop token; if it goes on, the piece was plain text and the completion stands as it is."""
    longer_text, longer_tokens = longer
    if longer_tokens == output_tokens and longer_text == text:
        return text[: -len(stop_piece)], output_tokens - 1
    if longer_tokens == output_tokens + 1 and longer_text.startswith(text):
        return text, output_tokens
    raise RuntimeError(f"the plugin is not deterministic: {output_tokens} tokens {text[-80:]!r}, then with one "
                       f"more allowed {longer_tokens} tokens {longer_text[-80:]!r}")


class WasmEdgePluginPath:
    """One `wasmedge` process per completion, the model preloaded by name."""

    path = "wasmedge-plugin"

    def __init__(self, spec, target: str = "cpu", progress=None):
        from harness.nn.guest import build_guest
        from harness.nn.llm import model_unavailable
        from harness.nn.tinyllama import EOS, gguf_path, vocabulary

        if target != "cpu":
            raise BackendUnavailable("the WasmEdge plugin row runs on the CPU (--nn-preload ...:AUTO, no GPU here)")
        self.program, self.plugin = find()
        self.version, self.plugin_version = loaded_versions(self.program, self.plugin)
        if (reason := model_unavailable(target)) is not None:  # the GGUF is made with the gguf package
            raise BackendUnavailable(reason)
        self.target, self.spec, self.gguf = target, spec, gguf_path(spec)
        self.stop_piece = vocabulary()[0][EOS].encode()  # the plugin spells special tokens out
        self.wasm = build_guest("llm", "wasm32-wasi", progress=progress, defines=("-DWC_LLM_COMMAND",)).path
        self.llama_build = None  # from the first output metadata
        self.stops = {"completions": 0, "at_end_of_sequence": 0, "asked_again": 0}

    @property
    def backend_version(self) -> str:
        return (f"WasmEdge {self.version}, {PLUGIN_NAME} plugin {self.plugin_version} ({self.plugin})"
                + (f", {self.llama_build}" if self.llama_build else ""))

    def options(self, n_predict: int, seed: int) -> bytes:
        """The host's options, plus the two whose plugin defaults differ from the host's."""
        return ggml.options_json(n_predict, seed, threads=ggml.THREADS, ctx_size=self.spec.n_ctx)

    def run(self, prompt: bytes, options: bytes) -> tuple[bytes, dict, float, float]:
        """(raw text, output metadata, the guest's seconds, the process's seconds)"""
        cmd = [self.program, "--nn-preload", f"{MODEL_NAME}:GGML:AUTO:{self.gguf}", str(self.wasm), MODEL_NAME,
               options.decode()]
        start = time.perf_counter()
        out = subprocess.run(cmd, input=prompt, capture_output=True, env=row_env(self.plugin), timeout=RUN_TIMEOUT_S)
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(f"wasmedge exited {out.returncode}: {out.stderr[-600:]!r} {out.stdout[-600:]!r}")
        text, meta, guest_seconds = parse_run(out.stdout, out.stderr)
        if self.llama_build is None and "llama_build_number" in meta:
            self.llama_build = f"llama.cpp b{meta['llama_build_number']} ({meta.get('llama_commit', '?')})"
        return text, meta, guest_seconds, seconds

    def complete(self, prompt: bytes, n_predict: int, seed: int = 42):
        from harness.nn.llm import Completion

        raw, meta, guest_seconds, process_seconds = self.run(prompt, self.options(n_predict, seed))
        count = int(meta["output_tokens"])
        read = read_completion(raw, count, n_predict, self.stop_piece)
        if read is None:
            self.stops["asked_again"] += 1
            longer, longer_meta, _, _ = self.run(prompt, self.options(n_predict + 1, seed))
            read = resolve_at_limit(raw, count, (longer, int(longer_meta["output_tokens"])), self.stop_piece)
        text, generated = read
        self.stops["completions"] += 1
        self.stops["at_end_of_sequence"] += int(generated < count)
        return Completion(None, text, guest_seconds, int(meta.get("input_tokens", -1)), generated,
                          process_seconds=process_seconds)
