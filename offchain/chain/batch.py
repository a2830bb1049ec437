"""Batch variants (issue 18): register a model compiled with a leading batch dimension B as model `base`'s
batch-B variant, so ORA's `requestBatchInference(B, base, ...)` runs it (one inference, one trace, one claim)."""

from __future__ import annotations

from typing import Any

from offchain.chain.registration import model_spec, registered_id
from offchain.engine.model import Model
from offchain.engine.move_gas import check_move_gas


def batch_size_of(variant: Model) -> int:
    """B: the leading dimension of the variant's input (and output)."""
    shape = variant.graph.inputs[0].shape
    if len(shape) < 2 or shape[0] < 2 or variant.graph.output.shape[0] != shape[0]:
        raise ValueError(f"not a batch variant: input {tuple(shape)}, output {tuple(variant.graph.output.shape)} "
                         "(both need the same leading batch dimension >= 2)")
    return int(shape[0])


def register_batch_variant(registry: Any, oracle: Any, base_id: int, variant: Model, sender: Any) -> tuple[int, int]:
    """Registers `variant` (if new) with B times the base model's fee (a direct `requestCallback` of the variant
    pays as much as the batch) and the base's owner and revenue receiver, then records it as `base_id`'s batch-B
    variant on the oracle. `sender` must be a registrar and the base model's owner.
    Returns (batch size, variant model id)."""
    size = batch_size_of(variant)
    base = registry.getModel(base_id)
    variant_id = registered_id(registry, variant)
    if variant_id is None:
        check_move_gas(variant, ())
        spec = model_spec(variant, size * base.fee, base.owner, base.revenueReceiver)
        variant_id = registry.registerModel(spec, sender=sender).return_value
    oracle.registerBatchVariant(base_id, size, variant_id, sender=sender)
    return size, variant_id
