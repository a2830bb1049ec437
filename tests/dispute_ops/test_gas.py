"""One-step cost of the widest rows: SOFTMAX, LAYERNORM and RMSNORM over 4096 keys / features.

A one-step proof recomputes one element from its whole row, so these are the costliest elements of a
Llama-2-7B-sized layer (d_model 4096, a 4096-token attention row). The execution gas of `element` (the
operator's share of a step) is checked against the 2,000,000-gas bound every one-step must stay well under;
bench/bench_ops_gas.py records it for every operator next to the whole step through the prover. Measured:
norms ~0.84M, softmax ~1.50M (one integer exp per key, ~365 gas each); the prover adds ~0.7M for a 16 KiB
int32 row (calldata, 32-byte-chunk range proof), so a whole 4096-key int32 softmax step (~2.21M) passes the
bound: rows past ~3600 keys (~1700 for DESIGN.md's ~1M aim) are for the compiler to split (max / exp / sum /
divide nodes with a partial-sum descent).
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode
from engine.op_harness import make_node, spec

from ._harness import element_gas

N = 4096
STEP_GAS_LIMIT = 2_000_000


def _softmax():
    x = np.random.default_rng(1).integers(-(8 << 12), 8 << 12, size=(1, N)).astype(np.int32)
    node = make_node(OpCode.SOFTMAX, [spec((1, N), DType.INT32, 12)], spec((1, N), DType.INT16, 14), (0,))
    return "SoftmaxOps", node, [x]


def _norm(layer: bool):
    g = np.random.default_rng(2)
    ins = [spec((1, N), DType.INT32, 16), spec((N,), DType.INT16, 14)]
    arrays = [g.integers(-(4 << 16), 4 << 16, size=(1, N)).astype(np.int32), g.integers(8000, 24000, N).astype(np.int16)]
    if layer:
        ins.append(spec((N,), DType.INT16, 14))
        arrays.append(g.integers(-4000, 4000, N).astype(np.int16))
    node = make_node(OpCode.LAYERNORM if layer else OpCode.RMSNORM, ins, spec((1, N), DType.INT16, 10),
                     (round(1e-5 * 4**16),))
    return "NormOps", node, arrays


@pytest.mark.parametrize("case", ["softmax", "layernorm", "rmsnorm"])
def test_widest_rows_fit_one_step(deploy, owner, case):
    family, node, arrays = {"softmax": _softmax, "layernorm": lambda: _norm(True), "rmsnorm": lambda: _norm(False)}[case]()
    total, execution = element_gas(deploy(family), node, arrays, N - 1, owner)
    print(f"\n{case} over {N}: element() tx gas {total}, execution gas {execution}")
    assert execution < STEP_GAS_LIMIT, (case, execution)
