"""Shared by the added-token op tests (disputes) and the game fuzzer: a small hand-built graph of the added-token
ops (issue 14): the request input is the text's chars (UTF8_CHARS' output, holes included), then a chain of two
ADDED_MATCH nodes (the longer token lengths, then the shorter ones reading the first's output as prev) and
ADDED_RESOLVE; the hashed table (``bpe_merges.added_match_table``) is the one weight."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.models.bpe_merges import added_match_table

#: Added tokens that overlap and prefix each other (ids 500 + k), and a text using them, their prefixes and holes.
TOKENS = ("<|eot|>", "<|eot_id|>", "<|x|>", "id|>", "|>", "é")
TEXT = "a<|eot_id|><|eot|>id|><|x<|x|>é|>b"


def added_graph(text: str = TEXT, tokens=TOKENS, n: int = 48) -> tuple[Model, np.ndarray]:
    """(model, chars [n]): chars = the text's code points with a hole (-1) after every fifth char and -1 padding;
    nodes ADDED_MATCH (longest half of the lengths), ADDED_MATCH (the rest, prev = the first), ADDED_RESOLVE."""
    width = max(len(t) for t in tokens)
    rows = np.full((len(tokens), width + 1), -1, dtype=np.int32)
    for k, t in enumerate(tokens):
        rows[k, 0] = 500 + k
        rows[k, 1:1 + len(t)] = [ord(c) for c in t]
    table, window, salt, lengths = added_match_table(rows)
    cps: list[int] = []
    for k, c in enumerate(text):
        cps.append(ord(c))
        if k % 5 == 4:
            cps.append(-1)
    chars = np.array((cps + [-1] * n)[:n], dtype=np.int32)
    c = 5
    sp = lambda shape, name: TensorSpec(tuple(shape), DType.INT32, 0, c, name)  # noqa: E731
    x_spec, t_spec = sp((n,), "chars"), sp(table.shape, "added_hashed")
    cand_spec = sp((n, 2), "cand")
    x, w = TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 0)
    half = (len(lengths) + 1) // 2
    nodes = [Node(int(OpCode.ADDED_MATCH), (x, w), (x_spec, t_spec), sp((n, 2), "cand_0"),
                  (window, salt, *lengths[:half]), "added_match_0"),
             Node(int(OpCode.ADDED_MATCH), (x, w, TensorRef(TensorKind.ACTIVATION, 0)), (x_spec, t_spec, cand_spec),
                  sp((n, 2), "cand_1"), (window, salt, *lengths[half:]), "added_match_1"),
             Node(int(OpCode.ADDED_RESOLVE), (TensorRef(TensorKind.ACTIVATION, 1), x), (cand_spec, x_spec),
                  sp((n,), "added"), (), "added_resolve")]
    graph = Graph([x_spec], [t_spec], nodes)
    graph.validate()
    model = Model(graph, [table], {"name": "added-tokens"})
    model.validate()
    return model, chars
