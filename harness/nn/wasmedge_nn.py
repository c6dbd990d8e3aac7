"""WasmEdge's own WASI-NN plugin as an LLM path, beside the project's host: the same guest
(guests/llm.c built as a command) run by

    wasmedge --dir .:. --nn-preload default:GGML:AUTO:<model.gguf> llm.wasm default <options> < prompt

where WasmEdge and its `wasi_nn` plugin are installed. They are found, never built or fetched:
`wasmedge` on PATH, the plugin (libwasmedgePluginWasiNN.so) in a WASMEDGE_PLUGIN_PATH folder
or where WasmEdge's installer puts it. Without them the row is not tested, saying which is missing.

The plugin's metadata output reports how many tokens it generated but not their ids, so this
path is compared by text and token count. Each completion is one `wasmedge` process (start-up
and model load included in its seconds), so its time is never called a boundary overhead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from harness.nn import ggml
from harness.nn.backends import BackendUnavailable

PLUGIN_FILE = "libwasmedgePluginWasiNN.so"
MODEL_NAME = "default"
RUN_TIMEOUT_S = 300
MISSING_HINT = ("install WasmEdge with its installer and its WASI-NN ggml plugin, put `wasmedge` on PATH and the "
                "plugin folder in WASMEDGE_PLUGIN_PATH (the project never builds or fetches them)")


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


def parse_run(stdout: bytes, stderr: bytes) -> tuple[bytes, dict]:
    """(completion text, metadata): the guest writes the text to stdout and the plugin's metadata
    JSON as its last stderr line; WasmEdge's own log records are dropped from both."""
    from harness.runtimes.wasmedge import LOG_RECORD

    text = LOG_RECORD.sub(b"", stdout)
    for line in reversed(LOG_RECORD.sub(b"", stderr).splitlines()):
        try:
            meta = json.loads(line)
        except ValueError:
            continue
        if isinstance(meta, dict):
            return text, meta
    raise RuntimeError(f"no metadata JSON from the plugin on stderr: {stderr[-400:]!r}")


class WasmEdgePluginPath:
    """One `wasmedge` process per completion, the model preloaded by name."""

    path = "wasmedge-plugin"

    def __init__(self, spec, target: str = "cpu", progress=None):
        from harness.nn.guest import build_guest
        from harness.nn.llm import model_unavailable
        from harness.nn.tinyllama import gguf_path
        from harness.runtimes.cli import program_version

        if target != "cpu":
            raise BackendUnavailable("the WasmEdge plugin row runs on the CPU (--nn-preload ...:AUTO, no GPU here)")
        self.program, self.plugin = find()
        if (reason := model_unavailable(target)) is not None:  # the GGUF is made with the gguf package
            raise BackendUnavailable(reason)
        self.target, self.gguf = target, gguf_path(spec)
        self.wasm = build_guest("llm", "wasm32-wasi", progress=progress, defines=("-DWC_LLM_COMMAND",)).path
        self.version = program_version(self.program)

    def run(self, prompt: bytes, options: bytes) -> tuple[bytes, dict, float]:
        env = {**os.environ, "WASMEDGE_PLUGIN_PATH": str(self.plugin.parent)}
        cmd = [self.program, "--dir", ".:.", "--nn-preload", f"{MODEL_NAME}:GGML:AUTO:{self.gguf}", str(self.wasm),
               MODEL_NAME, options.decode()]
        start = time.perf_counter()
        out = subprocess.run(cmd, input=prompt, capture_output=True, env=env, timeout=RUN_TIMEOUT_S)
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(f"wasmedge exited {out.returncode}: {out.stderr[-600:]!r}")
        text, meta = parse_run(out.stdout, out.stderr)
        return text, meta, seconds

    def complete(self, prompt: bytes, n_predict: int, seed: int = 42):
        from harness.nn.llm import Completion

        text, meta, seconds = self.run(prompt, ggml.options_json(n_predict, seed))
        return Completion(None, text, seconds, meta.get("input_tokens", -1), meta.get("output_tokens"))
