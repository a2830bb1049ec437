"""Text-to-image on scikit-learn's 8x8 digits (issue 16): a class-conditional DDPM sampled by deterministic DDIM.

The float model (this file's first half) and the integer graph builder (``build_image_model``, second half).

Data: ``load_digits()`` pixels p in 0..16 as reals x = p / 8 - 1 in [-1, 1], 64 values row-major.

Diffusion: cosine schedule (Nichol & Dhariwal, s = 0.008, betas clipped at 0.999) over T = 1000 steps; the
denoiser predicts eps from (x_t, t, class conditioning). Sampling is deterministic DDIM (eta = 0) over K = 10
steps t_k = 900, 800, ..., 0 (then alpha-bar 1), with the predicted x0 clipped to [-1, 1] and eps RE-DERIVED from
the clipped x0 (GEN-FACTS: keeping the model's eps after clipping loses accuracy as K grows), i.e. per step

    x0 = (x - sqrt(1 - ab_t) eps) / sqrt(ab_t);  x0c = clip(x0, -1, 1)
    x <- sqrt(1 - ab_prev) / sqrt(1 - ab_t) * x + (sqrt(ab_prev) - sqrt(1 - ab_prev) sqrt(ab_t) / sqrt(1 - ab_t)) x0c

which is DDIM_STEP's arithmetic (offchain/engine/ops/image.py) with its Q16 constants.

Denoiser (``Denoiser``): an MLP over [x_t (64), sinusoidal timestep embedding (TIME_DIM), class embedding
(COND_DIM)] -> HIDDEN -> HIDDEN -> HIDDEN -> 64, ReLU. Training uses the class embedding table E[y]; at sampling
the conditioning is ``softmax(tau * emb @ D^T) @ E`` where emb is the prompt's MiniLM embedding and D the ten
class descriptions' embeddings ("the digit zero", ...) (``CondHead``): a near one-hot mix of E's rows.

Who calls: offchain/models/train_diffusion.py (training), tests/models/test_diffusion.py, bench/bench_image.py,
the demo.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent / "digits_diffusion"
PIXELS = 64
CLASSES = 10
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything that defines the float model and its sampler (saved as config.json beside the weights)."""

    steps_T: int = 1000          # diffusion steps of the forward process
    cosine_s: float = 0.008      # cosine schedule offset
    max_beta: float = 0.999      # betas clipped here
    hidden: int = 256            # denoiser width
    time_dim: int = 32           # sinusoidal timestep embedding width
    cond_dim: int = 32           # class embedding width
    ddim_steps: int = 10         # K
    train_steps: int = 40000
    batch: int = 128
    lr: float = 1e-3
    ema: float = 0.999
    seed: int = 0

    def timesteps(self) -> list[int]:
        """DDIM's t_k, descending: 900, 800, ..., 0 for T = 1000, K = 10 (the "leading" spacing)."""
        stride = self.steps_T // self.ddim_steps
        return [stride * (self.ddim_steps - 1 - k) for k in range(self.ddim_steps)]


def alpha_bars(cfg: DiffusionConfig) -> np.ndarray:
    """float64 [T]: alpha-bar after step t (t = 0..T-1) of the cosine schedule with clipped betas."""
    T, s = cfg.steps_T, cfg.cosine_s
    f = np.cos(((np.arange(T + 1) / T) + s) / (1 + s) * math.pi / 2) ** 2
    betas = np.minimum(1 - f[1:] / f[:-1], cfg.max_beta)
    return np.cumprod(1 - betas)


def ddim_schedule(cfg: DiffusionConfig) -> list[tuple[int, float, float]]:
    """Per DDIM step: (t, ab_t, ab_prev), ab_prev = 1 on the last step."""
    ab = alpha_bars(cfg)
    ts = cfg.timesteps()
    return [(t, float(ab[t]), float(ab[ts[k + 1]]) if k + 1 < len(ts) else 1.0) for k, t in enumerate(ts)]


