"""Every node of compiled models, recomputed element by element from operand ranges, matches the trace."""

from __future__ import annotations

import numpy as np
import torch

from offchain.engine.compiler import compile_module
from offchain.engine.executor import run
from offchain.engine.onestep import element_operands, recompute_element


def _check_model(model, inputs, per_node: int = 6, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    trace = run(model, inputs)
    checked = 0
    for i, node in enumerate(model.graph.nodes):
        size = node.output.size
        picks = {0, size - 1} | {int(v) for v in rng.integers(0, size, per_node)}
        flat = trace.outputs[i].reshape(-1)
        for e in picks:
            assert recompute_element(model, trace, i, e) == int(flat[e]), (i, node.op, e)
            checked += 1
    return checked


def test_digits_nodes_recompute(digits_case, digits_data):
    _, model, _ = digits_case
    assert _check_model(model, [digits_data.test_pixels[:1]]) > 0


def test_llama_tiny_nodes_recompute():
    from offchain.models import llama

    cfg = llama.preset("tiny")
    module = llama.build_llama(cfg, seed=2)
    prompt = llama.random_prompt(cfg, 0)
    model = compile_module(module, (prompt,), [(prompt,)])
    tokens = prompt.numpy()
    assert _check_model(model, [tokens], per_node=3) > 0
    trace = run(model, [tokens])
    emb = next(i for i, n in enumerate(model.graph.nodes) if n.op == 15)
    ranges = element_operands(model, trace, emb, 5)
    dim = model.graph.nodes[emb].in_specs[1].shape[1]
    assert ranges[1].start == int(tokens.reshape(-1)[0]) * dim + 5


def test_transformer_block_nodes_recompute():
    """LAYERNORM, GELU, MEAN, ROPE, SOFTMAX and int32 mask carriers of a compiled block, element by element."""
    from .test_compiler import _Block

    block = _Block().eval()
    samples = [(torch.randn(1, 6, 16, generator=torch.Generator().manual_seed(s)),) for s in range(4)]
    model = compile_module(block, samples[0], samples)
    assert _check_model(model, [samples[1][0].numpy()], per_node=4) > 0
