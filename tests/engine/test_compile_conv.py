"""Compiling convolutions and BatchNorm from torch modules: padding="same" (even kernels), dilation, groups
(depthwise), Conv1d; BatchNorm folded into the conv/linear before it (no node left for it) or, when nothing can
absorb it, a per-channel MUL + ADD; training-mode BatchNorm refused naming the module. Each compiled model is
run on the integer engine and compared with the float module."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.compiler.batchnorm import fold_batch_norms
from offchain.engine.compiler.capture import capture
from offchain.engine.dtypes import DType
from offchain.engine.errors import UnsupportedOpError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.engine.ops.conv import conv_params

CONFIG = CompileConfig(weight_dtype=DType.INT16)


def _randomise_bn(module: nn.Module, seed: int) -> nn.Module:
    """Running statistics and affine params far from the identity, so a missing or wrong fold shows."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.track_running_stats:
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 3 + 0.2)
            if m.affine:
                m.weight.data.copy_(torch.randn(n, generator=g))
                m.bias.data.copy_(torch.randn(n, generator=g))
    return module.eval()


def _compile_and_compare(module: nn.Module, shape: tuple[int, ...], tolerance: float = 0.03):
    """Compile on 8 calibration samples, run 4 fresh ones; returns the model and the worst relative error."""
    torch.manual_seed(0)
    samples = [(torch.randn(*shape),) for _ in range(8)]
    model = compile_module(module, samples[0], samples, CONFIG)
    worst = 0.0
    for _ in range(4):
        x = torch.randn(*shape)
        got = run(model, [x.numpy()]).output / 2.0 ** model.graph.output.frac
        want = module(x).detach().numpy()
        worst = max(worst, float(np.abs(got - want).max() / (np.abs(want).max() + 1e-9)))
    assert worst < tolerance, worst
    return model


def _ops(model) -> list[int]:
    return [n.op for n in model.graph.nodes]


class _ConvBnBlock(nn.Module):
    """ResNet/MobileNet-style: dense conv + BN + ReLU, depthwise dilated "same" conv + BN + ReLU, an even-kernel
    grouped "same" conv, then pooled features through Linear + BatchNorm1d."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding="same", dilation=2, groups=8)
        self.bn2 = nn.BatchNorm2d(8)
        self.grouped = nn.Conv2d(8, 4, 4, padding="same", groups=2)
        self.head = nn.Linear(4, 5)
        self.bn3 = nn.BatchNorm1d(5)

    def forward(self, x):  # x [B, 3, 9, 9]
        x = torch.relu(self.bn1(self.stem(x)))
        x = torch.relu(self.bn2(self.dw(x)))
        x = self.grouped(x).mean(dim=3).mean(dim=2)
        return self.bn3(self.head(x))


def test_conv_bn_relu_block_folds_and_agrees_with_float():
    block = _randomise_bn(_ConvBnBlock(), 1)
    gm = capture(block, (torch.randn(2, 3, 9, 9),))
    assert len(fold_batch_norms(gm)) == 3
    assert not [n for n in gm.graph.nodes if n.target == torch.ops.aten.batch_norm.default]
    model = _compile_and_compare(block, (2, 3, 9, 9))
    ops = _ops(model)
    assert OpCode.MUL not in ops and OpCode.ADD not in ops, "a folded BatchNorm leaves no affine nodes"
    convs = [conv_params(n.params) for n in model.graph.nodes if n.op == OpCode.CONV2D]
    assert [(p.dilation_h, p.groups, p.pad_top, p.pad_bottom) for p in convs] == [(1, 1, 1, 1), (2, 8, 2, 2),
                                                                                    (1, 2, 1, 2)]
    assert len(model.graph.nodes[0].params) == 4, "an ordinary conv keeps the short param form"


class _InputBn(nn.Module):
    """BatchNorm on the input (nothing to fold into) and after a conv whose output is also read by a residual."""

    def __init__(self):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.conv(self.bn_in(x))
        return self.bn(y) + y


def test_unfoldable_batchnorm_is_a_per_channel_affine():
    block = _randomise_bn(_InputBn(), 2)
    model = _compile_and_compare(block, (1, 3, 6, 6))
    ops = _ops(model)
    assert ops.count(OpCode.MUL) == 2
    scales = [model.graph.weights[n.inputs[1].index] for n in model.graph.nodes if n.op == OpCode.MUL]
    assert all(w.shape == (3, 1, 1) for w in scales)


def test_batchnorm1d_after_linear_on_3d_input_is_not_folded():
    """Linear over [B, C, L] has features on the last axis, BatchNorm1d normalises axis 1: no fold."""
    block = _randomise_bn(nn.Sequential(nn.Linear(5, 5), nn.BatchNorm1d(4)), 3)
    model = _compile_and_compare(block, (2, 4, 5))
    assert OpCode.MUL in _ops(model)


def test_training_mode_batchnorm_is_refused_naming_the_module():
    block = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(UnsupportedOpError, match=r"module '1' \(BatchNorm2d\).*training mode"):
        compile_module(block, (torch.randn(2, 2, 4, 4),))


class _Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 6, 3, padding="same", dilation=2)
        self.bn = nn.BatchNorm1d(6)
        self.b = nn.Conv1d(6, 6, 4, stride=2, padding=1, groups=3)

    def forward(self, x):  # x [B, 4, 12]
        return self.b(torch.relu(self.bn(self.a(x))))


def test_conv1d_compiles_as_a_one_row_conv2d():
    block = _randomise_bn(_Conv1dNet(), 4)
    model = _compile_and_compare(block, (2, 4, 12))
    convs = [n for n in model.graph.nodes if n.op == OpCode.CONV2D]
    assert [n.in_specs[1].shape for n in convs] == [(6, 4, 1, 3), (6, 2, 1, 4)]
    assert OpCode.MUL not in _ops(model), "BatchNorm1d folded into the Conv1d"
    assert model.graph.output.shape == (2, 6, 6)


def test_transposed_conv_is_refused():
    with pytest.raises(UnsupportedOpError, match="convolution|conv_transpose"):
        compile_module(nn.ConvTranspose2d(2, 2, 3), (torch.randn(1, 2, 4, 4),))
