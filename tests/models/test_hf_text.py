"""A Hugging Face checkpoint compiled with its own tokenizer in the graph (``compile_hf_text``): UTF-8 text in, every
position's logits out. The text model equals the token-id model fed the ``tokenizers`` library's ids, agrees with
transformers' float model on the next token, and a fault inside the tokenizer's merge rounds loses its dispute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models import bpe
from offchain.models.hf_llama import compile_hf_text
from offchain.models.text_tables import text_input

FOLDER = Path(__file__).resolve().parents[2] / "offchain" / "models" / "llm_tiny_sp"
TEXT_BYTES, SEQ = 24, 32
PROMPTS = ["def add(a, b):", "The module is", "naïve café ☕", "x = [1, 2, 3]", "   spaces\tand\ttabs"]


@pytest.fixture(scope="module")
def compiled():
    return compile_hf_text(FOLDER, TEXT_BYTES, SEQ, prompts=PROMPTS[:3])


@pytest.fixture(scope="module")
def hf_tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(FOLDER / "tokenizer.json"))


def _ids(compiled, hf_tokenizer, data: bytes) -> list[int]:
    spec = bpe.read_tokenizer(FOLDER)
    return bpe.reference_ids(hf_tokenizer, spec, data, SEQ, compiled.model.meta["pad_id"])


@pytest.mark.parametrize("data", [p.encode() for p in PROMPTS] + [b"\xff\xfeok\xe2\x82", b""])
def test_text_model_equals_the_id_model_on_the_tokenizers_ids(compiled, hf_tokenizer, data):
    text_out = run(compiled.model, [text_input(data, TEXT_BYTES)]).output
    ids = np.array([_ids(compiled, hf_tokenizer, data)], dtype=np.int32)
    id_out = run(compiled.body.model, [ids]).output
    assert np.array_equal(text_out, id_out)


def test_text_model_agrees_with_transformers_on_the_next_token(compiled, hf_tokenizer):
    from transformers import AutoModelForCausalLM

    float_model = AutoModelForCausalLM.from_pretrained(FOLDER).eval()
    agree = total = 0
    for prompt in PROMPTS:
        data = prompt.encode()
        ids = hf_tokenizer.encode(prompt).ids
        with torch.no_grad():
            want = float_model(torch.tensor([ids])).logits[0].argmax(-1).tolist()
        out = run(compiled.model, [text_input(data, TEXT_BYTES)]).output.reshape(SEQ, -1)
        got = out[:len(ids)].argmax(-1).tolist()
        agree += sum(a == b for a, b in zip(got, want))
        total += len(ids)
    assert total >= 40 and agree / total >= 0.9, (agree, total)


def test_text_model_meta_and_input_bound(compiled):
    meta = compiled.model.meta
    assert meta["max_bytes"] == TEXT_BYTES and meta["tokenizer"]["family"] == "sentencepiece"
    assert meta["tokenizer"]["rounds"] == 3 * TEXT_BYTES
    assert compiled.model.graph.inputs[0].shape == (TEXT_BYTES,)
    assert tuple(compiled.model.graph.output.shape) == (1, SEQ, 512)
    with pytest.raises(Exception, match="at most 24"):
        text_input(b"x" * (TEXT_BYTES + 1), TEXT_BYTES)


@pytest.fixture(scope="module")
def protocol(project, accounts):
    import tempfile

    from ape import chain

    from offchain.chain.deployments import deploy_protocol
    from offchain.chain.params import ProtocolParams

    params = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
    a = deploy_protocol(project, chain.provider, accounts[0], directory=Path(tempfile.mkdtemp()), params=params)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])


@pytest.mark.parametrize("op", [OpCode.BPE_MERGE, OpCode.PAIR_RANK, OpCode.BPE_IDS])
def test_a_fault_inside_the_tokenizer_of_a_text_llm_loses(compiled, protocol, owner, submitter, challenger, op):
    from offchain.chain.registration import model_spec

    from dispute._fault_game import a_fault_loses

    registry, game = protocol
    commitment = ModelCommitment(compiled.model)
    x = text_input("The module is".encode(), TEXT_BYTES)
    honest = ExecutionCommitment(commitment, run(compiled.model, [x]))
    nodes = compiled.model.graph.nodes
    indices = [i for i, n in enumerate(nodes) if n.op == op]
    index = indices[len(indices) // 2]   # a middle merge round (the only BPE_IDS for that op)
    model_id = registry.registerModel(model_spec(compiled.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, index, 1, submitter, challenger)
