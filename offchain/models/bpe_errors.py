"""Errors of the tokenizer-graph builders (issue 14: ``bpe.py``, ``bpe_tables.py``, ``bpe_detok.py``)."""

from __future__ import annotations


class UnsupportedTokenizerError(ValueError):
    """A ``tokenizer.json`` uses a component (model, pre-tokenizer, decoder, ...) or a setting the tokenizer graph
    does not reproduce exactly; the message names it."""
