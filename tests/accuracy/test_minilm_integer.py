"""The integer MiniLM (default compile: int8 weights, low-SNR tensors widened to int16) gives sentence embeddings
with cosine >= 0.99 to the float model's, on every one of 26 varied sentences."""

from __future__ import annotations

import numpy as np
import torch

from offchain.engine.compiler import compile_module
from offchain.engine.executor import run
from offchain.models import minilm

SEQ = 32


def test_integer_minilm_matches_the_float_model_on_varied_sentences():
    encoder = minilm.load_minilm(seq_len=SEQ)
    tokenizer = minilm.load_tokenizer()
    sentences = minilm.sample_sentences()
    assert len(sentences) >= 20
    batches = [minilm.encode_batch(tokenizer, [s], SEQ) for s in sentences]
    model = compile_module(encoder, batches[0], batches[:8])
    cosines = []
    for ids, mask in batches:
        got = run(model, [ids.numpy(), mask.numpy()]).output[0] / 2.0**model.graph.output.frac
        with torch.no_grad():
            want = encoder(ids, mask)[0].numpy()
        cosines.append(float(got @ want / np.linalg.norm(got) / np.linalg.norm(want)))
    assert min(cosines) >= 0.99, sorted(zip(cosines, sentences))[:3]
