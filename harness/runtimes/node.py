"""node:wasi (V8). Node's own documentation says node:wasi is not a secure sandbox: findings
about escapes here are findings about this runtime. `--max-old-space-size` bounds V8's heap,
not a Wasm linear memory, so no memory limit is declared (SAFETY-3 records the overrun)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.process import run_process
from harness.runtimes.base import Invoked, Limits, WasiSetup
from harness.runtimes import traps
from harness.runtimes.cli import CliRuntime, invoked
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
        got = [_invoked(d) for d in _lines(outcome)[:len(exports)]]
        if len(got) < len(exports):  # node itself stopped: a death or time-out on the next export
            got += [_stopped(outcome)] + [Invoked(error="not run: node stopped before it")] * (len(exports) - len(got) - 1)
        return got

    def invoke_batch(self, jobs: list[tuple[Path, list[str], list[str]]], options: tuple[str, ...] = (),
                     timeout_s: float = 30.0, arch: str | None = None,
                     expect: list[list[Invoked]] | None = None) -> list[list[Invoked]]:
        """Many modules in one node process (node_invoke.mjs --batch): per job (module, exports,
        on_trap) its answers. Node prints a line per job as it goes, so when it dies or hangs the
        job without a line is the one that did it; the jobs after it run in a new process."""
        import tempfile

        out: list[list[Invoked]] = []
        while len(out) < len(jobs):
            rest = jobs[len(out):]
            with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="wc-node-batch-") as f:
                json.dump([{"module": str(m), "exports": e, "on_trap": t} for m, e, t in rest], f)
                f.flush()
                calls = sum(len(e) + len(t) for _, e, t in rest)
                cmd = [self.program(arch or host_arch()), "--no-warnings", *options, str(NODE_INVOKE), "--batch", f.name]
                outcome = run_process(cmd, b"", timeout_s * (calls + 1) + self.startup_allowance_s)
            done = [d.get("results", []) for d in _lines(outcome)][:len(rest)]
            out += [[_invoked(d) for d in results] for results in done]
            if len(done) < len(rest):
                out.append([_stopped(outcome)] * len(rest[len(done)][1]))
        return out


def _lines(outcome) -> list[dict]:
    return [json.loads(ln) for ln in outcome.stdout.decode("utf-8", "replace").splitlines() if ln.startswith("{")]


def _invoked(d: dict) -> Invoked:
    return (Invoked(value=int(d["value"])) if "value" in d else
            Invoked(trap=traps.normalise(d["trap"])) if "trap" in d else Invoked(error=d["error"][:200]))


def _stopped(outcome) -> Invoked:
    """What a node process that stopped early gives its current export: a death or time-out."""
    whole = invoked(outcome)
    return whole if whole.died or whole.timed_out else Invoked(error=whole.error or "node printed no result")
