"""Shared by the NFC op tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph of
the NFC chain (issue 14) as the tokenizer graph runs it: the request input is the text's chars (UTF8_CHARS'
output, holes included); ADDED_TOKENS (raw-text matches), CHAR_MAP with the NFD table, NFC_COMPOSE, then
NFC_COMPACT in both modes (the normalized chars and the moved matches). Weights: the added-token rows, the NFD
stage tables and the hashed composition pairs (offchain/models/nfc_tables.py)."""

from __future__ import annotations

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


def nfc_graph(text: str = TEXT, n: int = 40) -> tuple[Model, np.ndarray]:
    """(model, chars [n]): chars = the text's code points with a hole (-1) after every fourth char, -1 padding."""
    cps: list[int] = []
    for k, ch in enumerate(text):
        cps.append(ord(ch))
        if k % 4 == 3:
            cps.append(-1)
    chars = np.array((cps + [-1] * n)[:n], dtype=np.int32)
    added = np.array([[900] + [ord(c) for c in TOKEN]], dtype=np.int32)
    s1, s2, shift = nfc_tables.nfd_table()
    comps, window, salt = nfc_tables.comp_table()
    c = 5
    sp = lambda shape, name: TensorSpec(tuple(shape), DType.INT32, 0, c, name)  # noqa: E731
    x_spec = sp((n,), "chars")
    w_specs = [sp(added.shape, "added_rows"), sp(s1.shape, "nfd_stage1"), sp(s2.shape, "nfd_stage2"),
               sp(comps.shape, "nfc_pairs")]
    x = TensorRef(TensorKind.INPUT, 0)
    w = [TensorRef(TensorKind.WEIGHT, k) for k in range(4)]
    a = lambda k: TensorRef(TensorKind.ACTIVATION, k)  # noqa: E731
    m_spec, nfd_spec, comp_spec = sp((n,), "added"), sp((n, MAX_K), "nfd"), sp((n, MAX_K), "nfc")
    nodes = [Node(int(OpCode.ADDED_TOKENS), (x, w[0]), (x_spec, w_specs[0]), m_spec, (), "added"),
             Node(int(OpCode.CHAR_MAP), (x, w[1], w[2]), (x_spec, w_specs[1], w_specs[2]), nfd_spec, (shift,), "nfd"),
             Node(int(OpCode.NFC_COMPOSE), (a(1), x, a(0), w[3]), (nfd_spec, x_spec, m_spec, w_specs[3]), comp_spec,
                  (window, salt, MAX_RUN_TRIES), "nfc_compose"),
             Node(int(OpCode.NFC_COMPACT), (a(2), a(0)), (comp_spec, m_spec), sp((n,), "nfc_chars"), (0,), "nfc_chars"),
             Node(int(OpCode.NFC_COMPACT), (a(2), a(0)), (comp_spec, m_spec), sp((n,), "nfc_added"), (1,), "nfc_added")]
    graph = Graph([x_spec], w_specs, nodes)
    graph.validate()
    model = Model(graph, [added, s1, s2, comps], {"name": "nfc-chain"})
    model.validate()
    return model, chars
