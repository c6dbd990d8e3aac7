"""A tiny llama-architecture language model made here (nothing is downloaded), written as GGUF
by the `gguf` package, and an independent NumPy float64 forward pass of the same weights.

The model is what llama.cpp (the `ggml` WASI-NN backend) loads: seeded random float32 weights,
2 layers, width 64, 4 query heads sharing 2 key/value heads (grouped-query attention), SwiGLU
feed-forward, RMSNorm, rotary position embedding, and a SentencePiece-style vocabulary of a
few hundred pieces with byte fallback. It knows no language; it exists so that the same
weights can be run by llama.cpp and by `forward64` and the results compared.

RoPE: llama.cpp runs the `llama` architecture in its "normal" rope mode, which rotates
ADJACENT pairs (x[2i], x[2i+1]) of each head by pos * base^(-2i/head_dim). (Converters from
Hugging Face checkpoints permute Wq/Wk so that this matches the half-split rotation there; the
weights here are generated directly in llama.cpp's layout, so no permutation is involved.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.toolchain import cache_root

GGUF_MISSING = "gguf not installed (pip install 'wasm-claims[ggml]')"

# pieces of the vocabulary: every prefix of these words (with and without the SentencePiece
# word marker) is a token, so the tokenizer's pairwise merges can reach each whole word
WORDS = ("the", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as", "wasm", "rust", "python",
         "tensor", "model", "token", "native", "binary", "container", "runtime", "module", "claim", "host", "guest",
         "memory", "safe", "fast", "slow", "gpu", "cpu", "llama", "ggml", "layer", "attention", "vector", "matrix",
         "data", "json", "text", "word", "number", "result", "same", "run", "test", "edge", "cloud", "stack")
CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]{}<>/\\_+=*&%$#@~`^|\n\t"
SPACE = "\u2581"  # SentencePiece's word marker; llama.cpp maps spaces to it


@dataclass(frozen=True)
class LlamaSpec:
    """The architecture and seed of one generated model; every field goes into the GGUF."""

    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 128
    n_ctx: int = 256
    rms_eps: float = 1e-5
    rope_base: float = 10000.0
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def id(self) -> str:
        return f"tinyllama-{self.n_layer}L{self.n_embd}d{self.n_head}h{self.n_head_kv}kv-s{self.seed}"

    def to_dict(self) -> dict:
        return {"id": self.id, **asdict(self), "n_vocab": len(vocabulary()[0])}


SUITE_MODEL = LlamaSpec()


# -- vocabulary ------------------------------------------------------------------------
@functools.cache
def vocabulary() -> tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...]]:
    """(pieces, scores, token types) in llama's SentencePiece layout: <unk> <s> </s>, the 256
    byte-fallback tokens <0x00>..<0xFF>, then single characters and word prefixes. Longer
    pieces score higher, so the tokenizer prefers whole words."""
    from gguf import TokenType

    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    scores = [0.0] * len(pieces)
    seen = set(pieces)

    def add(piece: str) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append(piece)
            types.append(TokenType.NORMAL)
            scores.append(float(len(piece)) - len(pieces) * 1e-4)  # ties broken by order, deterministically

    for c in SPACE + CHARS.replace(" ", ""):
        add(c)
    for word in WORDS:
        for n in range(2, len(word) + 1):
            add(word[:n])
            add(SPACE + word[: n - 1])
        add(SPACE + word)
    return tuple(pieces), tuple(scores), tuple(int(t) for t in types)


BOS, EOS = 1, 2


# -- weights -----------------------------------------------------------------------------
def tensor_shapes(spec: LlamaSpec) -> dict[str, tuple[int, ...]]:
    """GGUF tensor names -> NumPy shapes (row-major: out x in for a projection, as llama.cpp
    stores them; GGUF lists the same dimensions reversed)."""
    d, kv, v = spec.n_embd, spec.n_head_kv * spec.head_dim, len(vocabulary()[0])
    shapes = {"token_embd.weight": (v, d), "output_norm.weight": (d,), "output.weight": (v, d)}
    for i in range(spec.n_layer):
        shapes |= {f"blk.{i}.attn_norm.weight": (d,), f"blk.{i}.attn_q.weight": (d, d),
                   f"blk.{i}.attn_k.weight": (kv, d), f"blk.{i}.attn_v.weight": (kv, d),
                   f"blk.{i}.attn_output.weight": (d, d), f"blk.{i}.ffn_norm.weight": (d,),
                   f"blk.{i}.ffn_gate.weight": (spec.n_ff, d), f"blk.{i}.ffn_up.weight": (spec.n_ff, d),
                   f"blk.{i}.ffn_down.weight": (d, spec.n_ff)}
    return shapes


@functools.cache
def weights(spec: LlamaSpec) -> dict[str, np.ndarray]:
    """Seeded float32 weights: projections scaled by fan-in, norms near 1, embeddings and the
    output head large enough that the next-token logits are well separated."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(spec.id.encode()).digest()[:8], "little"))
    out = {}
    for name, shape in tensor_shapes(spec).items():
        if len(shape) == 1:
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name == "token_embd.weight":
            w = rng.standard_normal(shape)
        elif name == "output.weight":
            w = 3.0 * rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            w = rng.standard_normal(shape) / np.sqrt(shape[1])
        out[name] = np.ascontiguousarray(w, dtype=np.float32)
    return out


