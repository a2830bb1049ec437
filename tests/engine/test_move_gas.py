"""Honest moves must fit a block: a model with a node whose worst-case honest move exceeds the bound is refused at
compile time (library, compiler, CLI), naming the node, its op, the move, its gas and the bound; every built-in
model passes. The estimates themselves are checked against anvil in tests/dispute_ops/test_move_gas.py."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from offchain.cli import main
from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.move_gas import (
    MAX_MOVE_CALLDATA,
    MAX_MOVE_GAS,
    MoveGasError,
    check_move_gas,
    node_moves,
    reveal_private_gas,
    step_calldata,
    step_gas,
)
from offchain.engine.ops import OpCode
from offchain.models import REFERENCE_MODELS


def _conv_model(channels: int) -> Model:
    """relu -> conv 3x3 with ``channels`` input channels -> relu: the conv is node 1."""
    x = TensorSpec((1, channels, 8, 8), DType.INT8, 4, 5)
    w = TensorSpec((4, channels, 3, 3), DType.INT8, 6, 12)
    y = TensorSpec((1, 4, 8, 8), DType.INT8, 4, 5)
    act = lambda i: TensorRef(TensorKind.ACTIVATION, i)  # noqa: E731
    nodes = [
        Node(int(OpCode.RELU), (TensorRef(TensorKind.INPUT, 0),), (x,), x, (), "relu_in"),
        Node(int(OpCode.CONV2D), (act(0), TensorRef(TensorKind.WEIGHT, 0)), (x, w), y, (1, 1, 1, 1), "conv"),
        Node(int(OpCode.RELU), (act(1),), (y,), y, (), "relu_out"),
    ]
    rng = np.random.default_rng(0)
    model = Model(Graph([x], [w], nodes), [rng.integers(-128, 128, w.shape).astype(np.int8)], {"name": "conv"})
    model.validate()
    return model


def test_a_node_over_the_bound_is_refused_naming_node_op_gas_and_bound():
    model = _conv_model(128)   # 384 input-window ranges in one step: ~18 M gas
    gas = step_gas(model, 1)
    assert gas > MAX_MOVE_GAS
    with pytest.raises(MoveGasError) as info:
        check_move_gas(model)
    message = str(info.value)
    assert f"node 1 (CONV2D) step: {gas:,} gas" in message
    assert f"{MAX_MOVE_GAS:,}" in message
    assert "node 0" not in message and "node 2" not in message   # only the offending node is named


def test_the_bound_is_configurable():
    model = _conv_model(128)
    room = step_calldata(model, 1)
    worst = check_move_gas(model, bound=step_gas(model, 1), max_calldata=room)
    assert (worst.node, worst.op, worst.move) == (1, "CONV2D", "step")
    with pytest.raises(MoveGasError, match=r"node 1 \(CONV2D\)"):
        check_move_gas(model, bound=step_gas(model, 1) - 1, max_calldata=room)
    small = _conv_model(8)
    assert check_move_gas(small).gas < MAX_MOVE_GAS


def test_a_step_whose_calldata_the_mempool_would_refuse_is_refused():
    """A 60,000-long int8 dot product fits the gas bound, but its proof (the row of x and of W, 4 KiB weight
    chunks) is over geth's 128 KiB transaction limit: no block would ever include it."""
    k = 60_000
    x = TensorSpec((1, k), DType.INT8, 4, 5)
    w = TensorSpec((2, k), DType.INT8, 6, 12)
    node = Node(int(OpCode.LINEAR), (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 0)), (x, w),
                TensorSpec((1, 2), DType.INT16, 8, 5), (), "long_dot")
    model = Model(Graph([x], [w], [node]), [np.zeros(w.shape, np.int8)], {"name": "long-dot"})
    model.validate()
    assert step_gas(model, 0) < MAX_MOVE_GAS
    assert step_calldata(model, 0) > MAX_MOVE_CALLDATA
    with pytest.raises(MoveGasError, match=r"node 0 \(LINEAR\) step: [\d,]+ gas, [\d,]+ calldata bytes"):
        check_move_gas(model)
    assert check_move_gas(model, max_calldata=step_calldata(model, 0)).move == "step"


