"""Builds the probe guests: C through the foundation toolchain (zig, cached by content hash)
for wasm32-wasi and the native host target; WAT through wasmtime.wat2wasm, with the shared
prelude spliced in, cached by content hash too."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import wasmtime

from harness.probes.registry import Probe
from harness.toolchain import BuildError, build, cache_root, native_target
from harness.workload import Compare, InputSpec, Workload

HERE = Path(__file__).resolve().parent
C_DIR, WAT_DIR = HERE / "c", HERE / "wat"
PRELUDE_MARK = ";; @prelude"


def _workload(probe: Probe) -> Workload:
    """A probe's C source dressed as a workload, so the toolchain's builder and cache apply."""
    src = C_DIR / f"{probe.source}.c"
    return Workload(name=f"probe-{probe.source.replace('_', '-')}", summary=probe.escape or probe.name, directory=C_DIR,
                    manifest_path=src, layer=None, sources={"c": src}, prebuilt={}, input=InputSpec("bytes"),
                    compare=Compare(), timeout_s=10.0)


def wat_text(probe: Probe) -> str:
    text = (WAT_DIR / f"{probe.source}.wat").read_text()
    if PRELUDE_MARK not in text:
        raise BuildError(f"{probe.source}.wat has no '{PRELUDE_MARK}' line")
    return text.replace(PRELUDE_MARK, (WAT_DIR / "prelude.wat").read_text(), 1)


def build_wat(probe: Probe) -> Path:
    text = wat_text(probe)
    key = hashlib.sha256(text.encode()).hexdigest()
    out = cache_root() / "probes" / key[:16] / f"{probe.source}.wasm"
    if out.is_file():
        return out
    try:
        data = wasmtime.wat2wasm(text)
    except wasmtime.WasmtimeError as exc:
        raise BuildError(f"probe {probe.name}: {probe.source}.wat does not assemble: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def build_guest(probe: Probe, target: str) -> Path:
    """The guest for `target` ('wasm32-wasi' or 'native'). Raises BuildError / ToolMissing."""
    if probe.language == "wat":
        if target != "wasm32-wasi":
            raise BuildError(f"probe {probe.name} is WAT: it has no native build")
        return build_wat(probe)
    name = native_target().name if target == "native" else target
    return build(_workload(probe), name, "c").path


def build_all(probes, progress=None) -> dict[tuple[str, str], Path | Exception]:
    """Every guest the probes need, two builds at a time: {(probe, target): path or error}."""
    jobs = [(p, "wasm32-wasi") for p in probes] + [(p, "native") for p in probes if p.native]

    def one(job):
        p, target = job
        try:
            return build_guest(p, target)
        except BuildError as exc:
            return exc

    if progress:
        progress(f"building {len(jobs)} probe guests (cached after the first run)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {(p.name, t): r for (p, t), r in zip(jobs, pool.map(one, jobs))}
