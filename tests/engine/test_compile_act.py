"""The compiler lowers every activation of issue 13 from its nn.* module and torch.* / F.* forms, and the integer
model stays close to float; unsupported variants (softplus beta != 1, clamp with tensor bounds) are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import compile_module
from offchain.engine.errors import UnsupportedOpError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from .act_models import ActFunctional, ActModules, quantised_input, samples

ACT_CODES = {OpCode.TANH, OpCode.SIGMOID, OpCode.SOFTPLUS, OpCode.CLAMP, OpCode.LEAKY_RELU, OpCode.HARDSWISH,
             OpCode.HARDSIGMOID}


def _max_error(module: nn.Module, model, held_out) -> tuple[float, float]:
    """(max |integer - float| over the held-out outputs, max |float output|)."""
    out_spec = model.graph.nodes[-1].output
    err, scale = 0.0, 0.0
    for (x,) in held_out:
        want = module(x).detach().numpy()
        got = run(model, [quantised_input(model, x)]).outputs[-1] / 2.0 ** out_spec.frac
        err = max(err, float(np.abs(got - want).max()))
        scale = max(scale, float(np.abs(want).max()))
    return err, scale


@pytest.mark.parametrize("cls", [ActModules, ActFunctional], ids=lambda c: c.__name__)
def test_compiles_every_activation_and_agrees_with_float(cls):
    module = cls().eval()
    cal = samples()
    model = compile_module(module, cal[0], cal)
    assert ACT_CODES <= {n.op for n in model.graph.nodes}
    err, scale = _max_error(module, model, samples(seed=1))
    assert err < 0.02 * scale, (err, scale)  # measured: 0.8% and 0.6% (int16 activations)


@pytest.mark.parametrize("layer,code,params", [
    (nn.ReLU6(), OpCode.CLAMP, lambda f: (0, 6 << f)),
    (nn.Hardtanh(-2.0, 3.0), OpCode.CLAMP, lambda f: (-2 << f, 3 << f)),
    (lambda x: torch.clamp(x, min=0.5), OpCode.CLAMP, lambda f: (1 << (f - 1), (1 << 15) - 1)),
    (lambda x: x.clamp(max=-0.25), OpCode.CLAMP, lambda f: (-(1 << 15), -(1 << (f - 2)))),
    (lambda x: torch.clamp(x, 2.0, 1.0), OpCode.CLAMP, lambda f: (1 << f, 1 << f)),  # torch: max wins
    (nn.LeakyReLU(), OpCode.LEAKY_RELU, lambda f: (167772, 24)),
    (nn.LeakyReLU(3.0), OpCode.LEAKY_RELU, lambda f: (3 << 22, 22)),
    (lambda x: F.leaky_relu(x, -0.5), OpCode.LEAKY_RELU, lambda f: (-(1 << 23), 24)),
])
def test_params(layer, code, params):
    """Clamp bounds in the input's LSBs (one-sided ones at the dtype's end) and slopes as m / 2^k."""

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer if isinstance(layer, nn.Module) else None

        def forward(self, x):
            return (self.layer or layer)(x)

    cal = samples()
    model = compile_module(Wrap().eval(), cal[0], cal)
    nodes = [n for n in model.graph.nodes if n.op == code]
    assert len(nodes) == 1
    assert nodes[0].params == params(model.graph.inputs[0].frac)


def test_softplus_other_beta_or_low_threshold_is_refused():
    for layer in (nn.Softplus(beta=2.0), nn.Softplus(threshold=5.0)):
        with pytest.raises(UnsupportedOpError, match=r"softplus supports beta=1 and threshold >= 20"):
            compile_module(nn.Sequential(layer), (torch.randn(2, 4),))
    model = compile_module(nn.Sequential(nn.Softplus(threshold=40.0)), (torch.randn(2, 4),))
    assert [n.op for n in model.graph.nodes] == [OpCode.SOFTPLUS]


def test_clamp_with_tensor_bounds_is_named():
    class TensorClamp(nn.Module):
        def forward(self, x):
            return torch.clamp(x, torch.zeros(4), torch.ones(4))

    with pytest.raises(UnsupportedOpError, match=r"aten\.clamp\.Tensor"):
        compile_module(TensorClamp(), (torch.randn(2, 4),))
