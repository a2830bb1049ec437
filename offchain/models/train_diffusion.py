"""Trains the digits diffusion model (offchain/models/diffusion.py): `make train-diffusion`.

One CPU thread (GEN-FACTS: on a shared machine one thread beats two), a fixed seed, Adam with a cosine-decayed
learning rate, an exponential moving average of the weights (the EMA is what is saved), eps-prediction MSE with
t uniform over 0..T-1. Writes offchain/models/digits_diffusion/{model.safetensors, config.json, training.json};
training.json records the wall time, the final loss and the float model's class accuracy (100 DDIM samples per
class, judged by a logistic regression trained on the real digits).
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import numpy as np
import torch

from offchain.models.diffusion import (CLASSES, WEIGHTS_DIR, DiffusionConfig, DiffusionModel, alpha_bars,
                                       ddim_float, digits_reals, save, to_pixels16)


def train(cfg: DiffusionConfig, log_every: int = 1000) -> tuple[DiffusionModel, dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(cfg.seed)
        x_all, y_all = digits_reals()
        x_all, y_all = torch.from_numpy(x_all), torch.from_numpy(y_all)
        sqrt_ab = torch.from_numpy(np.sqrt(alpha_bars(cfg))).float()
        sqrt_1m = torch.from_numpy(np.sqrt(1 - alpha_bars(cfg))).float()
        model = DiffusionModel(cfg)
        ema = copy.deepcopy(model)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, cfg.train_steps) / cfg.train_steps)))
        gen = torch.Generator().manual_seed(cfg.seed)
        start, running, since, last_loss = time.time(), 0.0, 0, float("nan")
        for step in range(1, cfg.train_steps + 1):
            idx = torch.randint(0, len(x_all), (cfg.batch,), generator=gen)
            t = torch.randint(0, cfg.steps_T, (cfg.batch,), generator=gen)
            noise = torch.randn(cfg.batch, x_all.shape[1], generator=gen)
            x0 = x_all[idx]
            xt = sqrt_ab[t, None] * x0 + sqrt_1m[t, None] * noise
            loss = torch.nn.functional.mse_loss(model(xt, y_all[idx], t.float()), noise)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.mul_(cfg.ema).add_(pm, alpha=1 - cfg.ema)
            running, since = running + loss.item(), since + 1
            if step % log_every == 0 or step == cfg.train_steps:
                last_loss, running, since = running / since, 0.0, 0
                print(f"step {step}/{cfg.train_steps}  loss {last_loss:.4f}  {time.time() - start:.0f} s", flush=True)
        report = {"train_steps": cfg.train_steps, "wall_s": round(time.time() - start, 1),
                  "final_loss": round(last_loss, 5)}
    finally:
        torch.set_num_threads(threads)
    return ema.eval(), report


def judge():
    """A logistic regression on all real digits (pixels 0..16): the training-time accuracy judge."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    return LogisticRegression(max_iter=5000).fit(d.data, d.target)


@torch.no_grad()
def float_accuracy(model: DiffusionModel, per_class: int = 100, seed: int = 1) -> float:
    clf = judge()
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(CLASSES).repeat_interleave(per_class)
    x = torch.randn(len(y), 64, generator=gen)
    imgs = ddim_float(model, model.class_embedding(y), x).numpy()
    return float((clf.predict(to_pixels16(imgs)) == y.numpy()).mean())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=DiffusionConfig.train_steps)
    ap.add_argument("--hidden", type=int, default=DiffusionConfig.hidden)
    ap.add_argument("--out", default=str(WEIGHTS_DIR))
    args = ap.parse_args(argv)
    cfg = DiffusionConfig(train_steps=args.steps, hidden=args.hidden)
    print(f"training the digits diffusion model: {cfg}", flush=True)
    model, report = train(cfg)
    report["float_class_accuracy_logreg"] = float_accuracy(model)
    print(report, flush=True)
    from pathlib import Path

    save(model, Path(args.out), report)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