def time_embedding(t: torch.Tensor, dim: int, T: int) -> torch.Tensor:
    """Sinusoidal embedding of timesteps t [B] (float) -> [B, dim]; frequencies 1 .. 1/1000 over t / T * 1000."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float64) / half)
    args = (t.double()[:, None] * (1000.0 / T)) * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1).float()


class Denoiser(nn.Module):
    """eps prediction. forward(x [B, 64], cond [B, cond_dim], temb [B, time_dim]) -> [B, 64]."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        h = cfg.hidden
        self.fc1 = nn.Linear(PIXELS + cfg.time_dim + cfg.cond_dim, h)
        self.fc2 = nn.Linear(h, h)
        self.fc3 = nn.Linear(h, h)
        self.out = nn.Linear(h, PIXELS)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(torch.cat([x, temb, cond], dim=1)))
        h = torch.relu(self.fc2(h))
        h = torch.relu(self.fc3(h))
        return self.out(h)


class DiffusionModel(nn.Module):
    """The denoiser plus the learned class embedding table E [10, cond_dim]."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        self.class_embedding = nn.Embedding(CLASSES, cfg.cond_dim)
        self.denoiser = Denoiser(cfg)

    def forward(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = time_embedding(t, self.cfg.time_dim, self.cfg.steps_T)
        return self.denoiser(x, self.class_embedding(y), temb)


class CondHead(nn.Module):
    """Prompt embedding -> class conditioning: softmax(tau * emb @ D^T) @ E. emb [B, 384] (unit rows) ->
    [B, cond_dim]. D: the ten class descriptions' unit embeddings; E: the trained class embedding table.
    tau multiplies the cosines (not D's weights) so D keeps its own int8 scale."""

    def __init__(self, descriptions: torch.Tensor, table: torch.Tensor, tau: float):
        super().__init__()
        self.tau = float(tau)
        self.match = nn.Linear(descriptions.shape[1], CLASSES, bias=False)
        self.mix = nn.Linear(CLASSES, table.shape[1], bias=False)
        with torch.no_grad():
            self.match.weight.copy_(descriptions)
            self.mix.weight.copy_(table.T)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.mix(torch.softmax(self.match(emb) * self.tau, dim=-1))


def class_descriptions() -> list[str]:
    """The ten class descriptions whose embeddings are D's rows."""
    return [f"the digit {w}" for w in DIGIT_WORDS]


# ------------------------------------------------------------------------------------------------ data, weights


def digits_reals() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as reals p / 8 - 1 (float32 [N, 64]) and their labels (int64 [N])."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data.astype(np.float32) / 8.0 - 1.0), d.target.astype(np.int64)


def save(model: DiffusionModel, folder: Path = WEIGHTS_DIR, report: dict | None = None) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(asdict(model.cfg), indent=2) + "\n")
    if report is not None:
        (folder / "training.json").write_text(json.dumps(report, indent=2) + "\n")


def load(folder: Path = WEIGHTS_DIR) -> DiffusionModel:
    """The committed model (eval mode). FileNotFoundError names ``make train-diffusion`` when it is missing."""
    from safetensors.torch import load_file

    cfg_file, weights = folder / "config.json", folder / "model.safetensors"
    if not weights.is_file() or not cfg_file.is_file():
        raise FileNotFoundError(f"{folder}: no trained diffusion model (run `make train-diffusion`)")
    cfg = DiffusionConfig(**json.loads(cfg_file.read_text()))
    model = DiffusionModel(cfg)
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval()


# ------------------------------------------------------------------------------------------------ float sampling


@torch.no_grad()
def ddim_float(model: DiffusionModel, cond: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Deterministic DDIM from x_T = ``x`` [B, 64] under conditioning ``cond`` [B, cond_dim] (float64 update,
    clipped x0, eps re-derived); returns x0 in [-1, 1], [B, 64]."""
    cfg = model.cfg
    x = x.double()
    for t, ab_t, ab_prev in ddim_schedule(cfg):
        temb = time_embedding(torch.full((x.shape[0],), float(t)), cfg.time_dim, cfg.steps_T)
        eps = model.denoiser(x.float(), cond, temb).double()
        x0 = ((x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)).clamp(-1.0, 1.0)
        c1 = math.sqrt(1 - ab_prev) / math.sqrt(1 - ab_t)
        c2 = math.sqrt(ab_prev) - math.sqrt(1 - ab_prev) * math.sqrt(ab_t) / math.sqrt(1 - ab_t)
        x = c1 * x + c2 * x0
    return x.float()


def to_pixels16(x: np.ndarray) -> np.ndarray:
    """Reals in [-1, 1] -> the digits' pixel scale 0..16 (float)."""
    return (np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0) + 1.0) * 8.0


