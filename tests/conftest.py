"""Role fixtures shared by every test: who deploys, who asks, who answers, who disputes."""

import pytest


@pytest.fixture(scope="session")
def owner(accounts):
    """Deploys the contracts and holds their admin roles."""
    return accounts[0]


@pytest.fixture(scope="session")
def user(accounts):
    """A consumer's account: pays for inference requests."""
    return accounts[1]


@pytest.fixture(scope="session")
def submitter(accounts):
    """A node that posts results with a bond."""
    return accounts[2]


@pytest.fixture(scope="session")
def challenger(accounts):
    """A node that disputes results it recomputes differently."""
    return accounts[3]


@pytest.fixture(scope="session")
def model_owner(accounts):
    """Owns a registered model and is paid its fees."""
    return accounts[4]


@pytest.fixture(scope="session")
def stranger(accounts):
    """Holds no role anywhere: every permissioned call from it must revert."""
    return accounts[5]
