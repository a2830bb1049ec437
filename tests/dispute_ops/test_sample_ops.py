"""GenOps.sol (GEN_PARAMS, TOPK, PRNG, SAMPLE, GEN_STOP) equals offchain/engine/ops/sample.py range for range and
element for element: random bytes and int8 edges for GEN_PARAMS; logits of every dtype with ties, dtype extremes,
short blocks and padding for TOPK mode 0, and arbitrary int32 candidate rows (index -1 entries carrying any value,
duplicates, other negative indices) for mode 1; PRNG against the EVM's own keccak256 on edge seeds and steps;
SAMPLE on honest sorted rows and on arbitrary int32 operands at frac 0 / 16 / 32; GEN_STOP's table. Operands are
also sent with filler elements before them (``skip``), as a proven chunk holds them. Malformed nodes revert with
the named error carrying the offending values."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.sample import MAX_K, TOPK_STEP_GAS_BUDGET, prng_word, topk_step_gas

from ._harness import check_against_contract, check_elements_only, custom_error, revert_data

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
EDGES = [I32_MIN, I32_MIN + 1, -2, -1, 0, 1, 2, I32_MAX - 1, I32_MAX]


def _node(op: OpCode, in_specs, out: TensorSpec, params=()) -> Node:
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(params))


def _i32(shape) -> TensorSpec:
    return TensorSpec(tuple(shape), DType.INT32, 0)


def _edgy(rng: np.random.Generator, size: int, lo: int = I32_MIN, hi: int = I32_MAX, p: float = 0.3) -> np.ndarray:
    values = rng.integers(lo, hi, size=size, endpoint=True)
    return np.where(rng.random(size) < p, rng.choice(EDGES, size=size), values).astype(np.int64).astype(np.int32)


def _topk(x_spec: TensorSpec, mode: int, k: int, width: int) -> Node:
    rows = -(-(x_spec.size if mode == 0 else x_spec.shape[0]) // width)
    return _node(OpCode.TOPK, (x_spec,), _i32((rows, k, 2)), (mode, k, width))


def _sample(k: int, frac: int) -> Node:
    return _node(OpCode.SAMPLE, (_i32((1, k, 2)), _i32((4,)), _i32((1,))), _i32((1,)), (frac,))


def _stop(step: int, eos=()) -> Node:
    ins = (_i32((1,)), _i32((4,))) + ((_i32((1,)),) if step else ())
    return _node(OpCode.GEN_STOP, ins, _i32((1,)), (step, *eos))


# -------------------------------------------------------------------------------------------------- GEN_PARAMS


def test_gen_params_matches_on_random_and_edge_bytes(deploy):
    contract = deploy("GenOps")
    rng = np.random.default_rng(52)
    for n_max, k_max in ((1, 1), (64, 40), (255, MAX_K), (7, 3)):
        node = _node(OpCode.GEN_PARAMS, (TensorSpec((16,), DType.INT8, 0),), _i32((4,)), (n_max, k_max))
        cases = [np.zeros(16), np.full(16, -1), np.full(16, -128), np.full(16, 127),
                 rng.integers(-128, 128, size=16), rng.choice([-128, -1, 0, 1, 127], size=16)]
        for raw in cases:
            check_against_contract(contract, node, [raw.astype(np.int8)], range(4), skip=3)


# -------------------------------------------------------------------------------------------------------- TOPK


@pytest.mark.parametrize("dtype", [DType.INT8, DType.INT16, DType.INT32])
def test_topk_blocks_match_with_ties_extremes_and_padding(deploy, dtype):
    contract = deploy("GenOps")
    rng = np.random.default_rng(53 + int(dtype))
    pool = [dtype.qmin, dtype.qmin + 1, -1, 0, 1, 3, dtype.qmax - 1, dtype.qmax]
    for n, k, block in ((23, 5, 8), (7, 6, 4), (30, 3, 30), (12, 4, 1), (5, 9, 5)):
        x = rng.integers(dtype.qmin, dtype.qmax, size=n, endpoint=True)
        x = np.where(rng.random(n) < 0.5, rng.choice(pool, size=n), x).astype(dtype.numpy)
        node = _topk(TensorSpec((1, 1, n), dtype, 7), 0, k, block)
        check_against_contract(contract, node, [x.reshape(1, 1, n)], range(node.output.size), skip=1)


def test_topk_merge_matches_on_arbitrary_int32_rows(deploy):
    contract = deploy("GenOps")
    rng = np.random.default_rng(531)
    for m, kin, k, group in ((5, 4, 6, 2), (3, 3, 4, 3), (4, 2, 9, 4), (6, 1, 1, 5)):
        c = np.stack([_edgy(rng, m * kin), _edgy(rng, m * kin, -2, 20)], axis=-1).reshape(m, kin, 2)
        c[..., 1] = np.where(rng.random((m, kin)) < 0.3, -1, c[..., 1])  # padding entries with any value
        c[0, -1] = c[0, 0]                                                  # an exact duplicate
        node = _topk(_i32(c.shape), 1, k, group)
        check_against_contract(contract, node, [c], range(node.output.size), skip=2)


def test_topk_sorted_inputs_every_rank(deploy):
    """Ascending keys (each one enters the running top k: the step's costliest path), descending keys (none after
    the first k) and all-equal values (the index decides), at every rank of a row, in both modes."""
    contract = deploy("GenOps")
    n, k = 70, 24
    for x in (np.arange(n), np.arange(n)[::-1], np.full(n, 5)):
        x = (x * 1000 - 30000).astype(np.int32)
        node = _topk(_i32((n,)), 0, k, 35)        # every rank's value and index of the second row, both of the first
        check_against_contract(contract, node, [x], [*range(0, 2 * k, 2), *range(2 * k, node.output.size)])
        c = np.stack([x, np.arange(n)], axis=-1).astype(np.int32).reshape(7, 10, 2)
        merge = _topk(_i32(c.shape), 1, k, 4)
        check_against_contract(contract, merge, [c], [*range(0, 2 * k, 3), *range(2 * k, merge.output.size)])


def test_topk_tree_on_chain_at_vocab_scale(deploy):
    """Vocabulary 32,000, K = 40, block 1,280 then one group of 25 rows: spot elements of both levels, incl. each
    level's last entry (the costliest: the 40th largest)."""
    contract = deploy("GenOps")
    rng = np.random.default_rng(5300)
    x = rng.integers(-30000, 30000, size=(1, 1, 32000)).astype(np.int16)
    first = _topk(TensorSpec(x.shape, DType.INT16, 8), 0, 40, 1280)
    mid = get_op(OpCode.TOPK).forward([x], first)
    check_against_contract(contract, first, [x], [0, 1, 79, 24 * 80 + 79])
    second = _topk(_i32(mid.shape), 1, 40, 25)
    check_against_contract(contract, second, [mid], [0, 1, 2, 41, 78, 79])