# ------------------------------------------------------------------------------------------------ text conditioning

#: Request layout: the prompt's UTF-8 bytes zero-padded to PROMPT_BYTES, then the seed's SEED_BYTES (big-endian).
PROMPT_BYTES = 64
SEED_BYTES = 8
#: MiniLM's token slots for the prompt ([CLS] + 14 pieces + [SEP]); longer prompts keep their first pieces.
TEXT_SEQ_LEN = 16
#: softmax sharpness of the prompt -> class match (a power of two: exact in fixed point). The smallest top-two
#: cosine gap over the measured phrasings is ~0.04, i.e. a logit gap of ~5 at tau = 128: the mix is near one-hot.
TAU = 128.0
#: Per class, the phrasings whose normalised mean embedding is the class's description row of D.
def class_phrasings(d: int) -> list[str]:
    w = DIGIT_WORDS[d]
    return [f"the digit {w}", f"the digit {d}", w, str(d)]


@torch.no_grad()
def description_matrix(encoder=None, tokenizer=None) -> torch.Tensor:
    """D [10, 384]: per class the unit-normalised mean of its phrasings' MiniLM embeddings (float MiniLM at
    TEXT_SEQ_LEN tokens). Measured on 80 other phrasings ("a handwritten 7", "draw a seven", "the number 7", ...):
    all nearest to the intended class, smallest top-two gap 0.038 (one description per class: 0.013)."""
    from offchain.models.minilm import embed, load_minilm, load_tokenizer

    encoder = encoder or load_minilm(seq_len=TEXT_SEQ_LEN)
    tokenizer = tokenizer or load_tokenizer()
    rows = [embed(encoder, tokenizer, class_phrasings(d)).mean(dim=0) for d in range(CLASSES)]
    return torch.nn.functional.normalize(torch.stack(rows), dim=1)


def cond_head(model: DiffusionModel, descriptions: torch.Tensor | None = None) -> "CondHead":
    return CondHead(description_matrix() if descriptions is None else descriptions,
                    model.class_embedding.weight.detach(), TAU).eval()


# ------------------------------------------------------------------------------------------------ the integer graph

#: Frac bits of x_t, eps and every DDIM_STEP output (|x| <= ~4.5 fits INT16 with 12 frac bits; NOISE's |out| <=
#: 3.47 * 2^12), and of the denoiser's other two inputs (the conditioning, RESCALEd once before the loop, and the
#: quantised timestep embeddings in [-1, 1]): the denoiser's input CONCAT then needs no RESCALE per step.
X_FRAC = 12
TEMB_FRAC = X_FRAC


class ImageRequestError(ValueError):
    """A prompt or seed the image model cannot take (the message names the limit)."""


@dataclass
class ImageModel:
    """``model``: the whole disputable graph (request INT8 [72] -> pixel bytes INT8 [64]); its pieces, each a model
    the engine runs on its own (what ``reference_sample`` loops over): ``text`` (prompt bytes [64] -> unit
    embedding [1, 384]), ``cond`` (embedding -> class conditioning [1, cond_dim]), ``denoiser`` ((x_t, cond, temb)
    -> eps [1, 64]); ``temb[k]``: step k's quantised timestep embedding (a weight of the graph); ``nodes``: indices
    in ``model`` of the image nodes by role ("noise", "ddim0".., "pixels"); ``config``; ``weight_dtype``."""

    model: object
    text: object
    cond: object
    denoiser: object
    temb: list
    nodes: dict
    config: DiffusionConfig
    weight_dtype: str


def _temb_values(cfg: DiffusionConfig) -> list[np.ndarray]:
    """Per DDIM step the timestep embedding quantised to INT16 with TEMB_FRAC frac bits, [1, time_dim]."""
    out = []
    for t, _, _ in ddim_schedule(cfg):
        e = time_embedding(torch.tensor([float(t)]), cfg.time_dim, cfg.steps_T).double().numpy()
        out.append(np.floor(e * 2.0 ** TEMB_FRAC + 0.5).clip(-32768, 32767).astype(np.int16))
    return out


