"""LLM accuracy: the integer model compiled from a trained checkpoint against its float original, on held-out text.

Run: ``python -m bench.bench_llm`` (or ``make bench-llm``); writes bench/results/llm.json.

Cases (issue 14): ``llm-small`` (offchain/models/llm_small, byte-level BPE) and ``llm-tiny-sp``
(offchain/models/llm_tiny_sp, SentencePiece-style BPE). For each:

* the checkpoint folder is compiled by the Hugging Face loader (``compile_hf``, int8 weights, int16 activations,
  the default CompileConfig) over ``SEQ_LEN`` token ids with every position's logits as output, calibrated on
  training-split text (pydoc topics, never the held-out documents);
* the float reference is transformers' own ``LlamaForCausalLM`` on the same folder (fp32);
* both read the same ``WINDOWS`` non-overlapping ``SEQ_LEN``-token windows of the committed held-out sample
  (``heldout_sample.json``), teacher-forced: at every position the input is the true prefix.

Metrics: ``next_token_agreement`` (integer argmax == float argmax, over every position that has a next token;
target >= 0.95), ``perplexity_ratio`` (integer perplexity / float perplexity on those next tokens, the integer
logits taken as reals; target <= 1.05), ``perplexity_int`` beside the float one, ``next_token_accuracy_int``
beside the float one (argmax == the true next token), ``compile_s``, and ``loader_max_abs_logit_error``: the
loader's own float module against transformers' (both float: any gap is the loader's).

Case ``tokenizer`` (issue 14): the worst one-step transaction of every tokenizer / detokenizer operator, from
``bench_ops_gas``'s worst-case inputs at each op's size cap (``pretok_cases``, ``bpe_cases``, ``word_vocab_cases``, ``detok_cases``, ``added_cases``; a local
anvil, eth_estimateGas, deterministic), each beside the 2,000,000-gas target; and the disputable tokenizer of
``llm-small`` on 256-byte texts: ``encode_equal_fraction`` (graph ids == the tokenizers library's) and
``encode_s`` (the whole graph's forward in the integer engine) beside the tokenizers library's encode time.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from bench._results import Result, write_results
from offchain.engine.executor import run
from offchain.models.train_llm import SMALL_DIR, TINY_SP_DIR, Document, build_pydoc_documents, split, token_stream

SEQ_LEN = 64  # tokens per window (the compiled model's fixed prompt length)
WINDOWS = 40  # held-out windows per case: 40 x 63 = 2,520 scored next tokens
CALIBRATION_PROMPTS = 8  # training-split pydoc topics, each cut to SEQ_LEN tokens
AGREEMENT_TARGET = 0.95
PERPLEXITY_RATIO_TARGET = 1.05
CASES = {"llm-small": SMALL_DIR, "llm-tiny-sp": TINY_SP_DIR}


def heldout_windows(folder: Path, tokenizer) -> torch.Tensor:
    """int64 [n, SEQ_LEN]: the committed held-out documents as one <|bos|> text <|eos|> stream, cut in windows."""
    sample = json.loads((folder / "heldout_sample.json").read_text())
    stream = token_stream(tokenizer, [Document(d["source"], d["text"]) for d in sample])
    n = min(len(stream) // SEQ_LEN, WINDOWS)
    if n < WINDOWS:
        raise SystemExit(f"{folder}/heldout_sample.json holds {len(stream)} tokens: fewer than {WINDOWS} windows")
    return torch.tensor(stream[: n * SEQ_LEN], dtype=torch.long).view(n, SEQ_LEN)


def calibration_texts() -> list[str]:
    """Training-split pydoc topics (the held-out split never calibrates), longest first, for full windows."""
    train, _ = split(build_pydoc_documents())
    return [d.text for d in sorted(train, key=lambda d: (-len(d.text), d.source))[:CALIBRATION_PROMPTS]]


def teacher_forced(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logits [T, V] (float64), targets [T]: (argmax per position [T], negative log-likelihood per position [T])."""
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return logits.argmax(-1), -log_probs[np.arange(len(targets)), targets]


def bench_case(case: str, folder: Path) -> list[Result]:
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM

    from offchain.models.hf_llama import compile_hf

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    windows = heldout_windows(folder, tokenizer)
    started = time.monotonic()
    compiled = compile_hf(folder, seq_len=SEQ_LEN, prompts=calibration_texts(), all_positions=True, name=case)
    compile_s = time.monotonic() - started
    reference = LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    scale = 2.0 ** -compiled.model.graph.output.frac

    agree, right_int, right_float, nll_int, nll_float, loader_gap = 0, 0, 0, 0.0, 0.0, 0.0
    scored = 0
    with torch.no_grad():
        for ids in windows:
            ids = ids.unsqueeze(0)  # [1, SEQ_LEN]
            want = reference(input_ids=ids, use_cache=False).logits[0].double().numpy()  # [SEQ_LEN, V]
            loader_gap = max(loader_gap, float(np.abs(compiled.module(ids)[0].double().numpy() - want).max()))
            got = run(compiled.model, [ids.numpy()]).output.astype(np.float64).reshape(want.shape) * scale
            targets = ids[0, 1:].numpy()
            top_int, nll_i = teacher_forced(got[:-1], targets)
            top_float, nll_f = teacher_forced(want[:-1], targets)
            agree += int((top_int == top_float).sum())
            right_int += int((top_int == targets).sum())
            right_float += int((top_float == targets).sum())
            nll_int += float(nll_i.sum())
            nll_float += float(nll_f.sum())
            scored += len(targets)

    ppl_int, ppl_float = math.exp(nll_int / scored), math.exp(nll_float / scored)
    reference_name = "transformers LlamaForCausalLM fp32, same checkpoint and windows"
    note = f"{len(windows)} held-out windows x {SEQ_LEN} tokens, {scored} next tokens scored, teacher-forced"
    return [
        Result(case, "next_token_agreement", agree / scored, "fraction", "target (issue 14)", AGREEMENT_TARGET, note),
        Result(case, "perplexity_ratio", ppl_int / ppl_float, "ratio", "target (issue 14)", PERPLEXITY_RATIO_TARGET,
               note),
        Result(case, "perplexity_int", ppl_int, "perplexity", reference_name, ppl_float, note),
        Result(case, "next_token_accuracy_int", right_int / scored, "fraction", reference_name, right_float / scored,
               note),
        Result(case, "loader_max_abs_logit_error", loader_gap, "logit", "transformers' logits (both float)", 0.0),
        Result(case, "compile_s", compile_s, "s", note="one run: compile_hf, calibration included"),
    ]


