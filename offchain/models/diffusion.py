"""Text-to-image on scikit-learn's 8x8 digits (issue 16): a class-conditional DDPM sampled by deterministic DDIM.

The float model and its sampler.

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
    train_steps: int = 20000
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