@torch.no_grad()
def _calibration(model: DiffusionModel, head: "CondHead", descriptions: torch.Tensor, per_class: int = 4):
    """Inputs the denoiser sees while sampling (float DDIM from noise, conditioning from the description rows
    themselves, i.e. the CondHead outputs of perfect prompts): tuples (x_t [1, 64], cond [1, C], temb [1, Tm])."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(12345)
    y = torch.arange(CLASSES).repeat_interleave(per_class)
    cond = head(descriptions[y])
    x = torch.randn(len(y), PIXELS, generator=gen).double()
    samples = []
    for t, ab_t, ab_prev in ddim_schedule(cfg):
        temb = time_embedding(torch.full((len(y),), float(t)), cfg.time_dim, cfg.steps_T)
        for i in range(len(y)):
            samples.append((x[i:i + 1].float(), cond[i:i + 1], temb[i:i + 1]))
        eps = model.denoiser(x.float(), cond, temb).double()
        x0 = ((x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)).clamp(-1.0, 1.0)
        c1 = math.sqrt(1 - ab_prev) / math.sqrt(1 - ab_t)
        c2 = math.sqrt(ab_prev) - math.sqrt(1 - ab_prev) * math.sqrt(ab_t) / math.sqrt(1 - ab_t)
        x = c1 * x + c2 * x0
    return samples


def compile_parts(model: DiffusionModel | None = None, weight_dtype: str = "int16"):
    """(text, cond, denoiser) integer models. ``weight_dtype`` of the denoiser's and CondHead's Linear weights:
    "int16" or "int8" (per tensor: the compiler has no per-channel int8 weights)."""
    from offchain.engine.compiler import CompileConfig, compile_module
    from offchain.engine.dtypes import DType
    from offchain.models.minilm import build_text_model, load_minilm, load_tokenizer

    dtypes = {"int16": DType.INT16, "int8": DType.INT8}
    if weight_dtype not in dtypes:
        raise ValueError(f"weight_dtype={weight_dtype!r}: one of {sorted(dtypes)}")
    model = model or load()
    wdt = dtypes[weight_dtype]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        text = build_text_model(PROMPT_BYTES, TEXT_SEQ_LEN)
        encoder, tokenizer = load_minilm(seq_len=TEXT_SEQ_LEN), load_tokenizer()
        descriptions = description_matrix(encoder, tokenizer)
        head = cond_head(model, descriptions)
        emb_spec = text.graph.output
        from offchain.models.minilm import embed

        prompts = [p for d in range(CLASSES) for p in class_phrasings(d)] + ["a handwritten 7", "draw a three"]
        embs = embed(encoder, tokenizer, prompts)
        cond = compile_module(head, (embs[:1],), [(embs[i:i + 1],) for i in range(len(prompts))],
                              CompileConfig(input_specs=[(emb_spec.dtype, emb_spec.frac)], weight_dtype=wdt),
                              name="digits-diffusion-cond")
        samples = _calibration(model, head, descriptions)
        denoiser = compile_module(model.denoiser, samples[0], samples,
                                  CompileConfig(input_specs=[(DType.INT16, X_FRAC), (DType.INT16, X_FRAC),
                                                             (DType.INT16, TEMB_FRAC)], weight_dtype=wdt),
                                  name="digits-diffusion-denoiser")
    finally:
        torch.set_num_threads(threads)
    return text, cond, denoiser


def _fit(asm, ref, spec, tag: str):
    """``ref`` as a tensor of ``spec``'s layout: itself when it already is, else a RESCALE (frac/chunk change)."""
    import dataclasses

    from offchain.engine.ops.codes import OpCode

    have = asm.spec(ref)
    if have.same_layout(spec):
        return ref
    if have.shape != spec.shape:
        raise ValueError(f"{tag}: shape {have.shape} cannot feed {spec.shape}")
    return asm.node(OpCode.RESCALE, [ref], dataclasses.replace(spec, name=tag), (), tag)


def _import(asm, part, inputs: dict, tag: str):
    """``part``'s nodes appended to ``asm``, its input j read from ``inputs[j]`` (fitted to the input's layout);
    weights deduplicated by (tag, index) so K imports of the denoiser share one copy."""
    fitted = {j: _fit(asm, ref, part.graph.inputs[j], f"{tag}.in{j}") for j, ref in inputs.items()}
    return asm.import_model(part, fitted, tag)


