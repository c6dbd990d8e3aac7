"""Bounds-checked access to a guest's linear memory.

wasmtime-py's `Memory.read` clamps a slice like a Python list (a range past the end comes
back short, a negative start counts from the end) and `get_buffer_ptr` does no check at all,
so every pointer and length a guest hands the host goes through here first. An access that
does not lie wholly inside the memory raises `Fault`, which the host maps to an errno.
"""

from __future__ import annotations

import struct

import numpy as np
import wasmtime

U32 = struct.Struct("<I")


class Fault(Exception):
    """A guest pointer/length pair that does not lie inside its linear memory."""


class GuestMemory:
    """One host call's view of the calling instance's memory; `audit` (a list) collects every
    range actually touched, so a test can prove no access went outside the memory."""

    def __init__(self, caller, memory: wasmtime.Memory, audit: list | None = None):
        self.size = memory.data_len(caller)
        self._audit = audit
        # one NumPy view of the whole memory for this call (a host call cannot grow it meanwhile)
        self._mem = (np.frombuffer(memory.get_buffer_ptr(caller, self.size, 0), dtype=np.uint8)
                     if self.size else np.zeros(0, np.uint8))

    def check(self, ptr: int, length: int, what: str) -> None:
        ptr &= 0xFFFFFFFF
        if length < 0 or ptr + length > self.size:
            raise Fault(f"{what}: [{ptr}, {ptr + length}) is outside linear memory of {self.size} bytes")

    def _view(self, ptr: int, length: int, what: str) -> np.ndarray:
        ptr &= 0xFFFFFFFF
        self.check(ptr, length, what)
        if self._audit is not None:
            self._audit.append((ptr, length, self.size))
        return self._mem[ptr:ptr + length]

    def read(self, ptr: int, length: int, what: str = "buffer") -> bytes:
        return self._view(ptr, length, what).tobytes()

    def read_array(self, ptr: int, length: int, dtype, what: str = "tensor data") -> np.ndarray:
        """A copy of guest bytes as an array (a copy: the guest may change its memory later)."""
        return self._view(ptr, length, what).view(dtype).copy()

    def u32(self, ptr: int, what: str) -> int:
        return U32.unpack(self.read(ptr, 4, what))[0]

    def u32s(self, ptr: int, count: int, what: str) -> list[int]:
        return list(struct.unpack(f"<{count}I", self.read(ptr, 4 * count, what))) if count else []

    def write(self, ptr: int, data: bytes | np.ndarray, what: str = "buffer") -> None:
        raw = (np.ascontiguousarray(data).reshape(-1).view(np.uint8) if isinstance(data, np.ndarray)
               else np.frombuffer(bytes(data), dtype=np.uint8))
        self._view(ptr, raw.size, what)[:] = raw

    def write_u32(self, ptr: int, value: int, what: str) -> None:
        self.write(ptr, U32.pack(value & 0xFFFFFFFF), what)
