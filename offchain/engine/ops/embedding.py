"""EMBEDDING: table lookup by token id.

inputs: ids [...] (INT32, frac 0; ids must lie in [0, V): when the ids are
the request input, that is the model's input domain, refused by the oracle at
request time and by the executor before anything runs, see engine/domain.py), table [V, D] (frac ft).  params: none.
out [..., D]:  out[..., d] = rescale(table[ids[...], d], ft - fo)
Data-dependent: the table range one output element reads is found from its id,
so ``operand_ranges`` needs the inputs (on-chain: the id is proved first).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, InputRangeError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int


def check_ids(ids: np.ndarray, vocab: int, what: str) -> None:
    """Raise InputRangeError unless every id lies in [0, vocab)."""
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise InputRangeError(f"{what}: token id {bad} outside vocabulary [0, {vocab})")


class Embedding(Op):
    """Row gather from a [V, D] table."""

    code = OpCode.EMBEDDING
    name = "EMBEDDING"
    data_dependent = True

    def _shift(self, node: Node) -> int:
        return node.in_specs[1].frac - node.output.frac

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        ids, table = node.in_specs
        if ids.dtype != DType.INT32 or ids.frac != 0:
            raise DtypeMismatchError(f"ids must be INT32 with frac 0, got {ids.dtype.name}/f{ids.frac}")
        if len(table.shape) != 2:
            raise ShapeMismatchError(f"table {table.shape} must be rank 2")
        expect_shape("output", node.output.shape, ids.shape + table.shape[1:])
        check_shift(self._shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        ids, table = inputs
        check_ids(ids, table.shape[0], f"embedding {node.source}")
        return rescale(table[ids.astype(np.int64)], self._shift(node), node.output.dtype)

    def input_domain(self, node: Node, slot: int) -> tuple[int, int] | None:
        return (0, node.in_specs[1].shape[0] - 1) if slot == 0 else None

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("EMBEDDING operand ranges need the ids (inputs)")
        d = node.in_specs[1].shape[1]
        pos, col = divmod(out_index, d)
        token = int(inputs[0].reshape(-1)[pos])
        check_ids(np.array([token]), node.in_specs[1].shape[0], f"embedding {node.source}")
        return [(0, pos, 1), (1, token * d + col, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return rescale_int(int(operands[1][0]), self._shift(node), node.output.dtype)
