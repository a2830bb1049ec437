"""What a private model's registration and every submission carry on-chain (contracts/zk/PrivateNodeJudge.sol).

Who calls what:
  model owner / registrar: ``register_private_model`` (its keys into Groth16Registry, then
      ``ModelRegistry.registerPrivateModel(model_spec, private_node_records(...))``), or
      ``launch_private_model`` (the same through ModelLauncher.launchPrivate, with a revenue token);
  submitter: ``private_ios(execution, proofs)`` -> ``AIOracle.submitPrivate(..., ios)`` (or the game's
      ``proposePrivate``), and ``pairs_of(proofs)`` for ``honest_submitter(mine, pairs)`` should a game land on a
      private node;
  challenger: reads the private outputs a claim published (``PrivateOutputsPublished``) to recompute the rest.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from eth_utils import keccak

from offchain.commit import pack_tensor
from offchain.dispute.commitment import ExecutionCommitment
from offchain.engine.model import Model
from offchain.zk.chain import encode_vk
from offchain.zk.model_proofs import NodeProof, commitments, descriptors
from offchain.zk.private import Descriptor, PrivateSpec
from offchain.zk.prover import Keys


def register_keys(verifier: Any, keys: dict[Descriptor, Keys], sender: Any) -> dict[Descriptor, int]:
    """Registers each verifying key with the Groth16Registry (registrar role) unless it already is (another model
    with a node of the same circuit registered it); returns the key ids."""
    ids = {}
    for desc, k in keys.items():
        vk = encode_vk(k.vk)
        ids[desc] = verifier.keyIdOf(keccak(vk)) or verifier.registerKey(vk, sender=sender).return_value
    return ids


def private_node_records(model: Model, spec: PrivateSpec, key_ids: dict[Descriptor, int]) -> list[tuple]:
    """IModelRegistry.PrivateNode tuples (node, outChunkLog2, keyId, commitment), ascending by node."""
    descs = descriptors(model, spec)
    coms = commitments(model, spec)
    return [(i, model.graph.nodes[i].output.chunk_log2, key_ids[descs[i]], coms[i]) for i in sorted(descs)]


def register_private_model(registry: Any, verifier: Any, model: Model, spec: PrivateSpec,
                           keys: dict[Descriptor, Keys], fee: int, owner: str, sender: Any) -> tuple[int, list[tuple]]:
    """Registers the verifying keys, then the model with its private nodes; returns (model id, the records).
    The model's fees go to ``owner``; ``launch_private_model`` gives it a revenue token instead."""
    from offchain.chain.registration import model_spec

    records = private_node_records(model, spec, register_keys(verifier, keys, sender))
    model_id = registry.registerPrivateModel(model_spec(model, fee, owner), records, sender=sender).return_value
    return model_id, records


def launch_private_model(launcher: Any, verifier: Any, model: Model, spec: PrivateSpec,
                         keys: dict[Descriptor, Keys], fee: int, owner: str, offering: Any,
                         sender: Any) -> tuple[int, str, list[tuple]]:
    """Initial Model Offering of a private model: its verifying keys registered, then the model, its private
    nodes and its ERC-7641 revenue token (``offering``, offchain.chain.registration.Offering; the token becomes the
    revenue receiver) in one transaction (ModelLauncher.launchPrivate); returns (model id, token, the records)."""
    from offchain.chain.registration import launch

    records = private_node_records(model, spec, register_keys(verifier, keys, sender))
    model_id, token = launch(launcher, model, fee, owner, offering, sender, private_nodes=records)
    return model_id, token, records


def private_ios(execution: ExecutionCommitment, proofs: Sequence[NodeProof]) -> list[tuple]:
    """PrivateIO tuples (inHash, outHash, proof, output bytes, leaf proof), ascending by node."""
    out = []
    for p in sorted(proofs, key=lambda p: p.node):
        output = pack_tensor(np.ascontiguousarray(execution.trace.outputs[p.node]))
        leaf = list(execution.trace_tree.prove_leaf(p.node).siblings)
        out.append((p.in_hash, p.out_hash, p.proof, output, leaf))
    return out


def pairs_of(proofs: Sequence[NodeProof]) -> list[int]:
    """The flattened (inHash, outHash) pairs a claim stores the hash of, ascending by node."""
    return [h for p in sorted(proofs, key=lambda p: p.node) for h in (p.in_hash, p.out_hash)]
