"""The README's coverage table, checked: every row names a torch layer or function, and this file compiles a small
module using it. Rows marked "compiles" must compile and agree with float; rows marked "refused" must raise
UnsupportedOpError whose message carries the reason the table gives. The table and ``CASES`` must list the same
rows, so neither can drift from what the compiler does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import compile_module
from offchain.engine.compiler.agreement import agreement
from offchain.engine.errors import UnsupportedOpError

README = Path(__file__).resolve().parents[2] / "README.md"


class Fn(nn.Module):
    """A module around a function of the input (torch functions the table lists)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def seq(*layers: nn.Module) -> nn.Module:
    return nn.Sequential(*layers)


class Mha(nn.Module):
    def __init__(self, need_weights: bool):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x):
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


class Sdpa(nn.Module):
    def forward(self, x):
        q = x.reshape(1, 4, 2, 4).transpose(1, 2)
        return F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).reshape(1, 4, 8)


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 8, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


IMG, SEQ, VEC = (1, 4, 6, 6), (1, 4, 8), (2, 8)

#: README row -> (module factory, input shape, None if it compiles or the refusal's reason as the error says it).
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], str | None]] = {
    "nn.Linear": (lambda: nn.Linear(8, 4), VEC, None),
    "torch.matmul / @ / bmm": (lambda: Fn(lambda x: x @ x.transpose(-1, -2)), SEQ, None),
    "nn.Conv2d": (lambda: nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=2), IMG, None),
    "nn.Conv1d": (lambda: nn.Conv1d(4, 4, 3, padding=1), SEQ, None),
    "nn.BatchNorm2d": (lambda: seq(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)), IMG, None),
    "nn.BatchNorm1d": (lambda: seq(nn.Linear(8, 4), nn.BatchNorm1d(4)), VEC, None),
    "nn.ReLU": (lambda: nn.ReLU(), VEC, None),
    "nn.GELU": (lambda: nn.GELU("tanh"), VEC, None),
    "nn.SiLU": (lambda: nn.SiLU(), VEC, None),
    "nn.Tanh": (lambda: nn.Tanh(), VEC, None),
    "nn.Sigmoid": (lambda: nn.Sigmoid(), VEC, None),
    "nn.Softplus": (lambda: nn.Softplus(), VEC, None),
    "nn.Hardtanh / nn.ReLU6 / torch.clamp": (lambda: Fn(lambda x: F.relu6(x).clamp(max=5.0)), VEC, None),
    "nn.LeakyReLU": (lambda: nn.LeakyReLU(0.1), VEC, None),
    "nn.PReLU": (lambda: nn.PReLU(), VEC, None),
    "nn.Hardswish / nn.Hardsigmoid": (lambda: seq(nn.Hardswish(), nn.Hardsigmoid()), VEC, None),
    "nn.Softmax": (lambda: nn.Softmax(dim=1), SEQ, None),
    "nn.LayerNorm": (lambda: nn.LayerNorm([4, 8]), SEQ, None),
    "nn.RMSNorm": (lambda: nn.RMSNorm(8), SEQ, None),
    "nn.Embedding": (None, (), None),  # needs token ids: tests/models/test_zoo.py (text) and llama cover it
    "nn.MaxPool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), IMG, None),
    "nn.AvgPool2d": (lambda: nn.AvgPool2d(2), IMG, None),
    "nn.AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(3), IMG, None),
    "nn.MaxPool1d / nn.AvgPool1d": (lambda: seq(nn.MaxPool1d(2), nn.AvgPool1d(2)), SEQ, None),
    "nn.MultiheadAttention": (lambda: Mha(False), SEQ, None),
    "F.scaled_dot_product_attention": (lambda: Sdpa(), SEQ, None),
    "nn.Flatten / nn.Dropout / nn.Identity": (lambda: seq(nn.Flatten(), nn.Dropout(0.1), nn.Identity()), SEQ, None),
    "mean / sum / amax over any axes": (lambda: Fn(lambda x: x.mean((0, 2)) + x.sum(1).amax(-1)), SEQ, None),
    "cat / stack / chunk / split": (lambda: Fn(lambda x: torch.cat(x.chunk(2, -1)[::-1], -1) + torch.stack(
        x.split(2, 1), 0).sum(0).repeat(1, 2, 1)), SEQ, None),
    "reshape / permute / transpose / expand / squeeze": (
        lambda: Fn(lambda x: x.permute(0, 2, 1).unsqueeze(0).squeeze(0).expand(3, 8, 4).reshape(3, 32)), SEQ, None),
    "where / masked_fill (constant mask)": (
        lambda: Fn(lambda x: x.masked_fill(torch.eye(4, 8, dtype=torch.bool), 0.0)), SEQ, None),
    "add / sub / mul / div by a constant / neg": (lambda: Fn(lambda x: -(x * x - x / 3.0 + 1.0)), VEC, None),
    # ---- image: sd-unet-block (issue 16)
    "nn.GroupNorm": (lambda: nn.GroupNorm(2, 4), IMG, None),
    # refused
    "nn.InstanceNorm2d": (lambda: nn.InstanceNorm2d(4), IMG, "aten.instance_norm"),
    "nn.LSTM / nn.GRU / nn.RNN": (lambda: Lstm(), SEQ, "aten.lstm"),
    "nn.ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 4, 3), IMG, "aten.conv_transpose2d"),
    "nn.Conv3d": (lambda: nn.Conv3d(4, 4, 2), (1, 4, 3, 3, 3), "aten.conv3d"),
    "nn.Upsample / F.interpolate": (lambda: nn.Upsample(scale_factor=2), IMG, "aten.upsample_nearest2d"),
    "nn.ELU / nn.Mish / nn.SELU": (lambda: nn.ELU(), VEC, "aten.elu"),
    "nn.LogSoftmax": (lambda: nn.LogSoftmax(-1), VEC, "aten.log_softmax"),
    "torch.exp / log / sqrt / pow / abs": (lambda: Fn(torch.exp), VEC, "aten.exp"),
    "division by a tensor": (lambda: Fn(lambda x: x / (x * x + 1.0)), VEC, "division by an input-dependent tensor"),
    "argmax / sort / topk / cumsum": (lambda: Fn(lambda x: x.argmax(-1)), VEC, "aten.argmax"),
    "nn.PReLU(num_parameters=C)": (lambda: nn.PReLU(4), IMG, "PReLU with 4 slopes"),
    "uneven nn.AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(4), IMG, "only output sizes that divide the input"),
    "clamp with tensor bounds": (lambda: Fn(lambda x: x.clamp(min=x.mean())), VEC, "aten.clamp.Tensor"),
}


def _readme_rows() -> list[str]:
    text = README.read_text()
    section = text[text.index("### What compiles from PyTorch"):]
    section = section[:section.index("\n### ", 5)] if "\n### " in section[5:] else section
    return [m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", section, re.M)]


def test_the_readme_table_and_these_cases_list_the_same_rows():
    rows = _readme_rows()
    assert len(rows) == len(set(rows))
    assert set(rows) == set(CASES)


@pytest.mark.parametrize("row", [r for r, c in CASES.items() if c[0] is not None])
def test_each_row_compiles_or_is_refused_as_the_table_says(row):
    factory, shape, refusal = CASES[row]
    torch.manual_seed(0)
    module = factory().eval()
    samples = [(torch.randn(*shape),) for _ in range(4)]
    if refusal is not None:
        with pytest.raises(UnsupportedOpError, match=re.escape(refusal)):
            compile_module(module, samples[0], samples)
        return
    model = compile_module(module, samples[0], samples)
    measured = agreement(module, model, samples)
    with torch.no_grad():
        scale = max(float(module(*s).abs().max()) for s in samples)
    assert measured.max_abs_logit_error <= 0.05 * scale + 1e-3, (row, measured, scale)
