"""Compiling pooling and reductions from real torch modules: nn.MaxPool2d / F.max_pool2d, nn.AvgPool2d (all
divisor rules), nn.AdaptiveAvgPool2d (even windows and global), mean / sum / amax over any set of axes and
torch.max(x, dim).values agree with float; what has no operator is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import compile_module
from offchain.engine.errors import UnsupportedOpError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode, get_op


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _compiled(module: nn.Module, shape=(2, 3, 8, 8), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    samples = [(torch.randn(*shape, generator=g),) for _ in range(6)]
    model = compile_module(module.eval(), samples[0], samples)
    spec = model.graph.inputs[0]
    x = samples[-1][0]
    xi = np.clip(np.round(x.numpy() * 2.0 ** spec.frac), spec.dtype.qmin, spec.dtype.qmax).astype(spec.dtype.numpy)
    got = run(model, [xi]).output / 2.0 ** model.graph.output.frac
    # the float module on the quantised input: what is left is the integer rounding of the op itself
    want = module(torch.from_numpy(xi / 2.0 ** spec.frac).float()).detach().numpy()
    return model, got, want, 2.0 ** -model.graph.output.frac


def _ops(model) -> list[str]:
    return [get_op(n.op).name for n in model.graph.nodes]


@pytest.mark.parametrize("module", [nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1),
                                    _Lambda(lambda x: F.max_pool2d(x, (3, 2), (1, 2), (1, 0))),
                                    nn.MaxPool2d(2, ceil_mode=True)],  # 8x8: ceil gives floor's 4x4
                         ids=["2x2", "3x3-s2-p1", "functional-3x2", "ceil-same-size"])
def test_max_pool_is_exact(module):
    model, got, want, _ = _compiled(module)
    assert _ops(model) == ["MAXPOOL2D"]
    assert np.array_equal(got, want)  # a max of quantised values is one of them


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                                    dict(kernel_size=3, padding=1, divisor_override=4)],
                         ids=["2x2", "include-pad", "exclude-pad", "divisor-override"])
def test_avg_pool_rounds_to_one_lsb(kwargs):
    model, got, want, lsb = _compiled(nn.AvgPool2d(**kwargs))
    assert _ops(model) == ["AVGPOOL2D"]
    assert np.abs(got - want).max() <= lsb / 2 + 1e-9  # exact quotient rounded half up: at most half an LSB


def test_adaptive_avg_pool_even_windows_and_global():
    model, got, want, lsb = _compiled(nn.AdaptiveAvgPool2d((2, 4)))
    assert _ops(model) == ["AVGPOOL2D"] and model.graph.nodes[0].params == (4, 2, 4, 2, 0, 0, 8)
    assert np.abs(got - want).max() <= lsb / 2 + 1e-9
    model, got, want, lsb = _compiled(nn.AdaptiveAvgPool2d(1))
    assert _ops(model) == ["RESHAPE", "MEAN", "RESHAPE"] and got.shape == (2, 3, 1, 1)
    assert np.abs(got - want).max() <= 2 * lsb


def test_chw_input_pools_through_a_batch_axis():
    model, got, want, _ = _compiled(nn.MaxPool2d(2), shape=(3, 8, 8))
    assert _ops(model) == ["RESHAPE", "MAXPOOL2D", "RESHAPE"] and got.shape == (3, 4, 4)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("fn, ops", [
    (lambda x: x.mean((2, 3)), ["RESHAPE", "MEAN"]),
    (lambda x: x.mean(dim=[-1, -2], keepdim=True), ["RESHAPE", "MEAN", "RESHAPE"]),
    (lambda x: x.sum(dim=(1, 3)), ["PERMUTE", "RESHAPE", "MEAN"]),
    (lambda x: torch.amax(x, dim=(1, 3)), ["PERMUTE", "RESHAPE", "AMAX"]),
    (lambda x: torch.amax(x, dim=1, keepdim=True), ["PERMUTE", "AMAX", "RESHAPE"]),
    (lambda x: x.max(dim=-1).values, ["AMAX"]),
    (lambda x: torch.max(x), ["RESHAPE", "AMAX"]),
], ids=["mean-hw", "mean-keepdim", "sum-1-3", "amax-1-3", "amax-keepdim", "max-dim-values", "max-all"])
def test_reductions_over_any_axes(fn, ops):
    model, got, want, lsb = _compiled(_Lambda(fn))
    assert _ops(model) == ops
    assert got.shape == want.shape
    if ops[-1] == "AMAX" or ops[-2:] == ["AMAX", "RESHAPE"]:
        assert np.array_equal(got, want)
    else:
        assert np.abs(got - want).max() <= 2 * lsb + 1e-3 * np.abs(want).max()


@pytest.mark.parametrize("module, match", [
    (nn.MaxPool2d(2, dilation=2), "dilation"),
    (nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),                        # 9x9: ceil 5x5, floor 4x4
    (nn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
    (nn.AdaptiveAvgPool2d(4), "divide the input evenly"),
    (_Lambda(lambda x: x.max(dim=1).indices.float()), "indices"),
    (nn.MaxPool2d(2, return_indices=True), "max_pool2d_with_indices"),
], ids=["dilation", "ceil-max", "ceil-avg", "adaptive-uneven", "max-indices", "return-indices"])
def test_refusals_name_the_problem(module, match):
    with pytest.raises(UnsupportedOpError, match=match):
        _compiled(module, shape=(1, 2, 9, 9))
