"""The Python reference as a plain process on the host: NOT a container, labelled so.

Persistent mode serves many inputs from one interpreter (fork per input, see
python_runner); cold mode starts `python3 script` per input (start-up measured)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.forms.base import Form, FormSpec
from harness.forms.persistent import RUNNER_SCRIPT, PersistentServer
from harness.outcome import Outcome
from harness.process import run_process


def python_interpreter() -> str:
    """The interpreter for the reference: WASM_CLAIMS_PYTHON, else the one running the harness."""
    return os.environ.get("WASM_CLAIMS_PYTHON", sys.executable)


class _LocalServer:
    def __init__(self, cmd: list[str]):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.log.close()


class PythonProcessForm(Form):
    def __init__(self, spec: FormSpec, script: Path, default_timeout_s: float, *, persistent: bool = True):
        super().__init__(spec, default_timeout_s)
        self.script, self.python, self.persistent = Path(script), python_interpreter(), persistent
        self.details.update({"python": self.python, "python_version": sys.version.split()[0] if self.python == sys.executable else "",
                             "isolation": "none (host process, not a container)", "persistent": persistent})
        self._tmp = tempfile.TemporaryDirectory(prefix="wc-py-")
        self.server = PersistentServer(self._launch, Path(self._tmp.name) / "runner.sock", "python-process runner")

    def _launch(self, socket_path: Path) -> _LocalServer:
        return _LocalServer([self.python, str(RUNNER_SCRIPT), "serve", str(socket_path), str(self.script)])

    def _run(self, stdin: bytes, timeout_s: float) -> Outcome:
        if self.persistent:
            return self.server.run(stdin, timeout_s)
        return run_process([self.python, str(self.script)], stdin, timeout_s)

    def close(self) -> None:
        self.server.close()
        self._tmp.cleanup()
