"""ImageOps.sol (NOISE, DDIM_STEP, PIXELS) equals offchain/engine/ops/image.py range for range and element for
element: NOISE on random seeds and the edge seeds 0, 1, 2^63, 2^64 - 1 (every byte pattern the sign of an int8
can take), at the smallest and largest mul (saturation) and at the last element of the largest output (2^20);
splitmix64 against its published stream; DDIM_STEP on random and int16-edge x / eps with random and extreme
constants, lim 0 / 32767, shifts 0 .. 40; PIXELS on a dense int16 grid (every value at f = 0 and f = 14's
rounding boundaries) at every frac. Operands are also sent with filler elements before them (``skip``), as a proven
chunk holds them. Malformed nodes revert with the named error carrying the offending values."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import OPERATOR_CONTRACTS, descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode
from offchain.engine.ops.image import MAX_NOISE_ELEMENTS, ddim_params, noise_mul, seed_bytes, splitmix64

from ._harness import check_against_contract, check_elements_only, custom_error, revert_data

I16_MIN, I16_MAX = -(2**15), 2**15 - 1
I16_EDGES = [I16_MIN, I16_MIN + 1, -2, -1, 0, 1, 2, I16_MAX - 1, I16_MAX]
SEEDS = [0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF, 0x80FF7F0001FE8081]


def _node(op: OpCode, in_specs, out: TensorSpec, params=()) -> Node:
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(params))


def _seed(seed: int) -> np.ndarray:
    return np.frombuffer(seed_bytes(seed), dtype=np.int8).copy()


def _noise(shape, frac: int, mul: int, seed_shape=(8,)) -> Node:
    return _node(OpCode.NOISE, (TensorSpec(seed_shape, DType.INT8, 0),), TensorSpec(shape, DType.INT16, frac), (mul,))


def _ddim(shape, f: int, fo: int, params) -> Node:
    x = TensorSpec(shape, DType.INT16, f)
    return _node(OpCode.DDIM_STEP, (x, x), TensorSpec(shape, DType.INT16, fo), params)


def _pixels(shape, f: int) -> Node:
    return _node(OpCode.PIXELS, (TensorSpec(shape, DType.INT16, f),), TensorSpec(shape, DType.INT8, 0))


def _edgy16(rng: np.random.Generator, size: int, p: float = 0.3) -> np.ndarray:
    values = rng.integers(I16_MIN, I16_MAX, size=size, endpoint=True)
    return np.where(rng.random(size) < p, rng.choice(I16_EDGES, size=size), values).astype(np.int16)


def test_every_image_op_is_served_by_image_ops():
    assert {OPERATOR_CONTRACTS[c] for c in (OpCode.NOISE, OpCode.DDIM_STEP, OpCode.PIXELS)} == {"ImageOps"}


# ------------------------------------------------------------------------------------------------------- NOISE


def test_splitmix64_equals_python_and_the_published_stream(deploy):
    contract = deploy("ImageOps")
    gamma = 0x9E3779B97F4A7C15
    assert contract.splitmix64(gamma) == splitmix64(gamma) == 0xE220A8397B1DCDAF  # Vigna's seed-0 first output
    assert contract.splitmix64(2 * gamma) == 0x6E789E6AA1B965F4
    for v in (0, 1, 2**63, 2**64 - 1, 0xDEADBEEFCAFEBABE):
        assert contract.splitmix64(v) == splitmix64(v)


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_matches_on_edge_seeds_and_muls(deploy, seed):
    contract = deploy("ImageOps")
    for frac, mul in ((12, noise_mul(12)), (0, 1), (13, noise_mul(13)), (0, 2**40 - 1), (5, 2**32)):
        node = _noise((3, 7), frac, mul, seed_shape=(2, 4))
        check_against_contract(contract, node, [_seed(seed).reshape(2, 4)], range(21), skip=5)


def test_noise_matches_on_random_seeds_and_the_last_element_of_the_largest_output(deploy):
    contract = deploy("ImageOps")
    rng = np.random.default_rng(61)
    for _ in range(8):
        seed = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        node = _noise((64,), 12, noise_mul(12))
        check_against_contract(contract, node, [_seed(seed)], rng.choice(64, 6, replace=False).tolist())
    big = _noise((MAX_NOISE_ELEMENTS,), 13, noise_mul(13))
    for seed in (0, 2**64 - 1):
        check_against_contract(contract, big, [_seed(seed)], [0, MAX_NOISE_ELEMENTS // 2, MAX_NOISE_ELEMENTS - 1])
    sat = _noise((MAX_NOISE_ELEMENTS,), 0, 2**40 - 1)
    check_against_contract(contract, sat, [_seed(2**64 - 1)], [MAX_NOISE_ELEMENTS - 2, MAX_NOISE_ELEMENTS - 1])


# --------------------------------------------------------------------------------------------------- DDIM_STEP


def test_ddim_matches_on_honest_schedules(deploy):
    contract = deploy("ImageOps")
    rng = np.random.default_rng(62)
    for ab_t, ab_prev in ((0.0001, 0.02), (0.3, 0.5), (0.97, 1.0)):
        params = ddim_params(ab_t, ab_prev, 12)
        x = np.clip(np.round(rng.standard_normal(24) * 4096), I16_MIN, I16_MAX).astype(np.int16)
        eps = np.clip(np.round(rng.standard_normal(24) * 4096), I16_MIN, I16_MAX).astype(np.int16)
        check_against_contract(contract, _ddim((4, 6), 12, 12, params), [x.reshape(4, 6), eps.reshape(4, 6)],
                               range(24), skip=3)


def test_ddim_matches_on_edge_values_constants_and_shifts(deploy):
    contract = deploy("ImageOps")
    rng = np.random.default_rng(620)
    big = 2**31 - 1
    grid = np.array([(a, b) for a in I16_EDGES for b in I16_EDGES], dtype=np.int16)
    x, eps = grid[:, 0].copy(), grid[:, 1].copy()
    for p, params in enumerate(((big, big, big, big, 32767), (-big, -big, -big, -big, 32767), (big, -big, -big, big, 0),
                                (65536, 0, 0, 65536, 4096), (1, 1, 1, 1, 1))):
        for f, fo in ((12, 28), (12, 12), (12, -12), (0, 0), (-5, 10)):  # sh = 0, 16, 40, 16, 1
            node = _ddim((x.size,), f, fo, params)
            check_against_contract(contract, node, [x, eps], [0, 8, 40, 72, 80])
            if fo in (28, -12) and p < 3:  # every edge pair at the extreme shifts 0 and 40, extreme constants
                check_elements_only(contract, node, [x, eps], range(x.size))
    for _ in range(10):
        params = tuple(int(v) for v in rng.integers(-big, big, size=4, endpoint=True)) + (int(rng.integers(0, 32768)),)
        f = int(rng.integers(-10, 20))
        node = _ddim((16,), f, f + 16 - int(rng.integers(0, 41)), params)
        check_against_contract(contract, node, [_edgy16(rng, 16), _edgy16(rng, 16)], range(16), skip=1)


# ------------------------------------------------------------------------------------------------------ PIXELS


def test_pixels_match_at_every_frac_on_edges_and_rounding_boundaries(deploy):
    contract = deploy("ImageOps")
    rng = np.random.default_rng(63)
    for f in range(15):
        one = 1 << f
        # The half-up boundaries of v = (x / 2^f + 1) * 127.5 near -1, 0 and 1, and the int16 edges.
        special = [-one - 1, -one, -one + 1, -1, 0, 1, one - 1, one, one + 1] + I16_EDGES
        x = np.clip(np.array(special + list(_edgy16(rng, 16)), dtype=np.int64), I16_MIN, I16_MAX).astype(np.int16)
        node = _pixels((x.size,), f)
        check_against_contract(contract, node, [x], range(0, x.size, 5), skip=2)
        check_elements_only(contract, node, [x], range(x.size))


# ----------------------------------------------------------------------------------------------- malformed nodes


def _reverts(chain, contract, node: Node, signature: str, types, values) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error(signature, types, values)


def test_malformed_nodes_revert_by_name(deploy, chain):
    contract = deploy("ImageOps")
    for mul in (0, -1, 2**40):
        _reverts(chain, contract, _noise((4,), 8, mul), "NoiseMulOutOfRange(int256)", ["int256"], [mul])
    _reverts(chain, contract, _noise((MAX_NOISE_ELEMENTS + 1,), 8, 5), "NoiseSizeOutOfRange(uint256,uint256)",
             ["uint256", "uint256"], [MAX_NOISE_ELEMENTS + 1, MAX_NOISE_ELEMENTS])
    _reverts(chain, contract, _noise((0,), 8, 5), "NoiseSizeOutOfRange(uint256,uint256)", ["uint256", "uint256"],
             [0, MAX_NOISE_ELEMENTS])
    for frac in (-1, 14):
        _reverts(chain, contract, _noise((4,), frac, 5), "ImageFracOutOfRange(int256,int256)", ["int256", "int256"],
                 [frac, 13])
    _reverts(chain, contract, _noise((4,), 8, 5, seed_shape=(7,)), "BadNode(string)", ["string"], ["seed"])
    good = (1, 2, 3, 4, 5)
    for j in range(4):
        for v in (2**31, -(2**31)):
            params = list(good)
            params[j] = v
            _reverts(chain, contract, _ddim((4,), 12, 12, params), "DdimConstantOutOfRange(uint256,int256)",
                     ["uint256", "int256"], [j, v])
    for lim in (-1, 32768):
        _reverts(chain, contract, _ddim((4,), 12, 12, (1, 2, 3, 4, lim)), "DdimLimOutOfRange(int256)", ["int256"],
                 [lim])
    for fo, sh in ((29, -1), (-13, 41)):
        _reverts(chain, contract, _ddim((4,), 12, fo, good), "DdimShiftOutOfRange(int256)", ["int256"], [sh])
    mixed = _node(OpCode.DDIM_STEP, (TensorSpec((4,), DType.INT16, 12), TensorSpec((4,), DType.INT16, 11)),
                  TensorSpec((4,), DType.INT16, 12), good)
    _reverts(chain, contract, mixed, "BadNode(string)", ["string"], ["eps"])
    for f in (-1, 15):
        _reverts(chain, contract, _pixels((4,), f), "ImageFracOutOfRange(int256,int256)", ["int256", "int256"],
                 [f, 14])
    wrong_out = _node(OpCode.PIXELS, (TensorSpec((4,), DType.INT16, 8),), TensorSpec((4,), DType.INT8, 1))
    _reverts(chain, contract, wrong_out, "BadNode(string)", ["string"], ["output"])
    _reverts(chain, contract, _node(OpCode.PRNG, (TensorSpec((4,), DType.INT32, 0),), TensorSpec((1,), DType.INT32, 0),
                                    (0,)), "UnsupportedOp(uint256)", ["uint256"], [int(OpCode.PRNG)])
    # An element past the output, and a range index past the op's count.
    node = _pixels((2,), 8)
    nd = descriptor_tuple(encode_node(node, 0))
    ops = [operand_tuple([256], 2)]
    assert contract.element(nd, ops, 1) == -1  # x = 1.0: v = ((256 + 256) * 255 + 256) >> 9 = 255, q = -1
    assert revert_data(chain, contract.element, nd, ops, 2) == custom_error("BadNode(string)", ["string"], ["element"])
    assert revert_data(chain, contract.range, nd, 0, 1, []) == custom_error("BadNode(string)", ["string"],
                                                                           ["range index"])
