"""Reading a Hugging Face Llama-family ``config.json`` into the one config the loader builds from.

Who may call: :mod:`offchain.models.hf_llama` (the loader) and tests.

Accepted: ``model_type`` ``llama``, ``qwen2`` or ``mistral``; grouped-query attention (``num_key_value_heads``);
``head_dim`` when given; ``tie_word_embeddings``; ``rms_norm_eps``; ``hidden_act`` ``silu``; ``attention_bias`` /
``mlp_bias`` (Llama) and Qwen2's q/k/v biases; RoPE from ``rope_parameters`` (transformers 5) or ``rope_theta`` +
``rope_scaling`` (transformers 4) of type ``default``, ``linear``, ``dynamic`` and ``llama3``. Every other value that
changes the computation is refused with :class:`UnsupportedConfigError` naming the field and its value, and so is
any field this module does not know (it might change the computation); fields that only concern training, caching,
generation or bookkeeping are listed in ``_IGNORED`` and pass.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from offchain.models._masking import MASK_PENALTY


class HFCheckpointError(ValueError):
    """A Hugging Face checkpoint folder that cannot be loaded: a missing or malformed file, a missing tensor, a
    tensor of the wrong shape."""


class UnsupportedConfigError(HFCheckpointError):
    """A ``config.json`` field (or a tensor dtype) whose value this loader cannot turn into an integer model."""

    def __init__(self, field: str, value: Any, reason: str):
        self.field, self.value = field, value
        super().__init__(f"unsupported config: {field} = {value!r}: {reason}")


#: model_type -> the transformers class that is the float reference for it.
MODEL_TYPES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")

#: Fields that do not change a forward pass over a fixed-length prompt (training, caching, generation defaults,
#: bookkeeping). Everything not here and not read by ``parse_config`` is refused.
_IGNORED = frozenset({
    "architectures", "transformers_version", "dtype", "torch_dtype", "_name_or_path", "bos_token_id",
    "eos_token_id", "pad_token_id", "initializer_range", "use_cache", "attention_dropout", "max_window_layers",
    "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict", "tie_encoder_decoder",
    "is_encoder_decoder", "chunk_size_feed_forward", "id2label", "label2id", "problem_type", "tokenizer_class",
    "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params", "finetuning_task",
    "is_decoder", "add_cross_attention", "cross_attention_hidden_size", "torchscript", "use_return_dict",
    "bos_token", "eos_token", "pad_token", "unk_token", "embd_pdrop", "resid_pdrop", "model_name",
    "is_llama_config",
})
#: Fields real checkpoints carry (SmolLM's rope_interleaved, some Qwen2.5's use_mrope) that transformers' classes
#: ignore: accepted only at the value that means the computation built here.
_MUST_BE = {"rope_interleaved": False, "use_mrope": False}


@dataclass(frozen=True)
class HFConfig:
    """What the integer model is built from (names follow transformers' config fields)."""

    model_type: str  # llama | qwen2 | mistral
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int  # grouped-query attention: each KV head serves num_attention_heads / this query heads
    head_dim: int
    rms_norm_eps: float
    tie_word_embeddings: bool
    qkv_bias: bool  # q_proj, k_proj, v_proj carry biases (Qwen2; Llama's attention_bias)
    o_bias: bool  # o_proj carries a bias (Llama's attention_bias)
    mlp_bias: bool  # gate/up/down_proj carry biases (Llama's mlp_bias)
    rope_theta: float
    rope_type: str  # one of ROPE_TYPES
    rope_params: tuple[tuple[str, float], ...]  # the scaling kind's numbers (factor, ...), sorted by name
    max_position_embeddings: int
    sliding_window: int | None  # None: full attention
    pad_token_id: int | None
    eos_token_id: int | None

    @property
    def kv_groups(self) -> int:
        """Query heads per key/value head."""
        return self.num_attention_heads // self.num_key_value_heads

    @property
    def reference_class(self) -> str:
        return MODEL_TYPES[self.model_type]


def _int(raw: dict, name: str, default: int | None = None, minimum: int = 1) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnsupportedConfigError(name, value, "must be an integer")
    if value < minimum:
        raise UnsupportedConfigError(name, value, f"must be >= {minimum}")
    return value


def _flag(raw: dict, name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise UnsupportedConfigError(name, value, "must be true or false")
    return value


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UnsupportedConfigError(name, value, "must be a positive finite number")
    return float(value)


def _first_id(value: Any) -> int | None:
    """A token id field (an int, a list of ints whose first counts, or null)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rope(raw: dict, read: set[str]) -> tuple[float, str, dict[str, float]]:
    """(theta, rope type, its parameters) from ``rope_parameters`` or the older ``rope_theta`` + ``rope_scaling``."""
    read |= {"rope_parameters", "rope_theta", "rope_scaling"}
    params = raw.get("rope_parameters")
    field = "rope_parameters"
    if params is not None and raw.get("rope_scaling") is not None:   # transformers lets rope_scaling win: ambiguous
        raise UnsupportedConfigError("rope_scaling", raw["rope_scaling"], "give rope_parameters or rope_scaling, "
                                                                          "not both")
    if params is None:
        params = dict(raw.get("rope_scaling") or {})
        field = "rope_scaling"
        params.setdefault("rope_theta", raw.get("rope_theta", 10000.0))
    if not isinstance(params, dict):
        raise UnsupportedConfigError(field, params, "must be an object")
    if field == "rope_parameters" and not isinstance(params.get("rope_type", "default"), str):
        raise UnsupportedConfigError(f"{field}.rope_type", params.get("rope_type"), "must be a string")
    if "layer_types" in params or any(isinstance(v, dict) for v in params.values()):
        raise UnsupportedConfigError(field, params, "per-layer-type RoPE parameters are not supported")
    kind = params.get("rope_type", params.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise UnsupportedConfigError(f"{field}.rope_type", kind, f"supported RoPE kinds: {', '.join(ROPE_TYPES)}")
    theta = _positive(params.get("rope_theta", raw.get("rope_theta", 10000.0)), f"{field}.rope_theta")
    partial = params.get("partial_rotary_factor", raw.get("partial_rotary_factor", 1.0))
    read.add("partial_rotary_factor")
    if partial != 1.0:
        raise UnsupportedConfigError("partial_rotary_factor", partial, "only full rotary embeddings are supported")
    needed = {"default": (), "linear": ("factor",), "dynamic": ("factor",),
              "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")}[kind]
    known = {"rope_type", "type", "rope_theta", "partial_rotary_factor", *needed}
    for key in params:
        if key not in known:
            raise UnsupportedConfigError(f"{field}.{key}", params[key], f"not a parameter of RoPE kind {kind!r}")
    numbers = {key: _positive(params.get(key), f"{field}.{key}") for key in needed}
    if kind == "llama3" and numbers["high_freq_factor"] <= numbers["low_freq_factor"]:
        raise UnsupportedConfigError(f"{field}.high_freq_factor", numbers["high_freq_factor"],
                                     "must exceed low_freq_factor")
    return theta, kind, numbers


def parse_config(raw: dict) -> HFConfig:
    """The :class:`HFConfig` of a parsed ``config.json``; raises UnsupportedConfigError on any unsupported field."""
    model_type = raw.get("model_type")
    if model_type not in MODEL_TYPES:
        raise UnsupportedConfigError("model_type", model_type, f"supported: {', '.join(MODEL_TYPES)}")
    read = {"model_type"}
    act = raw.get("hidden_act", "silu")
    read.add("hidden_act")
    if act != "silu":
        raise UnsupportedConfigError("hidden_act", act, "only the SiLU-gated MLP (silu) is supported")
    if "quantization_config" in raw:
        raise UnsupportedConfigError("quantization_config", raw["quantization_config"],
                                     "pre-quantised checkpoints are not supported; give float weights")
    if "auto_map" in raw:
        raise UnsupportedConfigError("auto_map", raw["auto_map"], "custom modelling code is not supported")
    for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "max_position_embeddings"):
        read.add(name)
    heads = _int(raw, "num_attention_heads")
    kv_heads = raw.get("num_key_value_heads")
    kv_heads = heads if kv_heads is None else _int(raw, "num_key_value_heads")
    read.add("num_key_value_heads")
    if heads % kv_heads:
        raise UnsupportedConfigError("num_key_value_heads", kv_heads,
                                     f"must divide num_attention_heads = {heads}")
    hidden = _int(raw, "hidden_size")
    head_dim = raw.get("head_dim")
    read.add("head_dim")
    if head_dim is None:
        if hidden % heads:
            raise UnsupportedConfigError("hidden_size", hidden, f"not a multiple of num_attention_heads = {heads}")
        head_dim = hidden // heads
    else:
        head_dim = _int(raw, "head_dim")
    if head_dim % 2:
        raise UnsupportedConfigError("head_dim", head_dim, "RoPE needs an even head dimension")
    # As transformers builds them: Qwen2 always has q/k/v biases and no others, Mistral none, Llama per its flags.
    if model_type == "qwen2":
        qkv_bias, o_bias, mlp_bias = True, False, False
    elif model_type == "mistral":
        qkv_bias = o_bias = mlp_bias = False
    else:
        qkv_bias = o_bias = _flag(raw, "attention_bias", False)
        mlp_bias = _flag(raw, "mlp_bias", False)
    read |= {"attention_bias", "mlp_bias"}
    theta, rope_type, rope_params = _rope(raw, read)
    sliding = raw.get("sliding_window")
    read |= {"sliding_window", "use_sliding_window", "layer_types"}
    if raw.get("use_sliding_window", model_type == "mistral"):
        if model_type == "qwen2":
            raise UnsupportedConfigError("use_sliding_window", raw["use_sliding_window"],
                                         "sliding-window attention is not supported")
    else:
        sliding = None
    if sliding is not None:
        sliding = _int(raw, "sliding_window")
    layer_types = raw.get("layer_types")
    if layer_types is not None and any(t != "full_attention" for t in layer_types):
        raise UnsupportedConfigError("layer_types", layer_types, "only full_attention layers are supported")
    eps = _positive(raw.get("rms_norm_eps", 1e-6), "rms_norm_eps")
    read.add("rms_norm_eps")
    tie = _flag(raw, "tie_word_embeddings", False)
    read.add("tie_word_embeddings")
    for key, value in _MUST_BE.items():
        if key in raw and raw[key] is not value:
            raise UnsupportedConfigError(key, raw[key], f"only {value} is supported")
    read |= set(_MUST_BE)
    for key in raw:
        if key not in read and key not in _IGNORED:
            raise UnsupportedConfigError(key, raw[key], "field not known to this loader (it may change the model)")
    return HFConfig(
        model_type=model_type, vocab_size=_int(raw, "vocab_size"), hidden_size=hidden,
        intermediate_size=_int(raw, "intermediate_size"), num_hidden_layers=_int(raw, "num_hidden_layers"),
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim, rms_norm_eps=eps,
        tie_word_embeddings=tie, qkv_bias=qkv_bias, o_bias=o_bias, mlp_bias=mlp_bias, rope_theta=theta,
        rope_type=rope_type, rope_params=tuple(sorted(rope_params.items())),
        max_position_embeddings=_int(raw, "max_position_embeddings", 2048), sliding_window=sliding,
        pad_token_id=_first_id(raw.get("pad_token_id")), eos_token_id=_first_id(raw.get("eos_token_id")))


def read_config(folder: Path) -> HFConfig:
    """Parse ``folder/config.json``; HFCheckpointError when it is missing or not JSON."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise HFCheckpointError(f"{folder}: no config.json (is this a Hugging Face checkpoint folder?)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HFCheckpointError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise HFCheckpointError(f"{path}: expected a JSON object")
    return parse_config(raw)


def check_seq_len(cfg: HFConfig, seq_len: int) -> None:
    """Refuse a static prompt length the checkpoint does not define (sliding window shorter than the prompt)."""
    if seq_len < 1:
        raise HFCheckpointError(f"seq_len = {seq_len} must be >= 1")
    if cfg.sliding_window is not None and cfg.sliding_window < seq_len:
        raise UnsupportedConfigError("sliding_window", cfg.sliding_window,
                                     f"a window shorter than the prompt (seq_len = {seq_len}) is not supported")


def inv_freq(cfg: HFConfig, seq_len: int) -> torch.Tensor:
    """float64 [head_dim / 2]: RoPE inverse frequencies for a static prompt of ``seq_len`` tokens, as transformers'
    ``ROPE_INIT_FUNCTIONS`` define them for the config's kind (computed here in float64).

    ``dynamic`` (NTK) rescales the base only once the sequence is longer than ``max_position_embeddings``; with a
    static length that is one fixed base: ``theta * (factor * T / max_pos - (factor - 1)) ** (d / (d - 2))``.
    """
    d = cfg.head_dim
    p = dict(cfg.rope_params)
    theta = cfg.rope_theta
    if cfg.rope_type == "dynamic" and seq_len > cfg.max_position_embeddings:
        theta *= (p["factor"] * seq_len / cfg.max_position_embeddings - (p["factor"] - 1)) ** (d / (d - 2))
    freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    if cfg.rope_type == "linear":
        return freq / p["factor"]
    if cfg.rope_type == "llama3":
        factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
        old = p["original_max_position_embeddings"]
        wavelen = 2 * math.pi / freq
        scaled = torch.where(wavelen > old / low, freq / factor, freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return torch.where(medium, smoothed, scaled)
    return freq


def rope_tables(cfg: HFConfig, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE ``(cos, sin)``, float32 [seq_len, head_dim], rotate-half layout (as offchain.models.llama)."""
    angles = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv_freq(cfg, seq_len)[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def grouped_causal_bias(seq_len: int, groups: int) -> torch.Tensor:
    """float32 [groups * seq_len, seq_len]: row r is query position r % seq_len's causal mask (0 where key <=
    query, -MASK_PENALTY after it); the query heads sharing one KV head are stacked along the rows."""
    future = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1)
    return torch.where(future, -MASK_PENALTY, 0.0).float().repeat(groups, 1)
