"""Our MiniLM module reproduces sentence-transformers and is capturable as a static graph."""

import pytest
import torch

from offchain.models.minilm import (
    CAPTURED_ATEN_OPS,
    ModelInputError,
    check_inputs,
    embed,
    encode_batch,
    load_minilm,
    minilm_dir,
    sample_sentences,
)

SEQ_LEN = 64


@pytest.fixture(scope="module")
def model():
    return load_minilm(SEQ_LEN)


@pytest.fixture(scope="module")
def reference():
    """Sentence-transformers' own pipeline over the same packaged files, offline."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir()), device="cpu")


def test_matches_sentence_transformers(model, ours, reference):
    sentences = sample_sentences()
    assert max(len(ours.tokenize(s)) for s in sentences) + 2 <= SEQ_LEN  # no truncation on either side
    expected = torch.from_numpy(reference.encode(sentences, batch_size=len(sentences)))
    got = embed(model, ours, sentences)
    cosine = (got * expected).sum(dim=-1) / expected.norm(dim=-1)
    assert cosine.min() >= 0.9999


def test_unit_norm(model, ours):
    got = embed(model, ours, sample_sentences()[:4])
    assert torch.allclose(got.norm(dim=-1), torch.ones(4), atol=1e-5)


def test_padding_does_not_change_the_embedding(model, ours):
    """The same sentences padded to 16 and to 64 tokens, alone or batched, embed alike."""
    sentences = ["Hello world.", "A man is riding a horse.", "ok"]
    short_model = load_minilm(16)
    short = embed(short_model, ours, sentences)
    long = embed(model, ours, sentences)
    alone = torch.cat([embed(short_model, ours, [s]) for s in sentences])
    assert torch.allclose(short, long, atol=1e-5)
    assert torch.allclose(short, alone, atol=1e-5)


def test_pad_token_values_are_ignored(model, ours):
    """Whatever id sits under a zero mask, the embedding is the same."""
    ids, mask = encode_batch(ours, ["The cat sat on the mat."], SEQ_LEN)
    noisy = ids.clone()
    noisy[mask == 0] = 1037
    with torch.no_grad():
        assert torch.allclose(model(ids, mask), model(noisy, mask), atol=1e-6)


def test_export_captures_documented_ops(ours):
    model = load_minilm(16)
    ids, mask = encode_batch(ours, ["Hello world."], 16)
    program = torch.export.export(model, (ids, mask))
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert ops == CAPTURED_ATEN_OPS
    with torch.no_grad():
        assert torch.equal(program.module()(ids, mask), model(ids, mask))


@pytest.mark.parametrize(
    ("ids", "mask", "message"),
    [
        (torch.zeros(1, 63, dtype=torch.long), torch.ones(1, 63), r"int64 \[B, 64\]"),
        (torch.zeros(1, 64, dtype=torch.int32), torch.ones(1, 64), r"int64 \[B, 64\]"),
        (torch.zeros(1, 64, dtype=torch.long), torch.ones(1, 64, dtype=torch.float64), "attention_mask must be float32"),
        (torch.full((1, 64), 30522, dtype=torch.long), torch.ones(1, 64), "vocab_size=30522"),
        (torch.zeros(1, 64, dtype=torch.long), torch.full((1, 64), 0.5), "other than 0.0 and 1.0"),
        (torch.zeros(2, 64, dtype=torch.long), torch.cat([torch.ones(1, 64), torch.zeros(1, 64)]), "no real token"),
    ],
)
def test_bad_inputs_are_rejected(model, ids, mask, message):
    with pytest.raises(ModelInputError, match=message):
        check_inputs(model, ids, mask)


def test_empty_batch_is_rejected(ours):
    with pytest.raises(ModelInputError, match="empty"):
        encode_batch(ours, [], SEQ_LEN)


def test_sample_sentences_are_varied():
    sentences = sample_sentences()
    assert len(sentences) >= 24 and len(set(sentences)) == len(sentences)
    assert any(not s.isascii() for s in sentences) and any(any(c.isdigit() for c in s) for s in sentences)
