"""Compile errors that help: every unsupported op of a model in one error, each at the owner's own file:line."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from offchain.engine.compiler import compile_module
from offchain.engine.errors import CompileError, UnsupportedOpError


class ThreeProblems(nn.Module):
    """Upsample, PixelShuffle and cumsum have no integer definition; Linear and ReLU between them do."""

    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2)
        self.shuffle = nn.PixelShuffle(2)
        self.head = nn.Linear(16, 4)

    def forward(self, x):                       # x: [1, 4, 4, 4]
        y = self.up(x)                           # [1, 4, 8, 8]
        y = torch.relu(self.shuffle(y))          # [1, 1, 16, 16]
        y = torch.cumsum(y, dim=-1)
        return self.head(y[:, 0, 0, :])          # [1, 4]


def _line_of(code: str) -> int:
    """This file's line number of the line in ThreeProblems.forward that contains ``code``."""
    lines, first = inspect.getsourcelines(ThreeProblems.forward)
    return first + next(k for k, line in enumerate(lines) if code in line)


def test_every_unsupported_op_is_listed_once_with_module_and_the_owners_line():
    with pytest.raises(UnsupportedOpError) as caught:
        compile_module(ThreeProblems(), (torch.randn(1, 4, 4, 4),))
    here = __file__
    expected = [
        f"aten.upsample_nearest2d.vec at upsample_nearest2d: module 'up' (Upsample), "
        f"{here}:{_line_of('self.up(x)')} in forward: y = self.up(x)                           # [1, 4, 8, 8]",
        f"aten.pixel_shuffle.default at pixel_shuffle: module 'shuffle' (PixelShuffle), "
        f"{here}:{_line_of('self.shuffle(y)')} in forward: y = torch.relu(self.shuffle(y))          # [1, 1, 16, 16]",
        f"aten.cumsum.default at cumsum: module '<root>' (ThreeProblems), "
        f"{here}:{_line_of('cumsum')} in forward: y = torch.cumsum(y, dim=-1)",
    ]
    assert [str(p) for p in caught.value.problems] == expected
    message = str(caught.value)
    assert message.splitlines()[0] == "cannot compile ThreeProblems: 3 unsupported op(s)"
    assert message.splitlines()[1:] == [f"  {k}. {p}" for k, p in enumerate(expected, 1)]
    # The quoted frame is the owner's, never torch's own module code.
    assert "torch/nn/modules" not in message


class BadPool(nn.Module):
    """An op that exists (max_pool2d) refused for its arguments, after an op that does not exist at all."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=1, padding=1, dilation=2)

    def forward(self, x):
        return self.pool(torch.sort(x, dim=-1).values)


def test_an_argument_refusal_is_listed_with_its_reason_beside_missing_ops():
    with pytest.raises(UnsupportedOpError) as caught:
        compile_module(BadPool(), (torch.randn(1, 2, 6, 6),))
    ops = [(p.op, p.reason) for p in caught.value.problems]
    assert ops == [("aten.sort.default", ""),
                   ("aten.max_pool2d.default", "max_pool2d with dilation [2, 2]; only 1")]
    assert all("test_compile_errors.py" in p.where for p in caught.value.problems)


def test_a_supported_model_still_compiles_and_a_shape_problem_names_both_shapes():
    class Fine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return torch.relu(self.fc(x))

    assert len(compile_module(Fine(), (torch.randn(2, 4),)).graph.nodes) == 2

    class Batched(nn.Module):
        def forward(self, a):
            return torch.matmul(a, a[0].transpose(-2, -1))   # [2, 3, 4] @ [4, 3]: ranks differ

    with pytest.raises(CompileError) as caught:
        compile_module(Batched(), (torch.randn(2, 3, 4),))
    assert len(caught.value.problems) == 1
    assert "(2, 3, 4) @ (4, 3)" in str(caught.value)
