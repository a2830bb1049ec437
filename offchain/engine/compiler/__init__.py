"""Compiler from PyTorch modules to integer graphs.

``compile_module(module, example_inputs, calibration_samples, config)``:
capture with torch.export, calibrate per-tensor power-of-two scales on the
samples, quantise weights (int8 by default), emit and validate the integer
graph. Unsupported ops raise one :class:`UnsupportedOpError` listing every
such op of the model, each with the module path and the owner's source line.
Who calls: model owners preparing a model for registration (CLI, scripts).
"""

from __future__ import annotations

from typing import Sequence

import torch

from offchain.engine.compiler.attention import decompose_attention
from offchain.engine.compiler.batchnorm import fold_batch_norms
from offchain.engine.compiler.builder import GraphBuilder
from offchain.engine.compiler.calibrate import Calibration, calibrate
from offchain.engine.compiler.capture import capture
from offchain.engine.compiler.config import CompileConfig
from offchain.engine.compiler.lower import HANDLERS, Lowerer
from offchain.engine.model import Model
from offchain.engine.move_gas import check_move_gas


def compile_module(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor],
                   calibration_samples: Sequence[Sequence[torch.Tensor]] | None = None,
                   config: CompileConfig | None = None, name: str = "") -> Model:
    """Compile ``module`` for inputs shaped like ``example_inputs`` into a validated integer Model.

    ``calibration_samples``: tuples of inputs shaped like ``example_inputs``
    (default: the example itself). Float inputs become fixed-point inputs
    (``config.input_specs`` or calibrated); integer inputs become INT32 token ids.
    Raises MoveGasError when an honest dispute move at some node may exceed ``config.max_move_gas``.
    """
    config = config or CompileConfig()
    gm = decompose_attention(capture(module, example_inputs))
    fold_batch_norms(gm)
    calibration = calibrate(gm, calibration_samples or [tuple(example_inputs)])
    builder = GraphBuilder()
    lowerer = Lowerer(gm, calibration, config, builder, name or type(module).__name__)
    lowerer.run()
    meta = {"name": name or type(module).__name__, "compiler": "offchain.engine.compiler",
            "activation_dtype": config.activation_dtype.name.lower(),
            "weight_dtype": config.weight_dtype.name.lower(),
            "widened_to_int16": lowerer.widened}
    model = builder.model(meta)
    if config.max_move_gas is not None:
        check_move_gas(model, bound=config.max_move_gas)
    return model


__all__ = ["Calibration", "CompileConfig", "HANDLERS", "calibrate", "capture", "compile_module"]
