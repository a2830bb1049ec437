"""DetokOps.sol (the detokenizer's one-step checks) equals offchain/engine/ops/detok.py range for range and
element for element: random ids, lengths and tables with int32 edge values (ids outside the table, lengths
outside [0, L], marked and unmarked spaces, bytes >= 0x80 as int8), every strip mode, the committed tokenizers'
real tables, and malformed nodes reverting with the named error."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode
from offchain.models.bpe_detok import detok_model

from ._harness import check_against_contract, custom_error, revert_data

EDGES = [-(2**31), -1, 0, 1, 2**31 - 1]


def _node(op: OpCode, in_specs, out: TensorSpec, params=()) -> Node:
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(params))


def _specs(t: int, v: int, width: int):
    return (TensorSpec((t,), DType.INT32, 0), TensorSpec((t,), DType.INT32, 0), TensorSpec((v, width), DType.INT32, 0))


def _random_case(rng: np.random.Generator, t: int, v: int, width: int):
    ids = rng.integers(-2, v + 2, size=t)
    ids = np.where(rng.random(t) < 0.15, rng.choice(EDGES, size=t), ids).astype(np.int32)
    lens = rng.integers(-1, width + 1, size=t)
    lens = np.where(rng.random(t) < 0.1, rng.choice(EDGES, size=t), lens).astype(np.int32)
    table = rng.choice([0x20, 0x120, 0x41, 0xC3, 0xA9, 0xFF, 0x1E2, 0, -1, 2**31 - 1, -(2**31)], size=(v, width))
    table[:, 0] = rng.integers(-1, width + 1, size=v)
    return ids, lens, table.astype(np.int32)


@pytest.mark.parametrize("strip", [0, 1, 2])
def test_detok_bytes_matches_on_random_and_edge_operands(deploy, strip):
    rng = np.random.default_rng(46 + strip)
    contract = deploy("DetokOps")
    for t, v, width, b in ((6, 4, 4, 20), (9, 3, 5, 33)):
        ids, lens, table = _random_case(rng, t, v, width)
        ids_s, lens_s, table_s = _specs(t, v, width)
        text = _node(OpCode.DETOK_BYTES, (ids_s, lens_s, table_s), TensorSpec((b,), DType.INT8, 0), (strip,))
        check_against_contract(contract, text, [ids, lens, table], list(range(b)))
        length = _node(OpCode.DETOK_LEN, (ids_s, table_s), lens_s)
        check_against_contract(contract, length, [ids, table], list(range(t)))


def test_strip_edges(deploy):
    """A first token with only marked entries, a first token whose id is outside the table, no first token at all,
    a text that is all padding, strip 1 on a marked and an unmarked leading space, bytes 0x80..0xFF as int8."""
    contract = deploy("DetokOps")
    table = np.array([[2, 0x120, 0x120, 0], [3, 0x20, 0xC3, 0xA9], [1, 0xFF, 0, 0]], dtype=np.int32)
    ids_s, lens_s, table_s = _specs(4, 3, 4)
    cases = [([0, 1, 2, 1], [2, 3, 1, 3]), ([7, 0, 1, 2], [2, 2, 3, 1]), ([0, 0, 0, 0], [0, 0, 0, 0]),
             ([1, 0, 2, 2], [3, 2, 1, -5]), ([-(2**31), 2, 1, 0], [2**31 - 1, 1, 3, 2])]
    for strip in (0, 1, 2):
        text = _node(OpCode.DETOK_BYTES, (ids_s, lens_s, table_s), TensorSpec((2, 6), DType.INT8, 0), (strip,))
        for ids, lens in cases:
            check_against_contract(contract, text, [np.array(ids, np.int32), np.array(lens, np.int32), table],
                                   list(range(12)))


@pytest.mark.parametrize("path", ["offchain/models/llm_small/tokenizer.json", "offchain/models/llm_tiny_sp/tokenizer.json"])
def test_real_tables_match(deploy, path):
    """The committed tokenizers' tables on ids of text, special tokens, byte tokens and ids outside the vocabulary."""
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(path)
    model = detok_model(path, 24, 96)
    ids = hf.encode(" Hello wörld, 中文 🙂 <0x20>").ids + [0, 1, -1, 5000, 2**31 - 1]
    x = np.array((ids + [0] * 24)[:24], dtype=np.int32)
    trace = run(model, [x])
    contract = deploy("DetokOps")
    for index, node in enumerate(model.graph.nodes):
        check_against_contract(contract, node, trace.operands(model, index), list(range(node.output.size)))


def test_malformed_nodes_revert_by_name(deploy, chain):
    contract = deploy("DetokOps")
    ids_s, lens_s, table_s = _specs(4, 3, 4)
    for strip in (3, -1):
        text = _node(OpCode.DETOK_BYTES, (ids_s, lens_s, table_s), TensorSpec((8,), DType.INT8, 0), (strip,))
        nd = descriptor_tuple(encode_node(text, 0))
        assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error(
            "StripModeOutOfRange(int256)", ["int256"], [strip])
    flat = _node(OpCode.DETOK_LEN, (ids_s, TensorSpec((3, 1), DType.INT32, 0)), lens_s)
    nd = descriptor_tuple(encode_node(flat, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], ["table shape"])
    short = _node(OpCode.DETOK_BYTES, (ids_s, TensorSpec((3,), DType.INT32, 0), table_s), TensorSpec((8,), DType.INT8, 0),
                  (0,))
    nd = descriptor_tuple(encode_node(short, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], ["lens"])
    other = _node(OpCode.WORDPIECE, (ids_s, lens_s), lens_s, (0, 0, 0, 0, 1))
    nd = descriptor_tuple(encode_node(other, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                          [int(OpCode.WORDPIECE)])
    # element past the output
    text = _node(OpCode.DETOK_BYTES, (ids_s, lens_s, table_s), TensorSpec((8,), DType.INT8, 0), (0,))
    nd = descriptor_tuple(encode_node(text, 0))
    ops = [operand_tuple([1, 1, 1, 1], 4), operand_tuple([0], 4), operand_tuple([0x41], 4)]
    assert contract.element(nd, ops, 7) == 0x41
    assert revert_data(chain, contract.element, nd, ops, 8) == custom_error("BadNode(string)", ["string"], ["element"])
