"""Llama-style decoder with deterministic int8-exact weights, for graph capture.

Who may call: the model compiler (``torch.export`` of ``Llama`` or of one
``SingleLayer``), the commitment code (``int8_weight`` gives the integer
weights without any float copy), benchmarks and tests.

Architecture (Llama 1/2): token embedding; n_layers pre-norm blocks
``h = x + attn(rmsnorm(x)); out = h + mlp(rmsnorm(h))`` with causal
multi-head attention, rotary position embedding on q and k (rotate-half
convention, as in Hugging Face's Llama) and a SiLU-gated MLP
``w2(silu(w1 x) * w3 x)``; final RMSNorm; untied ``output`` head. No biases,
no KV cache.

Static shapes: the graph is built for exactly ``max_seq`` prompt tokens.
The RoPE cos/sin tables ``[max_seq, head_dim]`` and the causal bias
``[max_seq, max_seq]`` are buffers of the top module (one committed constant
each, shared by every layer), computed at construction, never in forward.

Weights: every tensor is ``q * 2**-exp`` with ``q`` int8 in [-127, 127] and
one integer ``exp`` per tensor, so quantising to int8 with that power-of-two
scale is lossless. ``q`` comes from the PCG64 raw stream seeded by
``(seed, tensor name)`` (so any tensor, e.g. one layer of 7B, is generated
alone), uniform like PyTorch's default Linear init; ``exp`` depends only on
the tensor's role and the config, chosen so the real std is within a factor
sqrt(2) of: 1/sqrt(fan_in) for projections, that divided by sqrt(2 n_layers)
for the residual outputs ``wo`` and ``w2`` (GPT-2's scaling: through the 32
layers of 7B the residual stream's RMS only grows from 1.16 to 1.41), 1 for
the embedding. Norm weights are in [0.75, 1.23] (``(48 + 5 random bits) / 64``).

Ops used by ``Llama.forward`` (``CAPTURED_ATEN_OPS`` lists the exact aten
set): embedding, mul, mean, add, rsqrt (RMSNorm as
``x * rsqrt(mean(x*x) + eps) * w``), linear (no bias), view/reshape,
transpose, slice + neg + cat on q and k (rotate_half), matmul, mul by the
constant 1/sqrt(head_dim) (a power of two only when head_dim is an even
power of two: 1/4 for tiny, 1/sqrt(128) for 7B), add of the constant causal
bias, softmax over the last dim, silu, and (``last_logits_only``) select of
the last position. There is no data-dependent Python control flow.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from offchain.models._masking import MASK_PENALTY


# What ``torch.export.export(Llama)`` emits (torch 2.13, default IR, before
# decompositions; ``select`` only with last_logits_only); tests keep this
# exact, so the compiler can rely on it.
CAPTURED_ATEN_OPS = frozenset(
    {
        "aten.embedding.default",
        "aten.add.Tensor",
        "aten.mul.Tensor",
        "aten.neg.default",
        "aten.mean.dim",
        "aten.rsqrt.default",
        "aten.linear.default",
        "aten.view.default",
        "aten.reshape.default",
        "aten.transpose.int",
        "aten.slice.Tensor",
        "aten.cat.default",
        "aten.matmul.default",
        "aten.softmax.int",
        "aten.silu.default",
        "aten.select.int",
    }
)


class ModelConfigError(ValueError):
    """A Llama configuration, preset or weight name that cannot be built."""


@dataclass(frozen=True)
class LlamaConfig:
    dim: int = 64  # model width
    n_layers: int = 2  # decoder blocks
    n_heads: int = 4  # attention heads; head_dim = dim // n_heads (even, for RoPE)
    ffn_dim: int = 172  # SiLU-gated MLP inner width
    vocab_size: int = 256  # token ids in [0, vocab_size)
    max_seq: int = 16  # the fixed prompt length T that forward takes
    rope_theta: float = 10000.0  # RoPE base
    norm_eps: float = 1e-5  # RMSNorm epsilon (Llama 2)
    last_logits_only: bool = False  # forward returns [B, vocab] for the last position only

    def __post_init__(self) -> None:
        for field in ("dim", "n_layers", "n_heads", "ffn_dim", "vocab_size", "max_seq"):
            if getattr(self, field) < 1:
                raise ModelConfigError(f"{field}={getattr(self, field)} must be >= 1")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ModelConfigError(f"dim={self.dim} must be n_heads={self.n_heads} times an even head_dim")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


PRESETS: dict[str, LlamaConfig] = {
    "tiny": LlamaConfig(),
    "7b": LlamaConfig(dim=4096, n_layers=32, n_heads=32, ffn_dim=11008, vocab_size=32000, max_seq=16),
}


def preset(name: str, **overrides: object) -> LlamaConfig:
    """A named config (``tiny`` or ``7b``), optionally with fields replaced (e.g. ``max_seq=32``)."""
    if name not in PRESETS:
        raise ModelConfigError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


# --- deterministic int8 weights ----------------------------------------------

INT8_MAX = 127  # -128 is never produced, so negation stays in range
# Standard deviation of the discrete uniform distribution on [-127, 127].
_UNIFORM_STD = math.sqrt(((2 * INT8_MAX + 1) ** 2 - 1) / 12)
NORM_EXP = 6  # norm weights are (48 + [0, 31]) / 2**6


@dataclass(frozen=True)
class Int8Tensor:
    """An exactly int8-representable tensor: real = values * 2**-exp.

    values: numpy int8 array in [-127, 127], torch layout (Linear is [out, in]).
    exp: the power-of-two scale exponent (fractional bits).
    """

    values: np.ndarray
    exp: int

    def to_torch(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Real-valued tensor (exact in float32, float16 and bfloat16)."""
        return torch.from_numpy(self.values).to(dtype).mul_(2.0**-self.exp)


