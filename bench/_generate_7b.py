"""``llama-7b-gen``: text generation at Llama-2-7B dimensions, disputed on anvil (bench_generate's second case).

The body is the llama-7b dispute benchmark's integer model (``bench._dispute_llama``: one block compiled at 7B dims,
replicated 32 times, block L reading its own ``llama.int8_weight`` tensors, memory-mapped) built over S = 16 + 16 - 1
positions with every position's logits, and ``offchain.models.generate.build_generator`` turns it into the
generating graph: a byte tokenizer front (the committed SentencePiece tokenizer llm-tiny-sp, whose ids index the
7B vocabulary), a 16-slot prefill, 15 decode steps reading the KV cache in place, sampling ops and the detokenizer.
One logit of decode step 12 is corrupted (the submitter then runs the rest of the graph on it) and the game is
played to the one-step proof with ``bench.bench_dispute.measure`` (the same harness and figures as llama-7b).
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench._results import Result

PROMPT_TOKENS = 16
NEW_TOKENS = 16
FAULT_STEP = 12
PROMPT = "Explain the dispute game in one sentence:"


def llama_7b_gen(console: Console) -> list[Result]:
    from ape import accounts, networks, project

    from bench import bench_dispute
    from bench._dispute_game import deploy
    from bench._dispute_llama import SpilledWeights, compile_one_block, llama_parameters, replicate_blocks
    from offchain.engine.ops import OpCode
    from offchain.models import bpe, llama
    from offchain.models.generate import GenerationConfig, build_generator, request_bytes
    from offchain.models.train_llm import TINY_SP_DIR

    gc_ = GenerationConfig(prompt_bytes=64, prompt_tokens=PROMPT_TOKENS, max_new=NEW_TOKENS, top_k=40)
    cfg = llama.preset("7b", max_seq=gc_.positions)
    start = time.perf_counter()
    one = compile_one_block(cfg)
    compile_s = time.perf_counter() - start
    scratch = tempfile.TemporaryDirectory(prefix="bench-generate-7b-")
    start = time.perf_counter()
    console.print("llama-7b-gen: generating the 32 blocks' int8 weights (6.7 GB, memory-mapped) ...")
    body = replicate_blocks(one, cfg, store=SpilledWeights(Path(scratch.name)))
    weights_s = time.perf_counter() - start
    del one
    gc.collect()
    spec = bpe.read_tokenizer(TINY_SP_DIR)
    pad = 0
    front = bpe.tokenizer_model(spec, gc_.prompt_bytes, PROMPT_TOKENS, pad_id=pad)
    dims = (cfg.dim, cfg.ffn_dim, cfg.vocab_size, cfg.n_heads, cfg.head_dim, 1)
    start = time.perf_counter()
    model, _full, emitted, _cand = build_generator(body, front, spec.raw, gc_, pad, (2,), dims, "llama-7b-gen")
    build_s = time.perf_counter() - start
    heads = [i for i, n in enumerate(model.graph.nodes)
             if n.op == OpCode.LINEAR and n.source.startswith(f"step{FAULT_STEP}:")]
    fault_node = heads[-1]                     # decode step 12's LM head: its logits
    x = __import__("numpy").frombuffer(request_bytes(PROMPT, prompt_bytes=gc_.prompt_bytes), dtype="int8").copy()
    case = bench_dispute.Case(
        "llama-7b-gen", model, [x], llama_parameters(cfg), fault_node, 7,
        f"Llama-2-7B dims (32 blocks as the llama-7b case), {PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens "
        f"(greedy), one logit of decode step {FAULT_STEP} corrupted; {len(model.graph.nodes):,} graph nodes",
        {"compile_one_block_s": compile_s, "generate_blocks_s": weights_s, "build_generator_s": build_s},
        scratch)
    results: list[Result] = []
    try:
        with networks.parse_network_choice("ethereum:local:foundry") as provider:
            protocol = deploy(project, provider, accounts)
            measured = bench_dispute.measure(case, protocol, provider, project)
    finally:
        case.model.weights.clear()
        scratch.cleanup()
    keep = {"moves_per_side", "max_tx_gas", "dispute_wall_s", "peak_rss_gb", "step_gas", "nodes", "forward_s",
            "trace_trees_s", "weights_root_s", "compile_one_block_s", "generate_blocks_s", "build_generator_s"}
    for r in measured:
        if r.metric in keep and not (r.compared_with or "").startswith("target (issue 4)"):
            results.append(r)
    results.append(Result("llama-7b-gen", "moves_per_side", next(r.value for r in measured
                                                                   if r.metric == "moves_per_side"), "moves",
                          "target (issue 15)", 14))
    results.append(Result("llama-7b-gen", "max_tx_gas", next(r.value for r in measured if r.metric == "max_tx_gas"),
                          "gas", "target (issue 15)", 2_000_000))
    trace_bytes = sum(n.output.nbytes for n in model.graph.nodes)
    results.append(Result("llama-7b-gen", "trace_bytes", trace_bytes, "B", None, None,
                          f"every node's output of one run, packed ({PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new)"))
    results.append(Result("llama-7b-gen", "trace_bytes_64_new_tokens", trace_bytes_for(model, 64), "B", None, None,
                          "the same graph writing 64 tokens, from its parts: prefill + per-step bytes (linear in the "
                          "position: the attention rows) + the cache blocks' copies + samplers + detokenizer"))
    return results


def _copied_rows(rows: int, block: int) -> int:
    """K/V rows the base-``block`` cache merging copies for ``rows`` decode rows: level L copies every full group of
    block^L rows once (``_Body._consolidate``)."""
    total, size = 0, block
    while size <= rows:
        total += rows // size * size
        size *= block
    return total


def trace_bytes_for(model, new_tokens: int) -> int:
    """Trace bytes of ``model``'s generator extrapolated to ``new_tokens``: every part measured from its node specs.
    Decode step t's own nodes cost a + b t (b: the attention rows, one entry per head and layer per key), each cache
    merge level copies its rows once, the per-token samplers scale with the tokens, the rest does not depend on N."""
    import re

    built = model.meta["generation"]["max_new"]
    block = model.meta["generation"]["cache_block"]
    steps: dict[int, int] = {}
    copies = fixed = 0
    for n in model.graph.nodes:
        m = re.match(r"step(\d+)[:.]", n.source)
        if " cache." in n.source:
            copies += n.output.nbytes
        elif m:
            steps[int(m.group(1))] = steps.get(int(m.group(1)), 0) + n.output.nbytes
        elif re.match(r"gen\.\d+\.", n.source) or n.source.startswith("gen.ids"):
            fixed += n.output.nbytes / built * new_tokens              # per-token samplers and the emitted ids
        else:
            fixed += n.output.nbytes                                   # tokenizer, prefill, detokenizer
    first, last = min(steps), max(steps)
    slope = (steps[last] - steps[first]) / (last - first)
    step_bytes = sum(steps[first] + slope * (t - first) for t in range(1, new_tokens))
    per_row = copies / _copied_rows(built - 1, block) if copies else 0    # K and V of every layer, one row
    return int(fixed + step_bytes + per_row * _copied_rows(new_tokens - 1, block))
