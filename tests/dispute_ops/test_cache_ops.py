"""CacheOps.sol (the KV-cache ops' one-step checks) equals offchain/engine/ops/cache.py range for range and element
for element: CAT_MATMUL on both axes for every dtype pair MATMUL accepts, random and dtype-extreme values, blocks of
different sizes, operands that start inside their chunk (skip); ATTN_BIAS with leading / inner / no / only pads,
int32-extreme pad ids and ids, every output dtype's extreme masked values, the largest q0; ALIGN_END the same; and
malformed nodes revert with the named error."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import OPERATOR_CONTRACTS, descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode

from ._harness import check_against_contract, custom_error, revert_data

EDGES = [-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 1]


def _node(op: OpCode, in_specs, out: TensorSpec, params=()) -> Node:
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(params))


def _spec(shape, dtype=DType.INT32, frac=0) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, frac)


def _values(rng, spec: TensorSpec, extreme: bool) -> np.ndarray:
    dt = spec.dtype
    if extreme:
        v = rng.choice([dt.qmin, dt.qmax, dt.qmin + 1, -1, 0, 1], size=spec.shape)
    else:
        v = rng.integers(dt.qmin, dt.qmax + 1, size=spec.shape)
    return v.astype(dt.numpy)


def _cat(lead, m, k_or_n, sizes, axis, da, db, dout, fa, fb, fo):
    lead = tuple(lead)
    if axis == 0:
        a = _spec(lead + (m, k_or_n), da, fa)
        blocks = [_spec(lead + (s, k_or_n), db, fb) for s in sizes]
        out = _spec(lead + (m, sum(sizes)), dout, fo)
    else:
        a = _spec(lead + (m, sum(sizes)), da, fa)
        blocks = [_spec(lead + (k_or_n, s), db, fb) for s in sizes]
        out = _spec(lead + (m, k_or_n), dout, fo)
    return _node(OpCode.CAT_MATMUL, [a] + blocks, out, (axis,))


def test_every_cache_op_is_served_by_cache_ops():
    for op in (OpCode.CAT_MATMUL, OpCode.ATTN_BIAS, OpCode.ALIGN_END):
        assert OPERATOR_CONTRACTS[op] == "CacheOps"


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("da,db,dout,fa,fb,fo", [
    (DType.INT8, DType.INT8, DType.INT8, 0, 0, 0),         # saturates int8 at once
    (DType.INT16, DType.INT8, DType.INT16, 8, 4, 6),       # rounding right shift 6
    (DType.INT16, DType.INT16, DType.INT32, 3, 2, 9),      # left shift 4
    (DType.INT32, DType.INT8, DType.INT32, 12, 7, 1),      # shift 18
    (DType.INT32, DType.INT16, DType.INT16, 0, 0, 31),     # left shift 31: everything but 0 saturates
])
def test_cat_matmul_matches(deploy, axis, da, db, dout, fa, fb, fo):
    contract = deploy("CacheOps")
    rng = np.random.default_rng(49 + axis)
    node = _cat((2,), 2, 3, [2, 1, 3], axis, da, db, dout, fa, fb, fo)
    for extreme, skip in ((False, 0), (True, 0), (True, 3)):
        inputs = [_values(rng, s, extreme) for s in node.in_specs]
        check_against_contract(contract, node, inputs, list(range(node.output.size)), skip=skip)


def test_cat_matmul_single_column_blocks_and_one_block(deploy):
    """axis 1 with many one-column blocks (a decode step's value cache) and a single block (plain MATMUL)."""
    contract = deploy("CacheOps")
    rng = np.random.default_rng(7)
    for node in (_cat((3,), 1, 4, [5] + [1] * 9, 1, DType.INT16, DType.INT16, DType.INT32, 8, 8, 8),
                 _cat((3,), 1, 4, [5] + [1] * 9, 0, DType.INT16, DType.INT16, DType.INT32, 8, 8, 8),
                 _cat((), 3, 5, [4], 1, DType.INT8, DType.INT8, DType.INT32, 0, 0, 0)):
        inputs = [_values(rng, s, True) for s in node.in_specs]
        check_against_contract(contract, node, inputs, list(range(node.output.size)), skip=1)


def _bias(length, pad, neg, q0, nq, g, nk, dtype=DType.INT16, frac=1):
    return _node(OpCode.ATTN_BIAS, [_spec((1, length))], _spec((g * nq, nk), dtype, frac), (pad, neg, q0, nq, g))


def test_attn_bias_matches(deploy):
    contract = deploy("CacheOps")
    rng = np.random.default_rng(50)
    t = 6
    for pad in (0, -1, 2**31 - 1, -(2**31)):
        id_sets = [
            [pad, pad, 5, 7, pad, 9],              # two leading pads, an inner pad is a token
            [pad] * t,                             # only pads
            [3, pad, pad, 4, 5, pad],              # no leading pad
            [pad] * (t - 1) + [EDGES[0] if pad != EDGES[0] else EDGES[-1]],
            rng.choice(EDGES + [pad], size=t).tolist(),
        ]
        # every id set meets one output dtype / mask value and one decode shape; over the id sets and pads each
        # dtype and decode shape meets every kind of id set (the rotation keeps the test to ~40 contract checks)
        dtypes = ((DType.INT16, -20000), (DType.INT8, -128), (DType.INT32, 2**31 - 1), (DType.INT8, 0))
        decodes = ((t, t + 1), (t + 2, t + 3), (1, 3), (2**31 - 1, 8))  # decode; nk < L; huge q0
        for k, ids in enumerate(id_sets):
            x = np.array([ids], dtype=np.int32)
            dtype, neg = dtypes[(k + pad) % 4]
            prefill = _bias(t, pad, neg, 0, t, 2, t, dtype)
            check_against_contract(contract, prefill, [x], list(range(0, prefill.output.size, 5)), skip=2)
            p, nk = decodes[(k + 2 * pad + 1) % 4]
            node = _bias(t, pad, -30000, p, 1, 3, nk)
            check_against_contract(contract, node, [x], list(range(pad & 1, node.output.size, 2)))


def test_align_end_matches(deploy):
    contract = deploy("CacheOps")
    rng = np.random.default_rng(51)
    for pad in (0, 2, -1, 2**31 - 1, -(2**31)):
        for ids in ([7, 8, pad, pad], [pad] * 5, [5, 6, 7], [pad, 5, pad, 6, pad], [pad],
                    rng.choice(EDGES + [pad, pad], size=9).tolist()):
            node = _node(OpCode.ALIGN_END, [_spec((1, len(ids)))], _spec((1, len(ids))), (pad,))
            check_against_contract(contract, node, [np.array([ids], dtype=np.int32)], list(range(len(ids))), skip=3)


def _reverts(chain, call, args, signature, types, values):
    assert revert_data(chain, call, *args) == custom_error(signature, types, values)


def test_malformed_nodes_revert_by_name(deploy, chain):
    contract = deploy("CacheOps")
    i16 = DType.INT16
    a, b = _spec((2, 4), i16), _spec((3, 4), i16)
    for axis in (2, -1):
        nd = descriptor_tuple(encode_node(_node(OpCode.CAT_MATMUL, [a, b, b], _spec((2, 6)), (axis,)), 0))
        _reverts(chain, contract.rangeCount, (nd, 0), "CatAxisOutOfRange(int256)", ["int256"], [axis])
    nd = descriptor_tuple(encode_node(_node(OpCode.CAT_MATMUL, [a, b, b], _spec((2, 5)), (0,)), 0))
    _reverts(chain, contract.range, (nd, 0, 1, []), "CatBlocksMismatch(uint256,uint256)", ["uint256"] * 2, [6, 5])
    nd = descriptor_tuple(encode_node(_node(OpCode.CAT_MATMUL, [a, _spec((3, 2), i16), _spec((3, 3), i16)],
                                            _spec((2, 3)), (1,)), 0))
    _reverts(chain, contract.rangeCount, (nd, 0), "CatBlocksMismatch(uint256,uint256)", ["uint256"] * 2, [5, 4])
    nd = descriptor_tuple(encode_node(_node(OpCode.CAT_MATMUL, [a], _spec((2, 6)), (0,)), 0))
    _reverts(chain, contract.rangeCount, (nd, 0), "BadNode(string)", ["string"], ["input count"])
    # a forged operand list whose runs do not cover a's row: element refuses it
    nd = descriptor_tuple(encode_node(_node(OpCode.CAT_MATMUL, [a, _spec((3, 2), i16), _spec((3, 2), i16)],
                                            _spec((2, 3)), (1,)), 0))
    ops = [operand_tuple([1, 2, 3, 4], 2), operand_tuple([1, 1], 2), operand_tuple([1], 2)]
    _reverts(chain, contract.element, (nd, ops, 0), "CatBlocksMismatch(uint256,uint256)", ["uint256"] * 2, [3, 4])

    ids = _spec((1, 4))
    for dtype, neg in ((DType.INT8, -129), (DType.INT16, 32768), (DType.INT32, -(2**31) - 1)):
        nd = descriptor_tuple(encode_node(_bias(4, 0, neg, 0, 4, 1, 4, dtype), 0))
        _reverts(chain, contract.rangeCount, (nd, 0), "BiasValueOutOfRange(int256,uint256)", ["int256", "uint256"],
                 [neg, int(dtype)])
    for q0, nq, g in ((-1, 4, 1), (2**31, 4, 1), (0, 0, 1), (0, 4, 0)):
        node = _node(OpCode.ATTN_BIAS, [ids], _spec((4, 4), i16), (0, -1, q0, nq, g))
        nd = descriptor_tuple(encode_node(node, 0))
        _reverts(chain, contract.element, (nd, [operand_tuple([0] * 4, 4)], 0),
                 "BiasQueryOutOfRange(int256,int256,int256)", ["int256"] * 3, [q0, nq, g])
    for pad in (2**31, -(2**31) - 1):
        for node in (_bias(4, pad, -1, 0, 4, 1, 4), _node(OpCode.ALIGN_END, [ids], ids, (pad,))):
            nd = descriptor_tuple(encode_node(node, 0))
            _reverts(chain, contract.rangeCount, (nd, 0), "PadIdOutOfRange(int256)", ["int256"], [pad])
    # ids that are not int32
    node = _node(OpCode.ALIGN_END, [_spec((1, 4), i16)], ids, (0,))
    nd = descriptor_tuple(encode_node(node, 0))
    _reverts(chain, contract.element, (nd, [operand_tuple([0] * 4, 2)], 0), "BadWidth(uint256)", ["uint256"], [2])
    other = _node(OpCode.MATMUL, [a, b], _spec((2, 3)))
    nd = descriptor_tuple(encode_node(other, 0))
    _reverts(chain, contract.rangeCount, (nd, 0), "UnsupportedOp(uint256)", ["uint256"], [int(OpCode.MATMUL)])
