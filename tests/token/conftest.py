"""Fixtures for the revenue contracts: a token with three holders and a deployer of variants."""

import pytest
from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE


@pytest.fixture
def holders(model_owner, user, stranger):
    """The initial holders, in the order of AMOUNTS."""
    return [model_owner, user, stranger]


@pytest.fixture
def deploy_token(project, owner):
    """Deploys a ModelRevenueToken; defaults are revenue_setup's constants."""

    def deploy(holders, amounts=AMOUNTS, percent=PERCENT_CLAIMABLE, interval=INTERVAL, lifetime=LIFETIME):
        return owner.deploy(
            project.ModelRevenueToken, "Model Revenue", "MREV", holders, list(amounts), percent, interval, lifetime
        )

    return deploy


@pytest.fixture
def token(deploy_token, holders):
    return deploy_token(holders)
