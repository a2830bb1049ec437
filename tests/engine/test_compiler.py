"""Compiler: named errors for unsupported ops, fusions, and accuracy on small transformer blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.dtypes import DType
from offchain.engine.errors import CalibrationError, UnsupportedOpError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode, get_op


class _Sorter(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        return torch.sort(self.proj(x), dim=-1).values


def test_unsupported_op_names_op_and_module():
    with pytest.raises(UnsupportedOpError, match=r"aten\.sort.*module '<root>' \(_Sorter\)"):
        compile_module(_Sorter(), (torch.randn(2, 4),))


def test_float_casts_are_identity_and_int_casts_rejected():
    class Casts(nn.Module):
        def forward(self, x):
            return torch.relu(x.double()).float()

    class ToInt(nn.Module):
        def forward(self, x):
            return x.long()

    model = compile_module(Casts(), (torch.randn(2, 3),))
    assert [n.op for n in model.graph.nodes] == [OpCode.RELU]
    with pytest.raises(UnsupportedOpError, match="cast of an input-dependent tensor to torch.int64"):
        compile_module(ToInt(), (torch.randn(2, 3),))


def test_outlier_weights_widen_to_int16():
    """One outlier sets the power-of-two scale; the bulk of small weights then rounds to a few levels."""
    from offchain.engine.compiler.scales import quantisation_snr_db

    lin = nn.Linear(64, 64, bias=False)
    with torch.no_grad():
        lin.weight.normal_(0, 0.01, generator=torch.Generator().manual_seed(0))
        lin.weight[0, 0] = 1.0
    assert quantisation_snr_db(lin.weight.detach().double().numpy(), DType.INT8) < 25
    x = (torch.randn(1, 64),)
    widened = compile_module(lin, x)
    assert widened.graph.weights[0].dtype == DType.INT16
    assert widened.meta["widened_to_int16"] == ["weight"]
    plain = compile_module(lin, x, config=CompileConfig(min_weight_snr_db=None))
    assert plain.graph.weights[0].dtype == DType.INT8 and plain.meta["widened_to_int16"] == []


class _Block(nn.Module):
    """Pre-norm attention + SiLU MLP with an RMSNorm written the Llama way and rotate-half RoPE."""

    def __init__(self, d=16, heads=2, t=6):
        super().__init__()
        torch.manual_seed(0)
        self.heads, self.hd = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.up = nn.Linear(d, 2 * d)
        self.down = nn.Linear(2 * d, d)
        self.norm_w = nn.Parameter(1 + 0.1 * torch.randn(d))
        self.ln = nn.LayerNorm(d)
        ang = torch.arange(t)[:, None] * torch.linspace(0.1, 1.0, self.hd // 2)[None]
        ang = torch.cat([ang, ang], dim=-1)
        self.register_buffer("cos", ang.cos())
        self.register_buffer("sin", ang.sin())
        self.register_buffer("bias", torch.triu(torch.full((t, t), -10000.0), diagonal=1))

    def rms(self, x):
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + 1e-5) * self.norm_w

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.rms(x)).view(b, t, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        half = self.hd // 2

        def rope(z):
            return z * self.cos + torch.cat([-z[..., half:], z[..., :half]], dim=-1) * self.sin

        scores = rope(q) @ rope(k).transpose(-2, -1) / self.hd ** 0.5 + self.bias
        y = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.out(y)
        x = x + self.down(F.silu(self.up(self.ln(x))))
        return F.gelu(x).mean(dim=1)


def test_transformer_block_matches_float():
    block = _Block().eval()
    samples = [(torch.randn(1, 6, 16),) for _ in range(8)]
    model = compile_module(block, samples[0], samples, CompileConfig(weight_dtype=DType.INT16))
    names = {get_op(n.op).name for n in model.graph.nodes}
    assert {"RMSNORM", "LAYERNORM", "SOFTMAX", "SILU", "GELU", "MATMUL", "MEAN", "ROPE"} <= names
    read = {ref.index for n in model.graph.nodes for ref in n.inputs if ref.kind.name == "ACTIVATION"}
    assert read == set(range(len(model.graph.nodes) - 1)), "every node but the last feeds a later one"
    x = torch.randn(1, 6, 16)
    got = run(model, [x.numpy()]).output / 2 ** model.graph.output.frac
    want = block(x).detach().numpy()
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max() + 0.01


def test_rotate_half_without_fusion_still_compiles():
    """cat(-x2, x1) with a non-constant multiplier is not RoPE: it lowers to SLICE/NEG/CONCAT/MUL."""
    class Rot(nn.Module):
        def forward(self, x, y):
            return torch.cat([-x[..., 2:], x[..., :2]], dim=-1) * y

    samples = [(torch.randn(1, 3, 4), torch.randn(1, 3, 4)) for _ in range(4)]
    model = compile_module(Rot(), samples[0], samples)
    assert {get_op(n.op).name for n in model.graph.nodes} >= {"SLICE", "NEG", "CONCAT", "MUL"}
    got = run(model, [a.numpy() for a in samples[0]]).output / 2 ** model.graph.output.frac
    assert np.abs(got - Rot()(*samples[0]).numpy()).max() < 0.01


def test_causal_bias_masks_future_keys():
    """A -10000 additive bias must give exactly zero attention, not a saturated small penalty."""
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("bias", torch.triu(torch.full((4, 4), -10000.0), diagonal=1))

        def forward(self, s):
            return F.softmax(s + self.bias, dim=-1)

    samples = [(torch.randn(1, 4, 4) * 3,) for _ in range(4)]
    model = compile_module(Attn(), samples[0], samples)
    out = run(model, [samples[0][0].numpy()]).output
    assert (out[0][np.triu_indices(4, 1)] == 0).all()
    assert out[0, 0, 0] == 1 << 14


def test_llama_tiny_argmax_agrees():
    from offchain.models import llama

    cfg = llama.preset("tiny")
    module = llama.build_llama(cfg, seed=1)
    prompts = [llama.random_prompt(cfg, s) for s in range(3)]
    model = compile_module(module, (prompts[0],), [(p,) for p in prompts])
    assert sum(n.op == OpCode.RMSNORM for n in model.graph.nodes) == 2 * cfg.n_layers + 1
    got = run(model, [prompts[0].numpy()]).output / 2 ** model.graph.output.frac
    want = module(prompts[0]).detach().numpy()
    assert (got.argmax(-1) == want.argmax(-1)).mean() >= 0.9
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()


def test_calibration_rejects_non_finite():
    class Inv(nn.Module):
        def forward(self, x):
            return torch.relu(x) / 0.0

    with pytest.raises(CalibrationError, match="NaN/inf"):
        compile_module(Inv(), (torch.ones(1, 2),))
