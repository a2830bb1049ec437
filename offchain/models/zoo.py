"""The zoo: five small PyTorch models written the way model owners write them, with trained weights committed.

| name        | what                                                                   | input                 |
|-------------|------------------------------------------------------------------------|-----------------------|
| resnet      | conv stem, a residual block (conv-BN-ReLU x2 + skip), global pool, FC  | digits [1, 1, 8, 8]   |
| mobilenet   | conv stem, depthwise conv (groups=C)-BN-ReLU6, pointwise-BN-Hardswish  | digits [1, 1, 8, 8]   |
| vit         | 2x2 patch embedding, LayerNorm, nn.MultiheadAttention, GELU MLP, mean  | digits [1, 1, 8, 8]   |
| mixer       | MLP-Mixer block: token-mixing and channel-mixing MLPs with transposes  | digits [1, 1, 8, 8]   |
| text        | embedding, mean and max pooling over tokens, MLP (no LSTM)             | 16 token ids [1, 16]  |

Image models read scikit-learn's digits as reals pixel/16 in [0, 1] (the integer input is the raw int8 pixel with 4
frac bits, as digits-mlp's) and give 10 logits. The text model tells a sentence of CPython's language reference
(``pydoc_data.topics``) from a sentence of the standard library's docstrings (both ship with Python: offline) and
gives 2 logits; its vocabulary (the training split's most frequent words) is saved with its weights.

``python -m offchain.models.zoo --train`` trains all five (seeded, one thread, seconds each) and writes
``offchain/models/zoo/<name>.safetensors``; tests and benchmarks only load them. Held-out data: the digits test
split (25%, stratified, random_state 0) and a 25% split of the sentences.
Who calls: tests/models/test_zoo.py, bench/bench_engine.py (case ``zoo``), model owners reading an example.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.model import Model

WEIGHTS_DIR = Path(__file__).resolve().parent / "zoo"
DIGITS_INPUT_SPEC = "1x1x8x8:int8:f4"   # CLI --input-spec of the image models: raw pixels 0..16 = p/16
TEXT_TOKENS = 16
TEXT_VOCAB = 2000  # ids 0 (padding) and 1 (unknown word) plus the training split's 1998 most frequent words
CALIBRATION_SAMPLES = 128


# ---------------------------------------------------------------- the models, as an owner writes them

class ResNetBlock(nn.Module):
    """x: [B, 1, 8, 8] -> [B, 10]. Stem conv-BN-ReLU, one basic residual block, global average pool, linear head."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)                           # [B, C, 8, 8]
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        x = F.relu(x + y)                          # the skip connection
        return self.fc(torch.flatten(self.pool(x), 1))


