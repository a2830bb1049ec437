"""Compiler, issue 13 attention slice: nn.MultiheadAttention (both call forms, masks), F.scaled_dot_product_attention
(causal, masks, scale) and the shape functions (stack, chunk, split, expand, repeat, where, masked_fill) compile from
real torch modules, and the integer model agrees with the float one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.dtypes import DType
from offchain.engine.errors import UnsupportedOpError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode, get_op

D, HEADS, T = 16, 4, 6
CFG = CompileConfig(weight_dtype=DType.INT16)


def _compiled_error(module: nn.Module, shape: tuple[int, ...], samples: int = 8, seed: int = 0):
    """(model, max |int - float| on a held-out input, max |float|)."""
    g = torch.Generator().manual_seed(seed)
    cal = [(torch.randn(*shape, generator=g),) for _ in range(samples)]
    model = compile_module(module.eval(), cal[0], cal, CFG)
    x = torch.randn(*shape, generator=g)
    got = run(model, [x.numpy()]).output / 2.0 ** model.graph.output.frac
    with torch.no_grad():
        want = module(x).numpy()
    assert got.shape == want.shape
    return model, float(np.abs(got - want).max()), float(np.abs(want).max())


def _ops(model) -> set[str]:
    return {get_op(n.op).name for n in model.graph.nodes}


class ViTBlock(nn.Module):
    """Pre-norm ViT encoder block calling nn.MultiheadAttention the usual way, ``attn(x, x, x)``."""

    def __init__(self, batch_first: bool, need_weights: bool, attn_mask=None, key_padding_mask=None):
        super().__init__()
        torch.manual_seed(1)
        self.need_weights = need_weights
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, HEADS, batch_first=batch_first)
        self.mlp = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))
        self.register_buffer("attn_mask", attn_mask)
        self.register_buffer("key_padding_mask", key_padding_mask)

    def forward(self, x):
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=self.need_weights, attn_mask=self.attn_mask,
                         key_padding_mask=self.key_padding_mask)
        x = x + a
        return x + self.mlp(self.ln2(x))


CAUSAL_BOOL = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # MHA: True = masked
PAD = torch.tensor([[False] * (T - 2) + [True] * 2, [False] * T])          # batch 2: last two keys of row 0


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_block(batch_first, need_weights):
    shape = (2, T, D) if batch_first else (T, 2, D)
    model, err, scale = _compiled_error(ViTBlock(batch_first, need_weights), shape)
    assert {"LINEAR", "MATMUL", "SOFTMAX", "LAYERNORM"} <= _ops(model)
    assert err < 0.03 * scale, (err, scale)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("masks", ["attn", "padding", "both", "float"])
def test_multihead_attention_masks(need_weights, masks):
    attn_mask = {"attn": CAUSAL_BOOL, "both": CAUSAL_BOOL,
                 "float": torch.triu(torch.full((T, T), float("-inf")), 1)}.get(masks)
    padding = PAD if masks in ("padding", "both") else None
    block = ViTBlock(True, need_weights, attn_mask, padding)
    model, err, scale = _compiled_error(block, (2, T, D))
    assert err < 0.03 * scale, (err, scale)
    # The mask reaches the scores as an INT32 additive constant (the penalty would not survive int16).
    adds = [n for n in model.graph.nodes if n.op == OpCode.ADD and n.output.dtype == DType.INT32]
    assert adds, "no INT32 mask add"


class Sdpa(nn.Module):
    """q, k, v projections of x, then F.scaled_dot_product_attention over 2 heads."""

    def __init__(self, is_causal=False, attn_mask=None, scale=None):
        super().__init__()
        torch.manual_seed(2)
        self.qkv = nn.Linear(D, 3 * D)
        self.is_causal, self.scale = is_causal, scale
        self.register_buffer("mask", attn_mask)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, 2, D // 2).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, is_causal=self.is_causal,
                                              scale=self.scale)


@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float", "scale"])
def test_scaled_dot_product_attention(case):
    keep = torch.tril(torch.ones(T, T, dtype=torch.bool))  # SDPA: True = attend
    module = {"plain": Sdpa(), "causal": Sdpa(is_causal=True), "bool": Sdpa(attn_mask=keep),
              "float": Sdpa(attn_mask=torch.randn(T, T)), "scale": Sdpa(scale=0.3)}[case]
    model, err, scale = _compiled_error(module, (2, T, D))
    assert err < 0.03 * scale, (err, scale)
    softmax = [n for n in model.graph.nodes if n.op == OpCode.SOFTMAX]
    assert [n.params for n in softmax] == [((1,) if case == "causal" else (0,))]


def test_causal_sdpa_output_ignores_future_keys():
    """Row 0 of a causal SDPA is v's row 0 exactly (softmax weight 1.0 on key 0), whatever later keys hold."""
    module = Sdpa(is_causal=True)
    x = torch.randn(1, T, D)
    y = x.clone()
    y[0, 1:] = torch.randn(T - 1, D)
    model = compile_module(module.eval(), (x,), [(x,), (y,)], CFG)
    ref = run(model, [x.numpy()])
    out = run(model, [y.numpy()]).output
    assert np.array_equal(out[:, :, 0], ref.output[:, :, 0])


