"""KV-cache ops of the text-generation graph (issue 15, docs: genspec.md): attention over a cache that is never
copied, the causal + left-padding mask as data, and the prompt's right alignment.

A generating model is one static graph: prefill over the T prompt positions, then N - 1 decode steps of one
position each. A decode step's keys / values are the prefill's and every earlier step's, each an earlier node's
output; CAT_MATMUL multiplies by their concatenation without a CONCAT node (which would copy the whole cache into
the trace once per step), ATTN_BIAS builds the additive mask from the prompt's pad count (a data-dependent value,
so a static causal SOFTMAX cannot express it), ALIGN_END moves the tokenizer's trailing pads to the front so that
the last prompt token sits at position T - 1 for every prompt length.

CAT_MATMUL (49)
    inputs: a [..., M, K'], b_1 .. b_m (m >= 1 blocks, each with a's leading dims and rank, all of one dtype and
    frac, which may differ from a's). params: (axis,).
      axis 0 ("N", attention scores): b_i [..., N_i, K], K' = K, b = concat(b_i, axis=-2), out [..., M, sum N_i];
      axis 1 ("K", attention mix):    b_i [..., N, K_i], K' = sum K_i, b = concat(b_i, axis=-1), out [..., M, N].
    out = EXACTLY MATMUL(a, b) (ops/linear.py): rescale(sum_k a[.., m, k] b[.., n, k], fa + fb - fo), saturated to
    the output dtype, with MATMUL's accumulator check over the total K' and its shift check; the same helpers
    (``exact_matmul``, ``rescale`` / ``rescale_int``), so there is no second rounding.
    Ranges of element (batch, m, n): axis 0: a's row (K) and row n - off_i of the one block i holding column n
    (K); axis 1: a's row (K') and, for each block i in order, b_i[batch, n, 0:K_i] (m ranges).
    Every block holds at least one row (axis 0) / column (axis 1).

ATTN_BIAS (50)
    inputs: ids [1, L] (INT32 frac 0, right-aligned: the prompt's pads first). params: (pad_id, neg, q0, nq, g).
    out [g * nq, nk] (any dtype / frac; any shape whose last dim is nk and whose leading dims multiply to
    g * nq: the flat order is the same): for flat row r, query position q = q0 + (r mod nq), key j:
        out[r, j] = neg if j > q or j < lead else 0,
    lead = the number of LEADING elements of ids[0 : min(L, nk)] equal to pad_id (keys j >= L are never pads).
    neg fits the output dtype; pad_id is an int32; 0 <= q0 < 2^31; nq, g >= 1. Element reads ids[0 : min(L, nk)]
    (1 range). Prefill: L = T, q0 = 0, nq = T, nk = T; decode at position p: q0 = p, nq = 1, nk = p + 1.

ALIGN_END (51)
    inputs: ids [1, T] (INT32 frac 0; any shape, flat order). params: (pad_id,) (an int32). out: same shape, INT32.
    With s = the number of TRAILING elements equal to pad_id: out[i] = pad_id for i < s, ids[i - s] otherwise
    (so an all-pad input stays all pads). Element reads the whole ids (1 range).

Every value each operand's dtype allows has exactly one result (no op here refuses values: ``input_domain`` is
None). Caps (``check`` raises ParamError naming the size), measured with ``bench/bench_ops_gas.py``'s
``cache_cases`` (``python -m bench.bench_ops_gas cache``: the prover's ``recompute`` tx) and the same cases as
whole games (``python -m bench.bench_move_gas --ops CAT_MATMUL,ATTN_BIAS,ALIGN_END``: the game's ``step`` tx), at
Llama-2-7B shapes (32 heads, head_dim 128 / 64, a 64-position prefill block, int32 x int16 operands) with each
block's root proof 16 siblings deep, as in a generation graph's trace of ~41k nodes:

* CAT_MATMUL: m <= MAX_BLOCKS = 15 blocks (a descriptor holds at most 16 operands) and K <= MAX_CAT_K = 256
  (axis 0: head_dim; axis 1: the cache's positions). Worst step: axis 1, 15 one-position blocks after a
  242-position prefill block, K' = 256: 1.79 M gas (recompute 1.61 M). Axis 1 grows per block (game step, d = 128:
  0.36 M at m = 1, 0.59 M at 4, 0.95 M at 8, 1.37 M at 12, 1.73 M at 15; d = 64 within 1.5 % of it), ~64k + 4k * m
  for block m, as each of the prover's m + 3 operator calls re-sends a descriptor that grows with m. With the
  descriptor's operand limit lifted (measured on a patched LibDescriptor) 17 blocks still fit 2 M (1.99 M at
  d = 128, 1.97 M at d = 64), 18 do not (2.14 M / 2.11 M). Axis 0 reads two ranges: 0.91 M at 15 blocks, 0.96 M
  at head_dim 256.
* ATTN_BIAS: min(L, nk) <= MAX_BIAS_KEYS = 4,096 ids read: 1.09 M gas with all ids pads (the scan runs to key
  4,095).
* ALIGN_END: T <= MAX_ALIGN_IDS = 4,096 ids: 1.20 M gas with 4,095 trailing pads.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import (
    Op,
    Range,
    expect_inputs,
    expect_params,
    expect_same_scale,
    expect_shape,
)
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, exact_matmul, rescale, rescale_int
from offchain.engine.ops.linear import _check_acc
from offchain.engine.ops.text import _int32  # the one INT32/frac-0 operand check

#: Most cache blocks one CAT_MATMUL reads: a node descriptor holds at most 16 operands (LibDescriptor.decode
#: refuses more), a and 15 blocks. Each block is one more operand root proof (both axes) and range proof (axis 1).
MAX_BLOCKS = 15
#: Longest row CAT_MATMUL reads: K (axis 0, head_dim) / K' = sum K_i (axis 1, the cache's positions).
MAX_CAT_K = 256
#: Most ids ATTN_BIAS reads (min(L, nk)) and ALIGN_END reads (T): 1.09 M / 1.20 M gas steps at the cap.
MAX_BIAS_KEYS = 4096
MAX_ALIGN_IDS = 4096

INT32_MIN, INT32_MAX = DType.INT32.qmin, DType.INT32.qmax


# --------------------------------------------------------------------------------------------------- CAT_MATMUL


def _blocks(node: Node) -> list:
    return list(node.in_specs[1:])


def _offsets(sizes: Sequence[int]) -> list[int]:
    out, acc = [], 0
    for s in sizes:
        out.append(acc)
        acc += s
    return out


class CatMatmul(Op):
    """MATMUL(a, concat(b_1 .. b_m)) over a virtual concatenation of the blocks (the KV cache, uncopied)."""

    code = OpCode.CAT_MATMUL
    name = "CAT_MATMUL"

    def check(self, node: Node) -> None:
        if len(node.inputs) < 2:
            raise ParamError(f"takes a and at least one block, got {len(node.inputs)} inputs")
        expect_params(node, 1)
        axis = node.params[0]
        if axis not in (0, 1):
            raise ParamError(f"axis must be 0 (concatenate rows N) or 1 (concatenate K), got {axis}")
        blocks = _blocks(node)
        if len(blocks) > MAX_BLOCKS:
            raise ParamError(f"{len(blocks)} blocks exceed MAX_BLOCKS = {MAX_BLOCKS} (the largest count whose "
                             f"one-step proof fits 2M gas)")
        a = node.in_specs[0]
        if len(a.shape) < 2:
            raise ShapeMismatchError(f"a {a.shape} needs rank >= 2")
        lead, k_total = a.shape[:-2], a.shape[-1]
        for i, b in enumerate(blocks):
            if len(b.shape) != len(a.shape):
                raise ShapeMismatchError(f"block {i} {b.shape} needs a's rank {len(a.shape)}")
            expect_shape(f"block {i} leading dims", b.shape[:-2], lead)
            expect_same_scale(f"block {i} vs block 0", b, blocks[0])
        if axis == 0:
            for i, b in enumerate(blocks):
                expect_shape(f"block {i} last dim (K)", b.shape[-1:], (k_total,))
                if b.shape[-2] < 1:
                    raise ShapeMismatchError(f"block {i} {b.shape} holds no rows")
            n_total = sum(b.shape[-2] for b in blocks)
        else:
            n_total = blocks[0].shape[-2]
            for i, b in enumerate(blocks):
                expect_shape(f"block {i} rows (N)", b.shape[-2:-1], (n_total,))
                if b.shape[-1] < 1:
                    raise ShapeMismatchError(f"block {i} {b.shape} holds no columns")
            ks = sum(b.shape[-1] for b in blocks)
            if ks != k_total:
                raise ShapeMismatchError(f"blocks' K sum to {ks}, a's last dim is {k_total}")
        if k_total > MAX_CAT_K:
            raise ParamError(f"K = {k_total} exceeds MAX_CAT_K = {MAX_CAT_K}")
        expect_shape("output", node.output.shape, a.shape[:-1] + (n_total,))
        _check_acc(node, k_total)
        check_shift(node.in_specs[0].frac + node.in_specs[1].frac - node.output.frac, "requantisation")

    @staticmethod
    def _shift(node: Node) -> int:
        return node.in_specs[0].frac + node.in_specs[1].frac - node.output.frac

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        axis = -2 if node.params[0] == 0 else -1
        b = np.concatenate([np.asarray(x) for x in inputs[1:]], axis=axis)
        acc = exact_matmul(np.asarray(inputs[0]), b)
        return rescale(acc, self._shift(node), node.output.dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        a = node.in_specs[0]
        m, k = a.shape[-2:]
        n_total = node.output.shape[-1]
        batch, rest = divmod(out_index, m * n_total)
        row, col = divmod(rest, n_total)
        ranges: list[Range] = [(0, (batch * m + row) * k, k)]
        blocks = _blocks(node)
        if node.params[0] == 0:
            rows = [b.shape[-2] for b in blocks]
            for i, off in enumerate(_offsets(rows)):
                if col < off + rows[i]:
                    ranges.append((1 + i, (batch * rows[i] + col - off) * k, k))
                    break
        else:
            for i, b in enumerate(blocks):
                ki = b.shape[-1]
                ranges.append((1 + i, (batch * n_total + col) * ki, ki))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        row = operands[0]
        col = [int(v) for r in operands[1:] for v in r]
        acc = sum(int(x) * y for x, y in zip(row, col))
        return rescale_int(acc, self._shift(node), node.output.dtype)


# --------------------------------------------------------------------------------------------------- ATTN_BIAS


def leading(values: Sequence[int], pad_id: int) -> int:
    """Number of leading elements of ``values`` equal to ``pad_id``."""
    n = 0
    for v in values:
        if int(v) != pad_id:
            break
        n += 1
    return n


def trailing(values: Sequence[int], pad_id: int) -> int:
    """Number of trailing elements of ``values`` equal to ``pad_id``."""
    return leading(list(values)[::-1], pad_id)


def _check_int32_param(what: str, value: int) -> None:
    if not INT32_MIN <= value <= INT32_MAX:
        raise ParamError(f"{what} {value} is not an int32")


class AttnBias(Op):
    """Additive causal + left-padding mask: neg where key j is after the query or is one of the prompt's pads."""

    code = OpCode.ATTN_BIAS
    name = "ATTN_BIAS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 5)
        pad_id, neg, q0, nq, g = node.params
        (ids,) = node.in_specs
        _int32("ids", ids)
        if len(ids.shape) != 2 or ids.shape[0] != 1 or ids.shape[1] < 1:
            raise ShapeMismatchError(f"ids {ids.shape} must be [1, L] with L >= 1")
        _check_int32_param("pad_id", pad_id)
        out = node.output
        if not out.dtype.qmin <= neg <= out.dtype.qmax:
            raise ParamError(f"neg {neg} does not fit the output dtype {out.dtype.name}")
        if not 0 <= q0 <= INT32_MAX:
            raise ParamError(f"q0 {q0} must lie in [0, 2^31)")
        if nq < 1 or g < 1:
            raise ParamError(f"nq {nq} and g {g} must be >= 1")
        if len(out.shape) < 1 or out.shape[-1] < 1:
            raise ShapeMismatchError(f"output {out.shape} needs a last dim nk >= 1")
        if math.prod(out.shape[:-1]) != g * nq:
            raise ShapeMismatchError(f"output {out.shape} must hold g * nq = {g * nq} rows of nk")
        read = min(ids.shape[1], out.shape[-1])
        if read > MAX_BIAS_KEYS:
            raise ParamError(f"min(L, nk) = {read} exceeds MAX_BIAS_KEYS = {MAX_BIAS_KEYS}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        pad_id, neg, q0, nq, g = node.params
        nk = node.output.shape[-1]
        ids = np.asarray(inputs[0]).reshape(-1)[:nk]
        lead = leading(ids.tolist(), pad_id)
        q = q0 + (np.arange(g * nq, dtype=np.int64) % nq)
        j = np.arange(nk, dtype=np.int64)
        masked = (j[None, :] > q[:, None]) | (j[None, :] < lead)
        out = np.where(masked, neg, 0)
        return out.astype(node.output.dtype.numpy).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, min(node.in_specs[0].shape[1], node.output.shape[-1]))]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        pad_id, neg, q0, nq, _ = node.params
        nk = node.output.shape[-1]
        r, j = divmod(out_index, nk)
        q = q0 + r % nq
        lead = leading(operands[0], pad_id)
        return neg if j > q or j < lead else 0


# --------------------------------------------------------------------------------------------------- ALIGN_END


class AlignEnd(Op):
    """Right-align the token ids: the trailing pads move to the front."""

    code = OpCode.ALIGN_END
    name = "ALIGN_END"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 1)
        (ids,) = node.in_specs
        _int32("ids", ids)
        _int32("output", node.output)
        expect_shape("output", node.output.shape, ids.shape)
        _check_int32_param("pad_id", node.params[0])
        if ids.size < 1:
            raise ShapeMismatchError(f"ids {ids.shape} hold no element")
        if ids.size > MAX_ALIGN_IDS:
            raise ParamError(f"T = {ids.size} ids exceed MAX_ALIGN_IDS = {MAX_ALIGN_IDS}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        ids = np.asarray(inputs[0]).reshape(-1).astype(np.int32)
        s = trailing(ids.tolist(), node.params[0])
        out = np.full(ids.shape, node.params[0], dtype=np.int32)
        out[s:] = ids[:ids.size - s]
        return out.reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, node.in_specs[0].size)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        pad_id = node.params[0]
        ids = operands[0]
        s = trailing(ids, pad_id)
        return pad_id if out_index < s else int(ids[out_index - s])
