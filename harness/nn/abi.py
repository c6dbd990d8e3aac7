"""The lowered `wasi_ephemeral_nn` ABI: errno values, and the enum numberings that changed
between spec and WasmEdge versions, as named profiles.

Every import is all-i32 and returns an errno (the witx `nn_errno`, 0-8). `tensor_type` and
`graph_encoding` numbers differ between versions, so a guest built against one numbering
and run on a host using another would silently reinterpret types: the host therefore takes
a named profile, and the profile name goes into every result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

MODULE = "wasi_ephemeral_nn"
TENSOR_STRUCT_BYTES = 20  # {dims_ptr, dims_len, type, data_ptr, data_len}, five LE u32
BUILDER_PAIR_BYTES = 8  # {ptr, len}, two LE u32
MAX_RANK = 8
MAX_TENSOR_BYTES = 1 << 30  # a declared tensor larger than this is `too_large`, whatever memory holds


class Errno(enum.IntEnum):
    """witx `nn_errno` (WasmEdge `WASINN::ErrNo`)."""

    success = 0
    invalid_argument = 1
    invalid_encoding = 2
    missing_memory = 3
    busy = 4
    runtime_error = 5
    unsupported_operation = 6
    too_large = 7
    not_found = 8


class Target(enum.IntEnum):
    """witx `execution_target`."""

    cpu = 0
    gpu = 1
    tpu = 2


@dataclass(frozen=True)
class Profile:
    """One numbering of `tensor_type` and `graph_encoding`."""

    name: str
    description: str
    tensor_types: dict  # code -> (name, numpy dtype string)
    encodings: dict  # code -> name

    def __post_init__(self):
        object.__setattr__(self, "tensor_types", {c: (n, np.dtype(t)) for c, (n, t) in self.tensor_types.items()})

    def dtype(self, code: int) -> np.dtype | None:
        entry = self.tensor_types.get(code)
        return None if entry is None else entry[1]

    def type_code(self, name: str) -> int:
        for code, (n, _) in self.tensor_types.items():
            if n == name:
                return code
        raise KeyError(f"tensor type {name!r} is not in ABI profile {self.name}")

    def encoding_code(self, name: str) -> int:
        for code, n in self.encodings.items():
            if n == name:
                return code
        raise KeyError(f"graph encoding {name!r} is not in ABI profile {self.name}")

    def to_dict(self) -> dict:
        return {"name": self.name, "tensor_types": {str(k): v[0] for k, v in self.tensor_types.items()},
                "encodings": {str(k): v for k, v in self.encodings.items()}}


_ENCODINGS = {0: "openvino", 1: "onnx", 2: "tensorflow", 3: "pytorch", 4: "tensorflowlite", 5: "autodetect"}

PROFILES = {
    p.name: p
    for p in (
        Profile("witx-current", "current wasi-nn witx / WasmEdge >= 0.15 (f64 and i64 added, ggml encoding)",
                {0: ("f16", "<f2"), 1: ("f32", "<f4"), 2: ("f64", "<f8"), 3: ("u8", "u1"), 4: ("i32", "<i4"),
                 5: ("i64", "<i8")},
                {**_ENCODINGS, 6: "ggml"}),
        Profile("witx-legacy", "earlier witx / WasmEdge < 0.15 (f16, f32, u8, i32 only)",
                {0: ("f16", "<f2"), 1: ("f32", "<f4"), 2: ("u8", "u1"), 3: ("i32", "<i4")},
                dict(_ENCODINGS)),
    )
}
DEFAULT_PROFILE = "witx-current"


def profile(name: str | Profile | None = None) -> Profile:
    """A profile by name (default: the current witx numbering); unknown names are a clear error."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name or DEFAULT_PROFILE]
    except KeyError:
        raise ValueError(f"unknown WASI-NN ABI profile {name!r} (known: {', '.join(PROFILES)})") from None
