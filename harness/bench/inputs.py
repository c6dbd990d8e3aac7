"""Benchmark inputs: three sizes per workload, valid for every form, made deterministically
(same bytes every run, so figures from different runs and machines measure the same work).

Built-in strategies get a generator that scales the work; any other workload falls back
to its seed files, smallest to largest.
"""

from __future__ import annotations

import json
import math
import random
import struct
from dataclasses import dataclass

LABELS = ("small", "medium", "large")


@dataclass(frozen=True)
class BenchInput:
    label: str  # small / medium / large
    data: bytes
    work: int  # the size parameter the generator scaled (bytes, pixels, records, N)
    work_unit: str

    @property
    def input_bytes(self) -> int:
        return len(self.data)


def _rng(tag: str, size: int) -> random.Random:
    return random.Random(f"wasm-claims-bench/{tag}/{size}")


def _bytes(size: int) -> bytes:
    return _rng("bytes", size).randbytes(size)


_WORDS = ["the", "model", "token", "izer", "ing", "inference", "pre", "processing", "data", "of", "and", "a",
          "é", "日本", "語", "🙂", "Wasm", "Python", "Rust", "2024", ",", ".", "!"]


def _text(size: int) -> bytes:
    r = _rng("text", size)
    out: list[str] = []
    n = 0
    while n < size:
        w = r.choice(_WORDS) + (" " if r.random() < 0.8 else "\n")
        out.append(w)
        n += len(w.encode())
    return "".join(out).encode()[:size].decode("utf-8", "ignore").encode()


def _json_value(r: random.Random, depth: int):
    kind = r.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return r.randint(-10**6, 10**6)
    if kind == 1:
        return "".join(r.choice("abcdefghij klmno\"\\é") for _ in range(r.randint(0, 12)))
    if kind == 2:
        return r.choice([True, False, None, 1.5, -0.25])
    if kind == 3:
        return [_json_value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {f"k{r.randint(0, 999)}_{i}": _json_value(r, depth + 1) for i in range(r.randint(0, 4))}


def _model_output(size: int) -> bytes:
    """Prose, then a fenced JSON object of about `size` bytes (valid, unique keys)."""
    r = _rng("json", size)
    members: list[str] = []
    total = 2
    while True:
        member = f'"field_{len(members)}":' + json.dumps(_json_value(r, 1), ensure_ascii=False)
        if members and total + len(member.encode()) + 1 > size:
            break
        members.append(member)
        total += len(member.encode()) + 1
    return b"Here is the result:\n```json\n{" + ",".join(members).encode() + b"}\n```\n"


def _ppm(side: int) -> bytes:
    return f"P6\n{side} {side}\n255\n".encode() + _rng("ppm", side).randbytes(3 * side * side)


def _records(count: int, max_field: int) -> bytes:
    r = _rng("records", count)
    out = bytearray()
    for i in range(count):
        key = f"k{i % 97}"
        value = "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789 ._-")
                        for _ in range(r.randint(0, max_field - len(key) - 1)))
        payload = f"{key}={value}".encode()
        out += struct.pack("<H", len(payload)) + payload
    return bytes(out)


def _pcm(samples: int) -> bytes:
    """Speech-band audio: two tones and noise, s16le."""
    r = _rng("pcm", samples)
    f1, f2 = r.uniform(100, 1000), r.uniform(1000, 4000)
    return struct.pack(f"<{samples}h", *(round(12000 * math.sin(2 * math.pi * f1 * i / 16000)
                                                + 6000 * math.sin(2 * math.pi * f2 * i / 16000)
                                                + r.uniform(-2000, 2000)) for i in range(samples)))


def _tokens(count: int, vocab: int) -> bytes:
    return bytes(_rng("tokens", count).randrange(vocab) for _ in range(count))


def _decimal(n: int) -> bytes:
    return f"{n}\n".encode()


# strategy -> (work unit, sizes per scale, generator(size, params))
LADDERS = {
    "bytes": ("bytes", {"quick": (64, 4096, 65536), "default": (64, 65536, 4 << 20), "thorough": (64, 1 << 20, 16 << 20)},
              lambda n, p: _bytes(n)),
    "utf8_text": ("bytes", {"quick": (64, 1024, 16384), "default": (64, 8192, 262144), "thorough": (64, 65536, 1 << 20)},
                  lambda n, p: _text(n)),
    "model_output": ("bytes", {"quick": (64, 1024, 16384), "default": (64, 8192, 262144),
                               "thorough": (64, 65536, 1 << 20)}, lambda n, p: _model_output(n)),
    "ppm_image": ("pixels per side", {"quick": (8, 64, 256), "default": (8, 128, 512), "thorough": (8, 256, 512)},
                  lambda n, p: _ppm(n)),
    "records": ("records", {"quick": (1, 64, 1024), "default": (1, 256, 16384), "thorough": (1, 2048, 65536)},
                lambda n, p: _records(n, int(p.get("max_field") or 64))),
    "decimal_size": ("N (N x N pixels)", {"quick": (8, 32, 128), "default": (16, 128, 600), "thorough": (16, 256, 1200)},
                     lambda n, p: _decimal(n)),
    "pcm_s16le": ("samples (16 kHz)", {"quick": (160, 1600, 16000), "default": (1600, 16000, 160000),
                                       "thorough": (1600, 160000, 480000)}, lambda n, p: _pcm(n)),
    "token_ids": ("tokens", {"quick": (1, 16, 64), "default": (1, 64, 256), "thorough": (1, 128, 256)},
                  lambda n, p: _tokens(n, int(p.get("vocab") or 64))),
}


def ladder(workload, scale: str = "default") -> list[BenchInput]:
    """Three inputs of growing work for `workload` (fewer when a user workload has fewer seeds)."""
    strategy = workload.input.strategy
    if strategy in LADDERS:
        unit, sizes, gen = LADDERS[strategy]
        sizes = sizes.get(scale, sizes["default"])
        return [BenchInput(label, gen(n, workload.input.params), n, unit) for label, n in zip(LABELS, sizes)]
    trigger = workload.defect.trigger if workload.defect else None
    seeds = sorted((p.read_bytes() for p in workload.input.seeds if p != trigger), key=len)
    seeds = [s for s in seeds if s] or seeds
    if not seeds:
        return []
    picks = [seeds[0], seeds[len(seeds) // 2], seeds[-1]] if len(seeds) >= 3 else seeds
    picks = list(dict.fromkeys(picks))
    return [BenchInput(label, data, len(data), "bytes") for label, data in zip(LABELS, picks)]


def trivial(workload) -> bytes:
    """The input of a cold-start measurement: the smallest of the ladder (start-up dominates)."""
    inputs = ladder(workload, "quick")
    return inputs[0].data if inputs else b""