# -------------------------------------------------------------------------------------------------------- PRNG


def test_prng_word_equals_the_evm_keccak(deploy):
    contract = deploy("GenOps")
    for seed in EDGES + [42, 123456789]:
        for step in (0, 1, 63, 255, 256, I32_MAX):
            assert contract.prngWord(seed, step) == prng_word(seed, step), (seed, step)


def test_prng_element_matches(deploy):
    contract = deploy("GenOps")
    rng = np.random.default_rng(54)
    for step in (0, 5, I32_MAX):
        node = _node(OpCode.PRNG, (_i32((4,)),), _i32((1,)), (step,))
        for _ in range(3):
            check_against_contract(contract, node, [_edgy(rng, 4)], [0], skip=1)


# ------------------------------------------------------------------------------------------------------ SAMPLE


def _sorted_row(rng: np.random.Generator, k: int, real: int) -> np.ndarray:
    values = np.sort(rng.integers(-5000, 5000, size=real))[::-1]
    ids = rng.permutation(1000)[:real]
    row = np.full((1, k, 2), (I32_MIN, -1), dtype=np.int64)
    row[0, :real, 0], row[0, :real, 1] = values, ids
    return row.astype(np.int32)


@pytest.mark.parametrize("frac", [0, 16, 32])
def test_sample_matches_on_honest_and_arbitrary_operands(deploy, frac):
    contract = deploy("GenOps")
    rng = np.random.default_rng(55 + frac)
    for k in (1, 3, 8):
        node = _sample(k, frac)
        for _ in range(6):
            cand = _sorted_row(rng, k, int(rng.integers(0, k + 1)))
            params4 = np.array([8, rng.choice([0, 1, 70, 100, 65535]), rng.integers(0, k + 2), 0], dtype=np.int32)
            rnd = np.array([rng.integers(0, 2**31)], dtype=np.int32)
            check_against_contract(contract, node, [cand, params4, rnd], [0], skip=1)
        for _ in range(6):
            cand = _edgy(rng, 2 * k).reshape(1, k, 2)
            params4 = _edgy(rng, 4, -3, 300)
            rnd = _edgy(rng, 1)
            check_against_contract(contract, node, [cand, params4, rnd], [0])


def test_sample_rnd_sweep_hits_every_candidate_like_python(deploy):
    """One candidate row, temperature 2.00, rnd over its whole range: every cut between candidates agrees."""
    contract = deploy("GenOps")
    node = _sample(6, 2)
    cand = np.array([[[40, 7], [39, 3], [30, 11], [22, 0], [1, 9], [-9, 5]]], dtype=np.int32)
    params4 = np.array([8, 200, 6, 0], dtype=np.int32)
    picks = set()
    for r in list(np.linspace(0, I32_MAX, 40).astype(np.int64)) + [I32_MIN, -1]:
        rnd = np.array([r], dtype=np.int64).astype(np.int32)
        check_elements_only(contract, node, [cand, params4, rnd], [0])
        picks.add(int(get_op(OpCode.SAMPLE).forward([cand, params4, rnd], node)[0]))
    assert picks >= {7, 3, 11, 0}


