"""For every operator the engine supports: a submitter that corrupts one element of that operator's output (and
runs the rest of the model on it) loses the game to the honest challenger, through that operator's one-step proof.

Models: llama-tiny (embedding, RMSNorm, RoPE, attention, SiLU-gated MLP), digits-cnn (Conv2d), a small LayerNorm /
GELU / slice / concat / mean block compiled from PyTorch, tiny-mlp with a final RESCALE, and the WordPiece tokenizer
(UTF-8 decoding, Unicode normalisation table, vocabulary trie, framing), and a LoReFT block.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ape import chain
from torch import nn

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.compiler import compile_module
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.models.tiny import tiny_input, tiny_mlp

from ._fault_game import a_fault_loses
from .test_ops_act import ACT_OPS as _ACT_OPS
from .test_ops_attn import OP_MODEL as _ATTN_OP_MODEL
from .test_ops_pool import POOL_OPS as _POOL_OPS
# ---- tokenizer: bpe (issue 14)
from .test_ops_bpe import BPE_OPS as _BPE_OPS

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)


class _Block(nn.Module):
    """LayerNorm -> Linear -> GELU, minus the normed input, negated, halves swapped, mean over the last axis."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.ln = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = self.ln(x)
        d = F.gelu(self.fc(h)) - h
        n = -d
        return torch.cat([n[..., 8:], n[..., :8]], dim=-1).mean(-1, keepdim=True)


def _block() -> tuple[Model, np.ndarray]:
    samples = [(torch.randn(1, 4, 16, generator=torch.Generator().manual_seed(s)),) for s in range(4)]
    model = compile_module(_Block().eval(), samples[0], samples)
    spec = model.graph.inputs[0]
    x = np.clip(np.round(samples[1][0].numpy() * 2.0**spec.frac), spec.dtype.qmin, spec.dtype.qmax)
    return model, x.astype(spec.dtype.numpy)


def _tiny_with_rescale() -> tuple[Model, np.ndarray]:
    model = tiny_mlp()
    last = len(model.graph.nodes) - 1
    out = model.graph.nodes[-1].output
    rescaled = TensorSpec(out.shape, DType.INT8, out.frac - 2, 5, "rescaled")
    node = Node(OpCode.RESCALE, (TensorRef(TensorKind.ACTIVATION, last),), (out,), rescaled, (), "rescale")
    graph = Graph(model.graph.inputs, model.graph.weights, model.graph.nodes + [node])
    extended = Model(graph, model.weights, {"name": "tiny-mlp-rescale"})
    extended.validate()
    return extended, tiny_input()


def _tokenizer() -> tuple[Model, np.ndarray]:
    from offchain.models.minilm import load_tokenizer
    from offchain.models.text_tables import text_input, tokenizer_model

    return tokenizer_model(32, 16, load_tokenizer()), text_input("Tokenizers are disputable, too!", 32)


def _loreft() -> tuple[Model, np.ndarray]:
    from offchain.models.loreft_block import loreft_block, loreft_input

    return loreft_block(), loreft_input()


#: Reference models (offchain.models.build_reference), taken from the session's reference_model cache.
REFERENCES = {"llama-tiny", "digits-cnn"}
BUILDERS = {"block": _block, "tiny-rescale": _tiny_with_rescale, "tokenizer": _tokenizer, "loreft": _loreft}
OP_MODEL = {
    OpCode.EMBEDDING: "llama-tiny", OpCode.RMSNORM: "llama-tiny", OpCode.LINEAR: "llama-tiny",
    OpCode.RESHAPE: "llama-tiny", OpCode.PERMUTE: "llama-tiny", OpCode.ROPE: "llama-tiny",
    OpCode.MATMUL: "llama-tiny", OpCode.MUL: "llama-tiny", OpCode.ADD: "llama-tiny", OpCode.SOFTMAX: "llama-tiny",
    OpCode.SILU: "llama-tiny", OpCode.CONV2D: "digits-cnn", OpCode.RELU: "digits-cnn",
    OpCode.LAYERNORM: "block", OpCode.GELU: "block", OpCode.SUB: "block", OpCode.NEG: "block",
    OpCode.SLICE: "block", OpCode.CONCAT: "block", OpCode.MEAN: "block", OpCode.RESCALE: "tiny-rescale",
    OpCode.UTF8_DECODE: "tokenizer", OpCode.CHAR_MAP: "tokenizer", OpCode.TRIE_MATCH: "tokenizer",
    OpCode.WORDPIECE: "tokenizer", OpCode.LOREFT: "loreft",
}


