"""Progress of a generating model's run, for the node's log: ``event=generate tokens=K/N tok_s=X.X``.

A generating model (meta ``generation``, with ``max_new`` = N, the most tokens one run emits) marks the node that
emits token t with a ``source`` starting ``gen.<t>.emitted``; the executor's ``progress`` hook calls back after
each node, and the first node of token t done logs one line (K = t + 1; tok_s = K over the seconds since the run
started). Models without ``generation`` get no hook, so their runs cost nothing extra.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from offchain.engine.model import Model

_EMITTED = re.compile(r"gen\.(\d+)\.emitted")


def emitted_tokens(model: Model) -> dict[int, int]:
    """Node index -> token t for the nodes whose source starts ``gen.<t>.emitted``."""
    out = {}
    for index, node in enumerate(model.graph.nodes):
        match = _EMITTED.match(node.source)
        if match:
            out[index] = int(match.group(1))
    return out


def generation_progress(model: Model, log: Callable[..., None],
                        clock: Callable[[], float] = time.perf_counter) -> Callable[[int], None] | None:
    """The executor hook that calls ``log("generate", tokens="K/N", tok_s="X.X")`` at most once per token while
    ``model`` runs, or None for a model without meta ``generation``. Build it right before the run: the rate
    counts from here."""
    generation = model.meta.get("generation")
    if not generation:
        return None
    total = int(generation["max_new"])
    token_of = emitted_tokens(model)
    start = clock()
    logged: set[int] = set()

    def hook(index: int) -> None:
        t = token_of.get(index)
        if t is None or t in logged:
            return
        logged.add(t)
        elapsed = clock() - start
        rate = (t + 1) / elapsed if elapsed > 0 else float("inf")
        log("generate", tokens=f"{t + 1}/{total}", tok_s=f"{rate:.1f}")

    return hook
