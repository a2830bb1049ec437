"""Every op code through the deployed OneStepProver, and the operator table that wires it.

The prover is deployed as the protocol deploys it (offchain/dispute/operators.py: one contract per family,
one entry per op code). For a model that uses every operator, each node's elements are recomputed on-chain
from honest step proofs (roots and ranges proven against the commitments, EMBEDDING's table row found from
the proven token id) and must equal the honest trace.
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.operators import OPERATOR_CONTRACTS, operator_families, prover_args
from offchain.dispute.proofs import build_step_proof
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from offchain.models.all_ops import all_ops_input, all_ops_model
from ._harness import custom_error, revert_data


@pytest.fixture(scope="module")
def families(project, owner):
    return {name: owner.deploy(getattr(project, name)) for name in operator_families()}


@pytest.fixture(scope="module")
def prover(project, owner, families):
    codes, addresses = prover_args({name: c.address for name, c in families.items()})
    return owner.deploy(project.OneStepProver, codes, addresses)


def test_table_covers_every_op_code(project):
    assert set(OPERATOR_CONTRACTS) == {int(c) for c in OpCode}
    for name in operator_families():
        assert hasattr(project, name), name


def _bare_desc(code: int):
    tensor = (2, 0, 1, 0, 5, [1])
    return (code, 0, tensor, [], [])


def test_each_family_serves_exactly_its_codes(chain, families):
    """A family reverts UnsupportedOp(code) for every code the table gives another family, never for its own."""
    for name, contract in families.items():
        for code in OpCode:
            data = revert_data(chain, contract.rangeCount, _bare_desc(int(code)), 0)
            unsupported = custom_error("UnsupportedOp(uint256)", ["uint256"], [int(code)])
            if OPERATOR_CONTRACTS[code] == name:
                assert data != unsupported, f"{name} rejects its own op {code.name}"
            else:
                assert data == unsupported, (name, code.name, data)


def _tokenizer():
    from offchain.models.minilm import load_tokenizer
    from offchain.models.text_tables import text_input, tokenizer_model

    return tokenizer_model(32, 8, load_tokenizer()), text_input("Héllo, wörld! 東京 ok", 32)


def _activations():
    """Issue 13's activations (TANH .. SOFTPLUS), compiled from tests/engine/act_models.py."""
    from engine.act_models import ActModules, quantised_input, samples
    from offchain.engine.compiler import compile_module

    cal = samples()
    model = compile_module(ActModules().eval(), cal[0], cal)
    return model, quantised_input(model, samples(seed=2)[0][0])


def test_prover_recomputes_every_node(prover):
    seen: set[int] = set()
    # all_ops_model has every numeric operator; the tokenizer model the four text operators; then LOREFT and
    # the issue-13 activations.
    from offchain.models.loreft_block import loreft_block, loreft_input

    for model, x in ((all_ops_model(), all_ops_input()), _tokenizer(), (loreft_block(), loreft_input()),
                     _activations()):
        seen |= _recompute_every_node(prover, ModelCommitment(model), x)
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    from offchain.models.attention_block import attention_block

    attn_model, attn_x = attention_block()  # EXPAND, WHERE and a compiled nn.MultiheadAttention
    seen |= _recompute_every_node(prover, ModelCommitment(attn_model), attn_x)
    # ---- tokenizer: detok (issue 14)
    from offchain.models.bpe_detok import detok_fixture

    detok_model, detok_ids = detok_fixture()
    seen |= _recompute_every_node(prover, ModelCommitment(detok_model), detok_ids)
    # ---- tokenizer: bpe (issue 14)
    from bench._bpe_graph import bpe_graph

    bpe_model, bpe_x = bpe_graph(rounds=1)
    seen |= _recompute_every_node(prover, ModelCommitment(bpe_model), bpe_x)
    from bench._bpe_graph import word_vocab_graph

    wv_model, wv_x = word_vocab_graph()  # WORD_VOCAB (ignore_merges)
    seen |= _recompute_every_node(prover, ModelCommitment(wv_model), wv_x)
    # ---- tokenizer: pretok (issue 14)
    from dispute.test_ops_pretok import front_input, front_model

    seen |= _recompute_every_node(prover, ModelCommitment(front_model()), front_input())
    # ---- generation: sample (issue 15)
    from offchain.models.sampler import sampler_fixture

    sampler_model, sampler_x = sampler_fixture()
    seen |= _recompute_every_node(prover, ModelCommitment(sampler_model), sampler_x)
    # ---- generation: cache (issue 15)
    from offchain.models.cache_graph import cache_graph

    cache_model, cache_x = cache_graph()  # ALIGN_END, ATTN_BIAS, CAT_MATMUL on both axes
    seen |= _recompute_every_node(prover, ModelCommitment(cache_model), cache_x)
    # ---- tokenizer: added (issue 14)
    from bench._added_graph import added_graph

    added_model, added_x = added_graph()   # ADDED_MATCH (alone and with prev), ADDED_RESOLVE
    seen |= _recompute_every_node(prover, ModelCommitment(added_model), added_x)
    # ---- tokenizer: nfc (issue 14)
    from bench._nfc_graph import nfc_graph

    nfc_model, nfc_x = nfc_graph()   # NFC_COMPOSE, NFC_COMPACT (both modes)
    seen |= _recompute_every_node(prover, ModelCommitment(nfc_model), nfc_x)
    # ---- image: imgops (issue 16)
    from bench._image_graph import image_graph

    image_model, image_x = image_graph()   # NOISE, DDIM_STEP (a middle and the last step), PIXELS
    seen |= _recompute_every_node(prover, ModelCommitment(image_model), image_x)
    # ---- image: sd-unet-block (issue 16)
    from bench._stat_graph import stat_graph

    stat_model, stat_x = stat_graph()   # RSQRT, EXP (both forms)
    seen |= _recompute_every_node(prover, ModelCommitment(stat_model), stat_x)
    # ---- tokenizer: nfc runs (issue 14)
    from bench._nfc_run_graph import nfc_run_graph

    run_model, run_x = nfc_run_graph()   # NFC_REORDER, NFC_STAGE (two stages)
    seen |= _recompute_every_node(prover, ModelCommitment(run_model), run_x)
    assert seen == {int(c) for c in OpCode}


def _recompute_every_node(prover, model, x) -> set[int]:
    honest = ExecutionCommitment(model, run(model.model, [x]))
    # The claim here is the honest trace itself, so every node of the claimed tree is known: reveal its leaves.
    tree = honest.trace_tree
    claimed = ClaimedTree(tree, honest.trace_root)
    claimed.add_reveal(0, 0, [tree.node(tree.depth, k) for k in range(1 << tree.depth)])
    rng = np.random.default_rng(9)
    seen = set()
    for i, node in enumerate(model.model.graph.nodes):
        size = node.output.size
        picks = {0, size - 1} | {int(e) for e in rng.integers(0, size, 3)}
        out = honest.trace.outputs[i].reshape(-1)
        for e in sorted(picks):
            ctx = (model.graph_tree.root, model.node_count, model.weights_tree.root, len(model.model.graph.weights),
                   honest.input_root, honest.trace_root, i, e)
            step = build_step_proof(honest, claimed, i, e)
            got = prover.recompute(ctx, model.descriptor(i), step.proof)
            assert got == step.value == int(out[e]), (OpCode(node.op).name, i, e, got, step.value, int(out[e]))
        seen.add(node.op)
    return seen
