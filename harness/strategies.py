"""Hypothesis strategies for workload inputs, selected by name from workload.yaml.

Each strategy yields the bytes a workload reads on stdin. They are built from
Hypothesis' own primitives so shrinking and the example database work unchanged.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Callable

from hypothesis import strategies as st

Strategy = Callable[..., st.SearchStrategy[bytes]]


def bytes_(min_size: int = 0, max_size: int = 4096) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes: the strictest input for exact integer work."""
    return st.binary(min_size=min_size, max_size=max_size)


def decimal_size(min_size: int = 1, max_size: int = 64) -> st.SearchStrategy[bytes]:
    """An ASCII decimal size parameter ("N\\n"), for compute kernels sized by N."""
    return st.integers(min_size, max_size).map(lambda n: f"{n}\n".encode())


def utf8_text(min_size: int = 0, max_size: int = 512) -> st.SearchStrategy[bytes]:
    """Unicode text (no surrogates) as UTF-8: what a tokenizer sees."""
    chars = st.characters(exclude_categories=("Cs",))
    plain = st.text(alphabet=chars, min_size=min_size, max_size=max_size)
    wordy = st.lists(
        st.sampled_from(["the", " ", "token", "izer", "model", "ing", ",", ".", "\n", "é", "日本", "🙂"]),
        max_size=max(1, max_size // 4),
    ).map("".join).filter(lambda s: min_size <= len(s) <= max_size)
    return st.one_of(plain, wordy).map(lambda s: s.encode("utf-8"))


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["-0", "1e400", "0.0e-0", "-12.5E+3", "123456789012345678901234567890"]).map(lambda s: _Raw(s)),
)


class _Raw(str):
    """A number literal kept verbatim (json.dumps would normalise it)."""


def _dump(value) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _dump(v) for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=40,
)


