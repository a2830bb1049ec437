"""Request -> submission -> delivery on anvil through a real submitter node, timed the same way for every model
(bench_generate's text generator, bench_image's image model)."""

from __future__ import annotations

import time
from collections.abc import Callable


def time_delivery(chain, oracle, request_id: int, delivered: Callable[[], bool], window: int,
                  poll: float = 0.05) -> tuple[float, float]:
    """Mines while waiting for the node's submission of ``request_id`` (status >= 2), fast-forwards the challenge
    ``window`` and mines until ``delivered()``: (seconds to the submission, seconds to the delivery), both from the
    call."""
    start = time.perf_counter()
    while oracle.getRequest(request_id).status < 2:
        chain.mine()
        time.sleep(poll)
    submitted = time.perf_counter() - start
    chain.pending_timestamp += window
    chain.mine()
    while not delivered():
        chain.mine()
        time.sleep(poll)
    return submitted, time.perf_counter() - start
