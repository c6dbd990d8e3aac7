"""Workload manifests (workload.yaml): the model, its validation and discovery.

A workload is one folder: a manifest plus sources (C for native and Wasm, Python,
optionally Rust) or, for a user's own workload, prebuilt artifacts. Validation errors
name the file, the field and what was expected, because a manifest is hand-written.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "fixtures"
LAYERS = ("compute", "preprocessing", "postprocessing", "integrity", "parser", "agent")
COMPARE_MODES = ("exact", "f32-tensor")

MANIFEST_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "summary", "input"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
        "summary": {"type": "string", "minLength": 1},
        "layer": {"enum": list(LAYERS)},
        "sources": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": "string"} for k in ("c", "python", "rust")},
        },
        "prebuilt": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": "string"} for k in ("wasm", "native", "python")},
        },
        "input": {
            "type": "object",
            "additionalProperties": False,
            "required": ["strategy"],
            "properties": {
                "strategy": {"type": "string"},
                "min_size": {"type": "integer", "minimum": 0},
                "max_size": {"type": "integer", "minimum": 0},
                "params": {"type": "object"},
                "seeds": {"type": "array", "items": {"type": "string"}},
            },
        },
        "compare": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "mode": {"enum": list(COMPARE_MODES)},
                "rtol": {"type": "number", "minimum": 0},
                "atol": {"type": "number", "minimum": 0},
            },
        },
        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
        "cflags": {"type": "array", "items": {"type": "string"}},
        "defect": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "description"],
            "properties": {
                "kind": {"type": "string"},
                "description": {"type": "string"},
                "trigger": {"type": "string"},
            },
        },
    },
}


class ManifestError(Exception):
    """A workload.yaml that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Compare:
    mode: str = "exact"
    rtol: float = 0.0
    atol: float = 0.0


@dataclass(frozen=True)
class InputSpec:
    strategy: str
    min_size: int = 0
    max_size: int = 4096
    params: dict = field(default_factory=dict)
    seeds: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Defect:
    kind: str
    description: str
    trigger: Path | None = None


@dataclass(frozen=True)
class Workload:
    """A validated manifest with every path resolved against its folder."""

    name: str
    summary: str
    directory: Path
    manifest_path: Path
    layer: str | None
    sources: dict  # language -> Path
    prebuilt: dict  # form -> Path
    input: InputSpec
    compare: Compare
    timeout_s: float
    cflags: tuple[str, ...] = ()
    defect: Defect | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))

    def has(self, what: str) -> bool:
        """Whether a source language or a prebuilt form is there."""
        return what in self.sources or what in self.prebuilt

    def compiled(self, kind: str) -> bool:
        """Whether a "native" binary or a "wasm" module can be had: built from C, or given."""
        return "c" in self.sources or kind in self.prebuilt

    def seed_inputs(self) -> list[bytes]:
        return [p.read_bytes() for p in self.input.seeds]

    def __str__(self) -> str:
        return self.name


