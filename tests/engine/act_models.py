"""Small PyTorch modules written the way model owners write them, using every activation of issue 13 in its
module form and its functional form (shared by the compile tests and the dispute test)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ActModules(nn.Module):
    """Linear -> the nn.* forms side by side (Tanh, Sigmoid, Softplus, Hardtanh, ReLU6, LeakyReLU, Hardswish,
    Hardsigmoid), concatenated -> Linear."""

    def __init__(self, d: int = 16):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(d, d)
        self.acts = nn.ModuleList([nn.Tanh(), nn.Sigmoid(), nn.Softplus(), nn.Hardtanh(-1.5, 2.0), nn.ReLU6(),
                                   nn.LeakyReLU(0.1), nn.Hardswish(), nn.Hardsigmoid()])
        self.fc2 = nn.Linear(d * len(self.acts), 4)

    def forward(self, x):  # x [B, d] -> [B, 4]
        h = 2.0 * self.fc1(x)
        return self.fc2(torch.cat([act(h) for act in self.acts], dim=-1))


class ActFunctional(nn.Module):
    """The torch.* / F.* forms, chained and summed: tanh, sigmoid, softplus, hardtanh, relu6, leaky_relu,
    hardswish, hardsigmoid, clamp (both sides, min only, max only), clamp_min, clamp_max."""

    def __init__(self, d: int = 16):
        super().__init__()
        torch.manual_seed(1)
        self.fc1 = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, 4)

    def forward(self, x):
        h = 3.0 * self.fc1(x)
        a = torch.tanh(h) + torch.sigmoid(h) + F.softplus(h)
        b = F.hardtanh(h) + F.relu6(h) + F.leaky_relu(h, 0.2)
        c = F.hardswish(h) + F.hardsigmoid(h) + torch.clamp(h, -0.5, 0.75) + torch.clamp(h, min=-1.0)
        d = h.clamp(max=0.25) + torch.clamp_min(h, 0.5) + torch.clamp_max(h, -0.5)
        return self.fc2(a + b + c + d)


def samples(d: int = 16, count: int = 8, seed: int = 0) -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(2, d, generator=g),) for _ in range(count)]


def quantised_input(model, x: torch.Tensor) -> np.ndarray:
    """x at the model input's scale (round half up, saturated)."""
    spec = model.graph.inputs[0]
    q = np.clip(np.floor(x.numpy() * 2.0 ** spec.frac + 0.5), spec.dtype.qmin, spec.dtype.qmax)
    return q.astype(spec.dtype.numpy)
