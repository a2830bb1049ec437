"""The sd-unet-block benchmark's block (bench/_sd_unet_block.py, issue 16) scaled down (32 channels, 32x32 latent,
1,024 tokens, 2 heads) and compiled under a 0.8 M bound, so every lowering of compiler/split.py is taken as at SD
1.5's size under 2 M: GroupNorm's chunked statistics, im2col convs (3x3 and 1x1), the two-pass softmax over the
1,024-wide self-attention rows (the 7-wide cross-attention rows stay one SOFTMAX). Every honest move fits the bound,
the integer block agrees with float, and a corrupted attention probability loses its dispute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench._sd_unet_block import Dims, _fault_site, compile_block
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.move_gas import check_move_gas
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
SMALL = Dims(c=32, hw=32, temb=64, ctx_len=7, ctx_dim=24, heads=2, groups=8)
BOUND = 800_000


@pytest.fixture(scope="module")
def block():
    model, module, sample, x = compile_block(SMALL, BOUND)
    commitment = ModelCommitment(model)
    return model, module, sample, x, commitment, ExecutionCommitment(commitment, run(model, [x]))


def test_every_split_is_taken_and_every_move_fits(block):
    model, *_ = block
    ops = [n.op for n in model.graph.nodes]
    assert OpCode.CONV2D not in ops and ops.count(OpCode.RSQRT) == 3        # 3 GroupNorms, 4 convs as LINEARs
    assert ops.count(OpCode.SOFTMAX) == 1 and ops.count(OpCode.EXP) == 2     # cross-attention whole, self split
    assert check_move_gas(model, bound=BOUND).gas <= BOUND


def test_the_integer_block_agrees_with_float(block):
    model, module, sample, x, _, honest = block
    got = honest.trace.output / 2.0 ** model.graph.output.frac
    with torch.no_grad():
        want = module(sample).numpy()
    assert np.sqrt(np.mean((got - want) ** 2)) <= 0.01 * np.sqrt(np.mean(want ** 2))
    assert np.abs(got - want).max() <= 0.02 * np.abs(want).max()


def test_a_corrupted_attention_probability_loses_the_game(block, protocol, owner, submitter, challenger):
    model, _, _, x, commitment, honest = block
    registry, game = protocol
    node, element = _fault_site(model)
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)