def _schema_error_text(path: Path, err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator == "additionalProperties":
        known = ", ".join(sorted(err.schema.get("properties", {})))
        return f"{path}: field '{where}': {err.message}; known fields: {known}"
    if err.validator == "required":
        return f"{path}: field '{where}': {err.message}"
    expected = err.schema.get("type") or err.schema.get("enum") or err.validator_value
    return f"{path}: field '{where}': {err.message} (expected {expected})"


def _resolve(base: Path, rel: str, manifest: Path, field_name: str) -> Path:
    p = (base / rel).resolve()
    if not p.exists():
        raise ManifestError(f"{manifest}: field '{field_name}': file not found: {rel} (looked in {base})")
    return p


WASM_MAGIC = b"\0asm"
WASM_CORE_VERSION = b"\x01\0\0\0"
ELF_MACHINES = {62: "x86_64", 183: "aarch64", 243: "riscv64", 22: "s390x"}  # e_machine -> arch


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _check_wasm(path: Path) -> str | None:
    head = _head(path, 8)
    if head[:4] != WASM_MAGIC:
        return f"not a WebAssembly binary (starts with {head[:4]!r}, expected {WASM_MAGIC!r})"
    if head[4:8] != WASM_CORE_VERSION:
        return f"WebAssembly version {head[4:8].hex()} is not a core module (01000000); components are not supported"
    return _validate_wasm(path)


def _validate_wasm(path: Path) -> str | None:
    """`wasm-tools validate`'s first error: a valid header over a broken body would otherwise
    reach the runtimes, as a traceback on one row and a "difference" on the others."""
    from harness.toolchain import ToolMissing, wasm_tools

    try:
        tool = wasm_tools()
    except ToolMissing:  # a dependency; without it the runtimes are the only check
        return None
    try:
        proc = subprocess.run([tool, "validate", str(path)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "RUST_LOG": "error"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not be validated ({str(exc).splitlines()[0]})"
    if proc.returncode == 0:
        return None
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and " WARN " not in ln]
    first = next((ln for ln in lines if ln.startswith("error:")), lines[0] if lines else f"exit {proc.returncode}")
    return f"not a valid WebAssembly module: {first.removeprefix('error:').strip()}"


def _check_elf(path: Path) -> str | None:
    from harness.toolchain import host_arch

    head = _head(path, 20)
    if head[:4] != b"\x7fELF":
        return f"not an ELF executable (starts with {head[:4]!r}); the native form runs Linux ELF binaries"
    if len(head) < 20 or head[4] != 2:
        return "not a 64-bit ELF executable"
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    arch = ELF_MACHINES.get(machine, f"e_machine {machine}")
    if arch != host_arch():
        return f"an ELF binary for {arch}; this machine is {host_arch()} (give a {host_arch()} binary, or C sources to build for every arch)"
    if not path.stat().st_mode & 0o111:
        return f"not executable (chmod +x {path.name})"
    return None


_PREBUILT_CHECKS = {"wasm": _check_wasm, "native": _check_elf}


def _check_prebuilt(prebuilt: dict, manifest: Path) -> None:
    """A given artifact is checked when the manifest loads, so a corrupt file is one message
    naming it, never a runtime's traceback or a behaviour mismatch in the results."""
    for kind, path in prebuilt.items():
        check = _PREBUILT_CHECKS.get(kind)
        problem = check(path) if check else None
        if problem:
            raise ManifestError(f"{manifest}: field 'prebuilt.{kind}': {path}: {problem}")


def load_workload(directory: Path) -> Workload:
    """Read and validate one workload folder; raises ManifestError with a precise message."""
    directory = Path(directory).resolve()
    manifest = directory / "workload.yaml"
    if not manifest.is_file():
        raise ManifestError(f"{directory}: no workload.yaml in this folder")
    try:
        data = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as exc:
        raise ManifestError(f"{manifest}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{manifest}: expected a mapping at the top level, got {type(data).__name__}")
    errors = sorted(jsonschema.Draft202012Validator(MANIFEST_SCHEMA).iter_errors(data), key=lambda e: e.path)
    if errors:
        raise ManifestError(_schema_error_text(manifest, errors[0]))
    sources = {k: _resolve(directory, v, manifest, f"sources.{k}") for k, v in data.get("sources", {}).items()}
    prebuilt = {k: _resolve(directory, v, manifest, f"prebuilt.{k}") for k, v in data.get("prebuilt", {}).items()}
    _check_prebuilt(prebuilt, manifest)
    if not sources and not prebuilt:
        raise ManifestError(f"{manifest}: needs 'sources' (c/python/rust) or 'prebuilt' (wasm/native/python)")
    inp = data["input"]
    from harness import strategies  # late import: strategies imports hypothesis

    if inp["strategy"] not in strategies.NAMES:
        raise ManifestError(
            f"{manifest}: field 'input.strategy': unknown strategy {inp['strategy']!r} "
            f"(expected one of {', '.join(sorted(strategies.NAMES))})"
        )
    if inp.get("min_size", 0) > inp.get("max_size", 4096):
        raise ManifestError(f"{manifest}: field 'input': min_size is larger than max_size")
    seeds = tuple(_resolve(directory, s, manifest, "input.seeds") for s in inp.get("seeds", []))
    defect = None
    if "defect" in data:
        d = data["defect"]
        trigger = _resolve(directory, d["trigger"], manifest, "defect.trigger") if "trigger" in d else None
        defect = Defect(d["kind"], d["description"], trigger)
    if data["name"] != directory.name:
        raise ManifestError(f"{manifest}: field 'name': {data['name']!r} must equal the folder name {directory.name!r}")
    cmp = data.get("compare", {})
    return Workload(
        name=data["name"],
        summary=data["summary"],
        directory=directory,
        manifest_path=manifest,
        layer=data.get("layer"),
        sources=sources,
        prebuilt=prebuilt,
        input=InputSpec(
            strategy=inp["strategy"],
            min_size=inp.get("min_size", 0),
            max_size=inp.get("max_size", 4096),
            params=dict(inp.get("params", {})),
            seeds=seeds,
        ),
        compare=Compare(cmp.get("mode", "exact"), float(cmp.get("rtol", 0.0)), float(cmp.get("atol", 0.0))),
        timeout_s=float(data.get("timeout_s", 10)),
        cflags=tuple(data.get("cflags", ())),
        defect=defect,
    )


def discover(paths: list[Path] | None = None, *, include_builtin: bool = True) -> list[Workload]:
    """Built-in workloads plus every folder with a workload.yaml under the given paths."""
    roots = ([BUILTIN_DIR] if include_builtin else []) + [Path(p) for p in (paths or [])]
    found: dict[str, Workload] = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise ManifestError(f"--workloads {root}: no such folder")
        candidates = [root] if (root / "workload.yaml").is_file() else sorted(p.parent for p in root.glob("*/workload.yaml"))
        if not candidates and root != BUILTIN_DIR:
            raise ManifestError(f"--workloads {root}: no workload.yaml in it or in its sub-folders")
        for folder in candidates:
            wl = load_workload(folder)
            if wl.name in found and found[wl.name].directory != wl.directory:
                raise ManifestError(f"{wl.manifest_path}: workload name {wl.name!r} is also used by {found[wl.name].manifest_path}")
            found[wl.name] = wl
    return list(found.values())
