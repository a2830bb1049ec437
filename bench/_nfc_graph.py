"""Shared by the NFC op tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph of
the NFC chain (issue 14) as the tokenizer graph runs it: the request input is the text's chars (UTF8_CHARS'
output, holes included); ADDED_TOKENS (raw-text matches), CHAR_MAP with the NFD table, NFC_COMPOSE, then
NFC_COMPACT in both modes (the normalized chars and the moved matches). Weights: the added-token rows, the NFD
stage tables and the hashed composition pairs (offchain/models/nfc_tables.py)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.ops.nfc import MAX_K, MAX_RUN_TRIES
from offchain.models import nfc_tables

#: Marks to reorder and compose, Hangul jamo, a singleton, an exclusion, and an added token whose '>' must not
#: compose with the U+0338 after it.
TEXT = "e\u0301\u0323 q\u0307\u0323 \u1100\u1161\u11a8 \u212b<|x|>\u0338 \u0958"
TOKEN = "<|x|>"


class Head(NamedTuple):
    """The NFC chains' common start (shared with bench/_nfc_run_graph.py)."""

    chars: np.ndarray             # the request input [n]
    weights: list[np.ndarray]     # added-token rows, NFD stage 1, NFD stage 2, composition pairs
    w_specs: list[TensorSpec]
    x_spec: TensorSpec            # chars [n]
    m_spec: TensorSpec            # ADDED_TOKENS' output [n] (activation 0)
    nodes: list[Node]             # ADDED_TOKENS (activation 0), CHAR_MAP -> nfd [n, MAX_K] (activation 1)
    window: int
    salt: int


def spec(shape, name: str) -> TensorSpec:
    """An int32 tensor spec of the chains (frac 0, channel 5)."""
    return TensorSpec(tuple(shape), DType.INT32, 0, 5, name)


def act(k: int) -> TensorRef:
    return TensorRef(TensorKind.ACTIVATION, k)


def chain_head(text: str, n: int) -> Head:
    """chars = the text's code points with a hole (-1) after every fourth char, -1 padding; ADDED_TOKENS with
    TOKEN's row, CHAR_MAP with the NFD table; the weights and the hashed composition table's (window, salt)."""
    cps: list[int] = []
    for k, ch in enumerate(text):
        cps.append(ord(ch))
        if k % 4 == 3:
            cps.append(-1)
    chars = np.array((cps + [-1] * n)[:n], dtype=np.int32)
    added = np.array([[900] + [ord(c) for c in TOKEN]], dtype=np.int32)
    s1, s2, shift = nfc_tables.nfd_table()
    comps, window, salt = nfc_tables.comp_table()
    x_spec = spec((n,), "chars")
    w_specs = [spec(added.shape, "added_rows"), spec(s1.shape, "nfd_stage1"), spec(s2.shape, "nfd_stage2"),
               spec(comps.shape, "nfc_pairs")]
    x = TensorRef(TensorKind.INPUT, 0)
    w = [TensorRef(TensorKind.WEIGHT, k) for k in range(4)]
    m_spec = spec((n,), "added")
    nodes = [Node(int(OpCode.ADDED_TOKENS), (x, w[0]), (x_spec, w_specs[0]), m_spec, (), "added"),
             Node(int(OpCode.CHAR_MAP), (x, w[1], w[2]), (x_spec, w_specs[1], w_specs[2]), spec((n, MAX_K), "nfd"),
                  (shift,), "nfd")]
    return Head(chars, [added, s1, s2, comps], w_specs, x_spec, m_spec, nodes, window, salt)


def nfc_graph(text: str = TEXT, n: int = 40) -> tuple[Model, np.ndarray]:
    """(model, chars [n]): chars = the text's code points with a hole (-1) after every fourth char, -1 padding."""
    h = chain_head(text, n)
    x, pairs, sp, a = TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 3), spec, act
    x_spec, m_spec, nfd_spec, comp_spec = h.x_spec, h.m_spec, sp((n, MAX_K), "nfd"), sp((n, MAX_K), "nfc")
    nodes = h.nodes + [
        Node(int(OpCode.NFC_COMPOSE), (a(1), x, a(0), pairs), (nfd_spec, x_spec, m_spec, h.w_specs[3]), comp_spec,
             (h.window, h.salt, MAX_RUN_TRIES), "nfc_compose"),
        Node(int(OpCode.NFC_COMPACT), (a(2), a(0)), (comp_spec, m_spec), sp((n,), "nfc_chars"), (0,), "nfc_chars"),
        Node(int(OpCode.NFC_COMPACT), (a(2), a(0)), (comp_spec, m_spec), sp((n,), "nfc_added"), (1,), "nfc_added")]
    graph = Graph([x_spec], h.w_specs, nodes)
    graph.validate()
    model = Model(graph, h.weights, {"name": "nfc-chain"})
    model.validate()
    return model, h.chars
