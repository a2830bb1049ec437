"""Bounded retries of a node's read-only RPC calls (a flaky endpoint must not stall the node's every poll).

A poll makes some twenty reads; one dropped connection or transient JSON-RPC error used to fail the whole poll
(web3's own retry names Python's ``ConnectionError``, which ``requests``' connection errors are not, and it
never retries an error answer). Reads are idempotent, so they are retried here, a few times with a short
backoff. Sends (``eth_send*``) and anything that changes a chain (``evm_*``, ``anvil_*``, ``hardhat_*``) are
never retried: a send whose answer was lost may have been mined, and the node finds out by re-reading the chain.
"""

from __future__ import annotations

import time
from typing import Any

import requests

NOT_RETRIED = ("eth_send", "eth_sign", "evm_", "anvil_", "hardhat_", "personal_")
TRANSIENT_CODES = {-32603, -32005, 429}   # internal error, limit exceeded, too many requests (not reverts: 3)


def is_read(method: str) -> bool:
    return not method.startswith(NOT_RETRIED)


def install_read_retries(web3_provider: Any, retries: int = 4, backoff: float = 0.1) -> None:
    """Wraps ``web3_provider.make_request`` (a web3 HTTPProvider) so that reads are retried up to ``retries``
    times on a connection error or a transient JSON-RPC error answer."""
    inner = web3_provider.make_request

    def make_request(method, params):
        for attempt in range(retries + 1):
            last = attempt == retries or not is_read(str(method))
            try:
                answer = inner(method, params)
            except (requests.RequestException, OSError):
                if last:
                    raise
            else:
                error = answer.get("error") if isinstance(answer, dict) else None
                if last or not isinstance(error, dict) or error.get("code") not in TRANSIENT_CODES:
                    return answer
            time.sleep(backoff * 2**attempt)
        raise AssertionError("unreachable")

    web3_provider.make_request = make_request
    web3_provider._request_func_cache = (None, None)   # web3 caches the middleware chain around make_request