#: Op codes whose games live in their slice's own file (issue 13: activations, pooling, attention and shapes).
COVERED_ELSEWHERE: set[OpCode] = set(_ACT_OPS) | set(_POOL_OPS) | set(_ATTN_OP_MODEL)
# ---- tokenizer: detok (issue 14)
from .test_ops_detok import DETOK_OPS as _DETOK_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_DETOK_OPS)
# ---- tokenizer: bpe (issue 14)
COVERED_ELSEWHERE |= set(_BPE_OPS)
# ---- tokenizer: bpe ignore_merges (issue 14)
from .test_ops_wordvocab import WORD_VOCAB_OPS as _WORD_VOCAB_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_WORD_VOCAB_OPS)
# ---- tokenizer: pretok (issue 14)
from .test_ops_pretok import PRETOK_OPS as _PRETOK_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_PRETOK_OPS)
# ---- generation: sample (issue 15)
from .test_ops_sample import SAMPLE_OPS as _SAMPLE_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_SAMPLE_OPS)
# ---- generation: cache (issue 15)
from .test_ops_cache import CACHE_OPS as _CACHE_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_CACHE_OPS)
# ---- tokenizer: added (issue 14)
from .test_ops_added import ADDED_OPS as _ADDED_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_ADDED_OPS)
# ---- tokenizer: nfc (issue 14)
from .test_ops_nfc import NFC_OPS as _NFC_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_NFC_OPS)
# ---- image: imgops (issue 16)
from .test_ops_image import IMAGE_OPS as _IMAGE_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_IMAGE_OPS)
# ---- image: sd-unet-block (issue 16)
from .test_ops_stat import STAT_OPS as _STAT_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_STAT_OPS)
# ---- tokenizer: nfc runs (issue 14)
from .test_ops_nfc_runs import NFC_RUN_OPS as _NFC_RUN_OPS  # noqa: E402

COVERED_ELSEWHERE |= set(_NFC_RUN_OPS)


def test_every_op_code_is_covered():
    assert set(OP_MODEL) | COVERED_ELSEWHERE == set(OpCode)
    assert not set(OP_MODEL) & COVERED_ELSEWHERE


@pytest.fixture(scope="module")
def models():
    return {}


@pytest.fixture(scope="module")
def protocol(project, accounts):
    owner = accounts[0]
    import tempfile
    from pathlib import Path

    a = deploy_protocol(project, chain.provider, owner, directory=Path(tempfile.mkdtemp()), params=PARAMS)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])


def _prepared(name, models, protocol, owner, reference_model):
    """The model (built once per module, a reference model once per session) registered in this test's chain state
    (tests are isolated)."""
    registry, _ = protocol
    if name not in models:
        if name in REFERENCES:
            built = reference_model(name)
            model, x = built.model, built.example_inputs[0]
        else:
            model, x = BUILDERS[name]()
        commitment = ModelCommitment(model)
        models[name] = (commitment, x, ExecutionCommitment(commitment, run(model, [x])))
    model_id = registry.registerModel(model_spec(models[name][0].model, 0, owner.address), sender=owner).return_value
    return models[name], model_id


@pytest.mark.parametrize("op", sorted(OP_MODEL, key=int), ids=lambda op: OpCode(op).name)
def test_a_corrupted_element_of_each_operator_loses_the_game(models, protocol, owner, submitter, challenger, op,
                                                             reference_model):
    (commitment, x, honest), model_id = _prepared(OP_MODEL[op], models, protocol, owner, reference_model)
    _, game = protocol
    nodes = commitment.model.graph.nodes
    node_index = max(i for i, n in enumerate(nodes) if n.op == op)
    element = nodes[node_index].output.size // 2
    if op == OpCode.TRIE_MATCH:
        element |= 1  # a token column: a wrong piece end could make the rest of the faulty run loop
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)