def layer_weight_names(cfg: LlamaConfig, index: int) -> list[str]:
    """Names of decoder block ``index``'s tensors, in state_dict order."""
    if not 0 <= index < cfg.n_layers:
        raise ModelConfigError(f"layer index {index} outside [0, n_layers={cfg.n_layers})")
    p = f"layers.{index}."
    return [
        p + "attention_norm.weight",
        p + "attention.wq.weight",
        p + "attention.wk.weight",
        p + "attention.wv.weight",
        p + "attention.wo.weight",
        p + "ffn_norm.weight",
        p + "feed_forward.w1.weight",
        p + "feed_forward.w2.weight",
        p + "feed_forward.w3.weight",
    ]


def weight_names(cfg: LlamaConfig) -> list[str]:
    """All parameter names of ``Llama(cfg)``, in state_dict order."""
    names = ["tok_embeddings.weight"]
    for i in range(cfg.n_layers):
        names += layer_weight_names(cfg, i)
    return names + ["norm.weight", "output.weight"]


def _role(name: str) -> str:
    return name.split(".")[-2]


def weight_shape(cfg: LlamaConfig, name: str) -> tuple[int, ...]:
    """Shape of the named tensor (Linear weights are [out, in])."""
    shapes = {
        "tok_embeddings": (cfg.vocab_size, cfg.dim),
        "output": (cfg.vocab_size, cfg.dim),
        "norm": (cfg.dim,),
        "attention_norm": (cfg.dim,),
        "ffn_norm": (cfg.dim,),
        "wq": (cfg.dim, cfg.dim),
        "wk": (cfg.dim, cfg.dim),
        "wv": (cfg.dim, cfg.dim),
        "wo": (cfg.dim, cfg.dim),
        "w1": (cfg.ffn_dim, cfg.dim),
        "w3": (cfg.ffn_dim, cfg.dim),
        "w2": (cfg.dim, cfg.ffn_dim),
    }
    if _role(name) not in shapes:
        raise ModelConfigError(f"no Llama weight named {name!r}")
    return shapes[_role(name)]


def weight_exponent(cfg: LlamaConfig, name: str) -> int:
    """Scale exponent of the named tensor: real = int8 * 2**-exp (see module docstring)."""
    role = _role(name)
    if role.endswith("norm"):
        return NORM_EXP
    if role == "tok_embeddings":
        target_std = 1.0
    else:
        fan_in = weight_shape(cfg, name)[1]
        target_std = fan_in**-0.5
        if role in ("wo", "w2"):
            target_std /= math.sqrt(2 * cfg.n_layers)
    return round(math.log2(_UNIFORM_STD / target_std))


