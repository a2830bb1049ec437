"""A small ViT-style block compiled from PyTorch, for tests of nn.MultiheadAttention's lowering and of the EXPAND and
WHERE operators through the one-step prover and the dispute game.

forward(x float32 [2, T, D]): pre-norm ``nn.MultiheadAttention`` called the usual way ``attn(h, h, h)`` with a
constant key-padding mask (need_weights=False: torch's SDPA path), residual, then ``torch.where`` with a constant
row mask choosing between the block's rows and its first token's row ``expand``ed over all tokens.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from offchain.engine.model import Model

D, HEADS, T = 16, 4, 6


class AttentionBlock(nn.Module):
    """LayerNorm -> MultiheadAttention (key padding masked) -> residual -> where(keep, x, x[:, :1].expand_as(x))."""

    def __init__(self, seed: int = 11):
        super().__init__()
        torch.manual_seed(seed)
        self.ln = nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, HEADS, batch_first=True)
        self.register_buffer("padding", torch.tensor([[False] * (T - 2) + [True] * 2, [False] * T]))
        self.register_buffer("keep", torch.tensor([True, False] * (T // 2))[:, None])  # [T, 1]

    def forward(self, x):  # [2, T, D]
        h = self.ln(x)
        a, _ = self.attn(h, h, h, key_padding_mask=self.padding, need_weights=False)
        x = x + a
        return torch.where(self.keep, x, x[:, :1].expand_as(x))


def attention_samples(count: int = 6, seed: int = 12) -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(2, T, D, generator=g),) for _ in range(count)]


def attention_block() -> tuple[Model, np.ndarray]:
    """The compiled block and a quantised request input (a held-out sample)."""
    from offchain.engine.compiler import compile_module

    samples = attention_samples()
    model = compile_module(AttentionBlock().eval(), samples[0], samples[:-1], name="attention-block")
    spec = model.graph.inputs[0]
    x = np.clip(np.round(samples[-1][0].numpy() * 2.0 ** spec.frac), spec.dtype.qmin, spec.dtype.qmax)
    return model, x.astype(spec.dtype.numpy)
