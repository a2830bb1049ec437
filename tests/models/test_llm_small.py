"""The committed generative reference checkpoints (offchain/models/llm_small, llm_tiny_sp; trained by
offchain/models/train_llm.py): they load with transformers as recorded, their tokenizers round-trip text exactly
(byte-level BPE and SentencePiece-style BPE with byte fallback), their recorded held-out perplexity is reproduced
on the committed slice, and the corpus builder is deterministic. Nothing here trains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from offchain.models import train_llm
from offchain.models.train_llm import (SMALL, SMALL_DIR, TINY_SP, TINY_SP_DIR, Document, build_corpus,
                                       corpus_digest, slice_perplexity, split)

CHECKPOINTS = {"small": (SMALL, SMALL_DIR), "tiny-sp": (TINY_SP, TINY_SP_DIR)}

#: Texts no tokenizer may change: whitespace runs, tabs, CR LF, leading/trailing spaces, accents, CJK, emoji
#: (4-byte UTF-8), a NUL, combining marks, the empty string.
ROUND_TRIP_TEXTS = [
    "Return a new list containing all items from the iterable in ascending order.",
    "def f(x):\n    return x  # indented\n\n\tTabbed\r\nline",
    "  two leading spaces, three trailing   ",
    " ",
    "",
    "naïve café — 中文 テキスト 🚀🦀 e\u0301 \x00 end",
    "a  b   c    d",
    "markers that are not special tokens: <| bos |> <|eos| |>",
]


@pytest.fixture(scope="module", params=sorted(CHECKPOINTS))
def checkpoint(request):
    run, folder = CHECKPOINTS[request.param]
    return run, folder, json.loads((folder / "training.json").read_text())


@pytest.fixture(scope="module")
def loaded(checkpoint):
    from transformers import AutoTokenizer, LlamaForCausalLM

    run, folder, record = checkpoint
    torch.set_num_threads(1)
    return LlamaForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_checkpoint_loads_as_recorded(checkpoint, loaded):
    run, folder, record = checkpoint
    model, tokenizer = loaded
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads,
            cfg.intermediate_size, cfg.max_position_embeddings) == (run.layers, run.hidden, run.heads, run.kv_heads,
                                                                    run.intermediate, run.context)
    assert cfg.num_key_value_heads < cfg.num_attention_heads  # grouped-query attention
    assert cfg.tie_word_embeddings and model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert cfg.vocab_size == len(tokenizer) == run.vocab_size
    assert sum(p.numel() for p in model.parameters()) == record["parameters"]
    assert (cfg.bos_token_id, cfg.eos_token_id) == (tokenizer.bos_token_id, tokenizer.eos_token_id)
    assert tokenizer.convert_ids_to_tokens([cfg.bos_token_id, cfg.eos_token_id]) == ["<|bos|>", "<|eos|>"]
    assert model.generation_config.eos_token_id == cfg.eos_token_id
    assert record["steps"] == run.steps and record["tokens_seen"] == run.steps * run.batch * run.context
    assert (folder / "model.safetensors").stat().st_size < 30 * 2**20


def test_tokenizer_family(checkpoint):
    """llm_small is byte-level BPE; llm_tiny_sp is Llama-2-style: Metaspace, byte fallback, <0x00>..<0xFF> at 3..258."""
    run, folder, _ = checkpoint
    spec = json.loads((folder / "tokenizer.json").read_text())
    if run.tokenizer_kind == "byte_level_bpe":
        assert spec["pre_tokenizer"]["type"] == "ByteLevel" and spec["decoder"]["type"] == "ByteLevel"
        assert not spec["model"].get("byte_fallback")
    else:
        assert spec["pre_tokenizer"]["type"] == "Metaspace" and spec["model"]["byte_fallback"] is True
        vocab = spec["model"]["vocab"]
        assert [vocab[f"<0x{b:02X}>"] for b in range(256)] == list(range(3, 259))
        assert vocab["<unk>"] == 0


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_tokenizer_round_trips_exactly(loaded, text):
    _, tokenizer = loaded
    ids = tokenizer.encode(text, add_special_tokens=False)
    if tokenizer.unk_token_id is not None:
        assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
    with_bos = tokenizer(text).input_ids
    assert with_bos[0] == tokenizer.bos_token_id and tokenizer.decode(with_bos, skip_special_tokens=True) == text


def test_byte_fallback_spells_unseen_characters_as_utf8():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TINY_SP_DIR)
    pieces = tokenizer.convert_ids_to_tokens(tokenizer.encode("🦀", add_special_tokens=False))
    assert pieces[-4:] == [f"<0x{b:02X}>" for b in "🦀".encode()]


def test_heldout_sample_round_trips(checkpoint, loaded):
    _, folder, _ = checkpoint
    _, tokenizer = loaded
    sample = json.loads((folder / "heldout_sample.json").read_text())
    assert sample
    for doc in sample:
        assert tokenizer.decode(tokenizer.encode(doc["text"], add_special_tokens=False)) == doc["text"]


def test_recorded_slice_perplexity_reproduced(checkpoint, loaded):
    """The perplexity training.json records on the committed held-out slice comes out again from the saved weights,
    and the full held-out perplexity it records beats the bigram baseline on the same tokens."""
    run, folder, record = checkpoint
    model, tokenizer = loaded
    sample = json.loads((folder / "heldout_sample.json").read_text())
    perplexity, scored = slice_perplexity(model, tokenizer, sample, run.context)
    assert scored == record["slice"]["scored_tokens"] == train_llm.SLICE_WINDOWS * (run.context - 1)
    assert perplexity == pytest.approx(record["slice"]["perplexity"], rel=1e-4)
    assert record["heldout_perplexity"] < record["bigram_perplexity"]


def test_heldout_sample_is_held_out(checkpoint):
    _, folder, _ = checkpoint
    for doc in json.loads((folder / "heldout_sample.json").read_text()):
        assert Document(doc["source"], doc["text"]).held_out


def _write(lib: Path, relative: str, source: str) -> None:
    path = lib / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_corpus_rules_on_a_small_lib(tmp_path):
    """Prose docstrings kept in path order, one document per file; duplicates, non-prose, test folders,
    site-packages and unparsable files left out."""
    prose = "Return the sum of the two arguments, each of them an integer."
    _write(tmp_path, "b/mod.py", f'"""{prose}"""\ndef f():\n    """Open the file named by the path and read it."""\n')
    _write(tmp_path, "a.py", f'class C:\n    """{prose}"""\n')  # first in path order: owns the paragraph
    _write(tmp_path, "c.py", '"""x = 1 + 2 * (3 - 4) / 5 ** 6 == 7 != 8 >= 9"""\n')  # not prose
    _write(tmp_path, "test/test_x.py", '"""This docstring sits in a test folder and is left out."""\n')
    _write(tmp_path, "site-packages/p.py", '"""This docstring sits in site-packages and is left out."""\n')
    _write(tmp_path, "broken.py", 'def (:\n    """This file does not parse and is left out of the corpus."""\n')
    docs = [d for d in build_corpus(tmp_path) if not d.source.startswith("pydoc_data.topics:")]
    assert docs == [Document("a.py", prose), Document("b/mod.py", "Open the file named by the path and read it.")]
    assert corpus_digest(build_corpus(tmp_path)) == corpus_digest(build_corpus(tmp_path))


def test_corpus_is_deterministic_and_split_by_source():
    """The real corpus: another interpreter process (another hash seed) builds the same documents, which match the
    digest the committed checkpoints were trained on when this is the Python version they were trained with; no
    source is on both sides of the split."""
    documents = build_corpus()
    code = ("from offchain.models.train_llm import build_corpus, corpus_digest; "
            "print(corpus_digest(build_corpus()))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert other.stdout.strip() == corpus_digest(documents)
    train, heldout = split(documents)
    assert {d.source for d in train}.isdisjoint(d.source for d in heldout)
    assert 0.05 < len(heldout) / len(documents) < 0.15
    assert len({d.source for d in documents}) == len(documents)
    record = json.loads((SMALL_DIR / "training.json").read_text())
    if record["python"] != sys.version.split()[0]:
        pytest.skip(f"checkpoint corpus from Python {record['python']}; this is {sys.version.split()[0]}")
    assert corpus_digest(documents) == record["corpus"]["digest"]
    assert (len(train), len(heldout)) == (record["corpus"]["train_documents"], record["corpus"]["heldout_documents"])
