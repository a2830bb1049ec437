"""Trains the project's generative reference models from an English corpus that ships with CPython.

No pretrained language model ships offline, so the engine's Hugging Face loader gets its reference checkpoints from
here: `make train-llm` (``python -m offchain.models.train_llm``) reproduces both committed folders.

Corpus (PSF licence, the licence of CPython's own files): the reference text of `pydoc_data.topics` (one document
per topic) and the docstrings of the interpreter's standard library, extracted with `ast` from the `.py` files of
its Lib folder (one document per file; test folders and site-packages left out). Docstrings are kept when they read
as prose (at least 40 characters, at least 60% of the non-space characters letters) and deduplicated over the whole
corpus, first occurrence in sorted order winning. Documents go to the held-out split by their source name's hash
(about one in ten): no file is split between the two sides.

Checkpoints, each a `save_pretrained` folder with the tokenizer (tokenizer.json, tokenizer_config.json) and
generation_config.json, plus `training.json` (steps, tokens, wall time, held-out perplexity beside the bigram
baseline on the same tokens, greedy samples) and `heldout_sample.json` (held-out documents, so tests and benchmarks
measure without rebuilding the corpus):

- `llm_small/`: byte-level BPE (GPT-2 / Llama-3 / Qwen2 family), vocab 4096; LlamaForCausalLM, 4 layers, hidden 256,
  4 heads / 2 KV heads (GQA), intermediate 768, tied embeddings (~4.2 M parameters), 256-token context.
- `llm_tiny_sp/`: SentencePiece-style BPE (Llama-2 / TinyLlama family: Metaspace pre-tokenizer, byte fallback with
  the 256 `<0xNN>` tokens), vocab 512; 2 layers, hidden 64, 4 heads / 2 KV heads.

Training is one CPU thread (GEN-FACTS.md: on a shared machine one thread trains ~5x faster than two), AdamW, a fixed
number of steps, a fixed seed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).parent
SMALL_DIR = MODELS_DIR / "llm_small"
TINY_SP_DIR = MODELS_DIR / "llm_tiny_sp"

BOS, EOS, UNK = "<|bos|>", "<|eos|>", "<unk>"
HELDOUT_BUCKETS = 10  # one source in ten is held out
SKIPPED_LIB_PARTS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})
SLICE_WINDOWS = 4  # the slice whose perplexity training.json records and tests reproduce


# ---------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Document:
    """One unit of the corpus: the text of one pydoc topic or one standard-library file's docstrings."""

    source: str  # "pydoc_data.topics:<topic>" or the file's path relative to Lib, e.g. "json/decoder.py"
    text: str

    @property
    def held_out(self) -> bool:
        digest = hashlib.sha256(self.source.encode()).digest()
        return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS == 0


def _reads_as_prose(text: str) -> bool:
    visible = [c for c in text if not c.isspace()]
    return len(text) >= 40 and sum(c.isalpha() for c in visible) >= 0.6 * len(visible)


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return  # a few Lib files are templates or other encodings: not prose we need
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc.strip()


def _fresh(paragraphs: Iterator[str], seen: set[str]) -> list[str]:
    """The paragraphs not seen before that read as prose; marks them seen."""
    kept = []
    for paragraph in paragraphs:
        if paragraph not in seen and _reads_as_prose(paragraph):
            seen.add(paragraph)
            kept.append(paragraph)
    return kept


def build_pydoc_documents(seen: set[str] | None = None) -> list[Document]:
    """One document per `pydoc_data.topics` topic, by topic name (the corpus's first part)."""
    import pydoc_data.topics

    seen = set() if seen is None else seen
    documents = []
    for topic in sorted(pydoc_data.topics.topics):
        kept = _fresh(iter([pydoc_data.topics.topics[topic].strip()]), seen)
        if kept:
            documents.append(Document(f"pydoc_data.topics:{topic}", kept[0]))
    return documents


