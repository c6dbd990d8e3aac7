"""node:wasi (V8). Node's own documentation says node:wasi is not a secure sandbox: findings
about escapes here are findings about this runtime. `--max-old-space-size` bounds V8's heap,
not a Wasm linear memory, so no memory limit is declared (SAFETY-3 records the overrun)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.process import run_process
from harness.runtimes.base import Invoked, Limits, WasiSetup
from harness.runtimes.cli import CliRuntime, classify_trap, invoked
from harness.toolchain import host_arch

NODE_RUNNER = Path(__file__).with_name("node_wasi_runner.mjs")
NODE_INVOKE = Path(__file__).with_name("node_invoke.mjs")


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

    def invoke(self, module: Path, exports: list[str], options: tuple[str, ...] = (), timeout_s: float = 30.0,
               arch: str | None = None) -> list[Invoked]:
        """All exports in one node process (each on a fresh instance): node starts slowly."""
        cmd = [self.program(arch or host_arch()), "--no-warnings", *options, str(NODE_INVOKE), str(module), *exports]
        outcome = run_process(cmd, b"", timeout_s * len(exports) + self.startup_allowance_s)
        lines = [json.loads(ln) for ln in outcome.stdout.decode("utf-8", "replace").splitlines() if ln.startswith("{")]
        got = [Invoked(value=int(d["value"])) if "value" in d else
               Invoked(trap=classify_trap(d["trap"]) or d["trap"][:60]) if "trap" in d else Invoked(error=d["error"][:200])
               for d in lines[:len(exports)]]
        if len(got) < len(exports):  # node itself stopped: a death or time-out on the next export
            whole = invoked(outcome)
            stop = whole if whole.died or whole.timed_out else Invoked(error=whole.error or "node printed no result")
            got += [stop] + [Invoked(error="not run: node stopped before it")] * (len(exports) - len(got) - 1)
        return got