@st.composite
def _model_output(draw, min_size: int, max_size: int) -> bytes:
    doc = _dump(draw(st.one_of(st.dictionaries(st.text(max_size=10), _json_values, max_size=6), st.lists(_json_values, max_size=6))))
    prose = draw(st.text(max_size=40).filter(lambda s: "{" not in s and "[" not in s and "`" not in s))
    shape = draw(st.sampled_from(["plain", "fenced", "truncated", "garbled", "trailing-comma", "nan"]))
    if shape == "fenced":
        doc = f"```json\n{doc}\n```"
    elif shape == "truncated" and len(doc) > 1:
        doc = doc[: draw(st.integers(1, len(doc) - 1))]
    elif shape == "garbled" and doc:
        i = draw(st.integers(0, len(doc) - 1))
        doc = doc[:i] + draw(st.sampled_from(["'", "\\", "\x00", "}", ":", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")])) + doc[i:]
    elif shape == "trailing-comma" and doc.endswith("}") and len(doc) > 2:
        doc = doc[:-1] + ",}"
    elif shape == "nan":
        doc = '{"x": NaN}'
    text = (prose + " " + doc + draw(st.text(max_size=10)))[: max(max_size, 1)]
    return text.encode("utf-8")


def model_output(min_size: int = 0, max_size: int = 2048) -> st.SearchStrategy[bytes]:
    """LLM-style output: prose around a JSON value, fenced, truncated or malformed."""
    return _model_output(min_size, max_size)


@st.composite
def _ppm(draw, min_size: int, max_size: int) -> bytes:
    w = draw(st.integers(max(min_size, 1), max(max_size, 1)))
    h = draw(st.integers(max(min_size, 1), max(max_size, 1)))
    comment = draw(st.sampled_from(["", "# made by hypothesis\n"]))
    header = f"P6\n{comment}{w} {h}\n255\n".encode()
    pixels = draw(st.binary(min_size=3 * w * h, max_size=3 * w * h)) if w * h <= 4096 else bytes(
        (i * 7 + draw(st.integers(0, 255))) & 0xFF for i in range(3 * w * h)
    )
    broken = draw(st.sampled_from([None] * 8 + ["magic", "maxval", "short", "size"]))
    if broken == "magic":
        header = b"P3" + header[2:]
    elif broken == "maxval":
        header = header.replace(b"\n255\n", b"\n65535\n")
    elif broken == "short":
        pixels = pixels[: len(pixels) // 2]
    elif broken == "size":
        header = f"P6\n{w} -{h}\n255\n".encode()
    return header + pixels


def ppm_image(min_size: int = 1, max_size: int = 48) -> st.SearchStrategy[bytes]:
    """A binary P6 image (sometimes with a malformed header): what a vision preprocessor sees."""
    return _ppm(min_size, max_size)


@st.composite
def _records(draw, min_size: int, max_size: int, max_field: int | None) -> bytes:
    key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
    value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ._-", max_size=max_field or 1024)
    out = b""
    for _ in range(draw(st.integers(min_size, max_size))):
        payload = (draw(key) + "=" + draw(value)).encode()
        if max_field is not None:
            payload = payload[:max_field]
        out += struct.pack("<H", len(payload)) + payload
    return out


def records(min_size: int = 0, max_size: int = 8, max_field: int | None = None) -> st.SearchStrategy[bytes]:
    """A stream of u16-LE length-prefixed key=value records; max_field bounds each payload."""
    return _records(min_size, max_size, max_field)


@st.composite
def _oversized_records(draw, min_size: int, max_size: int, max_field: int, overflow_max: int) -> bytes:
    key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
    out = b""
    for _ in range(draw(st.integers(max(min_size, 1), max(1, min(max_size, 3))))):
        k = draw(key).encode()
        length = draw(st.one_of(st.integers(len(k) + 1, max(max_field, len(k) + 1)),
                                st.integers(max_field + 1, max(overflow_max, max_field + 1))))
        fill = draw(st.binary(min_size=1, max_size=8))
        payload = k + b"=" + (fill * (length // len(fill) + 1))[: length - len(k) - 1]
        out += struct.pack("<H", len(payload)) + payload
    return out


def oversized_records(min_size: int = 0, max_size: int = 8, max_field: int | None = None,
                      overflow_max: int | None = None) -> st.SearchStrategy[bytes]:
    """Records as `records` makes them, but with each payload length drawn on its own: half
    within the declared field bound (max_field, default 64), half past it up to overflow_max
    (default 64 x max_field, at most the u16 limit), filled with a short repeated pattern.
    For searches that ask what a parser does with a length it should have refused."""
    max_field = max_field or 64
    overflow_max = min(overflow_max or 64 * max_field, 0xFFFF)
    return _oversized_records(min_size, max_size, max_field, overflow_max)


@st.composite
def _pcm(draw, min_size: int, max_size: int) -> bytes:
    n = draw(st.integers(min_size, max(min_size, max_size)))
    kind = draw(st.sampled_from(["noise", "tones", "tones", "silence", "odd"]))
    if kind == "noise":
        return draw(st.binary(min_size=2 * n, max_size=2 * n))
    if kind == "silence":
        return bytes(2 * n)
    if kind == "odd":
        return draw(st.binary(min_size=2 * n + 1, max_size=2 * n + 1))
    tones = draw(st.lists(st.tuples(st.floats(0.0, 8000.0), st.floats(0.0, 1.0)), min_size=1, max_size=3))
    scale = 32767.0 / max(1.0, sum(a for _, a in tones))
    samples = [round(scale * sum(a * math.sin(2 * math.pi * f * i / 16000.0) for f, a in tones)) for i in range(n)]
    return struct.pack(f"<{n}h", *samples)


def pcm_s16le(min_size: int = 0, max_size: int = 4000) -> st.SearchStrategy[bytes]:
    """Mono 16 kHz signed 16-bit LE audio of min_size..max_size samples: noise, a sum of up
    to three tones (0..8 kHz), silence, or an odd byte count; what a speech front-end sees."""
    return _pcm(min_size, max_size)


@st.composite
def _tokens(draw, min_size: int, max_size: int, vocab: int) -> bytes:
    ids = draw(st.lists(st.integers(0, vocab - 1), min_size=min_size, max_size=max_size))
    if ids and draw(st.integers(0, 7)) == 0:  # now and then one id out of the vocabulary
        ids[draw(st.integers(0, len(ids) - 1))] = draw(st.integers(vocab, 255))
    return bytes(ids)


def token_ids(min_size: int = 0, max_size: int = 32, vocab: int = 64) -> st.SearchStrategy[bytes]:
    """A prompt as one byte per token id, min_size..max_size tokens below `vocab`, now and
    then one id past it (to be rejected): what a language model's forward pass sees."""
    return _tokens(min_size, max_size, vocab)


REGISTRY: dict[str, Strategy] = {
    "bytes": bytes_,
    "decimal_size": decimal_size,
    "utf8_text": utf8_text,
    "model_output": model_output,
    "ppm_image": ppm_image,
    "records": records,
    "oversized_records": oversized_records,
    "pcm_s16le": pcm_s16le,
    "token_ids": token_ids,
}
NAMES = frozenset(REGISTRY)


def for_workload(workload, *, max_size: int | None = None) -> st.SearchStrategy[bytes]:
    """The strategy a manifest names, with its bounds."""
    spec = workload.input
    return REGISTRY[spec.strategy](
        min_size=spec.min_size, max_size=spec.max_size if max_size is None else max_size, **spec.params
    )


def seed_inputs(workload) -> list[bytes]:
    """The manifest's seed inputs, to run first as explicit examples (a planted defect's
    trigger is left out: it is for the suites that look for it)."""
    trigger = workload.defect.trigger if workload.defect else None
    return [p.read_bytes() for p in workload.input.seeds if p != trigger]


def with_seeds(test, workload):
    """Wrap `test(data: bytes)` in @given(strategy) with every seed as an @example: seeds
    always run first and a generated failure still shrinks freely."""
    from hypothesis import example, given

    for seed in seed_inputs(workload):
        test = example(seed)(test)
    return given(for_workload(workload))(test)


# Strategies that widen a manifest strategy past the bounds it declares (see defect_search).
WIDENED: dict[str, Strategy] = {"records": oversized_records}


def defect_search(workload) -> st.SearchStrategy[bytes]:
    """Inputs for a search that looks for a planted defect by itself: the manifest's strategy
    widened past its declared bounds (for records: payloads longer than max_field), or, for a
    strategy without a widened form, the manifest's strategy with 16x its max_size. It never
    reads the defect's trigger file."""
    spec = workload.input
    widened = WIDENED.get(spec.strategy)
    if widened is not None:
        return widened(min_size=spec.min_size, max_size=spec.max_size, **spec.params)
    return REGISTRY[spec.strategy](min_size=spec.min_size, max_size=max(16 * spec.max_size, 1), **spec.params)