def _random_bytes(seed: int, name: str, count: int) -> np.ndarray:
    """``count`` uint8 from PCG64's raw 64-bit stream (little-endian bytes), seeded by (seed, name)."""
    digest = hashlib.sha256(f"llama-weights/{seed}/{name}".encode()).digest()
    words = np.random.PCG64(int.from_bytes(digest[:16], "little")).random_raw((count + 7) // 8)
    return words.astype("<u8", copy=False).view(np.uint8)[:count]


def int8_weight(cfg: LlamaConfig, seed: int, name: str) -> Int8Tensor:
    """The named tensor's int8 values and exponent, generated alone (no other tensor is touched)."""
    shape = weight_shape(cfg, name)
    raw = _random_bytes(seed, name, math.prod(shape))
    if _role(name).endswith("norm"):
        values = (48 + (raw & 31)).astype(np.int8)
    else:
        values = raw.view(np.int8)
        np.maximum(values, -INT8_MAX, out=values)  # -128 -> -127 (probability 1/256)
    return Int8Tensor(values.reshape(shape), weight_exponent(cfg, name))


# --- constant tables -----------------------------------------------------------


def rope_tables(cfg: LlamaConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE ``(cos, sin)``, each float32 [max_seq, head_dim], rotate-half layout.

    Column j and j + head_dim/2 share the angle ``pos * theta**(-2j/head_dim)``.
    Angles are computed in float64, then rounded once to float32.
    """
    half = cfg.head_dim // 2
    inv_freq = cfg.rope_theta ** (-torch.arange(half, dtype=torch.float64) * 2 / cfg.head_dim)
    angles = torch.arange(cfg.max_seq, dtype=torch.float64)[:, None] * inv_freq[None, :]  # [T, hd/2]
    angles = torch.cat([angles, angles], dim=-1)  # [T, hd]
    return angles.cos().float(), angles.sin().float()


def causal_bias(cfg: LlamaConfig) -> torch.Tensor:
    """float32 [max_seq, max_seq]: 0 where key <= query, -MASK_PENALTY above the diagonal."""
    future = torch.triu(torch.ones(cfg.max_seq, cfg.max_seq, dtype=torch.bool), diagonal=1)
    return torch.where(future, -MASK_PENALTY, 0.0).float()


# --- modules --------------------------------------------------------------------


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight over the last dim."""

    def __init__(self, dim: int, eps: float, device: torch.device | str | None = None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[..., hd] -> [..., hd]: (x1, x2) -> (-x2, x1) with x1, x2 the two halves."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate q or k [B, nh, T, hd] by the position tables cos, sin [T, hd]."""
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    """Causal multi-head attention with RoPE on q and k; no biases."""

    def __init__(self, cfg: LlamaConfig, device: torch.device | str | None = None):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.scale = cfg.head_dim**-0.5
        self.wq = nn.Linear(cfg.dim, cfg.dim, bias=False, device=device)
        self.wk = nn.Linear(cfg.dim, cfg.dim, bias=False, device=device)
        self.wv = nn.Linear(cfg.dim, cfg.dim, bias=False, device=device)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False, device=device)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        # [B, T, D] -> [B, nh, T, hd]
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale + bias  # [B, nh, T, T] + [T, T]
        y = torch.matmul(F.softmax(scores, dim=-1), v)  # [B, nh, T, hd]
        return self.wo(y.transpose(1, 2).reshape(B, T, D))


class FeedForward(nn.Module):
    """SiLU-gated MLP: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: LlamaConfig, device: torch.device | str | None = None):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False, device=device)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False, device=device)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # [B, T, D] -> [B, T, F] -> [B, T, D]


class DecoderLayer(nn.Module):
    """Pre-norm block: h = x + attn(norm(x)); out = h + mlp(norm(h))."""

    def __init__(self, cfg: LlamaConfig, device: torch.device | str | None = None):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps, device=device)
        self.attention = Attention(cfg, device=device)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps, device=device)
        self.feed_forward = FeedForward(cfg, device=device)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, bias)
        return h + self.feed_forward(self.ffn_norm(h))


class _ConstantTables(nn.Module):
    """Holds the RoPE and causal-mask buffers that every layer reads."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos)  # [T, hd]
        self.register_buffer("rope_sin", sin)  # [T, hd]
        self.register_buffer("causal_bias", causal_bias(cfg))  # [T, T]


class Llama(_ConstantTables):
    """Decoder-only LM over a fixed-length prompt.

    forward(tokens): tokens int64 [B, max_seq], ids in [0, vocab_size).
    returns float32 logits [B, max_seq, vocab_size], or [B, vocab_size] for the
    last position when ``cfg.last_logits_only``.
    Built on the meta device (no memory) by default; ``build_llama`` fills it.
    """

    def __init__(self, cfg: LlamaConfig, device: torch.device | str | None = "meta"):
        super().__init__(cfg)
        self.config = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim, device=device)
        self.layers = nn.ModuleList(DecoderLayer(cfg, device=device) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, device=device)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False, device=device)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tok_embeddings(tokens)  # [B, T, D]
        for layer in self.layers:
            x = layer(x, self.rope_cos, self.rope_sin, self.causal_bias)
        if self.config.last_logits_only:
            x = x[:, -1, :]  # [B, D]
        return self.output(self.norm(x))  # [B, T, V] or [B, V]


