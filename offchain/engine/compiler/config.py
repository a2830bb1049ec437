"""Compiler settings: dtypes and scale rules. Defaults suit the digits and transformer models."""

from __future__ import annotations

from dataclasses import dataclass, field

from offchain.engine.dtypes import DType
from offchain.engine.move_gas import MAX_MOVE_GAS


@dataclass
class CompileConfig:
    """How the compiler picks dtypes and frac bits.

    Frac bits are chosen per tensor as the largest f with
    ``calibrated max|x| * headroom * 2^f <= dtype max`` (power-of-two scales).
    """

    activation_dtype: DType = DType.INT16  # every activation the compiler emits
    weight_dtype: DType = DType.INT8  # Linear / Conv2d / Embedding weights
    weight_dtypes: dict[str, DType] = field(default_factory=dict)  # per torch parameter name override
    # A weight whose int8 quantisation SNR falls below this (dB) is stored as int16 instead
    # (outlier-heavy tensors such as BERT's MLP output projections); None disables the rule.
    min_weight_snr_db: float | None = 25.0
    # A weight that absorbed a BatchNorm (folding scales each output channel by its own gamma / sqrt(var + eps)) is
    # stored as int16 when its worst output channel's int8 SNR, under the tensor's one scale, is below this (dB);
    # None disables the rule. 32 dB: the zoo's MobileNet stem (30.6) and depthwise (21.5) convs fall under it and
    # its argmax agreement rises from 0.987 to >= 0.99; unfolded trained weights measure 36-45 dB per channel.
    min_folded_channel_snr_db: float | None = 32.0
    const_dtype: DType = DType.INT16  # constants in elementwise ops (scales, rope tables, masks)
    norm_param_dtype: DType = DType.INT16  # LayerNorm / RMSNorm gamma and beta
    # Per user input: a fixed (dtype, frac), or None to calibrate it like an activation.
    # Integer (token id) inputs are always INT32 with frac 0.
    input_specs: list[tuple[DType, int] | None] | None = None
    headroom: float = 1.25  # calibrated max is scaled by this before fitting the dtype
    min_activation_frac: int = 0  # intmath's non-linear ops need frac >= 0
    max_activation_frac: int = 24  # and <= 24 on their inputs
    softmax_out: tuple[DType, int] = (DType.INT16, 14)  # 1.0 = 16384
    mean_reciprocal_bits: int = 20  # k in MEAN's mult = round(2^k / n)
    # Refuse a model one of whose honest dispute moves may cost more gas than this (offchain/engine/move_gas.py);
    # None skips the check (a model whose costly nodes will be private: registration checks it with them).
    max_move_gas: int | None = MAX_MOVE_GAS