def assemble(text, cond, denoiser, cfg: DiffusionConfig, weight_dtype: str) -> ImageModel:
    """The whole graph from the compiled parts (no compiling: a fraction of a second)."""
    import dataclasses

    from offchain.engine.dtypes import DType
    from offchain.engine.graph import TensorKind, TensorRef, TensorSpec
    from offchain.engine.ops.codes import OpCode
    from offchain.engine.ops.image import ddim_params, noise_mul
    from offchain.models.generate import _Asm

    def spec(shape, dtype, frac, name, chunk=5):
        return TensorSpec(tuple(shape), dtype, frac, chunk, name)

    tin = text.graph.inputs[0]
    asm = _Asm([spec((PROMPT_BYTES + SEED_BYTES,), DType.INT8, 0, "request", tin.chunk_log2)])
    request = TensorRef(TensorKind.INPUT, 0)
    prompt = asm.node(OpCode.SLICE, [request], dataclasses.replace(tin, name="image.prompt"), (0, 0, 1),
                      "image.prompt")
    seed = asm.node(OpCode.SLICE, [request], spec((SEED_BYTES,), DType.INT8, 0, "image.seed"), (0, PROMPT_BYTES, 1),
                    "image.seed")
    emb = _import(asm, text, {0: prompt}, "text")
    c = _import(asm, cond, {0: emb}, "cond")
    xspec = denoiser.graph.inputs[0]
    nodes = {}
    x = asm.node(OpCode.NOISE, [seed], dataclasses.replace(xspec, name="image.noise"), (noise_mul(xspec.frac),),
                 "image.noise")
    nodes["noise"] = x.index
    c = _fit(asm, c, denoiser.graph.inputs[1], "image.cond")
    tspec = denoiser.graph.inputs[2]
    temb = _temb_values(cfg)
    for k, (t, ab_t, ab_prev) in enumerate(ddim_schedule(cfg)):
        w = asm.weight(("temb", k), dataclasses.replace(tspec, name=f"image.temb{k}"), temb[k])
        eps = _import(asm, denoiser, {0: x, 1: c, 2: w}, "denoiser")
        eps = _fit(asm, eps, dataclasses.replace(xspec, name=f"image.eps{k}"), f"image.eps{k}")
        x = asm.node(OpCode.DDIM_STEP, [x, eps], dataclasses.replace(xspec, name=f"image.x{k}"),
                     ddim_params(ab_t, ab_prev, xspec.frac), f"image.ddim{k} t={t}")
        nodes[f"ddim{k}"] = x.index
    px = asm.node(OpCode.PIXELS, [x], spec(xspec.shape, DType.INT8, 0, "image.pixels", xspec.chunk_log2), (),
                  "image.pixels")
    nodes["pixels"] = px.index
    asm.node(OpCode.RESHAPE, [px], spec((PIXELS,), DType.INT8, 0, "image", xspec.chunk_log2), (), "image")
    meta = {"name": "digits-diffusion", "input_encoding": "utf-8 prompt bytes (64, zero-padded) + 8 seed bytes",
            "output_encoding": "8x8 pixel bytes, row-major, ink bright",
            "image": {"width": 8, "height": 8, "channels": 1, "prompt_bytes": PROMPT_BYTES,
                      "seed_bytes": SEED_BYTES, "steps": cfg.ddim_steps},
            "weight_dtype": weight_dtype}
    return ImageModel(asm.model(meta), text, cond, denoiser, temb, nodes, cfg, weight_dtype)


# ------------------------------------------------------------------------------------------------ build, cache

#: The denoiser's and CondHead's weight dtype. Measured (bench-image, 100 images per digit): int16 weights keep
#: the float model's prompt accuracy (0.977 = 0.977) and its pixels (MAE 0.05 of 255); the compiler has no
#: per-channel int8 weights and per-tensor int8 gives 0.964 (and ~7 of 255 pixel MAE on 20 seeds per prompt).
WEIGHT_DTYPE = "int16"


