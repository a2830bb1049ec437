"""Engine fixtures: the two digits reference models, built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", params=["digits-mlp", "digits-cnn"])
def digits_case(request, digits_reference):
    """(name, integer model, float module) for each digits model (tests/conftest.py's digits_data and
    digits_reference: trained once per session)."""
    model, module = digits_reference(request.param)
    return request.param, model, module
