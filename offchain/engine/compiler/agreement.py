"""How closely a compiled integer model follows its float module: argmax agreement and logit error.

Who calls: the CLI after compiling an owner's module, the zoo tests and the engine benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from offchain.engine.executor import run
from offchain.engine.model import Model


@dataclass(frozen=True)
class Agreement:
    """Over ``samples`` inputs: the fraction whose integer argmax (over the output's last axis, every row) equals
    the float one, and the largest |integer output (as a real) - float output| over all output elements."""

    samples: int
    argmax_agreement: float
    max_abs_logit_error: float

    def as_dict(self) -> dict[str, float]:
        return {"samples": self.samples, "argmax_agreement": round(self.argmax_agreement, 6),
                "max_abs_logit_error": round(self.max_abs_logit_error, 6)}


def agreement(module: Callable[..., torch.Tensor], model: Model,
              samples: Sequence[Sequence[torch.Tensor]]) -> Agreement:
    """Run ``module`` (float) and ``model`` (integer; float inputs are quantised with the model's input scales, integer
    inputs such as token ids pass as they are) on each sample, a tuple of inputs shaped like the model's."""
    if not samples:
        raise ValueError("agreement needs at least one sample")
    scale = 2.0 ** -model.graph.output.frac
    agree, rows, worst = 0, 0, 0.0
    with torch.no_grad():
        for sample in samples:
            want = module(*sample).detach().double().numpy()
            got = run(model, [t.numpy() for t in sample]).output.astype(np.float64) * scale
            if got.shape != want.shape:
                raise ValueError(f"integer output shape {got.shape} != float output shape {want.shape}")
            agree += int((got.argmax(-1) == want.argmax(-1)).sum())
            rows += int(np.prod(want.shape[:-1], dtype=np.int64))
            worst = max(worst, float(np.abs(got - want).max(initial=0.0)))
    return Agreement(len(samples), agree / rows, worst)
