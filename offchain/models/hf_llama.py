"""Hugging Face Llama-family checkpoints (Llama, Qwen2, Mistral) as integer models of the engine.

Public API (stable; other code calls it):

- ``compile_hf(folder, seq_len=16, prompts=None, all_positions=False, config=None, name=None) -> CompiledHF``:
  load the checkpoint folder, calibrate on the prompts (tokenized with its ``tokenizer.json``; default:
  ``DEFAULT_PROMPTS``) and compile. ``CompiledHF`` holds ``model`` (the integer Model), ``module`` (the float
  ``HFLlama`` it was compiled from), ``samples`` (the calibration inputs, int64 [1, seq_len] each), ``config``.
- ``load_hf(folder, seq_len=16, all_positions=False) -> HFLlama``: the float module with the checkpoint's weights.
- ``tokenize_prompts(folder, prompts, seq_len, pad_id) -> list[Tensor]``: int64 [1, seq_len] token ids each.
- Errors: ``HFCheckpointError`` and its subclass ``UnsupportedConfigError`` (offchain.models.hf_config).

Graph: the checkpoint's tensors feed this module (the project's own Llama-style module, built on the meta
device and filled tensor by tensor), not a capture of transformers' module: its causal mask and RoPE tables are
constant buffers computed at construction (static prompt length), so the captured graph holds only ops the
compiler lowers (the same as ``offchain.models.llama``) and no mask or rotary construction ops. Grouped-query
attention reshapes the query heads sharing one KV head into one ``[n_rep * T, head_dim]`` block and multiplies it
with that KV head once (no repeated K/V tensors); the causal mask is tiled ``n_rep`` times along rows to match.

Memory: weights are read with ``safetensors.safe_open`` (memory-mapped), one tensor at a time, converted to
float32 and placed into the module; peak memory is the float32 module plus one tensor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from offchain.engine.compiler.config import CompileConfig
from offchain.engine.model import Model
from offchain.models.hf_config import (HFCheckpointError, HFConfig, UnsupportedConfigError, check_seq_len,
                                       grouped_causal_bias, read_config, rope_tables)
from offchain.models.llama import RMSNorm, apply_rope

#: Calibration prompts used when none are given: plain English of several registers and lengths.
DEFAULT_PROMPTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, in a small village by the sea, there lived an old fisherman.",
    "def add(a, b):\n    return a + b",
    "What is the capital of France? The capital of France is Paris.",
    "In 1969, astronauts first walked on the Moon.",
    "Please summarise the following paragraph in one sentence.",
    "The smart contract asks the model a question and waits for the answer.",
    "Water boils at 100 degrees Celsius at sea level.",
)


class Attention(nn.Module):
    """Causal grouped-query attention with RoPE on q and k; projection names and biases as in transformers."""

    def __init__(self, cfg: HFConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.groups = cfg.kv_groups
        self.scale = cfg.head_dim**-0.5
        q_width, kv_width = cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, q_width, bias=cfg.qkv_bias, device="meta")
        self.k_proj = nn.Linear(cfg.hidden_size, kv_width, bias=cfg.qkv_bias, device="meta")
        self.v_proj = nn.Linear(cfg.hidden_size, kv_width, bias=cfg.qkv_bias, device="meta")
        self.o_proj = nn.Linear(q_width, cfg.hidden_size, bias=cfg.o_bias, device="meta")

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, nh, T, hd]
        k = self.k_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)  # [B, nkv, T, hd]
        v = self.v_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if self.groups > 1:  # query heads h*g .. h*g+g-1 share KV head h: [B, nkv, g*T, hd]
            q = q.reshape(B, self.n_kv, self.groups * T, self.head_dim)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale + bias  # [B, nkv, g*T, T] + [g*T, T]
        y = torch.matmul(F.softmax(scores, dim=-1), v)  # [B, nkv, g*T, hd]
        if self.groups > 1:
            y = y.reshape(B, self.n_heads, T, self.head_dim)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class MLP(nn.Module):
    """SiLU-gated MLP: down(silu(gate x) * up x)."""

    def __init__(self, cfg: HFConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias, device="meta")
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias, device="meta")
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias, device="meta")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm block: h = x + attn(norm(x)); out = h + mlp(norm(h))."""

    def __init__(self, cfg: HFConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device="meta")
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device="meta")
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, bias)
        return h + self.mlp(self.post_attention_layernorm(h))