def test_a_private_node_is_refused_when_its_reveal_is_over_the_bound():
    """A private node is revealed (Poseidon over its whole input and output) instead of stepped: at 4096 int16
    values per tensor the reveal cannot fit, whatever its step would cost."""
    h = TensorSpec((1, 4096), DType.INT16, 8, 5)
    r = TensorSpec((4, 4096), DType.INT8, 6, 12)
    b = TensorSpec((4,), DType.INT32, 14, 5)
    w = lambda k: TensorRef(TensorKind.WEIGHT, k)  # noqa: E731
    node = Node(int(OpCode.LOREFT), (TensorRef(TensorKind.INPUT, 0), w(0), w(1), w(2)), (h, r, r, b), h, (), "loreft")
    zeros = [np.zeros(s.shape, s.dtype.numpy) for s in (r, r, b)]
    model = Model(Graph([h], [r, r, b], [node]), zeros, {"name": "loreft-4096"})
    model.validate()
    assert check_move_gas(model).move in ("step", "openNode", "revealChunk")   # public: the step fits
    assert reveal_private_gas(model, 0) > MAX_MOVE_GAS
    with pytest.raises(MoveGasError, match=r"node 0 \(LOREFT\) revealPrivate: [\d,]+ gas"):
        check_move_gas(model, private=(0,))
    assert [m.move for m in node_moves(model, 0, private=True)] == ["openNode", "revealPrivate"]


class _WideConv(nn.Module):
    def __init__(self, channels: int, groups: int = 1):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(channels, 4, 3, padding=1, groups=groups)

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_the_compiler_refuses_a_model_over_the_bound_and_can_be_told_not_to():
    """A grouped conv (64 channels per group, ~14 M gas per step) has no split lowering: refused under the default
    bound, compiled as one CONV2D without one. The dense conv over 128 channels compiles under the bound as im2col +
    LINEAR (sd-unet-block, issue 16: compiler/split.py)."""
    x = torch.randn(1, 128, 6, 6, generator=torch.Generator().manual_seed(1))
    with pytest.raises(MoveGasError) as info:
        compile_module(_WideConv(128, groups=2).eval(), (x,))
    node = re.search(r"node (\d+) \(CONV2D\) step", str(info.value))
    assert node is not None, str(info.value)
    model = compile_module(_WideConv(128, groups=2).eval(), (x,), config=CompileConfig(max_move_gas=None))
    assert model.graph.nodes[int(node.group(1))].op == OpCode.CONV2D
    dense = compile_module(_WideConv(128).eval(), (x,))
    ops = [n.op for n in dense.graph.nodes]
    assert OpCode.CONV2D not in ops and OpCode.LINEAR in ops


def test_the_cli_reports_the_worst_move_and_refuses_over_its_bound(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["compile", "tiny-mlp", "--out", str(tmp_path / "t.model")])
    assert ok.exit_code == 0, ok.output
    worst = json.loads(ok.stdout)["worst_move"]
    assert worst["bound"] == MAX_MOVE_GAS and 0 < worst["gas"] < MAX_MOVE_GAS
    refused = runner.invoke(main, ["compile", "tiny-mlp", "--out", str(tmp_path / "u.model"),
                                   "--max-move-gas", str(worst["gas"] - 1)])
    assert refused.exit_code != 0
    assert f"node {worst['node']} ({worst['op']}) {worst['move']}: {worst['gas']:,} gas" in refused.output
    assert not (tmp_path / "u.model").exists()


@pytest.mark.parametrize("name", [n for n in REFERENCE_MODELS if n != "llama-7b-layer"])
def test_every_built_in_model_fits_the_bound(name, reference_model):
    """llama-7b-layer (a 7B layer's weights, minutes to build) is checked in the README's table instead."""
    worst = check_move_gas(reference_model(name).model)
    print(f"\n{name}: worst move {worst}")
    assert worst.gas < MAX_MOVE_GAS


@pytest.mark.parametrize("op, params", [(OpCode.MAXPOOL2D, (3, 3, 2, 2, 1, 1)),
                                        (OpCode.AVGPOOL2D, (3, 3, 2, 2, 1, 1, 0))])
def test_pool_candidates_include_a_whole_window(op, params):
    """Found by review: the candidate search read a pool's params as a conv's and raised for every pool with more
    than 4,096 outputs (a ResNet stem's max pool could not be registered). It must search pools and include the
    last channel's element whose 3x3 window lies wholly inside the image."""
    from engine.op_harness import make_node, spec
    from offchain.engine.move_gas import _candidate_elements, _widest_conv_window

    node = make_node(op, [spec((1, 64, 112, 112), DType.INT8, 0)], spec((1, 64, 56, 56), DType.INT8, 0), params)
    y, x = _widest_conv_window(node)
    assert 1 <= 2 * y - 1 and 2 * y + 1 < 112 and 1 <= 2 * x - 1 and 2 * x + 1 < 112
    assert 63 * 56 * 56 + y * 56 + x in set(_candidate_elements(node, False))