STEP_TARGET = 2_000_000
TOKENIZER_OPS = ("UTF8_CHARS", "CHAR_MAP", "ADDED_TOKENS", "PRETOKENIZE", "BPE_SYMBOLS", "WORD_VOCAB", "PAIR_RANK",
                 "BPE_MERGE", "BPE_IDS", "DETOK_LEN", "DETOK_BYTES")
# ---- tokenizer: added (issue 14): many added tokens (Llama-3's reserved specials) take these instead of ADDED_TOKENS
TOKENIZER_OPS += ("ADDED_MATCH", "ADDED_RESOLVE")


def tokenizer_gas() -> list[Result]:
    """Worst one-step tx gas per tokenizer op over bench_ops_gas' worst-case inputs at the caps."""
    from ape import accounts, networks, project

    from bench.bench_ops_gas import (added_cases, bpe_cases, detok_cases, one_step_tx_gas, pretok_cases, text_cases,
                                     word_vocab_cases)
    from offchain.dispute.operators import operator_families, prover_args

    worst: dict[str, tuple[int, str]] = {}
    with networks.parse_network_choice("ethereum:local:foundry"):
        sender = accounts.test_accounts[0]
        families = {name: sender.deploy(getattr(project, name)) for name in operator_families()}
        codes, addresses = prover_args({name: c.address for name, c in families.items()})
        prover = sender.deploy(project.OneStepProver, codes, addresses)
        chars = [c for c in text_cases() if c.op.name == "CHAR_MAP"]
        for case in pretok_cases() + bpe_cases() + word_vocab_cases() + detok_cases() + chars + added_cases():
            if case.op.name not in TOKENIZER_OPS or not case.whole_step:
                continue
            gas, _ = one_step_tx_gas(prover, case, sender)
            if gas > worst.get(case.op.name, (-1, ""))[0]:
                worst[case.op.name] = (gas, case.name)
    return [Result("tokenizer", f"worst_step_gas_{op.lower()}", worst[op][0], "gas", "target (issue 14)",
                   STEP_TARGET, note=worst[op][1]) for op in TOKENIZER_OPS if op in worst]


def tokenizer_speed(texts: int = 20, max_bytes: int = 256) -> list[Result]:
    """llm-small's tokenizer graph at 256 bytes vs the tokenizers library: equality and time per text."""
    from tokenizers import Tokenizer

    from offchain.models import bpe
    from offchain.models.text_tables import text_input

    spec = bpe.read_tokenizer(SMALL_DIR)
    model = bpe.tokenizer_model(spec, max_bytes, max_bytes + 2)
    hf = Tokenizer.from_file(str(SMALL_DIR / "tokenizer.json"))
    docs = [d.text for d in build_pydoc_documents()][:texts]
    samples = [bpe.truncate_utf8(t, max_bytes).encode() for t in docs]
    equal, graph_s, lib_s = 0, 0.0, 0.0
    for data in samples:
        start = time.perf_counter()
        got = [int(v) for v in run(model, [text_input(data, max_bytes)]).output.reshape(-1)]
        graph_s += time.perf_counter() - start
        start = time.perf_counter()
        want = bpe.reference_ids(hf, spec, data, max_bytes + 2, model.meta["pad_id"])
        lib_s += time.perf_counter() - start
        equal += got == want
    note = (f"{len(model.graph.nodes)} nodes ({model.meta['tokenizer']['rounds']} merge rounds), {texts} pydoc "
            f"texts cut to {max_bytes} bytes")
    return [Result("tokenizer", "encode_equal_fraction", equal / len(samples), "fraction", "tokenizers' encode", 1.0,
                   note),
            Result("tokenizer", "encode_s", graph_s / len(samples), "s", "tokenizers' encode (s)",
                   lib_s / len(samples), note)]


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=sorted(CASES) + ["tokenizer"], action="append",
                        help="default: every case")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results: list[Result] = []
    chosen = args.case or list(CASES) + ["tokenizer"]
    for case in chosen:
        if case == "tokenizer":
            results += tokenizer_speed() + tokenizer_gas()
        else:
            results += bench_case(case, CASES[case])
    previous = Path(__file__).resolve().parent / "results" / "llm.json"
    if args.case and previous.is_file():   # a partial run keeps the other cases' last figures
        kept = [Result(**r) for r in json.loads(previous.read_text())["results"] if r["case"] not in chosen]
        results = kept + results
    write_results("llm", results, Console())


if __name__ == "__main__":
    main()