class SingleLayer(_ConstantTables):
    """One decoder block with its constant tables: hidden [B, max_seq, dim] -> same shape.

    For compiling and measuring one 7B-sized block without the rest.
    """

    def __init__(self, cfg: LlamaConfig, layer: DecoderLayer):
        super().__init__(cfg)
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, self.rope_cos, self.rope_sin, self.causal_bias)


# --- building with weights ------------------------------------------------------------


def _materialize(module: nn.Module, prefix: str, cfg: LlamaConfig, seed: int, dtype: torch.dtype) -> None:
    """Replace every (meta) parameter of ``module`` by its generated int8-exact value."""
    for local_name, param in list(module.named_parameters()):
        value = int8_weight(cfg, seed, prefix + local_name).to_torch(dtype)
        if tuple(value.shape) != tuple(param.shape):
            raise ModelConfigError(f"{prefix + local_name}: generated {tuple(value.shape)}, module {tuple(param.shape)}")
        owner = module.get_submodule(local_name.rsplit(".", 1)[0]) if "." in local_name else module
        setattr(owner, local_name.rsplit(".", 1)[-1], nn.Parameter(value, requires_grad=False))


def build_layer(cfg: LlamaConfig, seed: int, index: int, dtype: torch.dtype = torch.float32) -> DecoderLayer:
    """Decoder block ``index`` alone with its generated weights (memory: that block only)."""
    layer_weight_names(cfg, index)  # validates index
    layer = DecoderLayer(cfg, device="meta")
    _materialize(layer, f"layers.{index}.", cfg, seed, dtype)
    return layer.eval()


def iter_layers(cfg: LlamaConfig, seed: int, dtype: torch.dtype = torch.float32) -> Iterator[DecoderLayer]:
    """Blocks 0..n_layers-1 built one at a time; drop each before taking the next to stream."""
    for index in range(cfg.n_layers):
        yield build_layer(cfg, seed, index, dtype)


def build_llama(cfg: LlamaConfig, seed: int, dtype: torch.dtype = torch.float32) -> Llama:
    """The whole model with generated weights (7B in float32 needs ~27 GB; stream instead)."""
    model = Llama(cfg, device="meta")
    _materialize(model, "", cfg, seed, dtype)
    return model.eval()


def check_tokens(cfg: LlamaConfig, tokens: torch.Tensor) -> None:
    """Raise ModelConfigError unless ``tokens`` is int64 [B, max_seq] with ids in [0, vocab_size).

    Kept out of ``forward`` so that graph capture sees no data-dependent checks.
    """
    if tokens.dtype != torch.long or tokens.dim() != 2 or tokens.shape[1] != cfg.max_seq:
        raise ModelConfigError(f"tokens must be int64 [B, {cfg.max_seq}], got {tokens.dtype} {list(tokens.shape)}")
    if tokens.min() < 0 or tokens.max() >= cfg.vocab_size:
        raise ModelConfigError(f"token ids outside [0, vocab_size={cfg.vocab_size})")


@torch.no_grad()
def streamed_logits(cfg: LlamaConfig, seed: int, tokens: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``build_llama(cfg, seed)(tokens)`` computed holding one block's weights at a time.

    Peak memory is the embedding table + one block + the output head, so the
    7B preset runs in a few GB. Returns what ``Llama.forward`` returns.
    """
    check_tokens(cfg, tokens)
    tables = _ConstantTables(cfg)
    embedding = int8_weight(cfg, seed, "tok_embeddings.weight").to_torch(dtype)
    x = F.embedding(tokens, embedding)
    del embedding
    for layer in iter_layers(cfg, seed, dtype):
        x = layer(x, tables.rope_cos.to(dtype), tables.rope_sin.to(dtype), tables.causal_bias.to(dtype))
        del layer
    if cfg.last_logits_only:
        x = x[:, -1, :]
    norm = RMSNorm(cfg.dim, cfg.norm_eps)
    norm.weight = nn.Parameter(int8_weight(cfg, seed, "norm.weight").to_torch(dtype), requires_grad=False)
    return F.linear(norm(x), int8_weight(cfg, seed, "output.weight").to_torch(dtype))


def random_prompt(cfg: LlamaConfig, seed: int, batch: int = 1) -> torch.Tensor:
    """Deterministic token ids int64 [batch, max_seq] for tests and benchmarks."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg.vocab_size, (batch, cfg.max_seq), generator=g)
