"""Calibration: run the captured float graph on sample inputs and record every node's range.

The range statistic is max |x| over all samples, ignoring values at or below
-MASK_PENALTY / 2: those are additive attention-mask entries whose only job is
to drive a softmax weight to 0, which saturating to the dtype's minimum does
just as well; counting them would waste the scale of every score tensor.
Nodes that held such values are listed in ``masked`` so the compiler can give
them a dtype wide enough to keep the penalty (see lower.MASK_FRAC). -inf counts as such an entry (the
compiler maps it to the finite penalty); NaN and +inf are calibration errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from offchain.engine.errors import CalibrationError
from offchain.models._masking import MASK_PENALTY

MASK_FLOOR = -MASK_PENALTY / 2


@dataclass
class Calibration:
    """``first[name]``: the node's value on the first sample; ``maxabs[name]``: its range over all samples."""

    first: dict[str, Any] = field(default_factory=dict)
    maxabs: dict[str, float] = field(default_factory=dict)
    masked: set[str] = field(default_factory=set)


class _Recorder(torch.fx.Interpreter):
    def __init__(self, gm: torch.fx.GraphModule, calibration: Calibration, keep_first: bool):
        super().__init__(gm)
        self.calibration = calibration
        self.keep_first = keep_first

    def run_node(self, n: torch.fx.Node) -> Any:
        value = super().run_node(n)
        if self.keep_first:
            self.calibration.first[n.name] = value
        # Parameters (get_attr) are quantised from their values, not from ranges.
        if n.op != "get_attr" and isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            # -inf is a mask entry (masked_fill(mask, -inf), nn.MultiheadAttention's masks): counted below.
            if torch.isnan(value).any() or torch.isposinf(value).any():
                raise CalibrationError(f"node {n.name} produced NaN/inf during calibration")
            kept = value.detach()
            if float(kept.min()) <= MASK_FLOOR:
                self.calibration.masked.add(n.name)
                kept = kept[kept > MASK_FLOOR]
            m = float(kept.abs().max()) if kept.numel() else 0.0
            self.calibration.maxabs[n.name] = max(self.calibration.maxabs.get(n.name, 0.0), m)
        return value


def calibrate(gm: torch.fx.GraphModule, samples: Sequence[Sequence[torch.Tensor]]) -> Calibration:
    """Run ``gm`` on each sample (a tuple of user inputs shaped like the export's) and record ranges."""
    if not samples:
        raise CalibrationError("no calibration samples given")
    calibration = Calibration()
    with torch.no_grad():
        for k, sample in enumerate(samples):
            try:
                _Recorder(gm, calibration, keep_first=(k == 0)).run(*sample)
            except CalibrationError:
                raise
            except Exception as exc:
                raise CalibrationError(f"calibration sample {k} failed: {type(exc).__name__}: {exc}") from exc
    return calibration
