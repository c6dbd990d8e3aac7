"""node:wasi (V8). Node's own documentation says node:wasi is not a secure sandbox: findings
about escapes here are findings about this runtime. `--max-old-space-size` bounds V8's heap,
not a Wasm linear memory, so no memory limit is declared (SAFETY-3 records the overrun)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.runtimes.base import Limits, WasiSetup
from harness.runtimes.cli import CliRuntime

NODE_RUNNER = Path(__file__).with_name("node_wasi_runner.mjs")


class NodeWasi(CliRuntime):
    name = "node-wasi"
    engine = "v8"
    mode = "default"  # V8 tiers up from Liftoff to TurboFan (node's defaults)
    executable = "node"
    capabilities = frozenset({"preopen"})
    trap_pattern = re.compile(r"RuntimeError: ([^\n]+)")

    def install_hint(self) -> str:
        return "apt-get install nodejs (20 or newer for node:wasi preview1)"

    def command(self, module: Path, limits: Limits, timeout_s: float, arch: str, wasi: WasiSetup = WasiSetup()) -> list[str]:
        mem_mb = max(16, limits.memory_bytes >> 20)
        cmd = [self.program(arch), "--no-warnings", f"--max-old-space-size={mem_mb}", str(NODE_RUNNER), str(module)]
        if wasi != WasiSetup():  # node:wasi preopens have no read-only mode
            cmd.append(json.dumps({"args": list(wasi.args), "env": dict(wasi.env),
                                   "preopens": {p.guest: str(p.host) for p in wasi.preopens}}))
        return cmd
