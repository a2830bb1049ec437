"""Shared test harness: build one-node cases and compare forward with element."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode, get_op


def spec(shape: Sequence[int], dtype: DType, frac: int) -> TensorSpec:
    return TensorSpec(tuple(int(d) for d in shape), dtype, int(frac))


def make_node(op: int, in_specs: Sequence[TensorSpec], out: TensorSpec, params: Sequence[int] = ()) -> Node:
    """A node whose operands are graph inputs 0..n-1 (enough for single-op checks)."""
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(int(p) for p in params))


def random_tensor(rng: np.random.Generator, s: TensorSpec, edge: bool = False) -> np.ndarray:
    """Uniform values over the dtype's full range; ``edge`` mixes in the extremes, 0 and +-1."""
    values = rng.integers(s.dtype.qmin, s.dtype.qmax + 1, size=s.shape, dtype=np.int64)
    if edge and values.size:
        pool = np.array([s.dtype.qmin, s.dtype.qmax, 0, 1, -1, s.dtype.qmin + 1], dtype=np.int64)
        mask = rng.random(values.shape) < 0.3
        values[mask] = rng.choice(pool, size=int(mask.sum()))
    return values.astype(s.dtype.numpy)


def check_elements(node: Node, inputs: Sequence[np.ndarray], indices: Sequence[int]) -> np.ndarray:
    """Run forward, then recompute each listed output element from its operand ranges only."""
    op = get_op(node.op)
    op.check(node)
    out = op.forward(inputs, node)
    assert out.shape == node.output.shape, (out.shape, node.output.shape)
    assert out.dtype == node.output.dtype.numpy
    flat_out = out.reshape(-1)
    flats = [np.asarray(a).reshape(-1) for a in inputs]
    for idx in indices:
        ranges = op.operand_ranges(node, idx, inputs)
        operands = []
        for slot, start, length in ranges:
            assert 0 <= slot < len(inputs)
            assert 0 <= start and start + length <= flats[slot].size, (slot, start, length)
            operands.append([int(v) for v in flats[slot][start:start + length]])
        got = op.element(node, operands, idx)
        assert isinstance(got, int)
        assert got == int(flat_out[idx]), (op.name, idx, got, int(flat_out[idx]), ranges)
    return out


def rsqrt_node(shape, x_dt, fi, out_dt, fo, eps):
    """An RSQRT node (op 64) over ``shape``: x_dt at frac fi -> out_dt at frac fo, epsilon ``eps`` (input LSBs)."""
    return make_node(OpCode.RSQRT, [spec(shape, x_dt, fi)], spec(shape, out_dt, fo), (eps,))


def exp_node(shape, d_dt, fi, out_dt, fo, fs=None, m_dt=None):
    """EXP(x), EXP(x, m) (m_dt given) or EXP(x, m, S) (fs given; m INT32 unless m_dt): op 65's three forms."""
    ins = [spec(shape, d_dt, fi)]
    row = tuple(shape[:-1]) + (1,)
    if m_dt is not None or fs is not None:
        ins.append(spec(row, m_dt or DType.INT32, fi))
    if fs is not None:
        ins.append(spec(row, DType.INT32, fs))
    return make_node(OpCode.EXP, ins, spec(shape, out_dt, fo))
