"""The KV-cache ops (offchain/engine/ops/cache.py): each op's forward equals its element rule on hypothesis draws
and on edge values; CAT_MATMUL equals MATMUL on the explicit concatenation of its blocks (both axes, every dtype
pair MATMUL accepts, saturating shifts); ATTN_BIAS and ALIGN_END equal a loop written from genspec.md's
definition; check() refuses each bad node with the named error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.cache import MAX_ALIGN_IDS, MAX_BIAS_KEYS, MAX_BLOCKS, MAX_CAT_K

from .op_harness import check_elements, make_node, random_tensor, spec

DTYPES = [DType.INT8, DType.INT16, DType.INT32]
INT32_EDGES = [-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 2, 2**31 - 1]


# ------------------------------------------------------------------------------------------------ CAT_MATMUL


def _cat_case(lead, m, k_or_n, sizes, axis, da, db, dout, fa, fb, fo):
    """(CAT_MATMUL node, the equivalent MATMUL node): blocks of ``sizes`` rows (axis 0) / columns (axis 1)."""
    lead = tuple(lead)
    a_spec = spec(lead + (m, k_or_n if axis == 0 else sum(sizes)), da, fa)
    if axis == 0:
        blocks = [spec(lead + (s, k_or_n), db, fb) for s in sizes]
        n, k = sum(sizes), k_or_n
    else:
        blocks = [spec(lead + (k_or_n, s), db, fb) for s in sizes]
        n, k = k_or_n, sum(sizes)
    out = spec(lead + (m, n), dout, fo)
    cat = make_node(OpCode.CAT_MATMUL, [a_spec] + blocks, out, (axis,))
    mat = make_node(OpCode.MATMUL, [a_spec, spec(lead + (n, k), db, fb)], out)
    return cat, mat


def _check_equals_matmul(cat, mat, inputs, axis):
    """forward == element on every element, and both equal MATMUL on the concatenated b (forward and element)."""
    out = check_elements(cat, inputs, range(cat.output.size))
    b = np.concatenate(inputs[1:], axis=-2 if axis == 0 else -1)
    want = check_elements(mat, [inputs[0], b], range(mat.output.size))
    np.testing.assert_array_equal(out, want)
    return out


@st.composite
def _cat_draw(draw):
    axis = draw(st.sampled_from([0, 1]))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    m = draw(st.integers(1, 3))
    k_or_n = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=5))
    da, db, dout = (draw(st.sampled_from(DTYPES)) for _ in range(3))
    fa, fb, fo = (draw(st.integers(-4, 16)) for _ in range(3))
    edge = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return axis, lead, m, k_or_n, sizes, da, db, dout, fa, fb, fo, edge, seed


@settings(max_examples=150, deadline=None)
@given(_cat_draw())
def test_cat_matmul_forward_equals_element_and_matmul(draw):
    axis, lead, m, k_or_n, sizes, da, db, dout, fa, fb, fo, edge, seed = draw
    cat, mat = _cat_case(lead, m, k_or_n, sizes, axis, da, db, dout, fa, fb, fo)
    try:
        get_op(OpCode.MATMUL).check(mat)
    except (DtypeMismatchError, ParamError):
        # MATMUL refuses this node (accumulator or shift), so CAT_MATMUL must refuse it too, with the same error.
        with pytest.raises((DtypeMismatchError, ParamError)):
            get_op(OpCode.CAT_MATMUL).check(cat)
        assume(False)
    rng = np.random.default_rng(seed)
    inputs = [random_tensor(rng, s, edge=edge) for s in cat.in_specs]
    _check_equals_matmul(cat, mat, inputs, axis)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("da,db", [(DType.INT8, DType.INT8), (DType.INT16, DType.INT8), (DType.INT16, DType.INT16),
                                   (DType.INT32, DType.INT8), (DType.INT32, DType.INT16)])
@pytest.mark.parametrize("dout,shift", [(DType.INT8, 0), (DType.INT16, -3), (DType.INT32, 7), (DType.INT32, -31),
                                        (DType.INT8, 30)])
def test_cat_matmul_saturates_like_matmul_on_extremes(axis, da, db, dout, shift):
    """Every operand at its dtype's min / max (the largest |accumulator| MATMUL allows), plus 0 / -1 rows: the
    products saturate (or round) exactly as MATMUL's do."""
    sizes = [1, 3, 1, 2] if axis == 0 else [2, 1, 1, 4]
    cat, mat = _cat_case((2,), 3, 5, sizes, axis, da, db, dout, 4, shift, 4)
    rng = np.random.default_rng(7)
    a = rng.choice([da.qmin, da.qmax], size=cat.in_specs[0].shape).astype(da.numpy)
    a[0, 0] = 0
    a[1, 2] = -1
    blocks = [rng.choice([db.qmin, db.qmax], size=s.shape).astype(db.numpy) for s in cat.in_specs[1:]]
    blocks[0][...] = db.qmin  # min * min is the largest positive product
    out = _check_equals_matmul(cat, mat, [a] + blocks, axis)
    if shift <= 0:
        assert {int(dout.qmin), int(dout.qmax)} & set(out.reshape(-1).tolist()), "no element saturated"


def test_cat_matmul_one_block_is_matmul():
    for axis in (0, 1):
        cat, mat = _cat_case((), 4, 6, [5], axis, DType.INT16, DType.INT8, DType.INT32, 8, 6, 10)
        rng = np.random.default_rng(axis)
        inputs = [random_tensor(rng, s, edge=True) for s in cat.in_specs]
        _check_equals_matmul(cat, mat, inputs, axis)


def test_cat_matmul_ranges_name_the_holding_block():
    """axis 0 reads a's row and the one row of the block holding column n; axis 1 a's row and one run per block."""
    cat, _ = _cat_case((2,), 1, 4, [3, 1, 2], 0, DType.INT16, DType.INT16, DType.INT16, 0, 0, 0)
    op = get_op(OpCode.CAT_MATMUL)
    # batch 1, row 0, column 3 -> block 1 (rows 3..3), its row 0 of batch 1
    assert op.operand_ranges(cat, 1 * 6 + 3) == [(0, 4, 4), (2, 4, 4)]
    # batch 1, column 5 -> block 2, its row 1 of batch 1 (batch 1 starts at row 2)
    assert op.operand_ranges(cat, 1 * 6 + 5) == [(0, 4, 4), (3, (2 + 1) * 4, 4)]
    cat, _ = _cat_case((2,), 1, 3, [3, 1, 2], 1, DType.INT16, DType.INT16, DType.INT16, 0, 0, 0)
    # batch 1, column n = 2: a's row of K' = 6, then b_i[1, 2, 0:K_i]
    assert op.operand_ranges(cat, 1 * 3 + 2) == [(0, 6, 6), (1, (3 + 2) * 3, 3), (2, 5, 1), (3, 10, 2)]


def _refuses(node, error, match):
    with pytest.raises(error, match=match):
        get_op(node.op).check(node)


def test_cat_matmul_refusals():
    i8, i16, i32 = DType.INT8, DType.INT16, DType.INT32
    a = spec((2, 4), i16, 0)
    b = spec((3, 4), i16, 0)
    out = spec((2, 6), i32, 0)
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, b], out, (2,)), ParamError, "axis")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, b], out, ()), ParamError, "params")
    _refuses(make_node(OpCode.CAT_MATMUL, [a], spec((2, 0), i32, 0), (0,)), ParamError, "at least one block")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, spec((3, 4), i8, 0)], out, (0,)), DtypeMismatchError, "block 1")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, spec((3, 4), i16, 1)], out, (0,)), DtypeMismatchError, "block 1")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, spec((3, 5), i16, 0)], out, (0,)), ShapeMismatchError, "K")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, spec((0, 4), i16, 0)], spec((2, 3), i32, 0), (0,)),
             ShapeMismatchError, "no rows")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, spec((1, 3, 4), i16, 0)], out, (0,)), ShapeMismatchError, "rank")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, b, b], spec((2, 5), i32, 0), (0,)), ShapeMismatchError, "output")
    # axis 1: rows must agree, columns must sum to a's K
    _refuses(make_node(OpCode.CAT_MATMUL, [a, spec((3, 2), i16, 0), spec((4, 2), i16, 0)], spec((2, 3), i32, 0),
                       (1,)), ShapeMismatchError, "rows")
    _refuses(make_node(OpCode.CAT_MATMUL, [a, spec((3, 2), i16, 0), spec((3, 3), i16, 0)], spec((2, 3), i32, 0),
                       (1,)), ShapeMismatchError, "sum to 5")
    # MATMUL's accumulator check (int32 x int32 needs 31 + 31 + bits(K') + 1 > 62 bits for any K')
    _refuses(make_node(OpCode.CAT_MATMUL, [spec((1, 2), i32, 0)] + [spec((1, 1), i32, 0)] * 2, spec((1, 1), i32, 0),
                       (1,)), DtypeMismatchError, "accumulator")
    _refuses(make_node(OpCode.CAT_MATMUL, [spec((1, 4), i16, 40), spec((1, 4), i16, 40)], spec((1, 1), i32, 0),
                       (0,)), ParamError, "shift")


def test_cat_matmul_caps():
    i16, i32 = DType.INT16, DType.INT32
    ok = [spec((4, 1), i16, 0)] * MAX_BLOCKS
    make = lambda blocks, k: make_node(OpCode.CAT_MATMUL, [spec((1, k), i16, 0)] + blocks,  # noqa: E731
                                       spec((1, 4), i32, 0), (1,))
    get_op(OpCode.CAT_MATMUL).check(make(ok, MAX_BLOCKS))
    _refuses(make(ok + ok[:1], MAX_BLOCKS + 1), ParamError, f"MAX_BLOCKS = {MAX_BLOCKS}")
    big = [spec((4, MAX_CAT_K), i16, 0)]
    get_op(OpCode.CAT_MATMUL).check(make(big, MAX_CAT_K))
    _refuses(make([spec((4, MAX_CAT_K + 1), i16, 0)], MAX_CAT_K + 1), ParamError, "MAX_CAT_K")


# ------------------------------------------------------------------------------------------------- ATTN_BIAS


def _bias_reference(ids, pad_id, neg, q0, nq, g, nk):
    lead = 0
    for v in list(ids)[:min(len(ids), nk)]:
        if v != pad_id:
            break
        lead += 1
    rows = []
    for r in range(g * nq):
        q = q0 + r % nq
        rows.append([neg if (j > q or j < lead) else 0 for j in range(nk)])
    return np.array(rows)


def _bias_node(length, pad_id, neg, q0, nq, g, nk, dtype=DType.INT16, frac=1, out_shape=None):
    out = spec(out_shape or (g * nq, nk), dtype, frac)
    return make_node(OpCode.ATTN_BIAS, [spec((1, length), DType.INT32, 0)], out, (pad_id, neg, q0, nq, g))


@st.composite
def _bias_draw(draw):
    length = draw(st.integers(1, 12))
    pad_id = draw(st.sampled_from(INT32_EDGES + [2, 32000]))
    n_pad = draw(st.integers(0, length))
    other = st.one_of(st.sampled_from(INT32_EDGES), st.integers(-5, 40))
    tail = draw(st.lists(other, min_size=length - n_pad, max_size=length - n_pad))
    ids = [pad_id] * n_pad + tail
    if draw(st.booleans()):
        ids = draw(st.permutations(ids))  # pads anywhere, not only leading
    dtype = draw(st.sampled_from(DTYPES))
    neg = draw(st.sampled_from([dtype.qmin, dtype.qmax, -1, 0, 1, -20000 if dtype != DType.INT8 else -100]))
    nk = draw(st.integers(1, 14))
    nq = draw(st.integers(1, 5))
    g = draw(st.integers(1, 3))
    q0 = draw(st.one_of(st.integers(0, 16), st.just(2**31 - 1)))
    return length, pad_id, ids, dtype, neg, nk, nq, g, q0


@settings(max_examples=200, deadline=None)
@given(_bias_draw())
def test_attn_bias_forward_equals_element_and_definition(draw):
    length, pad_id, ids, dtype, neg, nk, nq, g, q0 = draw
    node = _bias_node(length, pad_id, neg, q0, nq, g, nk, dtype, 3)
    x = np.array([ids], dtype=np.int32)
    out = check_elements(node, [x], range(node.output.size))
    np.testing.assert_array_equal(out, _bias_reference(ids, pad_id, neg, q0, nq, g, nk))


def test_attn_bias_prefill_and_decode_shapes():
    """The builder's two uses: prefill (q0 = 0, nq = nk = T, g heads) and decode at position p (nq = 1, nk = p+1)."""
    t, pad, neg = 6, 0, -20000
    ids = np.array([[0, 0, 5, 7, 0, 9]], dtype=np.int32)  # 2 leading pads; the inner 0 is a token
    pre = _bias_node(t, pad, neg, 0, t, 2, t, out_shape=(2, t, t))  # [g, nq, nk] also accepted (same flat order)
    out = check_elements(pre, [ids], range(pre.output.size)).reshape(2 * t, t)
    for r in range(2 * t):
        q = r % t
        assert out[r].tolist() == [neg if (j > q or j < 2) else 0 for j in range(t)]
    for p in (t, t + 3):
        dec = _bias_node(t, pad, neg, p, 1, 4, p + 1)
        out = check_elements(dec, [ids], range(dec.output.size))
        assert out.tolist() == [[neg, neg] + [0] * (p - 1)] * 4  # keys j >= L are never pads
    allpad = np.zeros((1, t), dtype=np.int32)
    dec = _bias_node(t, pad, neg, t, 1, 1, t + 2)  # nk past q + 1: key t + 1 is in the future
    assert check_elements(dec, [allpad], range(dec.output.size)).tolist() == [[neg] * t + [0, neg]]
    short = _bias_node(t, pad, neg, 0, 3, 1, 3)  # nk < L: only ids[0:3] count
    assert check_elements(short, [allpad], range(short.output.size)).tolist() == [[neg] * 3] * 3
    assert get_op(OpCode.ATTN_BIAS).operand_ranges(short, 4) == [(0, 0, 3)]


def test_attn_bias_refusals():
    _refuses(_bias_node(4, 0, -129, 0, 4, 1, 4, DType.INT8), ParamError, "neg -129")
    _refuses(_bias_node(4, 0, 32768, 0, 4, 1, 4, DType.INT16), ParamError, "neg 32768")
    _refuses(_bias_node(4, 2**31, -1, 0, 4, 1, 4), ParamError, "pad_id")
    _refuses(_bias_node(4, 0, -1, -1, 4, 1, 4), ParamError, "q0")
    _refuses(_bias_node(4, 0, -1, 2**31, 4, 1, 4), ParamError, "q0")
    _refuses(_bias_node(4, 0, -1, 0, 0, 1, 4, out_shape=(1, 4)), ParamError, "nq")
    _refuses(_bias_node(4, 0, -1, 0, 4, 0, 4, out_shape=(4, 4)), ParamError, "g")
    _refuses(_bias_node(4, 0, -1, 0, 4, 2, 4, out_shape=(4, 4)), ShapeMismatchError, "g \\* nq = 8")
    node = make_node(OpCode.ATTN_BIAS, [spec((4,), DType.INT32, 0)], spec((4, 4), DType.INT16, 0), (0, -1, 0, 4, 1))
    _refuses(node, ShapeMismatchError, "ids")
    node = make_node(OpCode.ATTN_BIAS, [spec((1, 4), DType.INT16, 0)], spec((4, 4), DType.INT16, 0), (0, -1, 0, 4, 1))
    _refuses(node, DtypeMismatchError, "ids")
    get_op(OpCode.ATTN_BIAS).check(_bias_node(MAX_BIAS_KEYS + 5, 0, -1, 0, 1, 1, MAX_BIAS_KEYS))  # reads nk ids
    _refuses(_bias_node(MAX_BIAS_KEYS + 1, 0, -1, 0, 1, 1, MAX_BIAS_KEYS + 1), ParamError, "MAX_BIAS_KEYS")


# ------------------------------------------------------------------------------------------------- ALIGN_END


def _align_node(shape, pad_id):
    return make_node(OpCode.ALIGN_END, [spec(shape, DType.INT32, 0)], spec(shape, DType.INT32, 0), (pad_id,))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_align_end_forward_equals_element_and_definition(data):
    t = data.draw(st.integers(1, 16))
    pad_id = data.draw(st.sampled_from(INT32_EDGES + [2, 32000]))
    value = st.one_of(st.just(pad_id), st.sampled_from(INT32_EDGES), st.integers(-3, 50))
    ids = data.draw(st.lists(value, min_size=t, max_size=t))
    if data.draw(st.booleans()):
        ids = ids + [pad_id] * data.draw(st.integers(0, 6))
    node = _align_node((1, len(ids)), pad_id)
    out = check_elements(node, [np.array([ids], dtype=np.int32)], range(len(ids)))
    s = 0
    while s < len(ids) and ids[len(ids) - 1 - s] == pad_id:
        s += 1
    assert out.reshape(-1).tolist() == [pad_id] * s + ids[:len(ids) - s]


def test_align_end_edges():
    pad = 2
    for ids, want in [([7, 8, 2, 2], [2, 2, 7, 8]), ([2, 2, 2], [2, 2, 2]), ([5, 6], [5, 6]),
                      ([2, 5, 2, 6, 2], [2, 2, 5, 2, 6]), ([2**31 - 1], [2**31 - 1]), ([2], [2])]:
        node = _align_node((1, len(ids)), pad)
        out = check_elements(node, [np.array([ids], dtype=np.int32)], range(len(ids)))
        assert out.reshape(-1).tolist() == want
    _refuses(_align_node((1, 4), 2**31), ParamError, "pad_id")
    _refuses(_align_node((1, 0), 0), ShapeMismatchError, "no element")
    _refuses(make_node(OpCode.ALIGN_END, [spec((1, 4), DType.INT32, 0)], spec((1, 5), DType.INT32, 0), (0,)),
             ShapeMismatchError, "output")
    _refuses(make_node(OpCode.ALIGN_END, [spec((1, 4), DType.INT16, 0)], spec((1, 4), DType.INT32, 0), (0,)),
             DtypeMismatchError, "ids")
    get_op(OpCode.ALIGN_END).check(_align_node((1, MAX_ALIGN_IDS), 0))
    _refuses(_align_node((1, MAX_ALIGN_IDS + 1), 0), ParamError, "MAX_ALIGN_IDS")


def test_no_cache_op_refuses_values():
    """Every value each operand's dtype allows has a result: no input domain narrows the request input."""
    nodes = [_cat_case((), 1, 2, [1, 1], 1, DType.INT8, DType.INT8, DType.INT32, 0, 0, 0)[0],
             _bias_node(3, 0, -1, 0, 3, 1, 3), _align_node((1, 3), 0)]
    for node in nodes:
        for slot in range(len(node.inputs)):
            assert get_op(node.op).input_domain(node, slot) is None
