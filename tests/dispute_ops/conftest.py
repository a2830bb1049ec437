"""Operator contracts deployed once per test module.

Deployed eagerly in the module-scoped fixture: ape reverts the chain after every test, so a contract
deployed lazily inside a test would be gone in the next one.
"""

from __future__ import annotations

import pytest

FAMILIES = ("ElementwiseOps", "ShapeOps", "ReduceOps", "RopeOps", "EmbeddingOps", "ConvOps",
            "ActivationOps", "SoftmaxOps", "NormOps", "TextOps", "InterventionOps",
            # activations (issue 13)
            "PiecewiseOps",
            # attention and shape functions (issue 13)
            "BroadcastOps",
            # pooling and reductions (issue 13)
            "PoolOps",
            # ---- tokenizer: detok (issue 14)
            "DetokOps",
            # ---- tokenizer: bpe (issue 14)
            "BpeOps", "WordVocabOps",
            # ---- tokenizer: pretok (issue 14)
            "PretokOps",
            # ---- generation: sample (issue 15)
            "GenOps",
            # ---- generation: cache (issue 15)
            "CacheOps",
            # ---- tokenizer: added (issue 14)
            "AddedOps",
            # ---- tokenizer: nfc (issue 14)
            "NfcOps",
            # ---- image: imgops (issue 16)
            "ImageOps",
            # ---- image: sd-unet-block (issue 16)
            "StatOps",
            # ---- tokenizer: nfc runs (issue 14)
            "NfcRunOps")


@pytest.fixture(scope="module")
def deploy(project, owner):
    """deploy(name) -> that operator family's contract (deployed at module setup)."""
    deployed = {name: owner.deploy(getattr(project, name)) for name in FAMILIES if hasattr(project, name)}
    return deployed.__getitem__
