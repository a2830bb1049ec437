"""MiniLM with one input tensor, as the protocol requires (one input root per request).

``offchain.models.minilm.MiniLM`` takes token ids and an attention mask. The tokenizer's mask is exactly
``ids != pad_id``, so the wrapper derives it inside the graph from the ids with an embedding lookup into a
[vocab, 1] table (0.0 on the pad row, 1.0 elsewhere): the same function of the text, one input tensor.
Who calls: bench/bench_dispute.py (the ``minilm`` case).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import compile_module
from offchain.engine.model import Model
from offchain.models import minilm

SEQ_LEN = 128
SENTENCE = "Smart contracts can request machine-learning inferences and trust the answer."


class MiniLMOneInput(nn.Module):
    """forward(input_ids int64 [B, T]) -> unit embeddings float32 [B, hidden]; mask = (ids != pad_id)."""

    def __init__(self, encoder: minilm.MiniLM, pad_id: int):
        super().__init__()
        self.encoder = encoder
        table = torch.ones(encoder.config.vocab_size, 1)
        table[pad_id] = 0.0
        self.is_token = nn.Parameter(table, requires_grad=False)  # [vocab, 1]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = F.embedding(input_ids, self.is_token).reshape(input_ids.shape)  # [B, T] of 0.0 / 1.0
        return self.encoder(input_ids, mask)


def build_minilm() -> tuple[Model, list, dict]:
    """The compiled one-input MiniLM, its input ([ids int64 [1, SEQ_LEN]]) and facts for the record.

    Checks that the wrapper's float output equals the two-input encoder's before compiling, so the graph
    is MiniLM's function of the text.
    """
    tokenizer = minilm.load_tokenizer()
    encoder = minilm.load_minilm(seq_len=SEQ_LEN)
    module = MiniLMOneInput(encoder, tokenizer.pad_id).eval()
    samples = [minilm.encode_batch(tokenizer, [s], SEQ_LEN) for s in minilm.sample_sentences()[:6]]
    ids, mask = minilm.encode_batch(tokenizer, [SENTENCE], SEQ_LEN)
    with torch.no_grad():
        gap = float((module(ids) - encoder(ids, mask)).abs().max())
    if gap != 0.0:
        raise AssertionError(f"one-input MiniLM differs from the two-input encoder by {gap}")
    t = time.perf_counter()
    model = compile_module(module, (ids,), [(s_ids,) for s_ids, _ in samples])
    compile_s = time.perf_counter() - t
    params = sum(p.numel() for p in encoder.parameters())
    return model, [ids.numpy()], {"compile_s": compile_s, "parameters": params}