def test_sdpa_dropout_refused():
    class Drop(nn.Module):
        def forward(self, q):
            return F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)

    with pytest.raises(UnsupportedOpError, match=r"dropout_p=0\.1"):
        compile_module(Drop(), (torch.randn(1, 2, T, 8),))


class Shapes(nn.Module):
    """Every shape function of the slice on one input: chunk, split (both forms), stack (inner and new last axis),
    expand / expand_as / broadcast_to, repeat, unsqueeze / squeeze, where and masked_fill with constant masks."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.register_buffer("keep", torch.rand(4, 6, generator=g) > 0.5)
        self.register_buffer("row", torch.rand(1, 6, generator=g) > 0.5)

    def forward(self, x):  # x [4, 6]
        a, b = x.chunk(2, dim=-1)
        c, d, e = torch.split(x, [2, 3, 1], dim=1)
        f, g = torch.split(x, 3, dim=1)
        s0 = torch.stack([a, b, f], dim=0).sum(0)                  # [4, 3]
        s1 = torch.stack([g, a], dim=-1).flatten(1)                # [4, 6]
        j = x[:, :1].expand(4, 6) + x[:1].expand_as(x) + torch.broadcast_to(e, (4, 6))
        k = torch.where(self.keep, x, 0.5) + torch.where(self.row, j, x) + x.masked_fill(self.keep, -1.0)
        r = x[:2, :3].repeat(2, 2)                                 # [4, 6]
        u = x.unsqueeze(1).squeeze(1)
        return torch.cat([s0, c, e], dim=1) + s1 + k + r + u + d.sum(-1, keepdim=True)


def test_shape_functions():
    model, err, scale = _compiled_error(Shapes(), (4, 6))
    assert {"EXPAND", "WHERE", "SLICE", "CONCAT"} <= _ops(model)
    assert err < 0.01 * scale + 0.01, (err, scale)


def test_where_with_input_dependent_condition_refused():
    class Dyn(nn.Module):
        def forward(self, x):
            return torch.where(x > 0, x, 0.0)

    with pytest.raises(UnsupportedOpError):
        compile_module(Dyn(), (torch.randn(2, 3),))


def test_masked_fill_minus_inf_masks_scores():
    """A hand-written attention's scores.masked_fill(mask, -inf): exactly zero weight on masked keys."""
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("future", torch.triu(torch.ones(4, 4, dtype=torch.bool), 1))

        def forward(self, s):
            return F.softmax(s.masked_fill(self.future, float("-inf")), dim=-1)

    samples = [(torch.randn(1, 4, 4) * 3,) for _ in range(4)]
    model = compile_module(Attn(), samples[0], samples)
    out = run(model, [samples[0][0].numpy()]).output
    assert (out[0][np.triu_indices(4, 1)] == 0).all()
    assert out[0, 0, 0] == 1 << 14
