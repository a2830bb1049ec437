"""The image ops (offchain/engine/ops/image.py): each op's vectorised forward equals its pure-int element rule on any
values its operands' dtypes allow (hypothesis draws plus the int16 / int8 edges, seeds 0 and 2^64 - 1, saturating
params), and each rule is checked against an independent reference: NOISE against splitmix64's published first
output and a plain-Python sum of uniforms, its statistics over 4,096 values (mean ~0, std ~1), DDIM_STEP against a
float DDIM step (within 2 LSB), PIXELS against (x + 1) * 127.5 rounded half up. check() refuses bad nodes with
the named error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.image import (
    MAX_NOISE_ELEMENTS,
    ddim_params,
    noise_mul,
    pixel_values,
    seed_bytes,
)

from .op_harness import check_elements, make_node, spec

I16_MIN, I16_MAX = -(2**15), 2**15 - 1
I16_EDGES = [I16_MIN, I16_MIN + 1, -2, -1, 0, 1, 2, I16_MAX - 1, I16_MAX]
I16 = st.one_of(st.integers(I16_MIN, I16_MAX), st.sampled_from(I16_EDGES))
SEEDS = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**63, 2**64 - 2, 2**64 - 1]))


def _seed_tensor(seed: int) -> np.ndarray:
    return np.frombuffer(seed_bytes(seed), dtype=np.int8).copy()


# ------------------------------------------------------------------------------------------------------- NOISE


def _noise_node(n_shape, frac: int, mul: int, seed_shape=(8,)):
    return make_node(OpCode.NOISE, [spec(seed_shape, DType.INT8, 0)], spec(n_shape, DType.INT16, frac), (mul,))


def _noise_reference(seed: int, i: int, mul: int) -> int:
    """The imgspec rule written out once more, independently of ops/image.py."""
    m = 2**64
    v = (seed + (i + 1) * 0x9E3779B97F4A7C15) % m
    v = ((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) % m
    v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) % m
    z = v ^ (v >> 31)
    s = sum((z >> (16 * k)) & 0xFFFF for k in range(4)) - 131070
    return max(-32768, min(32767, (s * mul + 2**31) // 2**32))


@settings(max_examples=150, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 64), frac=st.integers(0, 13),
       mul=st.one_of(st.integers(1, 2**40 - 1), st.sampled_from([1, 2**32, 2**40 - 1])),
       shape_kind=st.sampled_from(["flat", "2d"]), seed_shape=st.sampled_from([(8,), (2, 4), (1, 8)]))
def test_noise_element_equals_forward_and_the_reference(seed, n, frac, mul, shape_kind, seed_shape):
    shape = (n,) if shape_kind == "flat" else (1, n)
    node = _noise_node(shape, frac, mul, seed_shape)
    out = check_elements(node, [_seed_tensor(seed).reshape(seed_shape)], range(n))
    assert out.reshape(-1).tolist() == [_noise_reference(seed, i, mul) for i in range(n)]


def test_noise_matches_splitmix64_published_stream_and_seed_bytes():
    # splitmix64 seeded with 0: first outputs 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4 (Vigna's reference code).
    for i, z in enumerate([0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]):
        s = sum((z >> (16 * k)) & 0xFFFF for k in range(4)) - 131070
        node = _noise_node((2,), 0, 2**32)  # mul = 2^32: out = clamp(s)
        out = check_elements(node, [_seed_tensor(0)], range(2))
        assert int(out[i]) == max(-32768, min(32767, s))
    assert seed_bytes(2**64 - 1) == b"\xff" * 8 and seed_bytes(258) == bytes(6) + b"\x01\x02"
    for bad in (-1, 2**64, 1.0, True):
        with pytest.raises(ValueError, match="seed"):
            seed_bytes(bad)


def test_noise_saturates_at_large_mul_and_last_index_is_exact():
    # mul = 2^40 - 1 makes |s| >= 2^24 / 2^8 saturate: most elements sit at the int16 bounds, none beyond.
    node = _noise_node((256,), 0, 2**40 - 1)
    out = check_elements(node, [_seed_tensor(2**64 - 1)], range(256)).astype(np.int64)
    assert out.min() == I16_MIN and out.max() == I16_MAX
    # The largest output: forward's last element equals the element rule's (i + 1 = 2^20 in the counter).
    big = _noise_node((MAX_NOISE_ELEMENTS,), 12, noise_mul(12))
    full = get_op(OpCode.NOISE).forward([_seed_tensor(12345)], big)
    assert int(full[-1]) == _noise_reference(12345, MAX_NOISE_ELEMENTS - 1, noise_mul(12))
    assert check_elements(big, [_seed_tensor(12345)], [0, MAX_NOISE_ELEMENTS - 1]).shape == (MAX_NOISE_ELEMENTS,)


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, 2**64 - 1])
@pytest.mark.parametrize("frac", [8, 12, 13])
def test_noise_statistics_over_4096_values(seed, frac):
    """Tolerances (5 standard errors, n = 4096): the mean of n unit-variance values has SE 1/64 = 0.0156, so
    |mean| < 0.08; the sample std of a sum of four uniforms (kurtosis 2.7) has SE sqrt((2.7 - 1) / (4 n)) = 0.0102,
    so |std - 1| < 0.05; the quantisation to 2^-frac and mul's rounding add < 2^-16 relative. Kurtosis of the sum
    of four uniforms is 3 - 1.2 / 4 = 2.7 (SE ~0.07 here): 2.4 .. 3.0. |out| <= 3.47 * 2^frac (|s| <= 131070)."""
    node = _noise_node((4096,), frac, noise_mul(frac))
    out = get_op(OpCode.NOISE).forward([_seed_tensor(seed)], node).astype(np.float64) / 2**frac
    assert abs(out.mean()) < 0.08
    assert abs(out.std() - 1.0) < 0.05
    kurt = ((out - out.mean()) ** 4).mean() / out.var() ** 2
    assert 2.4 < kurt < 3.0
    assert np.abs(out).max() <= 131070 / math.sqrt((2**32 - 1) / 3) + 2**-frac


def test_noise_mul_values():
    assert noise_mul(0) == round(2**32 / math.sqrt((2**32 - 1) / 3))
    for f in range(14):
        assert abs(noise_mul(f) * math.sqrt((2**32 - 1) / 3) / 2**(32 + f) - 1) < 1e-4
    for bad in (-1, 14, 1.5):
        with pytest.raises(ParamError, match="noise frac"):
            noise_mul(bad)


def test_noise_check_refusals():
    op = get_op(OpCode.NOISE)
    with pytest.raises(ParamError, match="mul = 0"):
        op.check(_noise_node((4,), 8, 0))
    with pytest.raises(ParamError, match="mul = 1099511627776"):
        op.check(_noise_node((4,), 8, 2**40))
    with pytest.raises(ParamError, match="takes params"):
        op.check(make_node(OpCode.NOISE, [spec((8,), DType.INT8, 0)], spec((4,), DType.INT16, 8), (1, 2)))
    with pytest.raises(ShapeMismatchError, match="expected 8"):
        op.check(_noise_node((4,), 8, 5, seed_shape=(7,)))
    with pytest.raises(DtypeMismatchError, match="seed must be INT8"):
        op.check(make_node(OpCode.NOISE, [spec((8,), DType.INT16, 0)], spec((4,), DType.INT16, 8), (5,)))
    with pytest.raises(DtypeMismatchError, match="seed must be INT8"):
        op.check(make_node(OpCode.NOISE, [spec((8,), DType.INT8, 3)], spec((4,), DType.INT16, 8), (5,)))
    with pytest.raises(DtypeMismatchError, match="output must be INT16"):
        op.check(make_node(OpCode.NOISE, [spec((8,), DType.INT8, 0)], spec((4,), DType.INT32, 8), (5,)))
    with pytest.raises(DtypeMismatchError, match="frac 14"):
        op.check(_noise_node((4,), 14, 5))
    with pytest.raises(DtypeMismatchError, match="frac -1"):
        op.check(_noise_node((4,), -1, 5))
    with pytest.raises(ShapeMismatchError, match="1048577 elements"):
        op.check(_noise_node((MAX_NOISE_ELEMENTS + 1,), 8, 5))
    with pytest.raises(ShapeMismatchError, match="0 elements"):
        op.check(_noise_node((0,), 8, 5))
    assert op.input_domain(_noise_node((4,), 8, 5), 0) is None  # every seed byte has a result


# --------------------------------------------------------------------------------------------------- DDIM_STEP


def _ddim_node(shape, f: int, fo: int, params):
    return make_node(OpCode.DDIM_STEP, [spec(shape, DType.INT16, f), spec(shape, DType.INT16, f)],
                     spec(shape, DType.INT16, fo), params)


def _ddim_reference(x: int, eps: int, params, sh: int) -> int:
    a, b, c1, c2, lim = params
    x0 = (a * x - b * eps + 2**15) // 2**16  # Python's // floors
    x0c = min(max(x0, -lim), lim)
    acc = c1 * x + c2 * x0c + (2 ** (sh - 1) if sh > 0 else 0)
    return max(-32768, min(32767, acc // 2**sh))


CONST = st.one_of(st.integers(-(2**31) + 1, 2**31 - 1), st.sampled_from([-(2**31) + 1, -1, 0, 1, 2**16, 2**31 - 1]))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(1, 24), f=st.integers(-4, 20), sh=st.integers(0, 40),
       a=CONST, b=CONST, c1=CONST, c2=CONST, lim=st.one_of(st.integers(0, 32767), st.sampled_from([0, 1, 32767])))
def test_ddim_element_equals_forward_and_the_reference(data, n, f, sh, a, b, c1, c2, lim):
    x = np.array(data.draw(st.lists(I16, min_size=n, max_size=n)), dtype=np.int16)
    eps = np.array(data.draw(st.lists(I16, min_size=n, max_size=n)), dtype=np.int16)
    params = (a, b, c1, c2, lim)
    node = _ddim_node((n,), f, 16 + f - sh, params)
    out = check_elements(node, [x, eps], range(n))
    assert out.tolist() == [_ddim_reference(int(xi), int(ei), params, sh) for xi, ei in zip(x, eps)]


def test_ddim_extreme_values_saturate_both_ways():
    big = 2**31 - 1
    x = np.array([I16_MIN, I16_MAX, -1, 0, 1, I16_MIN, I16_MAX], dtype=np.int16)
    eps = np.array([I16_MAX, I16_MIN, 1, 0, -1, I16_MIN, I16_MAX], dtype=np.int16)
    for params in [(big, big, big, big, 32767), (-big, -big, -big, -big, 32767), (big, -big, big, -big, 0)]:
        for sh in (0, 16, 40):
            node = _ddim_node((7,), 12, 28 - sh, params)
            out = check_elements(node, [x, eps], range(7))
            assert out.tolist() == [_ddim_reference(int(a), int(b), params, sh) for a, b in zip(x, eps)]
    out = check_elements(_ddim_node((7,), 12, 12, (big, big, big, big, 32767)), [x, eps], range(7))
    assert I16_MIN in out.tolist() and I16_MAX in out.tolist()


def _cosine_alpha_bar(t: int, T: int = 1000) -> float:
    f = lambda u: math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    return min(max(f(t) / f(0), 1e-4), 0.9999)


@pytest.mark.parametrize("t, t_prev", [(999, 899), (500, 400), (100, 0), (10, None), (999, None)])
@pytest.mark.parametrize("f, fo", [(12, 12), (12, 10), (10, 12)])
def test_ddim_is_a_float_ddim_step_within_2_lsb(t, t_prev, f, fo):
    """x, eps ~ N(0, 1) (clipped to the int16 range of frac f): the integer step equals the float DDIM update
    x_prev = sqrt(ab_prev) x0c + sqrt(1 - ab_prev) (x - sqrt(ab_t) x0c) / sqrt(1 - ab_t), x0c = clip(x0, -1, 1),
    within 2 LSB of the output frac. Error budget at fo = f: the Q16 constants' rounding (+-0.5 / 2^16, times
    |x|, |eps| < 8 real) moves x0 by <= 1/2 + 2^-13 LSB of frac f before its own rounding (1/2 LSB), |c2| <= 1
    carries that 1 LSB, c1's rounding adds <= 2^-4 LSB, the final rounding 1/2 LSB: < 1.6 LSB. At fo = f - 2 it
    shrinks by 4; at fo = f + 2 the fo-LSB is 4x finer, so x, eps stay below 2 real there (a 2^-2 x0 error
    budget, i.e. < 2 LSB with |c2| <= 1 and the rounding 2^-3 LSB per constant)."""
    ab_t = _cosine_alpha_bar(t)
    ab_prev = 1.0 if t_prev is None else _cosine_alpha_bar(t_prev)
    params = ddim_params(ab_t, ab_prev, f)
    assert params[4] == 2**f
    rng = np.random.default_rng(t * 7 + f)
    n = 512
    scale = 2.0 if fo > f else 8.0
    x = np.clip(np.round(rng.standard_normal(n).clip(-scale, scale) * 2**f), I16_MIN, I16_MAX).astype(np.int16)
    eps = np.clip(np.round(rng.standard_normal(n).clip(-scale, scale) * 2**f), I16_MIN, I16_MAX).astype(np.int16)
    node = _ddim_node((n,), f, fo, params)
    out = check_elements(node, [x, eps], range(0, n, 37)).astype(np.int64)
    xr, er = x.astype(np.float64) / 2**f, eps.astype(np.float64) / 2**f
    x0 = np.clip((xr - math.sqrt(1 - ab_t) * er) / math.sqrt(ab_t), -1.0, 1.0)
    eps_re = (xr - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)
    x_prev = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * eps_re
    want = np.clip(np.round(x_prev * 2**fo), I16_MIN, I16_MAX)
    assert np.abs(out - want).max() <= 2
    if t_prev is None:  # the last step outputs the clipped x0 itself: within [-1, 1]
        assert np.abs(out).max() <= 2**fo + 2


def test_ddim_params_and_refusals():
    a, b, c1, c2, lim = ddim_params(0.5, 1.0, 12)
    assert (a, b, c1, c2, lim) == (round(2**16 * math.sqrt(2)), 2**16, 0, 2**16, 4096)
    for bad in [(0.0, 0.5, 12), (1.0, 0.5, 12), (0.5, 0.0, 12), (0.5, 1.5, 12), (0.5, 0.9, 15), (1e-20, 0.5, 12)]:
        with pytest.raises(ValueError):
            ddim_params(*bad)
    op = get_op(OpCode.DDIM_STEP)
    good = (1, 2, 3, 4, 5)
    op.check(_ddim_node((4,), 12, 12, good))
    with pytest.raises(ParamError, match="takes 5 params"):
        op.check(_ddim_node((4,), 12, 12, good[:4]))
    for k, name in enumerate(("a", "b", "c1", "c2")):
        for v in (2**31, -(2**31)):
            params = list(good)
            params[k] = v
            with pytest.raises(ParamError, match=f"{name} = {v}"):
                op.check(_ddim_node((4,), 12, 12, params))
    for lim in (-1, 32768):
        with pytest.raises(ParamError, match=f"lim = {lim}"):
            op.check(_ddim_node((4,), 12, 12, (1, 2, 3, 4, lim)))
    with pytest.raises(DtypeMismatchError, match="= 41"):
        op.check(_ddim_node((4,), 12, -13, good))
    with pytest.raises(DtypeMismatchError, match="= -1"):
        op.check(_ddim_node((4,), 12, 29, good))
    with pytest.raises(DtypeMismatchError, match="eps vs x"):
        op.check(make_node(OpCode.DDIM_STEP, [spec((4,), DType.INT16, 12), spec((4,), DType.INT16, 11)],
                           spec((4,), DType.INT16, 12), good))
    with pytest.raises(DtypeMismatchError, match="x must be INT16"):
        op.check(make_node(OpCode.DDIM_STEP, [spec((4,), DType.INT32, 12), spec((4,), DType.INT32, 12)],
                           spec((4,), DType.INT16, 12), good))
    with pytest.raises(ShapeMismatchError, match="eps has shape"):
        op.check(make_node(OpCode.DDIM_STEP, [spec((4,), DType.INT16, 12), spec((2, 2), DType.INT16, 12)],
                           spec((4,), DType.INT16, 12), good))
    with pytest.raises(ShapeMismatchError, match="output has shape"):
        op.check(make_node(OpCode.DDIM_STEP, [spec((4,), DType.INT16, 12), spec((4,), DType.INT16, 12)],
                           spec((5,), DType.INT16, 12), good))
    with pytest.raises(DtypeMismatchError, match="output must be INT16"):
        op.check(make_node(OpCode.DDIM_STEP, [spec((4,), DType.INT16, 12), spec((4,), DType.INT16, 12)],
                           spec((4,), DType.INT8, 12), good))
    assert op.input_domain(_ddim_node((4,), 12, 12, good), 0) is None
    assert op.input_domain(_ddim_node((4,), 12, 12, good), 1) is None


# ------------------------------------------------------------------------------------------------------ PIXELS


def _pixels_node(shape, f: int):
    return make_node(OpCode.PIXELS, [spec(shape, DType.INT16, f)], spec(shape, DType.INT8, 0))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 40), f=st.integers(0, 14))
def test_pixels_element_equals_forward_and_rounds_half_up(data, n, f):
    x = np.array(data.draw(st.lists(I16, min_size=n, max_size=n)), dtype=np.int16)
    out = check_elements(_pixels_node((n,), f), [x], range(n))
    v = pixel_values(out)
    assert v.dtype == np.uint8
    # (x / 2^f + 1) * 127.5 rounded half up, exactly in rationals: floor(((x + 2^f) * 255 + 2^f) / 2^(f + 1)).
    want = [min(max(math.floor(((int(xi) + 2**f) * 255) / 2**(f + 1) + 0.5), 0), 255) for xi in x]
    assert v.tolist() == want


def test_pixels_edges():
    x = np.array(I16_EDGES, dtype=np.int16).reshape(3, 3)
    for f in (0, 7, 14):
        out = check_elements(_pixels_node((3, 3), f), [x], range(9))
        v = pixel_values(out).reshape(-1).tolist()
        assert v[0] == 0 and v[-1] == 255  # int16 min / max saturate at 0 / 255
    out = check_elements(_pixels_node((5,), 12), [np.array([-4096, -4095, 0, 4095, 4096], dtype=np.int16)],
                         range(5))
    assert pixel_values(out).tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds half up to 128
    assert out.tolist() == [0, 0, -128, -1, -1]
    op = get_op(OpCode.PIXELS)
    with pytest.raises(DtypeMismatchError, match="frac 15"):
        op.check(_pixels_node((4,), 15))
    with pytest.raises(DtypeMismatchError, match="frac -1"):
        op.check(_pixels_node((4,), -1))
    with pytest.raises(DtypeMismatchError, match="output must be INT8 with frac 0"):
        op.check(make_node(OpCode.PIXELS, [spec((4,), DType.INT16, 8)], spec((4,), DType.INT8, 2)))
    with pytest.raises(DtypeMismatchError, match="x must be INT16"):
        op.check(make_node(OpCode.PIXELS, [spec((4,), DType.INT8, 8)], spec((4,), DType.INT8, 0)))
    with pytest.raises(ShapeMismatchError, match="output has shape"):
        op.check(make_node(OpCode.PIXELS, [spec((4,), DType.INT16, 8)], spec((2, 2), DType.INT8, 0)))
    with pytest.raises(ParamError, match="takes 0 params"):
        op.check(make_node(OpCode.PIXELS, [spec((4,), DType.INT16, 8)], spec((4,), DType.INT8, 0), (1,)))
    assert op.input_domain(_pixels_node((4,), 8), 0) is None


# ---------------------------------------------------------------------------------------------- the sampler graph


def test_the_sampler_graph_accepts_every_seed_and_ends_in_pixel_bytes():
    """bench/_image_graph.py (NOISE -> DDIM_STEP x2 -> PIXELS): its request input (the seed) has the full int8
    domain, so the oracle refuses no 8-byte seed; the last DDIM step (ab_prev = 1) outputs the clipped x0, so every
    value lies in [-2^f, 2^f] and the pixels cover both ends; different seeds give different images."""
    from bench._image_graph import FRAC, LAST_STEP, image_graph
    from offchain.engine.domain import input_domain
    from offchain.engine.executor import run

    model, seed = image_graph()
    assert input_domain(model.graph).full
    trace = run(model, [seed])
    x0 = trace.outputs[LAST_STEP].astype(np.int64)
    assert np.abs(x0).max() <= 1 << FRAC
    pixels = pixel_values(trace.outputs[-1])
    assert pixels.shape == (8, 8) and pixels.min() == 0 and pixels.max() == 255
    model_1, seed_1 = image_graph(seed=1)
    assert not np.array_equal(pixel_values(run(model_1, [seed_1]).outputs[-1]), pixels)
