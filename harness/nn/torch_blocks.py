"""The generated blocks as torch modules (imported only where torch is installed), traced to
TorchScript by models.torchscript_path. Same weights, same maths as models.reference64."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class _Weights(torch.nn.Module):
    def __init__(self, weights):
        super().__init__()
        for i, w in enumerate(weights):
            self.register_buffer(f"w{i}", torch.from_numpy(w.copy()))


class Mlp(_Weights):
    def __init__(self, weights, gelu: bool):
        super().__init__(weights)
        self.gelu = gelu

    def forward(self, x):
        h = x @ self.w0 + self.w1
        h = F.gelu(h) if self.gelu else F.relu(h)
        return h @ self.w2 + self.w3


class Softmax(_Weights):
    def forward(self, x):
        return torch.softmax(x, dim=-1)


class LayerNorm(_Weights):
    def __init__(self, weights, eps: float):
        super().__init__(weights)
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.w0, self.w1, self.eps)


class Attention(_Weights):
    def __init__(self, weights, d: int):
        super().__init__(weights)
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, x):
        q, k, v = x @ self.w0, x @ self.w1, x @ self.w2
        return (torch.softmax((q @ k.t()) * self.scale, dim=-1) @ v) @ self.w3


def traced(spec, weights, ln_eps: float):
    """A TorchScript module for the block (traced on a two-row input; shapes stay symbolic in rows)."""
    module = {"mlp": lambda: Mlp(weights, spec.act == "gelu"), "softmax": lambda: Softmax(weights),
              "layernorm": lambda: LayerNorm(weights, ln_eps), "attention": lambda: Attention(weights, spec.d)}[spec.kind]()
    example = torch.zeros((2, spec.d), dtype=torch.float32)
    return torch.jit.trace(module.eval(), example, check_trace=False)
