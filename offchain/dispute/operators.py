"""Which Solidity operator contract implements each op code (contracts/dispute/ops/).

The one-step prover is deployed with one entry per op code: ``OneStepProver(codes, contracts)``, where
``contracts[i]`` is the address of the ``OPERATOR_CONTRACTS[codes[i]]`` deployment. A family contract
serves several codes, so each name is deployed once (``offchain/chain/deployments.py`` does this).
Every op code of ``offchain.engine.ops.codes.OpCode`` has exactly one entry; tests/dispute_ops checks it.

Callers: the deployment code and tests that deploy a prover.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from offchain.engine.ops.codes import OpCode

#: op code -> name of the compiled contract (family) implementing it.
OPERATOR_CONTRACTS: Mapping[int, str] = MappingProxyType({
    OpCode.LINEAR: "LinearOps",
    OpCode.MATMUL: "LinearOps",
    OpCode.CONV2D: "ConvOps",
    OpCode.ADD: "ElementwiseOps",
    OpCode.SUB: "ElementwiseOps",
    OpCode.MUL: "ElementwiseOps",
    OpCode.RELU: "UnaryOps",
    OpCode.NEG: "UnaryOps",
    OpCode.RESCALE: "UnaryOps",
    OpCode.GELU: "ActivationOps",
    OpCode.SILU: "ActivationOps",
    OpCode.SOFTMAX: "SoftmaxOps",
    OpCode.LAYERNORM: "NormOps",
    OpCode.RMSNORM: "NormOps",
    OpCode.EMBEDDING: "EmbeddingOps",
    OpCode.ROPE: "RopeOps",
    OpCode.RESHAPE: "ShapeOps",
    OpCode.PERMUTE: "ShapeOps",
    OpCode.SLICE: "ShapeOps",
    OpCode.CONCAT: "ShapeOps",
    OpCode.MEAN: "ReduceOps",
})


def operator_families() -> list[str]:
    """The distinct contract names, sorted: what to deploy before the prover."""
    return sorted(set(OPERATOR_CONTRACTS.values()))


def prover_args(addresses: Mapping[str, str]) -> tuple[list[int], list[str]]:
    """``OneStepProver`` constructor arguments (codes ascending, operator addresses) from the families'
    deployed addresses by name; raises KeyError naming a family that is missing from ``addresses``."""
    codes = sorted(int(c) for c in OPERATOR_CONTRACTS)
    missing = [name for name in operator_families() if name not in addresses]
    if missing:
        raise KeyError(f"operator families not deployed: {missing}")
    return codes, [addresses[OPERATOR_CONTRACTS[c]] for c in codes]
