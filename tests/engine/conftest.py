"""Engine fixtures: the two digits reference models, built once per test session."""

from __future__ import annotations

import pytest

from offchain.models import digits


@pytest.fixture(scope="session")
def digits_data():
    """The fixed 75/25 split of scikit-learn's digits."""
    return digits.load_split()


@pytest.fixture(scope="session", params=["digits-mlp", "digits-cnn"])
def digits_case(request, digits_data):
    """(name, integer model, float module) for each digits model."""
    module = digits.train(request.param, digits_data)
    return request.param, digits.compile_digits(module, digits_data, request.param), module
