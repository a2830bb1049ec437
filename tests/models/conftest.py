"""Shared, offline fixtures for the reference-model tests (loaded once per session)."""

import os

import pytest

# The reference libraries must never reach for the network (none exists here).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from offchain.models.minilm import load_tokenizer, minilm_dir  # noqa: E402


@pytest.fixture(scope="session")
def ours():
    """Our WordPiece tokenizer over the packaged vocab.txt."""
    return load_tokenizer()


@pytest.fixture(scope="session")
def hf_tokenizer():
    """Hugging Face's Rust tokenizer from the packaged tokenizer.json, no padding or truncation."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok
