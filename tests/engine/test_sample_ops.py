"""The generation ops (offchain/engine/ops/sample.py): every op's forward equals its element rule on any values
its operands' dtypes allow (hypothesis draws plus the int32 / int8 edges), and each rule is checked against an
independent reference: GEN_PARAMS against the request encoder's inputs, TOPK against a plain sort of the whole
block (ties, short blocks, padding) and a TOPK tree against one global top-k, PRNG against pycryptodome's
keccak, SAMPLE's greedy / reproducibility / distribution (softmax(logits / T) restricted to the top k), and
GEN_STOP's EOS / max_new table. The caps each check() enforces are asserted to refuse with ParamError."""

from __future__ import annotations

import math

import numpy as np
import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.sample import (
    EXP_FRAC,
    MAX_EOS,
    MAX_FRAC_LOGITS,
    MAX_K,
    TOPK_STEP_GAS_BUDGET,
    PAD_INDEX,
    PAD_VALUE,
    RequestParamError,
    request_params,
    topk_step_gas,
)

from .op_harness import check_elements, make_node, spec

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
INT32_EDGES = [I32_MIN, I32_MIN + 1, -2, -1, 0, 1, 2, I32_MAX - 1, I32_MAX]
I32 = st.integers(I32_MIN, I32_MAX)
I32_ANY = st.one_of(I32, st.sampled_from(INT32_EDGES))


def _i32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(np.int32)


def _one(node, inputs) -> int:
    return int(check_elements(node, inputs, [0]).reshape(-1)[0])


# -------------------------------------------------------------------------------------------------- GEN_PARAMS


def _gen_params_node(n_max: int, k_max: int):
    return make_node(OpCode.GEN_PARAMS, [spec((16,), DType.INT8, 0)], spec((4,), DType.INT32, 0), (n_max, k_max))


@settings(max_examples=200, deadline=None)
@given(raw=st.lists(st.one_of(st.integers(-128, 127), st.sampled_from([-128, -1, 0, 1, 127])), min_size=16,
                    max_size=16),
       n_max=st.integers(1, 255), k_max=st.integers(1, MAX_K))
def test_gen_params_element_equals_forward_and_decodes_each_field(raw, n_max, k_max):
    out = check_elements(_gen_params_node(n_max, k_max), [np.array(raw, dtype=np.int8)], range(4))
    p = [q & 0xFF for q in raw]
    t = p[3] * 256 + p[4]
    seed = int.from_bytes(bytes(p[5:9]), "big")
    assert list(out) == [n_max if p[0] == 0 else min(p[0], n_max), p[1] * 256 + p[2],
                         k_max if t == 0 else min(t, k_max), seed - 2**32 if seed >= 2**31 else seed]


def test_gen_params_decodes_the_request_encoder():
    node = _gen_params_node(64, 40)

    def decode(b: bytes) -> list[int]:
        return [int(v) for v in check_elements(node, [np.frombuffer(b, dtype=np.int8)], range(4))]

    assert decode(request_params()) == [64, 0, 40, 0]  # an all-zero tail (a zero-padded request): defaults
    assert decode(bytes(16)) == [64, 0, 40, 0]
    assert decode(request_params(10, 0.7, 5, 123456789)) == [10, 70, 5, 123456789]
    assert decode(request_params(255, 655.35, 65535, 2**32 - 1)) == [64, 65535, 40, -1]  # clamped to N, K
    assert decode(request_params(1, 0.004, 1, 2**31)) == [1, 0, 1, -(2**31)]  # 0.4 hundredths round to 0
    assert decode(request_params(temperature=0.125)) == [64, 13, 40, 0]  # 12.5 hundredths: round half up
    assert decode(b"\xff" * 16) == [64, 65535, 40, -1]
    assert len(request_params(3, 1.0, 2, 7)) == 16 and request_params(3, 1.0, 2, 7)[9:] == bytes(7)


@pytest.mark.parametrize("kwargs, name", [
    ({"max_new": 256}, "max_new"), ({"max_new": -1}, "max_new"), ({"max_new": 1.0}, "max_new"),
    ({"temperature": -0.01}, "temperature"), ({"temperature": 655.36}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"temperature": float("inf")}, "temperature"),
    ({"top_k": 65536}, "top_k"), ({"top_k": -1}, "top_k"),
    ({"seed": 2**32}, "seed"), ({"seed": -1}, "seed"),
])
def test_request_params_refuses_out_of_range_values_naming_them(kwargs, name):
    with pytest.raises(RequestParamError, match=name):
        request_params(**kwargs)
    assert issubclass(RequestParamError, ValueError)


def test_gen_params_check_refuses_bad_nodes():
    op = get_op(OpCode.GEN_PARAMS)
    with pytest.raises(ParamError, match="N = 0"):
        op.check(_gen_params_node(0, 40))
    with pytest.raises(ParamError, match="N = 256"):
        op.check(_gen_params_node(256, 40))
    with pytest.raises(ParamError, match=f"k = {MAX_K + 1}"):
        op.check(_gen_params_node(8, MAX_K + 1))
    with pytest.raises(DtypeMismatchError):
        op.check(make_node(OpCode.GEN_PARAMS, [spec((16,), DType.INT32, 0)], spec((4,), DType.INT32, 0), (8, 8)))
    with pytest.raises(DtypeMismatchError):
        op.check(make_node(OpCode.GEN_PARAMS, [spec((15,), DType.INT8, 0)], spec((4,), DType.INT32, 0), (8, 8)))


# -------------------------------------------------------------------------------------------------------- TOPK


def _topk_node(x_spec, mode: int, k: int, width: int):
    if mode == 0:
        rows = -(-x_spec.size // width)
    else:
        rows = -(-x_spec.shape[0] // width)
    return make_node(OpCode.TOPK, [x_spec], spec((rows, k, 2), DType.INT32, 0), (mode, k, width))


def _reference_blocks(x: np.ndarray, k: int, block: int) -> np.ndarray:
    """Mode 0 by a plain Python sort of each block's (value, index) pairs."""
    flat = [int(v) for v in x.reshape(-1)]
    rows = []
    for start in range(0, len(flat), block):
        pairs = sorted(((v, start + j) for j, v in enumerate(flat[start:start + block])), key=lambda e: (-e[0], e[1]))
        pairs = pairs[:k] + [(PAD_VALUE, PAD_INDEX)] * max(0, k - len(pairs))
        rows.append(pairs)
    return np.array(rows, dtype=np.int64)


def _reference_merge(c: np.ndarray, k: int, group: int) -> np.ndarray:
    """Mode 1 by a plain stable sort of each group's real entries (index != -1), then padding."""
    rows = []
    for start in range(0, c.shape[0], group):
        entries = [(int(v), int(i)) for v, i in c[start:start + group].reshape(-1, 2)]
        real = sorted((e for e in entries if e[1] != -1), key=lambda e: (-e[0], e[1]))  # stable: position last
        rows.append((real + [(PAD_VALUE, PAD_INDEX)] * k)[:k])
    return np.array(rows, dtype=np.int64)


@st.composite
def _logits(draw):
    dtype = draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32]))
    n = draw(st.integers(1, 60))
    # A small value pool forces ties; the dtype's extremes sit among them.
    pool = [dtype.qmin, dtype.qmin + 1, -1, 0, 1, 5, dtype.qmax]
    value = st.one_of(st.sampled_from(pool), st.integers(dtype.qmin, dtype.qmax))
    x = np.array(draw(st.lists(value, min_size=n, max_size=n)), dtype=np.int64).astype(dtype.numpy)
    shape = draw(st.sampled_from([(n,), (1, 1, n), (1, n)]))
    return dtype, x.reshape(shape), draw(st.integers(-4, 12))


@settings(max_examples=200, deadline=None)
@given(case=_logits(), k=st.integers(1, 12), block=st.integers(1, 20))
def test_topk_blocks_equal_a_sort_based_reference(case, k, block):
    dtype, x, frac = case
    node = _topk_node(spec(x.shape, dtype, frac), 0, k, block)
    out = check_elements(node, [x], range(node.output.size))
    assert np.array_equal(out.astype(np.int64), _reference_blocks(x, k, block))


@st.composite
def _candidates(draw):
    m = draw(st.integers(1, 8))
    kin = draw(st.integers(1, 6))
    # Indices: real ones, padding (-1) and other negatives; values anything (padding with odd values too).
    index = st.one_of(st.integers(0, 30), st.just(-1), st.sampled_from(INT32_EDGES))
    value = st.one_of(st.sampled_from([I32_MIN, -1, 0, 3, I32_MAX]), I32)
    flat = draw(st.lists(st.tuples(value, index), min_size=m * kin, max_size=m * kin))
    return _i32(flat).reshape(m, kin, 2)


@settings(max_examples=200, deadline=None)
@given(c=_candidates(), k=st.integers(1, 12), group=st.integers(1, 9))
def test_topk_merge_equals_a_sort_based_reference_on_any_int32_entries(c, k, group):
    node = _topk_node(spec(c.shape, DType.INT32, 0), 1, k, group)
    out = check_elements(node, [c], range(node.output.size))
    assert np.array_equal(out.astype(np.int64), _reference_merge(c, k, group))


def test_topk_merge_duplicates_and_padding_rules():
    c = _i32([[[7, 3], [7, 3], [I32_MAX, -1]], [[7, 2], [I32_MIN, 9], [5, -1]]])
    node = _topk_node(spec(c.shape, DType.INT32, 0), 1, 6, 2)
    out = check_elements(node, [c], range(node.output.size))
    # Real entries by value desc, index asc (the duplicate kept twice); an index -1 entry is padding whatever
    # its value; INT32_MIN with a real index is real and ranks before padding.
    assert out.tolist() == [[[7, 2], [7, 3], [7, 3], [I32_MIN, 9], [I32_MIN, -1], [I32_MIN, -1]]]


@example(n=125, k=1, block=1, group=5, seed=0, spread=3)   # 5^3 rows: float log once said 4 levels
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 400), k=st.integers(1, 16), block=st.integers(1, 64), group=st.integers(2, 7),
       seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([3, 1000, 2**31]))
def test_topk_tree_equals_one_global_topk(n, k, block, group, seed, spread):
    rng = np.random.default_rng(seed)
    x = rng.integers(-spread, spread, size=n).clip(I32_MIN, I32_MAX).astype(np.int32)
    level = _topk_node(spec((n,), DType.INT32, 0), 0, k, block)
    cur = get_op(OpCode.TOPK).forward([x], level)
    levels = 1
    while cur.shape[0] > 1:
        level = _topk_node(spec(cur.shape, DType.INT32, 0), 1, k, group)
        cur = check_elements(level, [cur], range(level.output.size))
        levels += 1
    rows, want = -(-n // block), 1          # integer ceil(log_group(rows)): math.log(125, 5) is 3.0000000000000004
    while rows > 1:
        rows, want = -(-rows // group), want + 1
    assert levels == want
    assert np.array_equal(cur.astype(np.int64), _reference_blocks(x, k, n))  # one block of everything


def test_topk_vocab_32000_k40_tree_has_two_levels():
    x = np.random.default_rng(5).integers(-3000, 3000, size=32000).astype(np.int16)
    first = _topk_node(spec((1, 1, 32000), DType.INT16, 8), 0, 40, 1280)
    get_op(OpCode.TOPK).check(first)
    mid = get_op(OpCode.TOPK).forward([x.reshape(1, 1, -1)], first)
    assert mid.shape == (25, 40, 2)
    second = _topk_node(spec(mid.shape, DType.INT32, 0), 1, 40, 25)
    get_op(OpCode.TOPK).check(second)
    out = check_elements(second, [mid], range(second.output.size))
    assert np.array_equal(out.astype(np.int64), _reference_blocks(x, 40, 32000))
    check_elements(first, [x.reshape(1, 1, -1)], [0, 1, 79, 2 * 40 * 24, first.output.size - 1])


def _widest(mode: int, k: int) -> int:
    return max(e for e in range(1, 5000) if topk_step_gas(mode, k, e) <= TOPK_STEP_GAS_BUDGET)


def test_topk_gas_model_caps():
    """The caps the docstring states, and the 7B tree (32,000 logits, K = 40) in two levels under them."""
    assert [_widest(0, k) for k in (1, 40, MAX_K)] == [3970, 1391, 796]
    assert [_widest(1, k) for k in (1, 40, MAX_K)] == [2653, 1185, 724]
    assert topk_step_gas(0, 40, 1280) <= TOPK_STEP_GAS_BUDGET and topk_step_gas(1, 40, 25 * 40) <= TOPK_STEP_GAS_BUDGET
    # Monotone in k and in entries, so a cap at the largest k bounds every smaller one.
    assert all(topk_step_gas(m, k, 100) < topk_step_gas(m, k + 1, 100) for m in (0, 1) for k in range(1, MAX_K))
    assert all(topk_step_gas(0, k, 100) < topk_step_gas(1, k, 100) for k in range(1, MAX_K + 1))


def test_topk_check_enforces_the_caps():
    op = get_op(OpCode.TOPK)
    with pytest.raises(ParamError, match=f"k = {MAX_K + 1}"):
        op.check(_topk_node(spec((10,), DType.INT32, 0), 0, MAX_K + 1, 8))
    for k in (1, 40, MAX_K):
        block = _widest(0, k)
        op.check(_topk_node(spec((2 * block + 1,), DType.INT32, 0), 0, k, block))
        with pytest.raises(ParamError, match="gas model"):
            op.check(_topk_node(spec((2 * block + 1,), DType.INT32, 0), 0, k, block + 1))
    group = _widest(1, 40) // 40
    op.check(_topk_node(spec((64, 40, 2), DType.INT32, 0), 1, 40, group))
    with pytest.raises(ParamError, match="gas model"):
        op.check(_topk_node(spec((64, 40, 2), DType.INT32, 0), 1, 40, group + 1))
    with pytest.raises(ParamError, match="mode 2"):
        op.check(make_node(OpCode.TOPK, [spec((4,), DType.INT32, 0)], spec((1, 1, 2), DType.INT32, 0), (2, 1, 4)))
    with pytest.raises(ParamError, match="block / group = 0"):
        op.check(make_node(OpCode.TOPK, [spec((4,), DType.INT32, 0)], spec((4, 1, 2), DType.INT32, 0), (0, 1, 0)))
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.TOPK, [spec((4, 2), DType.INT32, 0)], spec((1, 1, 2), DType.INT32, 0), (1, 1, 4)))
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.TOPK, [spec((9,), DType.INT8, 0)], spec((2, 2, 2), DType.INT32, 0), (0, 2, 4)))


# -------------------------------------------------------------------------------------------------------- PRNG


def _prng_node(step: int):
    return make_node(OpCode.PRNG, [spec((4,), DType.INT32, 0)], spec((1,), DType.INT32, 0), (step,))


def _keccak_word(seed_u32: int, step: int) -> int:
    h = pycryptodome_keccak.new(digest_bits=256)
    h.update(seed_u32.to_bytes(4, "big") + step.to_bytes(4, "big"))
    return int.from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF


@settings(max_examples=150, deadline=None)
@given(params4=st.lists(I32_ANY, min_size=4, max_size=4),
       step=st.one_of(st.integers(0, 300), st.sampled_from([I32_MAX, I32_MAX - 1])))
def test_prng_equals_an_independent_keccak(params4, step):
    got = _one(_prng_node(step), [_i32(params4)])
    assert got == _keccak_word(params4[3] & 0xFFFFFFFF, step)
    assert 0 <= got <= I32_MAX


def test_prng_words_differ_by_step_and_seed_and_refuse_bad_steps():
    words = {_one(_prng_node(s), [_i32([0, 0, 0, 42])]) for s in range(64)}
    assert len(words) == 64
    assert _one(_prng_node(0), [_i32([0, 0, 0, 42])]) != _one(_prng_node(0), [_i32([0, 0, 0, 43])])
    for step in (-1, 2**31):
        with pytest.raises(ParamError, match="step"):
            get_op(OpCode.PRNG).check(_prng_node(step))


# ------------------------------------------------------------------------------------------------------ SAMPLE


def _sample_node(k: int, frac_logits: int):
    ins = [spec((1, k, 2), DType.INT32, 0), spec((4,), DType.INT32, 0), spec((1,), DType.INT32, 0)]
    return make_node(OpCode.SAMPLE, ins, spec((1,), DType.INT32, 0), (frac_logits,))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), k=st.integers(1, 12), frac=st.sampled_from([0, 1, 8, 16, MAX_FRAC_LOGITS]))
def test_sample_element_equals_forward_on_any_int32_operands(data, k, frac):
    cand = _i32(data.draw(st.lists(I32_ANY, min_size=2 * k, max_size=2 * k))).reshape(1, k, 2)
    params4 = _i32(data.draw(st.lists(st.one_of(I32_ANY, st.integers(0, 500)), min_size=4, max_size=4)))
    rnd = _i32([data.draw(I32_ANY)])
    got = _one(_sample_node(k, frac), [cand, params4, rnd])
    assert got in [int(i) for i in cand[0, :, 1]]


def _topk_row(logits: list[int], k: int) -> np.ndarray:
    return _reference_blocks(np.array(logits), k, len(logits)).astype(np.int32)


def test_sample_greedy_is_the_argmax():
    cand = _topk_row([5, 9, 9, -3], 4)  # argmax 9 at index 1 (smallest index on the tie)
    for params4, rnd in [([4, 0, 4, 0], 12345), ([4, 100, 1, 0], 999), ([4, -7, 4, 0], 5), ([4, 100, 0, 0], 5),
                         ([4, 100, -3, 0], 5)]:
        assert _one(_sample_node(4, 0), [cand, _i32(params4), _i32([rnd])]) == 1
    padding = _i32([[[PAD_VALUE, PAD_INDEX]] * 3])
    assert _one(_sample_node(3, 0), [padding, _i32([4, 100, 3, 0]), _i32([7])]) == -1
    one_real = _i32([[[4, 17], [PAD_VALUE, PAD_INDEX]]])
    assert _one(_sample_node(2, 0), [one_real, _i32([4, 300, 2, 0]), _i32([I32_MAX])]) == 17


def _draw_tokens(logits: list[int], k: int, params4: list[int], steps: int, frac: int) -> list[int]:
    """A step's chain PRNG -> SAMPLE over a fixed candidate row, for steps 0 .. steps - 1."""
    cand = _topk_row(logits, k)
    sample = get_op(OpCode.SAMPLE)
    node = _sample_node(k, frac)
    out = []
    for step in range(steps):
        rnd = get_op(OpCode.PRNG).forward([_i32(params4)], _prng_node(step))
        out.append(int(sample.forward([cand, _i32(params4), rnd], node)[0]))
    return out


def test_sample_seeded_draws_are_reproducible_and_depend_on_the_seed():
    logits = [0, 1, 2, 3, 4, 5, 6, 7]
    a = _draw_tokens(logits, 8, [8, 100, 8, 7], 64, 2)
    assert a == _draw_tokens(logits, 8, [8, 100, 8, 7], 64, 2)
    assert a != _draw_tokens(logits, 8, [8, 100, 8, 8], 64, 2)
    assert len(set(a)) > 3


@pytest.mark.parametrize("temperature, top_k, frac", [(100, 4, 4), (50, 6, 4), (250, 8, 4), (100, 3, 0)])
def test_sample_frequencies_follow_softmax_over_the_top_k(temperature, top_k, frac):
    logits = [0, 13, -20, 40, 22, 30, 5, 39, 36, -8]  # real logits = q / 2^frac
    steps = 20000
    draws = _draw_tokens(logits, 8, [8, temperature, top_k, 2024], steps, frac)
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[:top_k]
    z = np.array([logits[i] / 2**frac / (temperature / 100) for i in order])
    p = np.exp(z - z.max())
    p /= p.sum()
    counts = {i: draws.count(i) for i in set(draws)}
    assert set(counts) <= set(order)  # nothing outside the top k
    for i, want in zip(order, p):
        got = counts.get(i, 0) / steps
        assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / steps) + 2e-3, (i, got, want)


def test_sample_weights_use_the_softmax_exp_at_exp_frac():
    """Two candidates 1 LSB apart at frac 0, temperature 1.00: w_1 / w_0 = e^-1 (to the Q30 exp's error), so the
    cut between them sits at rnd = 2^31 / (1 + e^-1); u crosses it exactly where w_0 * 2^31 / total lies."""
    from offchain.engine.intmath_act import exp_neg_q30_element
    w0, w1 = 1 << 30, exp_neg_q30_element(1 << EXP_FRAC, EXP_FRAC)
    assert abs(w1 / w0 - math.exp(-1)) < 1e-8
    total = w0 + w1
    cut = -(-(w0 << 31) // total)  # smallest rnd with (rnd * total) >> 31 >= w0
    cand = _topk_row([10, 9], 2)
    params4 = _i32([4, 100, 2, 0])
    assert _one(_sample_node(2, 0), [cand, params4, _i32([cut - 1])]) == 0
    assert _one(_sample_node(2, 0), [cand, params4, _i32([cut])]) == 1
    assert _one(_sample_node(2, 0), [cand, params4, _i32([I32_MAX])]) == 1
    assert _one(_sample_node(2, 0), [cand, params4, _i32([-1])]) == 1  # rnd mod 2^31 = I32_MAX
    assert _one(_sample_node(2, 0), [cand, params4, _i32([I32_MIN])]) == 0  # rnd mod 2^31 = 0


def test_sample_check_refuses_bad_nodes():
    op = get_op(OpCode.SAMPLE)
    with pytest.raises(ParamError, match="frac_logits"):
        op.check(_sample_node(4, MAX_FRAC_LOGITS + 1))
    with pytest.raises(ParamError, match="frac_logits"):
        op.check(_sample_node(4, -1))
    with pytest.raises(ParamError, match=f"k = {MAX_K + 1}"):
        op.check(_sample_node(MAX_K + 1, 0))
    ins = [spec((2, 4, 2), DType.INT32, 0), spec((4,), DType.INT32, 0), spec((1,), DType.INT32, 0)]
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.SAMPLE, ins, spec((1,), DType.INT32, 0), (0,)))


# ---------------------------------------------------------------------------------------------------- GEN_STOP


def _stop_node(step: int, eos=()):
    ins = [spec((1,), DType.INT32, 0), spec((4,), DType.INT32, 0)] + ([spec((1,), DType.INT32, 0)] if step else [])
    return make_node(OpCode.GEN_STOP, ins, spec((1,), DType.INT32, 0), (step, *eos))


def _stop(tok: int, max_new: int, step: int, prev: int | None = None, eos=()) -> int:
    inputs = [_i32([tok]), _i32([max_new, 100, 40, 9])] + ([_i32([prev])] if step else [])
    return _one(_stop_node(step, eos), inputs)


@settings(max_examples=200, deadline=None)
@given(tok=I32_ANY, max_new=st.one_of(I32_ANY, st.integers(0, 8)), prev=st.one_of(I32_ANY, st.integers(-1, 4)),
       step=st.one_of(st.integers(0, 9), st.just(I32_MAX)),
       eos=st.lists(st.one_of(st.integers(-1, 4), I32_ANY), max_size=MAX_EOS))
def test_gen_stop_element_equals_forward_and_the_rule(tok, max_new, prev, step, eos):
    got = _stop(tok, max_new, step, prev, eos)
    stopped = step >= max_new or (step > 0 and (prev == -1 or prev in eos))
    assert got == (-1 if stopped else tok)


def test_gen_stop_eos_and_max_new_table():
    eos = (2, 50256)
    assert _stop(2, 4, 0, eos=eos) == 2                  # the EOS itself is emitted
    assert _stop(7, 4, 1, prev=2, eos=eos) == -1         # everything after it is -1
    assert _stop(7, 4, 2, prev=-1, eos=eos) == -1        # and stays -1
    assert _stop(7, 4, 3, prev=50255, eos=eos) == 7
    assert _stop(7, 4, 4, prev=5, eos=eos) == -1         # step 4 >= max_new 4
    assert _stop(7, 0, 0, eos=eos) == -1                 # max_new 0: nothing at all
    assert _stop(7, 1, 0) == 7 and _stop(7, 1, 1, prev=7) == -1
    assert _stop(-1, 4, 1, prev=5) == -1                 # a padding token passes through as -1


def test_gen_stop_check_refuses_bad_nodes():
    op = get_op(OpCode.GEN_STOP)
    with pytest.raises(ParamError, match="e <= 4"):
        op.check(_stop_node(1, (1, 2, 3, 4, 5)))
    with pytest.raises(ParamError, match="step"):
        op.check(_stop_node(-1))
    with pytest.raises(ParamError, match="EOS id"):
        op.check(_stop_node(1, (2**31,)))
    with pytest.raises(ParamError, match="inputs"):  # step > 0 needs prev
        op.check(make_node(OpCode.GEN_STOP, [spec((1,), DType.INT32, 0), spec((4,), DType.INT32, 0)],
                           spec((1,), DType.INT32, 0), (1,)))


def test_a_sampler_reading_the_request_bytes_takes_every_byte():
    """GEN_PARAMS reads every int8 (as q & 0xFF), so a model whose request input it reads has the full domain: no
    request is refused, and none needs to be."""
    from offchain.engine.domain import InputDomain, input_domain
    from offchain.models.sampler import sampler_model

    assert input_domain(sampler_model().graph) == InputDomain(1, -128, 127)
