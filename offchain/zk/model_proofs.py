"""Proofs for the private nodes of an engine model run: what a submitter attaches to a result.

Flow (who calls what):
  model owner:  ``commitments(model, spec)`` -> register each node's weight commitment;
                ``setup_private(model, spec)`` -> keys; register ``encode_vk(keys.vk)`` on-chain.
  submitter:    ``trace = executor.run(model, inputs)``;
                ``prove_private(model, spec, trace, keys)`` -> one NodeProof per private node.
  oracle:       ``IProofVerifier.verifyBatch(keyId, [[p.signal] ...], [p.proof ...])`` per key.
Nodes with equal descriptors share one key (and so one batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offchain.engine.executor import Trace
from offchain.engine.model import Model
from offchain.zk.private import (
    Descriptor,
    PrivateSpec,
    node_descriptor,
    private_weights,
    weight_commitment,
)
from offchain.zk.prover import Keys, load_keys, prove_all, setup


@dataclass
class NodeProof:
    """The proof of private node ``node`` and the public values it binds (field elements)."""

    node: int
    descriptor: Descriptor
    proof: bytes
    signal: int
    in_hash: int
    out_hash: int
    commitment: int


def descriptors(model: Model, spec: PrivateSpec) -> dict[int, Descriptor]:
    """Descriptor of every private node, by node index."""
    return {i: node_descriptor(model, i) for i in spec.node_indices}


def commitments(model: Model, spec: PrivateSpec) -> dict[int, int]:
    """The Poseidon weight commitment the owner registers for each private node."""
    return {i: weight_commitment(d, private_weights(model, i)) for i, d in descriptors(model, spec).items()}


def setup_private(model: Model, spec: PrivateSpec, keys_dir: Path | None = None) -> dict[Descriptor, Keys]:
    """Keys for each distinct descriptor among the private nodes: dev setups cached under build/zk/, or with
    ``keys_dir`` the keys found there (from a ceremony; ``prover.load_keys``), with nothing set up."""
    descs = set(descriptors(model, spec).values())
    if keys_dir is not None:
        return {d: load_keys(d, keys_dir) for d in descs}
    return {d: setup(d) for d in descs}


def prove_private(model: Model, spec: PrivateSpec, trace: Trace, keys: dict[Descriptor, Keys],
                  workers: int | None = None) -> list[NodeProof]:
    """Prove every private node of ``trace`` (``workers`` proofs at a time, default one per core); each proof's
    output is checked against the trace."""
    descs = descriptors(model, spec)
    jobs = [(keys[desc], desc, trace.operands(model, i)[0], private_weights(model, i)) for i, desc in descs.items()]
    out = []
    for (i, desc), p in zip(descs.items(), prove_all(jobs, workers)):
        if not np.array_equal(p.output.reshape(-1), trace.outputs[i].reshape(-1)):
            raise AssertionError(f"node {i}: circuit output differs from the engine's trace")
        out.append(NodeProof(i, desc, p.proof, p.signal, p.in_hash, p.out_hash, p.commitment))
    return out
