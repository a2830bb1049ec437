"""Shared by the NFC-runs op tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph
of the full-run NFC chain (issue 14) as the tokenizer graph runs it: the request input is the text's chars
(UTF8_CHARS' output, holes included); ADDED_TOKENS, CHAR_MAP with the NFD table, NFC_REORDER, NFC_COMPOSE (run
indices < C = 4), two NFC_STAGE nodes (indices 4, 5 and 6, 7), NFC_COMPACT. Weights: the added-token rows, the
NFD stage tables and the hashed composition pairs (offchain/models/nfc_tables.py)."""

from __future__ import annotations

import numpy as np

from bench._nfc_graph import TOKEN, act, chain_head, spec
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.ops.nfc import MAX_K, MAX_RUN_TRIES
from offchain.engine.ops.nfc_runs import MAX_STAGE_TRIES

#: a + 4 lower-class marks + acute (composed by the first stage: run index 4); e + six of them, an acute and a
#: dot below (sorted in front of the acute, blocked by the marks of its class; the acute composes at index 7, in
#: the second stage); an added token whose '>' must not compose with the U+0338 after it.
TEXT = "a\u0316\u0316\u0316\u0316\u0301 e\u0316\u0316\u0316\u0316\u0316\u0316\u0301\u0323<|x|>\u0338"
STAGES = 2

__all__ = ["STAGES", "TEXT", "TOKEN", "nfc_run_graph"]  # TOKEN: the added token of the shared chain head


def nfc_run_graph(text: str = TEXT, n: int = 40) -> tuple[Model, np.ndarray]:
    """(model, chars [n]): chars = the text's code points with a hole (-1) after every fourth char, -1 padding."""
    h = chain_head(text, n)
    x, pairs, sp, a = TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 3), spec, act
    x_spec, m_spec, nk = h.x_spec, h.m_spec, (n, MAX_K)
    nodes = h.nodes + [
        Node(int(OpCode.NFC_REORDER), (a(1), x, a(0)), (sp(nk, "nfd"), x_spec, m_spec), sp(nk, "sorted"), (),
             "nfc_reorder"),
        Node(int(OpCode.NFC_COMPOSE), (a(2), x, a(0), pairs), (sp(nk, "sorted"), x_spec, m_spec, h.w_specs[3]),
             sp(nk, "nfc"), (h.window, h.salt, MAX_RUN_TRIES), "nfc_compose")]
    for s in range(STAGES):
        prev = sp(nk, "nfc" if s == 0 else f"nfc_{s - 1}")
        nodes.append(Node(int(OpCode.NFC_STAGE), (a(2), x, a(0), pairs, a(3 + s)),
                          (sp(nk, "sorted"), x_spec, m_spec, h.w_specs[3], prev), sp(nk, f"nfc_{s}"),
                          (h.window, h.salt, MAX_RUN_TRIES + s * MAX_STAGE_TRIES, MAX_STAGE_TRIES), f"nfc_stage_{s}"))
    nodes.append(Node(int(OpCode.NFC_COMPACT), (a(3 + STAGES), a(0)), (sp(nk, f"nfc_{STAGES - 1}"), m_spec),
                      sp((n,), "nfc_chars"), (0,), "nfc_chars"))
    graph = Graph([x_spec], h.w_specs, nodes)
    graph.validate()
    model = Model(graph, h.weights, {"name": "nfc-run-chain"})
    model.validate()
    return model, h.chars
