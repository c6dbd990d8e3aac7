"""Wasm runtime adapters, by name."""

from __future__ import annotations

from harness.runtimes.base import Availability, Limits, Preopen, Session, VersionUnavailable, WasiSetup, WasmRuntime
from harness.runtimes.cli import NodeWasi, WasmEdge, WasmtimeCli
from harness.runtimes.wasmtime_py import WasmtimePy

RUNTIMES: dict[str, WasmRuntime] = {r.name: r for r in (WasmtimePy(), WasmtimeCli(), NodeWasi(), WasmEdge())}
DEFAULT_RUNTIME = "wasmtime-py"

__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "Availability", "Limits", "Preopen", "Session", "VersionUnavailable", "WasiSetup", "WasmRuntime"]