class Backbone(nn.Module):
    """transformers' ``model.``: embed_tokens, layers, norm (so parameter names equal the checkpoint's)."""

    def __init__(self, cfg: HFConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size, device="meta")
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device="meta")


class HFLlama(nn.Module):
    """A Llama-family causal LM over a fixed-length prompt.

    forward(tokens): int64 [B, seq_len], ids in [0, vocab_size).
    returns float32 logits [B, vocab_size] for the last position, or [B, seq_len, vocab_size] with all_positions.
    """

    def __init__(self, cfg: HFConfig, seq_len: int, all_positions: bool = False):
        super().__init__()
        check_seq_len(cfg, seq_len)
        self.config, self.seq_len, self.all_positions = cfg, seq_len, all_positions
        cos, sin = rope_tables(cfg, seq_len)
        self.register_buffer("rope_cos", cos)  # [T, hd]
        self.register_buffer("rope_sin", sin)  # [T, hd]
        self.register_buffer("causal_bias", grouped_causal_bias(seq_len, cfg.kv_groups))  # [g*T, T]
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False, device="meta")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.model.embed_tokens(tokens)  # [B, T, D]
        for layer in self.model.layers:
            x = layer(x, self.rope_cos, self.rope_sin, self.causal_bias)
        if not self.all_positions:
            x = x[:, -1, :]  # [B, D]
        return self.lm_head(self.model.norm(x))


# --- reading the checkpoint ------------------------------------------------------------------------------------


def _tensor_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it (one file, or the shards the index names)."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HFCheckpointError(f"{index}: no readable weight_map: {exc}") from exc
        files = {}
        for name, shard in weight_map.items():
            path = folder / shard
            if Path(shard).name != shard or not path.is_file():
                raise HFCheckpointError(f"{index}: tensor {name!r} is in {shard!r}, which is not a file of {folder}")
            files[name] = path
        return files
    if single.is_file():
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(single), framework="pt") as f:
                return {name: single for name in f.keys()}
        except SafetensorError as exc:
            raise HFCheckpointError(f"{single}: not a safetensors file: {exc}") from exc
    raise HFCheckpointError(f"{folder}: neither model.safetensors nor model.safetensors.index.json "
                            "(only safetensors checkpoints are read)")


def _expected_names(module: HFLlama) -> list[str]:
    tied = module.config.tie_word_embeddings
    return [n for n, _ in module.named_parameters(remove_duplicate=False) if not (tied and n == "lm_head.weight")]


def _ignorable(name: str, cfg: HFConfig) -> bool:
    """Checkpoint tensors that carry nothing the forward pass reads."""
    return name.endswith("rotary_emb.inv_freq") or (cfg.tie_word_embeddings and name == "lm_head.weight")


