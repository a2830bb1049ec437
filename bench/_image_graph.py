"""Shared by the image op tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph of
the image ops (issue 16) as a K = 2 DDIM sampler runs them: the request input is the 8-byte seed; NOISE draws
x_T [8, 8] (INT16 frac 12); a stand-in denoiser eps = x * w (MUL by one INT16 weight, the real model's network is
the diffusion helper's) feeds two DDIM_STEP nodes (alpha-bar 0.05 -> 0.5, then 0.5 -> 1, the last step), and
PIXELS turns x_0 into the 64 pixel bytes."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.ops.image import ddim_params, noise_mul, seed_bytes

FRAC = 12
#: alpha-bar of each DDIM step, from the noisiest; the last step goes to 1.0.
SCHEDULE = (0.05, 0.5, 1.0)
#: Node indices of the graph below.
NOISE_NODE, FIRST_STEP, LAST_STEP, PIXELS_NODE = 0, 2, 4, 5


def image_graph(seed: int = 0xC0FFEE_1234_5678, side: int = 8) -> tuple[Model, np.ndarray]:
    """(model, seed [8] INT8): NOISE, MUL, DDIM_STEP, MUL, DDIM_STEP (last), PIXELS on [side, side] images."""
    shape = (side, side)
    rng = np.random.default_rng(16)
    w = rng.integers(-3 * (1 << FRAC) // 4, 3 * (1 << FRAC) // 4, size=shape).astype(np.int16)  # |w| < 0.75
    seed_spec = TensorSpec((8,), DType.INT8, 0, 5, "seed")
    x_spec = lambda name: TensorSpec(shape, DType.INT16, FRAC, 5, name)  # noqa: E731
    w_spec = x_spec("eps_weight")
    s = TensorRef(TensorKind.INPUT, 0)
    wr = TensorRef(TensorKind.WEIGHT, 0)
    a = lambda k: TensorRef(TensorKind.ACTIVATION, k)  # noqa: E731
    (ab_t, ab_mid, ab_end) = SCHEDULE
    nodes = [
        Node(int(OpCode.NOISE), (s,), (seed_spec,), x_spec("x_T"), (noise_mul(FRAC),), "noise"),
        Node(int(OpCode.MUL), (a(0), wr), (x_spec("x_T"), w_spec), x_spec("eps_T"), (), "eps_T"),
        Node(int(OpCode.DDIM_STEP), (a(0), a(1)), (x_spec("x_T"), x_spec("eps_T")), x_spec("x_mid"),
             ddim_params(ab_t, ab_mid, FRAC), "ddim_1"),
        Node(int(OpCode.MUL), (a(2), wr), (x_spec("x_mid"), w_spec), x_spec("eps_mid"), (), "eps_mid"),
        Node(int(OpCode.DDIM_STEP), (a(2), a(3)), (x_spec("x_mid"), x_spec("eps_mid")), x_spec("x_0"),
             ddim_params(ab_mid, ab_end, FRAC), "ddim_2"),
        Node(int(OpCode.PIXELS), (a(4),), (x_spec("x_0"),), TensorSpec(shape, DType.INT8, 0, 5, "pixels"), (),
             "pixels"),
    ]
    graph = Graph([seed_spec], [w_spec], nodes)
    graph.validate()
    model = Model(graph, [w], {"name": "image-chain"})
    model.validate()
    return model, np.frombuffer(seed_bytes(seed), dtype=np.int8).copy()