# -- GGUF ----------------------------------------------------------------------------------
def write_gguf(spec: LlamaSpec, path: Path) -> None:
    """The model as a GGUF file llama.cpp loads (architecture `llama`, tokenizer `llama`)."""
    import gguf

    pieces, scores, types = vocabulary()
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(spec.id)
    w.add_context_length(spec.n_ctx)
    w.add_embedding_length(spec.n_embd)
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(spec.n_ff)
    w.add_head_count(spec.n_head)
    w.add_head_count_kv(spec.n_head_kv)
    w.add_layer_norm_rms_eps(spec.rms_eps)
    w.add_rope_dimension_count(spec.head_dim)
    w.add_rope_freq_base(spec.rope_base)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(list(pieces))
    w.add_token_scores(list(scores))
    w.add_token_types(list(types))
    w.add_unk_token_id(0)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    for name, array in weights(spec).items():
        w.add_tensor(name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_path(spec: LlamaSpec = SUITE_MODEL) -> Path:
    """The model's GGUF in the cache, named by a hash of everything that goes into it
    (written once, atomically: tmp + rename)."""
    import gguf
    from importlib.metadata import version

    key = json.dumps([spec.to_dict(), vocabulary(), version("gguf")], sort_keys=True).encode()
    path = cache_root() / "nn-models" / f"{spec.id}-{hashlib.sha256(key).hexdigest()[:16]}.gguf"
    if not path.is_file():
        assert gguf  # imported above so a missing package fails before any file is made
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        write_gguf(spec, tmp)
        tmp.replace(path)
    return path


# -- float64 reference -----------------------------------------------------------------------
def _rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def _rope(x: np.ndarray, base: float) -> np.ndarray:
    """x: (positions, heads, head_dim); adjacent pairs rotated (llama.cpp's normal mode)."""
    t, _, hd = x.shape
    theta = np.arange(t, dtype=np.float64)[:, None] * base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)[None, :]
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def forward64(spec: LlamaSpec, tokens: list[int]) -> np.ndarray:
    """Logits (positions x vocabulary) for a token sequence starting at position 0, computed
    in float64 from the float32 weights."""
    w = {k: v.astype(np.float64) for k, v in weights(spec).items()}
    t, hd, group = len(tokens), spec.head_dim, spec.n_head // spec.n_head_kv
    x = w["token_embd.weight"][np.asarray(tokens)]
    causal = np.triu(np.full((t, t), -np.inf), k=1)
    for i in range(spec.n_layer):
        p = f"blk.{i}."
        h = _rms_norm(x, w[p + "attn_norm.weight"], spec.rms_eps)
        q = _rope((h @ w[p + "attn_q.weight"].T).reshape(t, spec.n_head, hd), spec.rope_base)
        k = _rope((h @ w[p + "attn_k.weight"].T).reshape(t, spec.n_head_kv, hd), spec.rope_base)
        v = (h @ w[p + "attn_v.weight"].T).reshape(t, spec.n_head_kv, hd)
        heads = []
        for head in range(spec.n_head):
            kv = head // group
            s = q[:, head, :] @ k[:, kv, :].T / np.sqrt(hd) + causal
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            heads.append((s / s.sum(axis=-1, keepdims=True)) @ v[:, kv, :])
        x = x + np.concatenate(heads, axis=-1) @ w[p + "attn_output.weight"].T
        h = _rms_norm(x, w[p + "ffn_norm.weight"], spec.rms_eps)
        gate = h @ w[p + "ffn_gate.weight"].T
        x = x + (gate / (1.0 + np.exp(-gate)) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    return _rms_norm(x, w["output_norm.weight"], spec.rms_eps) @ w["output.weight"].T
