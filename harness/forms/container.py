"""The container form: the Python workload inside the Docker engine (docker SDK).

Network off, capabilities dropped, read-only root, memory/CPU/pids limits. Persistent mode
keeps one container serving many inputs over a bind-mounted unix socket (python_runner);
cold mode is one `docker run` per input, used only where start-up is what is measured.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from harness.forms.base import Form, FormSpec, FormUnavailable
from harness.forms.persistent import RUNNER_SCRIPT, PersistentServer
from harness.outcome import Outcome

LABEL = "wasm-claims"
RUN_LIMITS = dict(
    network_mode="none",
    mem_limit="512m",
    memswap_limit="512m",
    nano_cpus=1_000_000_000,
    pids_limit=128,
    read_only=True,
    tmpfs={"/tmp": "size=64m"},
    cap_drop=["ALL"],
    security_opt=["no-new-privileges"],
)


def docker_run_flags(limits: dict = RUN_LIMITS) -> tuple[str, ...]:
    """The same settings as `docker run` command-line flags, for where the CLI itself is what
    is measured (cold start), so both kinds of run stay under one set of limits."""
    flags: list[str] = ["--network", limits["network_mode"], "--memory", limits["mem_limit"],
                        "--memory-swap", limits["memswap_limit"], "--cpus", f"{limits['nano_cpus'] / 1e9:g}",
                        "--pids-limit", str(limits["pids_limit"])]
    if limits.get("read_only"):
        flags.append("--read-only")
    for path, options in limits.get("tmpfs", {}).items():
        flags += ["--tmpfs", f"{path}:{options}"]
    for cap in limits.get("cap_drop", []):
        flags += ["--cap-drop", cap]
    for opt in limits.get("security_opt", []):
        flags += ["--security-opt", opt]
    return tuple(flags)


class ContainerLifecycle:
    """Liveness and logs of a docker SDK container held in `self.container`; shared by the
    persistent form's server and the agent suite's serving container."""

    container: object

    def alive(self) -> bool:
        try:
            self.container.reload()
        except Exception:  # noqa: BLE001 - gone is not alive
            return False
        return self.container.status in ("created", "running")

    def logs(self) -> str:
        try:
            return self.container.logs().decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001
            return f"(no logs: {exc})"


class _ContainerServer(ContainerLifecycle):
    def __init__(self, container):
        self.container = container

    def stop(self) -> None:
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already removed
            pass


class ContainerForm(Form):
    def __init__(self, spec: FormSpec, script: Path, default_timeout_s: float, *, persistent: bool = True, progress=None):
        super().__init__(spec, default_timeout_s)
        from harness import images

        try:
            self.client = images.docker_client()
            self.image = images.python_image(self.client, progress=progress or (lambda s: None))
        except images.ImageError as exc:
            raise FormUnavailable(str(exc)) from None
        self.script, self.persistent = Path(script), persistent
        self.details.update({"image": self.image.tag, "image_id": self.image.image_id,
                             "image_size_bytes": self.image.size_bytes, "limits": {k: str(v) for k, v in RUN_LIMITS.items()},
                             "persistent": persistent})
        self._tmp = tempfile.TemporaryDirectory(prefix="wc-ctr-")
        self.server = PersistentServer(self._launch, Path(self._tmp.name) / "sock" / "runner.sock", "container runner")

    def _volumes(self, extra: dict | None = None) -> dict:
        vols = {str(RUNNER_SCRIPT): {"bind": "/wc/runner.py", "mode": "ro"},
                str(self.script.parent): {"bind": "/wc/workload", "mode": "ro"}}
        vols.update(extra or {})
        return vols

    def _command(self, *args: str) -> list[str]:
        return [self.image.python, "/wc/runner.py", *args, f"/wc/workload/{self.script.name}"]

    def _launch(self, socket_path: Path) -> _ContainerServer:
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        container = self.client.containers.run(
            self.image.tag, self._command("serve", "/wc/sock/runner.sock"), detach=True,
            volumes=self._volumes({str(socket_path.parent): {"bind": "/wc/sock", "mode": "rw"}}),
            labels={LABEL: "persistent"}, name=f"wc-{uuid.uuid4().hex[:12]}", **RUN_LIMITS,
        )
        self.details["container_id"] = container.id[:12]
        return _ContainerServer(container)

    def _run(self, stdin: bytes, timeout_s: float) -> Outcome:
        return self.server.run(stdin, timeout_s) if self.persistent else self.cold_run(stdin, timeout_s)

    def cold_run(self, stdin: bytes, timeout_s: float) -> Outcome:
        """One `docker run` for one input: create, start, wait, collect, remove."""
        io_dir = Path(tempfile.mkdtemp(prefix="io-", dir=self._tmp.name))
        (io_dir / "in").write_bytes(stdin)
        start = time.perf_counter()
        container = None
        try:
            container = self.client.containers.run(
                self.image.tag, self._command("once", "/wc/io/in"), detach=True,
                volumes=self._volumes({str(io_dir): {"bind": "/wc/io", "mode": "ro"}}), labels={LABEL: "cold"}, **RUN_LIMITS,
            )
            try:
                status = container.wait(timeout=timeout_s + 30)["StatusCode"]
                timed_out = False
            except Exception:  # noqa: BLE001 - the SDK raises a requests timeout here
                container.kill()
                status, timed_out = None, True
            wall = time.perf_counter() - start
            out = container.logs(stdout=True, stderr=False)
            err = container.logs(stdout=False, stderr=True)
        except Exception as exc:  # noqa: BLE001 - docker errors become an outcome, not a traceback
            return Outcome(error=f"docker run failed: {exc}", wall_s=time.perf_counter() - start)
        finally:
            if container is not None:
                _ContainerServer(container).stop()
        signal = status - 128 if status is not None and status > 128 else None
        return Outcome(stdout=out, stderr=err, exit_code=None if signal or timed_out else status, signal=signal,
                       timed_out=timed_out, wall_s=wall)

    def close(self) -> None:
        self.server.close()
        self._tmp.cleanup()
