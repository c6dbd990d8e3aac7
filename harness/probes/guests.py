"""Builds the probe guests: C through the foundation toolchain (zig, cached by content hash)
for wasm32-wasi and the native host target; WAT through wasmtime.wat2wasm, with the shared
prelude spliced in; WASI 0.2 components from a core WAT and the WIT it is written against
(`wasm-tools component embed` + `component new`, which check every import's canonical-ABI
signature). All cached by content hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import wasmtime

from harness.probes.registry import Probe
from harness.toolchain import BuildError, build, cache_root, native_target, wasm_tools
from harness.workload import Compare, InputSpec, Workload

HERE = Path(__file__).resolve().parent
C_DIR, WAT_DIR, COMPONENT_DIR = HERE / "c", HERE / "wat", HERE / "component"
PRELUDE_MARK = ";; @prelude"


def source_path(probe: Probe) -> Path:
    """The file a probe is written in: c/<source>.c, wat/<source>.wat or component/<source>.wat."""
    return {"c": C_DIR / f"{probe.source}.c", "wat": WAT_DIR / f"{probe.source}.wat",
            "component": COMPONENT_DIR / f"{probe.source}.wat"}[probe.language]


def _workload(probe: Probe) -> Workload:
    """A probe's C source dressed as a workload, so the toolchain's builder and cache apply."""
    src = source_path(probe)
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
    return _cached(text.encode(), f"{probe.source}.wasm", lambda: _wat2wasm(probe, text))


def build_component(probe: Probe) -> Path:
    """component/<source>.wat (the core module) + component/<world>.wit -> a WASI 0.2 component;
    the world is named on the WAT's first line (`;; world: NAME`)."""
    core = source_path(probe).read_text()
    world = core.split("\n", 1)[0].removeprefix(";; world:").strip()
    wit = COMPONENT_DIR / f"{world.replace('-', '_')}.wit"
    if not world or not wit.is_file():
        raise BuildError(f"probe {probe.name}: {probe.source}.wat names no world with a .wit beside it (first line ';; world: NAME')")

    def make() -> bytes:
        tool = wasm_tools()
        embed = subprocess.run([tool, "component", "embed", str(wit), "-", "--world", world],
                               input=_wat2wasm(probe, core), capture_output=True)
        new = subprocess.run([tool, "component", "new", "-"], input=embed.stdout, capture_output=True) if embed.returncode == 0 else embed
        if new.returncode != 0:
            last = new.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"]
            raise BuildError(f"probe {probe.name}: wasm-tools cannot make a component of {probe.source}.wat: {' '.join(last)[:300]}")
        return new.stdout

    return _cached(core.encode() + wit.read_bytes(), f"{probe.source}.component.wasm", make)


def _wat2wasm(probe: Probe, text: str) -> bytes:
    try:
        return wasmtime.wat2wasm(text)
    except wasmtime.WasmtimeError as exc:
        raise BuildError(f"probe {probe.name}: {probe.source}.wat does not assemble: {exc}") from None


def assemble(text: str, name: str) -> str:
    """A generated module's WAT (memgen, simdgen, tablegen), assembled once and cached by its
    content hash as cache/probes/<hash>/<name>.wasm; returns the path."""
    return str(_cached(text.encode(), f"{name}.wasm", lambda: wasmtime.wat2wasm(text)))


def _cached(key: bytes, name: str, make) -> Path:
    """cache/probes/<hash of key>/<name>, made (atomically) on the first call."""
    out = cache_root() / "probes" / hashlib.sha256(key).hexdigest()[:16] / name
    if out.is_file():
        return out
    data = make()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def build_guest(probe: Probe, target: str) -> Path:
    """The guest for `target` ('wasm32-wasi' or 'native'). Raises BuildError / ToolMissing."""
    if probe.language in ("wat", "component"):
        if target != "wasm32-wasi":
            raise BuildError(f"probe {probe.name} is {probe.language}: it has no native build")
        return build_wat(probe) if probe.language == "wat" else build_component(probe)
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