def _cache_dir() -> Path:
    import os

    root = Path(os.environ.get("VOAI_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
    return root / "digits-diffusion"


def _source_key(weight_dtype: str, folder: Path) -> str:
    """Hash of everything the compiled parts depend on: this file, the text front's and the compiler's sources, the
    engine's op sources, the weights and config."""
    import hashlib

    from offchain.engine import compiler as compiler_pkg
    from offchain.engine import ops as ops_pkg
    from offchain.models import minilm, text_tables, wordpiece

    h = hashlib.sha256(weight_dtype.encode())
    files = [Path(__file__), Path(minilm.__file__), Path(text_tables.__file__), Path(wordpiece.__file__)]
    files += sorted(Path(compiler_pkg.__file__).parent.glob("*.py")) + sorted(Path(ops_pkg.__file__).parent.glob("*.py"))
    files += [folder / "model.safetensors", folder / "config.json"]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build_image_model(folder: Path = WEIGHTS_DIR, weight_dtype: str = WEIGHT_DTYPE, cache: bool = True) -> ImageModel:
    """The digits-diffusion integer model (``ImageModel``). Compiling takes ~35 s (mostly MiniLM); the compiled
    parts are cached under build/digits-diffusion/<source hash> (VOAI_BUILD_DIR moves build/), so later calls
    load them in a second or two. ``cache=False`` always compiles (and writes nothing)."""
    from offchain.engine.modelfile import load_model, save_model

    model = load(folder)
    names = ("text", "cond", "denoiser")
    where = _cache_dir() / _source_key(weight_dtype, folder)
    if cache and all((where / f"{n}.model").is_file() for n in names):
        parts = [load_model(where / f"{n}.model") for n in names]
    else:
        parts = list(compile_parts(model, weight_dtype))
        if cache:
            where.mkdir(parents=True, exist_ok=True)
            for n, part in zip(names, parts):
                tmp = where / f"{n}.model.tmp"
                save_model(part, tmp)
                tmp.replace(where / f"{n}.model")
    return assemble(*parts, model.cfg, weight_dtype)


# ------------------------------------------------------------------------------------------------ requests, samplers


def image_request(prompt: str | bytes, seed: int = 0) -> bytes:
    """A request's input: the prompt's UTF-8 bytes zero-padded to 64, then the seed's 8 big-endian bytes.
    ImageRequestError for a prompt over 64 bytes, a NUL byte in it (the padding) or a seed outside 0..2^64-1."""
    from offchain.engine.ops.image import seed_bytes

    data = prompt.encode("utf-8") if isinstance(prompt, str) else bytes(prompt)
    if len(data) > PROMPT_BYTES:
        raise ImageRequestError(f"the prompt has {len(data)} UTF-8 bytes; the model reads at most {PROMPT_BYTES}")
    if 0 in data:
        raise ImageRequestError("the prompt holds a NUL byte (NUL is the prompt's padding)")
    try:
        seed_part = seed_bytes(seed)
    except ValueError as exc:
        raise ImageRequestError(str(exc)) from exc
    return data + bytes(PROMPT_BYTES - len(data)) + seed_part


def request_tensor(data: bytes) -> np.ndarray:
    """The model's input tensor for request bytes (zero-padded to 72 as the oracle pads; longer: ImageRequestError).
    A plain ``bytes(prompt)`` request therefore has seed 0."""
    size = PROMPT_BYTES + SEED_BYTES
    if len(data) > size:
        raise ImageRequestError(f"request has {len(data)} bytes; the model takes {size}")
    return np.frombuffer(bytes(data) + bytes(size - len(data)), dtype=np.int8).copy()


def image_pixels(output) -> np.ndarray:
    """The model's output (INT8 [64]) as the 8x8 image, uint8 pixel bytes, ink bright."""
    from offchain.engine.ops.image import pixel_values

    return pixel_values(np.asarray(output).reshape(8, 8))


def generate(im: ImageModel, prompt: str | bytes, seed: int = 0) -> np.ndarray:
    """Run the whole graph; the 8x8 uint8 image."""
    from offchain.engine.executor import run

    return image_pixels(run(im.model, [request_tensor(image_request(prompt, seed))]).output)


def reference_sample(im: ImageModel, data: bytes) -> np.ndarray:
    """The image the graph must produce for request ``data``, by a plain loop: the text front and CondHead run by
    the engine, then NOISE, K x (the denoiser run by the engine on its own, the eps RESCALE if any, DDIM_STEP) and
    PIXELS applied as the ops' Python definitions (``forward``). Returns the 8x8 uint8 image."""
    from offchain.engine.executor import run
    from offchain.engine.ops import get_op

    x = request_tensor(data)
    nodes = im.model.graph.nodes
    by_source = {n.source: n for n in nodes}

    def apply(node, operands):
        return get_op(node.op).forward(operands, node)

    emb = run(im.text, [x[:PROMPT_BYTES]]).output
    cond = run(im.cond, [_fit_value(emb, im.cond.graph.inputs[0], by_source.get("cond.in0"))]).output
    xt = apply(nodes[im.nodes["noise"]], [x[PROMPT_BYTES:]])
    for k in range(im.config.ddim_steps):
        eps = run(im.denoiser, [xt, _fit_value(cond, im.denoiser.graph.inputs[1], by_source.get("image.cond")),
                                im.temb[k]]).output
        eps = _fit_value(eps, nodes[im.nodes[f"ddim{k}"]].in_specs[1], by_source.get(f"image.eps{k}"))
        xt = apply(nodes[im.nodes[f"ddim{k}"]], [xt, eps])
    return image_pixels(apply(nodes[im.nodes["pixels"]], [xt]))


def _fit_value(value: np.ndarray, spec, rescale) -> np.ndarray:
    """``value`` through the RESCALE node ``_fit`` inserted (if any) on its way to an input of layout ``spec``."""
    from offchain.engine.ops import get_op

    return value if rescale is None else get_op(rescale.op).forward([value], rescale)


@functools.lru_cache(maxsize=1)
def _float_text():
    """(float MiniLM at TEXT_SEQ_LEN tokens, its tokenizer, D): loaded once per process for float_sample."""
    from offchain.models.minilm import load_minilm, load_tokenizer

    encoder, tokenizer = load_minilm(seq_len=TEXT_SEQ_LEN), load_tokenizer()
    return encoder, tokenizer, description_matrix(encoder, tokenizer)


@functools.lru_cache(maxsize=1)
def _committed() -> DiffusionModel:
    return load()


@torch.no_grad()
def float_sample(prompt: str, seed: int = 0, model: DiffusionModel | None = None) -> np.ndarray:
    """The float model's image for (prompt, seed): float MiniLM (TEXT_SEQ_LEN tokens), the float CondHead, the
    SAME initial noise as the graph (NOISE's INT16 values / 2^X_FRAC) and float64 DDIM. Returns reals in [-1, 1],
    float32 [8, 8]."""
    from offchain.engine.dtypes import DType
    from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
    from offchain.engine.ops import get_op
    from offchain.engine.ops.codes import OpCode
    from offchain.engine.ops.image import noise_mul, seed_bytes
    from offchain.models.minilm import embed

    encoder, tokenizer, descriptions = _float_text()
    model = model or _committed()
    cond = cond_head(model, descriptions)(embed(encoder, tokenizer, [prompt]))
    sspec = TensorSpec((SEED_BYTES,), DType.INT8, 0, 5, "seed")
    node = Node(int(OpCode.NOISE), (TensorRef(TensorKind.INPUT, 0),), (sspec,),
                TensorSpec((1, PIXELS), DType.INT16, X_FRAC, 5, "noise"), (noise_mul(X_FRAC),))
    noise = get_op(OpCode.NOISE).forward([np.frombuffer(seed_bytes(seed), dtype=np.int8)], node)
    x = torch.from_numpy(noise.astype(np.float64) / 2.0 ** X_FRAC)
    return ddim_float(model, cond, x).numpy().reshape(8, 8)


def float_pixels(x: np.ndarray) -> np.ndarray:
    """Reals in [-1, 1] -> pixel bytes by PIXELS' rule in float: round((x + 1) * 127.5), 0..255 (float64)."""
    return np.clip(np.floor((np.asarray(x, dtype=np.float64) + 1.0) * 127.5 + 0.5), 0, 255)


__all__ = ["CondHead", "DiffusionConfig", "DiffusionModel", "ImageModel", "ImageRequestError", "build_image_model",
           "ddim_float", "float_sample", "generate", "image_pixels", "image_request", "load", "reference_sample",
           "request_tensor"]