def _fill(module: HFLlama, folder: Path) -> None:
    """Replace every meta parameter by its checkpoint tensor (float32), reading one tensor at a time."""
    cfg = module.config
    files = _tensor_files(folder)
    expected = _expected_names(module)
    missing = [n for n in expected if n not in files]
    if missing:
        raise HFCheckpointError(f"{folder}: the checkpoint lacks {len(missing)} tensor(s) the config implies: "
                                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    unexpected = sorted(n for n in files if n not in expected and not _ignorable(n, cfg))
    if unexpected:
        raise HFCheckpointError(f"{folder}: tensors the config does not account for (another architecture?): "
                                f"{', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}")
    by_file: dict[Path, list[str]] = {}
    for name in expected:
        by_file.setdefault(files[name], []).append(name)
    for path, names in by_file.items():
        _read_file(module, path, names)
    if cfg.tie_word_embeddings:
        module.lm_head.weight = module.model.embed_tokens.weight


def _read_file(module: HFLlama, path: Path, names: list[str]) -> None:
    """Place the tensors ``names`` of one safetensors file into ``module``, one at a time, as float32."""
    from safetensors import SafetensorError, safe_open

    try:
        handle = safe_open(str(path), framework="pt")
    except SafetensorError as exc:
        raise HFCheckpointError(f"{path}: not a safetensors file: {exc}") from exc
    with handle as f:
        present = set(f.keys())
        for name in names:
            if name not in present:
                raise HFCheckpointError(f"{path.name}: the index places tensor {name} here, but the file lacks it")
            owner_name, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_name)
            want = tuple(getattr(owner, leaf).shape)
            sliced = f.get_slice(name)
            if sliced.get_dtype() not in ("F32", "F16", "BF16"):
                raise UnsupportedConfigError(f"tensor {name} dtype", sliced.get_dtype(),
                                             "only float32, float16 and bfloat16 weights are read")
            if tuple(sliced.get_shape()) != want:
                raise HFCheckpointError(f"{path.name}: tensor {name} has shape {tuple(sliced.get_shape())}, "
                                        f"the config implies {want}")
            value = f.get_tensor(name).to(torch.float32)
            if not torch.isfinite(value).all():
                raise HFCheckpointError(f"{path.name}: tensor {name} holds NaN or infinite values")
            setattr(owner, leaf, nn.Parameter(value, requires_grad=False))


def load_hf(folder: str | Path, seq_len: int = 16, all_positions: bool = False) -> HFLlama:
    """The float module of checkpoint ``folder`` for prompts of exactly ``seq_len`` tokens (eval mode).

    Raises UnsupportedConfigError for a config it cannot build, HFCheckpointError for a missing/mismatched file
    or tensor.
    """
    folder = Path(folder)
    cfg = read_config(folder)
    module = HFLlama(cfg, seq_len, all_positions)
    _fill(module, folder)
    return module.eval()


# --- calibration prompts ---------------------------------------------------------------------------------------


def pad_token_id(folder: str | Path, cfg: HFConfig) -> int:
    """The id that pads short prompts: config pad_token_id, else the tokenizer's pad token, else eos, else 0."""
    if cfg.pad_token_id is not None:
        return cfg.pad_token_id
    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        for candidate in ("<pad>", "[PAD]", "<|endoftext|>"):
            found = tok.token_to_id(candidate)
            if found is not None:
                return found
    return cfg.eos_token_id if cfg.eos_token_id is not None else 0


def tokenize_prompts(folder: str | Path, prompts: Sequence[str], seq_len: int, pad_id: int,
                     vocab_size: int) -> list[torch.Tensor]:
    """Each prompt encoded by ``folder/tokenizer.json`` (with its special tokens, e.g. BOS), its first ``seq_len``
    ids kept, left-padded with ``pad_id`` to ``seq_len``: int64 [1, seq_len] each (the last position is the
    prompt's own last token). HFCheckpointError without a tokenizer.json or for ids outside the vocabulary."""
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise HFCheckpointError(f"{folder}: no tokenizer.json to encode the calibration prompts with")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    out = []
    for text in prompts:
        ids = tok.encode(text).ids[:seq_len]
        if not ids:
            raise HFCheckpointError(f"prompt {text!r} encodes to no tokens")
        ids = [pad_id] * (seq_len - len(ids)) + ids
        if max(ids) >= vocab_size or min(ids) < 0:
            raise HFCheckpointError(f"prompt {text!r}: token id {max(ids)} outside the model's vocab_size "
                                    f"{vocab_size} (tokenizer.json does not fit config.json)")
        out.append(torch.tensor([ids], dtype=torch.long))
    return out


