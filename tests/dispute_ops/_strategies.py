"""Hypothesis settings and draws shared by the operator-contract tests."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from engine.op_draws import dtypes, fracs, small

#: Every call goes to anvil, so examples are few; each one checks several output elements.
SETTINGS = settings(max_examples=5, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def indices(data, n: int, count: int = 4) -> list[int]:
    """A few random output indices plus the first and the last."""
    if n == 0:
        return []
    picks = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=count))
    return sorted(set(picks + [0, n - 1]))


def rng(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))


def skip(data) -> int:
    """Leading filler elements in each operand (proven chunks start before the range)."""
    return data.draw(st.sampled_from([0, 0, 3]))


__all__ = ["SETTINGS", "dtypes", "fracs", "indices", "rng", "skip", "small"]