def build_corpus(lib_dir: Path | None = None) -> list[Document]:
    """The deduplicated documents in a fixed order: pydoc topics by name, then Lib files by path."""
    lib = Path(lib_dir or sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    documents = build_pydoc_documents(seen)
    for path in sorted(lib.rglob("*.py")):
        relative = path.relative_to(lib)
        if SKIPPED_LIB_PARTS & set(relative.parts):
            continue
        kept = _fresh(_docstrings(path), seen)
        if kept:
            documents.append(Document(relative.as_posix(), "\n\n".join(kept)))
    return documents


def split(documents: list[Document]) -> tuple[list[Document], list[Document]]:
    """(train, held-out), by source."""
    return [d for d in documents if not d.held_out], [d for d in documents if d.held_out]


def corpus_digest(documents: list[Document]) -> str:
    h = hashlib.sha256()
    for d in documents:
        h.update(d.source.encode() + b"\0" + d.text.encode() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- tokenizers


def train_byte_level_bpe(texts: list[str], vocab_size: int):
    """GPT-2-style byte-level BPE; every byte sequence encodes and decodes exactly."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tokenizer.token_to_id(BOS))]
    )
    return tokenizer


def train_sentencepiece_bpe(texts: list[str], vocab_size: int):
    """Llama-2-style BPE: Metaspace ("▁" for spaces), unknown characters as their UTF-8 bytes <0x00>..<0xFF>.

    `tokenizers`' trainer does not create the byte tokens, so they are put into the vocabulary after training at ids
    3..258 (where Llama-2 has them); the learned pieces follow, merges unchanged (they name pieces, not ids).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    def shape(tok: Tokenizer) -> None:
        # Llama-2's own normalizer and decoder: "▁" before every text and for every space, one leading space stripped
        # when decoding. (The Metaspace pre-tokenizer's own prepending skips texts that start with a space, so " x"
        # and "x" would encode alike; prepending always keeps the round trip exact.) The pre-tokenizer only splits
        # before each "▁", so pieces are learned within words.
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
        tok.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
        )

    specials = [UNK, BOS, EOS]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tokenizer = Tokenizer(models.BPE(unk_token=UNK, byte_fallback=True))
    shape(tokenizer)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(byte_tokens),
        special_tokens=specials,
        limit_alphabet=100,  # rarer characters fall back to bytes
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)

    spec = json.loads(tokenizer.to_str())
    learned = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    pieces = [piece for piece, _ in learned if piece not in specials and piece not in byte_tokens]
    spec["model"]["vocab"] = {p: i for i, p in enumerate(specials + byte_tokens + pieces)}
    rebuilt = Tokenizer.from_str(json.dumps(spec))
    shape(rebuilt)
    rebuilt.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, rebuilt.token_to_id(BOS))]
    )
    return rebuilt


def save_tokenizer(tokenizer, out_dir: Path, *, with_unk: bool):
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK if with_unk else None,
        model_max_length=None,
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(out_dir)
    return fast


def token_stream(tokenizer, documents: list[Document]) -> list[int]:
    """<|bos|> text <|eos|> per document, concatenated."""
    bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    encodings = tokenizer.encode_batch([d.text for d in documents], add_special_tokens=False)
    stream: list[int] = []
    for encoding in encodings:
        stream += [bos, *encoding.ids, eos]
    return stream


# ---------------------------------------------------------------- model and training


@dataclass(frozen=True)
class RunConfig:
    """One checkpoint's recipe."""

    name: str
    tokenizer_kind: str  # "byte_level_bpe" | "sentencepiece_bpe"
    vocab_size: int
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    intermediate: int
    context: int  # training window and max_position_embeddings
    batch: int  # windows per step
    steps: int
    lr: float  # peak; linear warm-up, cosine decay to lr / 10
    warmup: int
    weight_decay: float = 0.1
    seed: int = 1414
    eval_windows: int = 256  # held-out windows scored (at most)


SMALL = RunConfig(
    name="llm-small", tokenizer_kind="byte_level_bpe", vocab_size=4096, layers=4, hidden=256, heads=4, kv_heads=2,
    intermediate=768, context=256, batch=8, steps=1200, lr=2e-3, warmup=50,
)  # fmt: skip
TINY_SP = RunConfig(
    name="llm-tiny-sp", tokenizer_kind="sentencepiece_bpe", vocab_size=512, layers=2, hidden=64, heads=4, kv_heads=2,
    intermediate=192, context=128, batch=8, steps=2000, lr=3e-3, warmup=50, eval_windows=128,
)  # fmt: skip


def llama_config(run: RunConfig, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=run.hidden,
        intermediate_size=run.intermediate,
        num_hidden_layers=run.layers,
        num_attention_heads=run.heads,
        num_key_value_heads=run.kv_heads,
        max_position_embeddings=run.context,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.token_to_id(BOS),
        eos_token_id=tokenizer.token_to_id(EOS),
        pad_token_id=None,
    )