def random_prompts(cfg: HFConfig, seq_len: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    """Seeded uniform token ids, int64 [1, seq_len] each (calibration for a folder without tokenizer.json)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, cfg.vocab_size, (1, seq_len), generator=g) for _ in range(count)]


# --- compiling ---------------------------------------------------------------------------------------------------


@dataclass
class CompiledHF:
    """A compiled checkpoint: the integer ``model``, the float ``module`` it came from, the calibration
    ``samples`` (tuples of one int64 [1, seq_len] token-id tensor) and the parsed ``config``."""

    model: Model
    module: HFLlama
    samples: list[tuple[torch.Tensor]]
    config: HFConfig
    #: For a text-in model (``compile_hf_text``): the token-id model behind the tokenizer, with its own samples.
    body: "CompiledHF | None" = None


def compile_hf(folder: str | Path, seq_len: int = 16, prompts: Sequence[str] | None = None,
               all_positions: bool = False, config: CompileConfig | None = None,
               name: str | None = None) -> CompiledHF:
    """Compile Hugging Face checkpoint ``folder`` into an integer model over ``seq_len`` token ids.

    Calibration: ``prompts`` (default ``DEFAULT_PROMPTS``) tokenized with the folder's tokenizer.json (see
    ``tokenize_prompts``); a folder without tokenizer.json calibrates on 8 seeded random prompts unless prompts are
    given (then it is an error). Output: last-position logits [1, vocab] (all positions with ``all_positions``).
    """
    from offchain.engine.compiler import compile_module

    folder = Path(folder)
    module = load_hf(folder, seq_len, all_positions)
    cfg = module.config
    if prompts is None and not (folder / "tokenizer.json").is_file():
        tokens = random_prompts(cfg, seq_len, len(DEFAULT_PROMPTS))
    else:
        tokens = tokenize_prompts(folder, list(prompts or DEFAULT_PROMPTS), seq_len, pad_token_id(folder, cfg),
                                  cfg.vocab_size)
    samples = [(t,) for t in tokens]
    model = compile_module(module, samples[0], samples, config, name=name or folder.resolve().name)
    model.meta["hf"] = {"model_type": cfg.model_type, "seq_len": seq_len, "all_positions": all_positions}
    return CompiledHF(model, module, samples, cfg)


def compile_hf_text(folder: str | Path, text_bytes: int, seq_len: int = 16, prompts: Sequence[str] | None = None,
                    config: CompileConfig | None = None, name: str | None = None) -> CompiledHF:
    """Compile checkpoint ``folder`` into a model that takes UTF-8 text: the folder's ``tokenizer.json`` as
    disputable graph operators (``offchain.models.bpe``: bytes -> ids, refusing tokenizers it does not reproduce
    exactly) spliced in front of the integer Llama over ``seq_len`` ids. Input int8 [text_bytes] (the text's bytes,
    zero-padded); output every position's logits [1, seq_len, vocab]: the ids are the template (e.g. BOS), the
    text's pieces and then pad ids, and with causal attention the logits of a real position never see the pads.
    ``samples`` are the calibration prompts as text inputs."""
    from offchain.models import bpe
    from offchain.models.text_tables import splice, text_input

    folder = Path(folder)
    body = compile_hf(folder, seq_len, prompts, all_positions=True, config=config, name=name)
    spec = bpe.read_tokenizer(folder)
    pad_id = pad_token_id(folder, body.config)
    front = bpe.tokenizer_model(spec, text_bytes, seq_len, pad_id=pad_id)
    model = splice(front, body.model)
    model.meta.update({"name": body.model.meta.get("name", name), "max_bytes": text_bytes,
                       "tokenizer": front.meta["tokenizer"], "pad_id": pad_id,
                       "hf": {**body.model.meta["hf"], "text_bytes": text_bytes}})
    texts = [bpe.truncate_utf8(p, text_bytes) for p in (prompts or DEFAULT_PROMPTS)]
    samples = [(torch.from_numpy(text_input(t, text_bytes)),) for t in texts]
    return CompiledHF(model, body.module, samples, body.config, body)


__all__ = ["CompiledHF", "compile_hf_text", "DEFAULT_PROMPTS", "HFCheckpointError", "HFLlama", "UnsupportedConfigError", "compile_hf",
           "load_hf", "pad_token_id", "random_prompts", "tokenize_prompts"]
