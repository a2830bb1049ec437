"""The MiniLM of the dispute benchmark: the oracle's text model (UTF-8 in, tokenizer in the graph).

Who calls: bench/bench_dispute.py (the ``minilm`` case).
"""

from __future__ import annotations

import time

from offchain.engine.model import Model
from offchain.models import minilm
from offchain.models.text_tables import text_input

SENTENCE = "Smart contracts can request machine-learning inferences and trust the answer."


def build_minilm() -> tuple[Model, list, dict]:
    """The compiled text MiniLM, its input ([UTF-8 bytes int8 [TEXT_BYTES]]) and facts for the record."""
    t = time.perf_counter()
    model = minilm.build_text_model()
    compile_s = time.perf_counter() - t
    params = sum(p.numel() for p in minilm.load_minilm(seq_len=minilm.TEXT_SEQ_LEN).parameters())
    return model, [text_input(SENTENCE, minilm.TEXT_BYTES)], {"compile_s": compile_s, "parameters": params}