def windows(stream: list[int], context: int, limit: int):
    """Non-overlapping windows of `context` tokens (a [n, context] tensor); the last partial window is dropped."""
    import torch

    n = min(len(stream) // context, limit)
    return torch.tensor(stream[: n * context], dtype=torch.long).view(n, context)


def model_perplexity(model, batch_windows, batch_size: int = 8) -> tuple[float, int]:
    """exp(mean negative log-likelihood) of every token after the first of each window; (perplexity, tokens)."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(batch_windows), batch_size):
            ids = batch_windows[start : start + batch_size]
            logits = model(input_ids=ids, use_cache=False).logits.double()
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum"
            )
            total += nll.item()
            count += ids[:, 1:].numel()
    return math.exp(total / count), count


def bigram_perplexity(train_stream: list[int], eval_windows, vocab: int) -> tuple[float, float]:
    """The bigram baseline on the same predicted tokens: P = lam * count(a,b)/count(a) + (1 - lam) * add-one unigram.

    lam is the best of a grid on the scored tokens themselves, so the baseline is if anything flattered; returns
    (perplexity, lam).
    """
    import torch

    train = torch.tensor(train_stream, dtype=torch.long)
    pair_counts = torch.zeros(vocab * vocab, dtype=torch.float64)
    pair_counts.index_add_(0, train[:-1] * vocab + train[1:], torch.ones(len(train) - 1, dtype=torch.float64))
    pair_counts = pair_counts.view(vocab, vocab)
    first_counts = pair_counts.sum(1)
    unigram = (torch.bincount(train, minlength=vocab).double() + 1) / (len(train) + vocab)
    prev, nxt = eval_windows[:, :-1].reshape(-1), eval_windows[:, 1:].reshape(-1)
    ml = pair_counts[prev, nxt] / first_counts[prev].clamp(min=1)
    seen = first_counts[prev] > 0
    best = (math.inf, 0.0)
    for lam in [i / 20 for i in range(20)]:
        p = torch.where(seen, lam * ml + (1 - lam) * unigram[nxt], unigram[nxt])
        best = min(best, (math.exp(-p.log().mean().item()), lam))
    return best


def lr_at(run: RunConfig, step: int) -> float:
    if step < run.warmup:
        return run.lr * (step + 1) / run.warmup
    progress = (step - run.warmup) / max(1, run.steps - run.warmup)
    return run.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


SAMPLE_PROMPTS = ["Return the", "This module provides", "The default value is", "If the argument is"]


def greedy_samples(model, fast_tokenizer, new_tokens: int = 32) -> list[dict]:
    import torch

    samples = []
    model.eval()
    for prompt in SAMPLE_PROMPTS:
        ids = fast_tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, use_cache=True)
        # Decoded whole: a SentencePiece-style continuation decoded alone would lose its leading space.
        text = fast_tokenizer.decode(out[0], skip_special_tokens=True)
        samples.append({"prompt": prompt, "greedy": text[len(prompt) :] if text.startswith(prompt) else text})
    return samples


def heldout_sample(tokenizer, heldout: list[Document], tokens: int) -> list[dict]:
    """The first held-out documents (corpus order) holding at least `tokens` tokens."""
    picked, count = [], 0
    for d in heldout:
        picked.append({"source": d.source, "text": d.text})
        count += len(token_stream(tokenizer, [d]))
        if count >= tokens:
            break
    return picked


def slice_perplexity(model, fast_tokenizer, sample: list[dict], context: int) -> tuple[float, int]:
    """Perplexity on the first SLICE_WINDOWS windows of the committed held-out sample (what tests reproduce)."""
    docs = [Document(d["source"], d["text"]) for d in sample]
    stream = token_stream(fast_tokenizer.backend_tokenizer, docs)
    return model_perplexity(model, windows(stream, context, SLICE_WINDOWS))


def train(run: RunConfig, out_dir: Path, documents: list[Document], log=print) -> dict:
    """Trains tokenizer and model, writes the checkpoint folder; returns the training record."""
    import torch
    from tqdm import tqdm
    from transformers import GenerationConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(run.seed)
    started = time.monotonic()
    train_docs, heldout_docs = split(documents)

    if run.tokenizer_kind == "byte_level_bpe":
        tokenizer = train_byte_level_bpe([d.text for d in train_docs], run.vocab_size)
    else:
        tokenizer = train_sentencepiece_bpe([d.text for d in train_docs], run.vocab_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast = save_tokenizer(tokenizer, out_dir, with_unk=run.tokenizer_kind == "sentencepiece_bpe")
    train_stream = token_stream(tokenizer, train_docs)
    heldout_stream = token_stream(tokenizer, heldout_docs)
    log(
        f"[{run.name}] tokenizer {run.tokenizer_kind} vocab {tokenizer.get_vocab_size()} in "
        f"{time.monotonic() - started:.1f} s; train {len(train_docs)} docs / {len(train_stream)} tokens, held-out "
        f"{len(heldout_docs)} docs / {len(heldout_stream)} tokens"
    )

    config = llama_config(run, tokenizer)
    model = LlamaForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": run.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=run.lr, betas=(0.9, 0.95),
    )  # fmt: skip
    data = torch.tensor(train_stream, dtype=torch.long)
    sampler = torch.Generator().manual_seed(run.seed)
    train_started = time.monotonic()
    model.train()
    bar = tqdm(range(run.steps), desc=run.name, mininterval=10, file=sys.stdout)
    for step in bar:
        starts = torch.randint(0, len(data) - run.context - 1, (run.batch,), generator=sampler)
        ids = torch.stack([data[s : s + run.context] for s in starts])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(run, step)
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 10 == 0:
            elapsed = time.monotonic() - train_started
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{(step + 1) * run.batch * run.context / elapsed:.0f}")
        if step % 100 == 0 or step == run.steps - 1:
            elapsed = time.monotonic() - train_started
            log(f"[{run.name}] step {step} loss {loss.item():.4f} lr {lr_at(run, step):.2e} {elapsed:.0f} s")
    train_wall = time.monotonic() - train_started

    eval_windows = windows(heldout_stream, run.context, run.eval_windows)
    heldout_ppl, scored = model_perplexity(model, eval_windows)
    bigram_ppl, lam = bigram_perplexity(train_stream, eval_windows, tokenizer.get_vocab_size())
    sample = heldout_sample(tokenizer, heldout_docs, (SLICE_WINDOWS + 1) * run.context * 4)
    (out_dir / "heldout_sample.json").write_text(json.dumps(sample, indent=1, ensure_ascii=False) + "\n")
    slice_ppl, slice_tokens = slice_perplexity(model, fast, sample, run.context)

    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, do_sample=False,
        max_new_tokens=64,
    )  # fmt: skip
    model.save_pretrained(out_dir)
    samples = greedy_samples(model, fast)
    record = {
        "run": asdict(run),
        "parameters": params,
        "python": sys.version.split()[0],
        "corpus": {
            "sources": "pydoc_data.topics + CPython standard-library docstrings (PSF licence)",
            "documents": len(documents),
            "train_documents": len(train_docs),
            "heldout_documents": len(heldout_docs),
            "train_tokens": len(train_stream),
            "heldout_tokens": len(heldout_stream),
            "digest": corpus_digest(documents),
        },
        "steps": run.steps,
        "tokens_seen": run.steps * run.batch * run.context,
        "epochs": round(run.steps * run.batch * run.context / len(train_stream), 3),
        "train_wall_s": round(train_wall, 1),
        "total_wall_s": round(time.monotonic() - started, 1),
        "final_train_loss": round(loss.item(), 4),
        "heldout_perplexity": round(heldout_ppl, 3),
        "heldout_scored_tokens": scored,
        "bigram_perplexity": round(bigram_ppl, 3),
        "bigram_lambda": lam,
        "slice": {"windows": SLICE_WINDOWS, "context": run.context, "scored_tokens": slice_tokens,
                  "perplexity": slice_ppl},
        "samples": samples,
    }  # fmt: skip
    (out_dir / "training.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    log(
        f"[{run.name}] held-out perplexity {heldout_ppl:.2f} over {scored} tokens (bigram baseline "
        f"{bigram_ppl:.2f}); slice {slice_ppl:.3f}; train {train_wall:.0f} s"
    )
    for s in samples:
        log(f"[{run.name}] {s['prompt']!r} -> {s['greedy']!r}")
    return record


RUNS = {"small": (SMALL, SMALL_DIR), "tiny-sp": (TINY_SP, TINY_SP_DIR)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", choices=sorted(RUNS), default=sorted(RUNS), help="which checkpoints")
    args = parser.parse_args(argv)
    documents = build_corpus()
    print(f"corpus: {len(documents)} documents, {sum(len(d.text) for d in documents)} characters, digest "
          f"{corpus_digest(documents)[:16]}")  # fmt: skip
    for name in args.runs:
        run, out_dir = RUNS[name]
        train(run, out_dir, documents)


if __name__ == "__main__":
    main()
