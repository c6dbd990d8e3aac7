"""The ways a block can be computed, each with `run(x) -> out` on float32 inputs:

  wasi-nn        a Wasm guest hands the block to the host through wasi_ephemeral_nn
  python-direct  the same backend called straight from Python (no Wasm boundary)
  wasm-pure      the block in plain C, compiled to wasm32-wasi
  native-pure    the same C, compiled natively
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.nn import guest as guest_mod
from harness.nn.abi import Target, profile as get_profile
from harness.nn.backends import BackendUnavailable, backend as get_backend
from harness.nn.host import NNHost
from harness.nn.models import ModelSpec, model_bytes
from harness.toolchain import native_target

OFFLOAD_PATHS = ("wasi-nn", "python-direct")
PURE_PATHS = ("wasm-pure", "native-pure")


@dataclass(frozen=True)
class PathSpec:
    path: str
    backend: str = "pure-c"  # a backends.BACKENDS name for the offload paths
    target: str = "cpu"  # cpu or gpu for the offload paths; wasm or native for the pure ones

    @property
    def id(self) -> str:
        return f"{self.path}-{self.backend}-{self.target}"

    @property
    def runtime(self) -> str:
        return f"{self.backend}:{self.target}"


def path_specs() -> list[PathSpec]:
    """Every path the suite reports, GPU and torch rows included (they skip where unavailable)."""
    specs = []
    for name in ("reference", "onnxruntime", "tflite", "torch"):
        targets = get_backend(name).targets
        specs += [PathSpec(p, name, t) for p in OFFLOAD_PATHS for t in targets]
    return specs + [PathSpec("wasm-pure", "pure-c", "wasm"), PathSpec("native-pure", "pure-c", "native")]


def unavailable(ps: PathSpec) -> str | None:
    if ps.path in OFFLOAD_PATHS:
        return get_backend(ps.backend).unavailable(ps.target)
    return None


def fixed_shapes(ps: PathSpec) -> bool:
    """Whether the path takes only the model's own input shape (tensorflowlite: no resize)."""
    return ps.path in OFFLOAD_PATHS and get_backend(ps.backend).fixed_shapes


def precision(ps: PathSpec) -> str:
    if ps.path in OFFLOAD_PATHS:
        return get_backend(ps.backend).precision(ps.target)
    return "fp32-cpu"


class Runner:
    """A ready path for one block."""

    def __init__(self, ps: PathSpec, spec: ModelSpec, abi: str | None = None, progress=None):
        self.ps, self.spec = ps, spec
        self.profile = get_profile(abi)
        self.host: NNHost | None = None
        self.offload = self.graph = self.pure = None
        if ps.path in OFFLOAD_PATHS and (reason := unavailable(ps)) is not None:
            raise BackendUnavailable(reason)
        if ps.path == "wasi-nn":
            backend = get_backend(ps.backend)
            self.host = NNHost([backend], self.profile)
            g = guest_mod.WasmGuest(guest_mod.build_guest("offload", progress=progress).path, self.host)
            self.offload = guest_mod.Offload(spec, g, model_bytes(spec, backend.encoding),
                                             self.profile.encoding_code(backend.encoding), int(Target[ps.target]),
                                             self.profile.type_code("f32"))
        elif ps.path == "python-direct":
            backend = get_backend(ps.backend)
            self.graph = backend.load(model_bytes(spec, backend.encoding), ps.target)
        elif ps.path == "wasm-pure":
            self.pure = guest_mod.PureBlock(spec, guest_mod.WasmGuest(guest_mod.build_guest("pure", progress=progress).path))
        elif ps.path == "native-pure":
            so = guest_mod.build_guest("pure", native_target(shared=True).name, progress=progress).path
            self.pure = guest_mod.PureBlock(spec, guest_mod.NativeLib(so))
        else:
            raise ValueError(f"unknown path {ps.path!r}")

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.offload is not None:
            return self.offload.run(x)
        if self.graph is not None:
            return np.asarray(self.graph.run([np.ascontiguousarray(x, dtype=np.float32)])[0])
        return self.pure.run(x)