class MobileNetBlock(nn.Module):
    """x: [B, 1, 8, 8] -> [B, 10]. A depthwise-separable block: depthwise 3x3 (groups = channels), BN, ReLU6,
    pointwise 1x1, BN, Hardswish."""

    def __init__(self, width: int = 16, expanded: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU6())
        self.depthwise = nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = nn.ReLU6()
        self.pointwise = nn.Conv2d(width, expanded, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(expanded)
        self.act2 = nn.Hardswish()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(expanded, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)                                       # [B, 16, 8, 8]
        x = self.act1(self.bn1(self.depthwise(x)))             # [B, 16, 8, 8]
        x = self.act2(self.bn2(self.pointwise(x)))             # [B, 32, 8, 8]
        return self.classifier(self.pool(x).flatten(1))


class ViTBlock(nn.Module):
    """x: [B, 1, 8, 8] -> [B, 10]. 2x2 patches (16 tokens), one pre-norm transformer block with
    nn.MultiheadAttention and a GELU MLP, mean pooling over tokens."""

    def __init__(self, dim: int = 32, heads: int = 4, patch: int = 2):
        super().__init__()
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, (8 // patch) ** 2, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos   # [B, 16, dim]
        h = self.norm1(x)
        x = x + self.attn(h, h, h)[0]
        x = x + self.mlp(self.norm2(x))
        return self.head(self.norm(x.mean(dim=1)))


class MixerBlock(nn.Module):
    """x: [B, 1, 8, 8] -> [B, 10]. Per-patch linear embedding, one MLP-Mixer block (a token-mixing MLP across the
    16 patches, then a channel-mixing MLP), mean over tokens."""

    def __init__(self, dim: int = 32, tokens: int = 16, patch: int = 2):
        super().__init__()
        self.stem = nn.Conv2d(1, dim, patch, stride=patch)
        self.norm1 = nn.LayerNorm(dim)
        self.token_mix = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mix = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)                         # [B, tokens, dim]
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        x = x + self.channel_mix(self.norm2(x))
        return self.head(self.norm(x).mean(dim=1))


class TextClassifier(nn.Module):
    """ids: [B, 16] token ids (0 = padding) -> [B, 2]. Embedding, mean and max pooling over tokens, MLP."""

    def __init__(self, vocab: int = TEXT_VOCAB, dim: int = 32, hidden: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.embed(ids)                                                 # [B, T, dim]
        pooled = torch.cat([e.mean(dim=1), e.amax(dim=1)], dim=-1)          # [B, 2 * dim]
        return self.mlp(pooled)


# ---------------------------------------------------------------- data

@dataclass
class Split:
    """Float inputs (one tensor per sample tuple's only input, batched) and labels, train and held-out."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def samples(self, x: torch.Tensor, n: int | None = None) -> list[tuple[torch.Tensor]]:
        """Batch-1 input tuples, the first ``n`` rows of ``x``."""
        return [(x[i:i + 1],) for i in range(len(x) if n is None else min(n, len(x)))]


def digits_split() -> Split:
    """scikit-learn's digits, the reference split of offchain.models.digits, as [N, 1, 8, 8] reals pixel/16."""
    from offchain.models.digits import load_split, to_real

    data = load_split()
    return Split(to_real(data.train_pixels).view(-1, 1, 8, 8), torch.from_numpy(data.train_labels),
                 to_real(data.test_pixels).view(-1, 1, 8, 8), torch.from_numpy(data.test_labels))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_DOCSTRING_MODULES = ("argparse", "ast", "bisect", "calendar", "codecs", "collections", "csv", "datetime", "decimal",
                      "difflib", "email.message", "fractions", "ftplib", "functools", "heapq", "http.client",
                      "imaplib", "inspect", "json", "logging", "mailbox", "os", "pathlib", "pickle", "pprint",
                      "random", "shutil", "smtplib", "socket", "statistics", "string", "subprocess", "tarfile",
                      "textwrap", "threading", "tokenize", "typing", "unittest", "urllib.parse", "zipfile")


def words(sentence: str) -> list[str]:
    return re.findall(r"[a-z]+", sentence.lower())


def _sentences(text: str) -> list[str]:
    out = []
    for s in _SENTENCE_END.split(text):
        s = " ".join(s.split())
        if 5 <= len(words(s)) <= 40:
            out.append(s)
    return out


def text_corpus() -> tuple[list[str], list[int]]:
    """Sentences and labels: 0 = CPython's language reference (pydoc_data.topics), 1 = stdlib docstrings.
    Deterministic for one Python version; each sentence once, 700 per class drawn with a fixed seed."""
    import importlib

    from pydoc_data.topics import topics

    reference = [s for key in sorted(topics) for s in _sentences(topics[key])]
    docs = []
    for name in _DOCSTRING_MODULES:
        module = importlib.import_module(name)
        docs += _sentences(module.__doc__ or "")
        for attr in sorted(vars(module)):
            with warnings.catch_warnings():   # typing.io and friends warn when touched; reading them is harmless
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = getattr(module, attr)
                if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                docs += _sentences(inspect.getdoc(obj) or "")
    seen: set[str] = set()
    rng = np.random.default_rng(0)
    picked: list[tuple[str, int]] = []
    for label, pool in ((0, reference), (1, docs)):
        unique = [s for s in dict.fromkeys(pool) if s not in seen]
        seen.update(unique)
        chosen = rng.choice(len(unique), size=min(700, len(unique)), replace=False)
        picked += [(unique[i], label) for i in sorted(chosen)]
    return [s for s, _ in picked], [y for _, y in picked]


def build_vocabulary(sentences: list[str]) -> list[str]:
    """The TEXT_VOCAB - 2 most frequent words (ties: alphabetical); id = 2 + position."""
    counts: dict[str, int] = {}
    for s in sentences:
        for w in words(s):
            counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:TEXT_VOCAB - 2]


def encode(sentence: str, vocabulary: list[str]) -> torch.Tensor:
    """[TEXT_TOKENS] int64 ids: the first 16 words (unknown -> 1), padded with 0."""
    index = {w: i + 2 for i, w in enumerate(vocabulary)}
    ids = [index.get(w, 1) for w in words(sentence)][:TEXT_TOKENS]
    return torch.tensor(ids + [0] * (TEXT_TOKENS - len(ids)), dtype=torch.long)


def text_split(vocabulary: list[str] | None = None) -> tuple[Split, list[str]]:
    """The sentences split 75/25 (stratified, random_state 0) and encoded; the vocabulary is the training split's
    unless given (the saved one, so a later Python's docstrings cannot shift ids)."""
    from sklearn.model_selection import train_test_split

    sentences, labels = text_corpus()
    tr, te, ytr, yte = train_test_split(sentences, labels, test_size=0.25, random_state=0, stratify=labels)
    vocabulary = vocabulary if vocabulary is not None else build_vocabulary(tr)

    def enc(xs: list[str]) -> torch.Tensor:
        return torch.stack([encode(s, vocabulary) for s in xs])

    return Split(enc(tr), torch.tensor(ytr), enc(te), torch.tensor(yte)), vocabulary


# ---------------------------------------------------------------- the table, training, loading, compiling

@dataclass(frozen=True)
class ZooEntry:
    """How to build, feed and compile one zoo model."""

    make: Callable[[], nn.Module]
    input_spec: str           # the CLI's --input-spec for it
    epochs: int
    text: bool = False


ZOO: dict[str, ZooEntry] = {
    "resnet": ZooEntry(ResNetBlock, DIGITS_INPUT_SPEC, 20),
    "mobilenet": ZooEntry(MobileNetBlock, DIGITS_INPUT_SPEC, 25),
    "vit": ZooEntry(ViTBlock, DIGITS_INPUT_SPEC, 40),
    "mixer": ZooEntry(MixerBlock, DIGITS_INPUT_SPEC, 40),
    "text": ZooEntry(TextClassifier, f"1x{TEXT_TOKENS}:int32", 30, text=True),
}


def _entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise KeyError(f"no zoo model {name!r}; known: {', '.join(ZOO)}")
    return ZOO[name]


def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


def split_of(name: str) -> Split:
    """The model's data split (for the text model: encoded with its saved vocabulary)."""
    if not _entry(name).text:
        return digits_split()
    from safetensors import safe_open

    with safe_open(str(weights_path(name)), "pt") as f:
        vocabulary = json.loads(f.metadata()["vocabulary"])
    return text_split(vocabulary)[0]


def load(name: str) -> nn.Module:
    """Zoo model ``name`` with its committed trained weights, in eval mode."""
    from safetensors.torch import load_file

    module = _entry(name).make()
    module.load_state_dict(load_file(str(weights_path(name))))
    return module.eval()


def train(name: str, seed: int = 0) -> tuple[nn.Module, dict[str, str]]:
    """Train zoo model ``name`` (Adam, batches of 64, one thread: deterministic for a seed); returns it in eval mode
    and the metadata to save beside its weights."""
    entry = _entry(name)
    meta: dict[str, str] = {"name": name, "seed": str(seed), "epochs": str(entry.epochs)}
    if entry.text:
        split, vocabulary = text_split()
        meta["vocabulary"] = json.dumps(vocabulary)
    else:
        split = digits_split()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        module = entry.make().train()
        opt = torch.optim.Adam(module.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(entry.epochs):
            order = torch.randperm(len(split.train_x), generator=gen)
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                opt.zero_grad()
                F.cross_entropy(module(split.train_x[batch]), split.train_y[batch]).backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    module.eval()
    with torch.no_grad():
        meta["float_test_accuracy"] = f"{float((module(split.test_x).argmax(1) == split.test_y).float().mean()):.4f}"
    return module, meta


def compile_zoo(name: str, module: nn.Module | None = None) -> Model:
    """Compile zoo model ``name`` for one input, calibrated on the first CALIBRATION_SAMPLES training inputs, with
    the input format of its ``input_spec`` (what `python -m offchain compile --module` does with the same flags)."""
    from offchain.input_spec import parse_input_spec

    entry = _entry(name)
    module = module or load(name)
    calibration = text_calibration() if entry.text else digits_calibration()
    spec = parse_input_spec(entry.input_spec)
    config = CompileConfig(input_specs=None if spec.token_ids else [spec.fixed])
    return compile_module(module, calibration[0], calibration, config, name=f"zoo-{name}")


# Factories for `python -m offchain compile --module offchain.models.zoo:<factory>`: (module, example input).

def _factory(name: str) -> Callable[[], tuple[nn.Module, tuple[torch.Tensor]]]:
    def factory() -> tuple[nn.Module, tuple[torch.Tensor]]:
        split = split_of(name)
        return load(name), (split.train_x[:1],)

    factory.__name__ = name.replace("-", "_")
    return factory


resnet, mobilenet, vit, mixer, text = (_factory(n) for n in ("resnet", "mobilenet", "vit", "mixer", "text"))


def digits_calibration() -> list[tuple[torch.Tensor]]:
    """`--calibration offchain.models.zoo:digits_calibration`: the image models' calibration inputs."""
    split = digits_split()
    return split.samples(split.train_x, CALIBRATION_SAMPLES)


def text_calibration() -> list[tuple[torch.Tensor]]:
    """`--calibration offchain.models.zoo:text_calibration`: the text model's calibration inputs."""
    split = split_of("text")
    return split.samples(split.train_x, CALIBRATION_SAMPLES)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the zoo models and save their weights.")
    parser.add_argument("--train", action="store_true", help="train and write offchain/models/zoo/*.safetensors")
    parser.add_argument("--only", choices=list(ZOO), action="append", help="train only these (repeatable)")
    args = parser.parse_args(argv)
    if not args.train:
        parser.error("nothing to do: pass --train")
    from safetensors.torch import save_file

    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(ZOO):
        module, meta = train(name)
        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        save_file(state, str(weights_path(name)), metadata=meta)
        params = sum(p.numel() for p in module.parameters())
        print(f"{name}: {params} parameters, float held-out accuracy {meta['float_test_accuracy']} "
              f"-> {weights_path(name)}")


if __name__ == "__main__":
    main()
