"""The zoo (offchain/models/zoo.py): each model, as an owner writes it, compiles and agrees with its float self.

Held-out data only (the digits test split; the sentences' 25% split). The figures are printed (-s shows them).
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from offchain.engine.compiler.agreement import agreement
from offchain.models import zoo


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_committed_weights_are_the_trained_model(name):
    """The float model loads and scores on held-out data exactly what training recorded beside its weights."""
    module = zoo.load(name)
    split = zoo.split_of(name)
    with safe_open(str(zoo.weights_path(name)), "pt") as f:
        recorded = f.metadata()["float_test_accuracy"]
    with torch.no_grad():
        accuracy = float((module(split.test_x).argmax(1) == split.test_y).float().mean())
    assert f"{accuracy:.4f}" == recorded
    assert accuracy >= (0.75 if zoo.ZOO[name].text else 0.93)


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_model_compiles_and_agrees_with_float_on_held_out_data(name, zoo_compiled):
    module = zoo.load(name)
    model = zoo_compiled(name)
    split = zoo.split_of(name)
    measured = agreement(module, model, split.samples(split.test_x))
    print(f"\nzoo {name}: {json.dumps(measured.as_dict())}, nodes {len(model.graph.nodes)}")
    assert measured.samples == len(split.test_x)
    assert measured.argmax_agreement >= 0.99, measured
