"""The sd-unet-block lowerings (offchain/engine/compiler/split.py, issue 16): GroupNorm compiles (chunked statistics,
RSQRT, per-channel affine) and matches torch; a dense conv whose CONV2D step exceeds the bound becomes im2col + LINEAR
and equals the single CONV2D node bit for bit (padding, stride, dilation, rectangular kernels); a softmax whose row
is too wide for one step becomes the two-pass form and stays within 1 LSB of SOFTMAX; every node of each compiled
model fits the bound it was compiled under."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.compiler.split import GROUP_CHUNK
from offchain.engine.executor import run
from offchain.engine.move_gas import check_move_gas
from offchain.engine.ops import OpCode

SD_BOUND = 2_000_000
CONV_BOUND = 1_000_000


def _samples(shape, count=4, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(*shape, generator=g) * scale + shift,) for _ in range(count)]


def _run(model, x: torch.Tensor) -> np.ndarray:
    return run(model, [x.numpy()]).output / 2.0 ** model.graph.output.frac


def _ops(model) -> list[int]:
    return [n.op for n in model.graph.nodes]


class _GroupNormBlock(nn.Module):
    def __init__(self, channels=32, groups=8, affine=True):
        super().__init__()
        torch.manual_seed(1)
        self.gn = nn.GroupNorm(groups, channels, affine=affine)
        if affine:
            with torch.no_grad():
                self.gn.weight.uniform_(0.3, 2.0)
                self.gn.bias.uniform_(-1.0, 1.0)

    def forward(self, x):
        return self.gn(x)


@pytest.mark.parametrize("shape,groups,affine", [((1, 32, 16, 16), 8, True), ((2, 12, 5, 7), 3, False),
                                                 ((1, 8, 64, 64), 2, True)])
def test_group_norm_matches_torch(shape, groups, affine):
    """Within 2% of the output's range (int16 activations; the statistics are exact sums and one rounded reciprocal
    each), per-group means and scales far from 0 and 1; groups of 4 * 4096 values take two MEAN levels."""
    module = _GroupNormBlock(shape[1], groups, affine).eval()
    samples = _samples(shape, scale=3.0, shift=1.5)
    model = compile_module(module, samples[0], samples, CompileConfig(max_move_gas=SD_BOUND))
    ops = _ops(model)
    assert OpCode.RSQRT in ops and OpCode.LAYERNORM not in ops
    n = shape[1] // groups * shape[2] * shape[3]
    means = [node for node in model.graph.nodes if node.op == OpCode.MEAN]
    assert all(node.in_specs[0].shape[-1] <= GROUP_CHUNK for node in means)
    assert len(means) == (4 if n > GROUP_CHUNK else 2)
    x = _samples(shape, 1, seed=7, scale=3.0, shift=1.5)[0][0]
    got, want = _run(model, x), module(x).detach().numpy()
    assert np.abs(got - want).max() <= 0.02 * np.abs(want).max()
    check_move_gas(model, bound=SD_BOUND)


class _Conv(nn.Module):
    def __init__(self, c_in, c_out, kernel, **kw):
        super().__init__()
        torch.manual_seed(2)
        self.conv = nn.Conv2d(c_in, c_out, kernel, **kw)

    def forward(self, x):
        return torch.nn.functional.silu(self.conv(x))


@pytest.mark.parametrize("c_in,kernel,kw", [
    (16, 3, dict(padding=1)),
    (12, (3, 2), dict(padding=(1, 0), stride=(2, 1))),
    (10, 3, dict(padding=2, dilation=2, bias=False)),
    (8, 3, dict(padding="same")),
])
def test_chunked_conv_equals_conv2d(c_in, kernel, kw):
    """Under a 1 M bound (each CONV2D here needs 1.2-1.9 M) the conv is im2col + LINEAR (no CONV2D left) and its
    output equals, bit for bit, the output of the same model compiled without a bound (one CONV2D node)."""
    module = _Conv(c_in, 24, kernel, **kw).eval()
    samples = _samples((1, c_in, 12, 11))
    whole = compile_module(module, samples[0], samples, CompileConfig(max_move_gas=None))
    split = compile_module(module, samples[0], samples, CompileConfig(max_move_gas=CONV_BOUND))
    assert OpCode.CONV2D in _ops(whole)
    assert OpCode.CONV2D not in _ops(split) and OpCode.LINEAR in _ops(split)
    for sample in _samples((1, c_in, 12, 11), 3, seed=5):
        x = sample[0].numpy()
        a, b = run(whole, [x]), run(split, [x])
        conv = next(o for o, node in zip(a.outputs, whole.graph.nodes) if node.op == OpCode.CONV2D)
        linear = next(o for o, node in zip(b.outputs, split.graph.nodes) if node.op == OpCode.LINEAR)
        assert np.array_equal(conv, linear.transpose(0, 3, 1, 2))
        assert np.array_equal(a.output, b.output)
    check_move_gas(split, bound=CONV_BOUND)


class _Attention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        torch.manual_seed(3)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(-1, -2) * 0.5
        return scores.softmax(-1) @ x


def test_wide_softmax_is_two_pass_within_one_lsb():
    """Rows of 1,024 under a 0.7 M bound (SOFTMAX's step: 0.87 M): AMAX, EXP(x, m), sum, EXP(x, m, S') replace
    SOFTMAX, the probabilities are within 1 LSB (2^-14) of the single-node compile's, the output agrees with torch."""
    module = _Attention().eval()
    samples = _samples((1, 1024, 8), 2)
    whole = compile_module(module, samples[0], samples, CompileConfig(max_move_gas=None))
    split = compile_module(module, samples[0], samples, CompileConfig(max_move_gas=700_000))
    assert OpCode.SOFTMAX in _ops(whole) and OpCode.SOFTMAX not in _ops(split)
    assert _ops(split).count(OpCode.EXP) == 2 and OpCode.AMAX in _ops(split)
    x = samples[1][0].numpy()
    a, b = run(whole, [x]), run(split, [x])
    probs_a = next(o for o, node in zip(a.outputs, whole.graph.nodes) if node.op == OpCode.SOFTMAX)
    probs_b = next(o for o, node in zip(b.outputs, split.graph.nodes)
                   if node.op == OpCode.EXP and len(node.inputs) == 3)
    assert np.abs(probs_a.astype(np.int64) - probs_b).max() <= 1
    want = module(samples[1][0]).detach().numpy()
    got = b.output / 2.0 ** split.graph.output.frac
    assert np.abs(got - want).max() <= 0.03 * np.abs(want).max()
    check_move_gas(split, bound=700_000)