# ---------------------------------------------------------------------------------------------------- GEN_STOP


def test_gen_stop_matches(deploy):
    contract = deploy("GenOps")
    rng = np.random.default_rng(56)
    for step, eos in ((0, ()), (0, (2,)), (1, (2, 50256)), (3, (I32_MIN, I32_MAX, -1, 0)), (I32_MAX, ())):
        node = _stop(step, eos)
        for tok, max_new, prev in ((5, 8, 4), (5, 8, 2), (5, 8, -1), (5, 3, 50256), (-1, 0, 0), (7, I32_MAX, I32_MIN)):
            inputs = [np.array([tok], np.int32), np.array([max_new, 0, 0, 0], np.int32)]
            if step:
                inputs.append(np.array([prev], np.int32))
            check_against_contract(contract, node, inputs, [0], skip=1)
        inputs = [_edgy(rng, 1), _edgy(rng, 4)] + ([_edgy(rng, 1)] if step else [])
        check_against_contract(contract, node, inputs, [0])


# ----------------------------------------------------------------------------------------------- malformed nodes


def _reverts(chain, contract, node: Node, signature: str, types, values) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error(signature, types, values)


def test_malformed_nodes_revert_by_name(deploy, chain):
    contract = deploy("GenOps")
    raw = TensorSpec((16,), DType.INT8, 0)
    for n_max, k_max in ((0, 4), (256, 4), (8, 0), (8, MAX_K + 1)):
        _reverts(chain, contract, _node(OpCode.GEN_PARAMS, (raw,), _i32((4,)), (n_max, k_max)),
                 "ModelLimitsOutOfRange(int256,int256)", ["int256", "int256"], [n_max, k_max])
    _reverts(chain, contract, _node(OpCode.TOPK, (_i32((8,)),), _i32((1, 1, 2)), (2, 1, 8)),
             "TopKModeOutOfRange(int256)", ["int256"], [2])
    for k in (0, MAX_K + 1):
        _reverts(chain, contract, _node(OpCode.TOPK, (_i32((8,)),), _i32((1, max(k, 1), 2)), (0, k, 8)),
                 "TopKSizeOutOfRange(int256,int256)", ["int256", "int256"], [k, MAX_K])
    _reverts(chain, contract, _node(OpCode.TOPK, (_i32((8,)),), _i32((1, 1, 2)), (0, 1, 0)),
             "TopKWidthOutOfRange(int256)", ["int256"], [0])
    types = ["uint256"] * 4
    for mode, k, width, kin in ((0, 1, 3971, 1), (0, 256, 797, 1), (1, 40, 1186, 1), (1, 40, 30, 40)):
        x = _i32((2 * width,)) if mode == 0 else _i32((width, kin, 2))
        gas = topk_step_gas(mode, k, width * kin)
        assert gas > TOPK_STEP_GAS_BUDGET
        _reverts(chain, contract, _topk(x, mode, k, width), "TopKScanTooLarge(uint256,uint256,uint256,uint256)",
                 types, [width * kin, k, gas, TOPK_STEP_GAS_BUDGET])
    for frac in (-1, 33):
        _reverts(chain, contract, _sample(4, frac), "FracLogitsOutOfRange(int256)", ["int256"], [frac])
    for step in (-1, 2**31):
        _reverts(chain, contract, _node(OpCode.PRNG, (_i32((4,)),), _i32((1,)), (step,)),
                 "StepOutOfRange(int256)", ["int256"], [step])
        stop = _node(OpCode.GEN_STOP, (_i32((1,)), _i32((4,)), _i32((1,))), _i32((1,)), (step,))
        _reverts(chain, contract, stop, "StepOutOfRange(int256)", ["int256"], [step])
    _reverts(chain, contract, _stop(1, (1, 2, 3, 4, 5)), "EosCountOutOfRange(uint256)", ["uint256"], [5])
    _reverts(chain, contract, _stop(1, (2**31,)), "EosIdOutOfRange(int256)", ["int256"], [2**31])
    _reverts(chain, contract, _node(OpCode.DETOK_LEN, (_i32((4,)), _i32((3, 2))), _i32((4,))),
             "UnsupportedOp(uint256)", ["uint256"], [int(OpCode.DETOK_LEN)])
    # An element past the output.
    node = _stop(0)
    nd = descriptor_tuple(encode_node(node, 0))
    ops = [operand_tuple([5], 4), operand_tuple([3], 4)]
    assert contract.element(nd, ops, 0) == 5
    assert revert_data(chain, contract.element, nd, ops, 1) == custom_error("BadNode(string)", ["string"], ["element"])
