"""The C matmul kernel (offchain/engine/_kernels.c) against the int64 numpy reference, bit for bit.

Shapes include 1-row products (decode), odd K and N (vector and tile remainders), K across several int32
accumulation blocks, and operands at the dtype extremes: all-minimum operands make every vpmaddwd pair sum
+2^23, the worst case for an int32 lane, so a block that is too long overflows there first.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine import kernels
from offchain.engine.dtypes import DType
from offchain.engine.intmath_core import OperandRangeError
from offchain.engine.ops.fixed import exact_matmul_rescale, rescale

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="C kernel not built or CPU without AVX2")


@pytest.fixture(autouse=True, params=kernels.isas() or ["none"])
def isa(request):
    """Every test runs on each instruction set this CPU has (AVX2, and AVX-512 VNNI where present)."""
    if request.param == "none":
        yield request.param
        return
    with kernels.forced_isa(request.param):
        yield request.param

#: K values per int32 block in _kernels.c (KBLOCK); shapes below cross it.
KBLOCK = 1024
#: Bytes of int16 a per row block in _kernels.c (A_BLOCK_BYTES): a block holds A_BLOCK_BYTES // (2 K) rows.
A_BLOCK_BYTES = 1 << 20


def int64_reference(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.int64), np.swapaxes(b_t, -1, -2).astype(np.int64))


def fill(draw, shape: tuple[int, ...], dtype: np.dtype, seed: int) -> np.ndarray:
    """Random values, all minimum, all maximum, or a random mix of the two extremes."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["random", "min", "max", "extremes"]))
    if kind == "min":
        return np.full(shape, info.min, dtype)
    if kind == "max":
        return np.full(shape, info.max, dtype)
    if kind == "extremes":
        return np.where(rng.random(shape) < 0.5, info.min, info.max).astype(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


PAIRS = [(np.int16, np.int8), (np.int8, np.int8), (np.int8, np.int16), (np.int16, np.int16)]


@st.composite
def operands(draw, max_k: int = 80):
    a_dt, b_dt = draw(st.sampled_from(PAIRS))
    m = draw(st.integers(1, 9))
    n = draw(st.integers(1, 11))
    k = draw(st.integers(1, max_k))
    seed = draw(st.integers(0, 2**32 - 1))
    return fill(draw, (m, k), np.dtype(a_dt), seed), fill(draw, (n, k), np.dtype(b_dt), seed + 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operands())
def test_small_shapes_equal_int64_reference(ab):
    a, b = ab
    assert np.array_equal(kernels.matmul_exact(a, b), int64_reference(a, b))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operands(max_k=3 * KBLOCK + 40), st.integers(1, 3))
def test_long_k_across_blocks_and_threads(ab, threads):
    a, b = ab
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        assert np.array_equal(kernels.matmul_exact(a, b), int64_reference(a, b))
    finally:
        kernels.set_threads(before)


@pytest.mark.parametrize("k", [KBLOCK - 1, KBLOCK, KBLOCK + 15, 4 * KBLOCK + 7])
@pytest.mark.parametrize("value", [(-32768, -128), (32767, 127), (-32768, 127), (32767, -128)])
def test_extreme_operands_over_whole_blocks(k, value):
    """Every product at +-2^22: one int32 lane gets +-2^23 per step, the most a block may hold."""
    a = np.full((5, k), value[0], np.int16)
    b = np.full((6, k), value[1], np.int8)
    got = kernels.matmul_exact(a, b)
    assert np.array_equal(got, np.full((5, 6), k * value[0] * value[1], np.int64))


@pytest.mark.parametrize("k", [15, KBLOCK, 3 * KBLOCK + 9])
@pytest.mark.parametrize("value", [(-32768, -32768), (32767, 32767), (-32768, 32767), (32767, -32768),
                                   (-32768, 255), (-32768, -256), (-1, -1)])
def test_int16_by_int16_extremes(k, value):
    """int16 x int16: (-32768)^2 * 2 wraps an unsplit vpmaddwd; the split into hi/lo bytes must not."""
    a = np.full((3, k), value[0], np.int16)
    b = np.full((2, k), value[1], np.int16)
    assert np.array_equal(kernels.matmul_exact(a, b), np.full((3, 2), k * value[0] * value[1], np.int64))


@pytest.mark.parametrize("m,k,n", [(1, 4096, 1000), (128, 384, 130), (33, 2048 + 3, 67),
                                   (A_BLOCK_BYTES // (2 * 4096) * 2 + 5, 4096, 37),  # 2 row blocks + 5 rows
                                   (A_BLOCK_BYTES // (2 * 40960) + 1, 40960, 9)])  # blocks of 12 rows, 13 rows
def test_threaded_large_product(m, k, n):
    """Large enough to run on several threads (column ranges per thread, uneven last range)."""
    rng = np.random.default_rng(m * k * n)
    a = rng.integers(-32768, 32768, size=(m, k)).astype(np.int16)
    b = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    want = int64_reference(a, b)
    before = kernels.threads()
    try:
        for threads in (1, 2, 3, 7):
            kernels.set_threads(threads)
            assert np.array_equal(kernels.matmul_exact(a, b), want), threads
    finally:
        kernels.set_threads(before)


def test_batched_and_linear_leading_dims():
    """MATMUL's shared leading dims and LINEAR's 2-D weight under a [B, T, K] input."""
    rng = np.random.default_rng(7)
    a = rng.integers(-32768, 32768, size=(2, 3, 5, 37)).astype(np.int16)
    b = rng.integers(-128, 128, size=(2, 3, 4, 37)).astype(np.int8)
    assert np.array_equal(kernels.matmul_exact(a, b), int64_reference(a, b))
    x = rng.integers(-128, 128, size=(2, 7, 37)).astype(np.int8)
    w = rng.integers(-128, 128, size=(9, 37)).astype(np.int8)
    assert np.array_equal(kernels.matmul_exact(x, w), int64_reference(x, w))
    # a non-contiguous view (the executor may hand one over) is copied, not misread
    assert np.array_equal(kernels.matmul_exact(x[:, ::2], w), int64_reference(x[:, ::2], w))


def test_int32_operands_take_the_numpy_path(monkeypatch):
    """int32 operands are not the kernel's; the numpy path still returns exact integers."""
    monkeypatch.setattr(kernels, "_c_matmul", None)  # calling it would raise
    a32 = np.full((1, 3), -2**31, np.int32)
    assert np.array_equal(kernels.matmul_exact(a32, a32), np.full((1, 1), 3 * 2**62, np.int64))


def test_forced_fallback_equals_kernel():
    rng = np.random.default_rng(3)
    a = rng.integers(-32768, 32768, size=(3, 1500)).astype(np.int16)
    b = rng.integers(-128, 128, size=(5, 1500)).astype(np.int8)
    fast = kernels.matmul_exact(a, b)
    with kernels.forced_fallback():
        assert not kernels.enabled()
        slow = kernels.matmul_exact(a, b)
    assert kernels.enabled()
    assert np.array_equal(fast, slow)


def test_isa_choice_is_checked():
    with pytest.raises(ValueError, match="unknown ISA"):
        kernels._c.set_isa("sse9")


def test_c_entry_refuses_wrong_operands():
    """The C function checks dtypes, rank, shapes and the shift itself (it is reachable without kernels.py)."""
    c = kernels._c
    a = np.zeros((1, 2, 4), np.int16)
    b = np.zeros((1, 3, 4), np.int8)
    out = np.zeros((1, 2, 3), np.int64)
    with pytest.raises(TypeError, match="a must be"):
        c.matmul(a.astype(np.int32), b, None, 0, out, 1)
    with pytest.raises(TypeError, match="b must be"):
        c.matmul(a, b.astype(np.uint8).view(np.uint8), None, 0, out, 1)
    with pytest.raises(TypeError, match="b must be"):
        c.matmul(a, b.astype(np.int32), None, 0, out, 1)
    with pytest.raises(ValueError, match="do not match"):
        c.matmul(a, np.zeros((1, 3, 5), np.int8), None, 0, out, 1)
    with pytest.raises(ValueError, match="do not match"):
        c.matmul(a, b, None, 0, np.zeros((1, 3, 2), np.int64), 1)
    with pytest.raises(ValueError, match="do not match"):
        c.matmul(a, np.zeros((2, 3, 4), np.int8), None, 0, out, 1)  # b items neither 1 nor a's
    with pytest.raises(ValueError, match="do not match"):
        c.matmul(a, b, np.zeros(4, np.int32), 0, out, 1)  # bias of the wrong length
    with pytest.raises(TypeError, match="bias must be"):
        c.matmul(a, b, np.zeros(3, np.int64), 0, out, 1)
    with pytest.raises((TypeError, BufferError, ValueError)):
        c.matmul(a, b, None, 0, out.transpose(0, 2, 1), 1)  # not C-contiguous
    with pytest.raises(TypeError, match="out must be"):
        c.matmul(a, b, None, 0, np.zeros((2, 3), np.int32), 1)
    with pytest.raises(ValueError, match="shift"):
        c.matmul(a, b, None, 3, out, 1)  # an int64 out is the exact sum
    with pytest.raises(ValueError, match="shift"):
        c.matmul(a, b, None, 63, np.zeros((1, 2, 3), np.int16), 1)
    with pytest.raises(ValueError):
        kernels.set_threads(0)


@st.composite
def requant_case(draw):
    """Operands, an optional int32 bias, a shift in [-31, 62] and an output dtype, some chosen to saturate."""
    a, b = draw(operands(max_k=2 * KBLOCK + 40))
    n = b.shape[0]
    seed = draw(st.integers(0, 2**32 - 1))
    bias = fill(draw, (n,), np.dtype(np.int32), seed) if draw(st.booleans()) else None
    shift = draw(st.sampled_from([-31, -8, -1, 0, 1, 7, 15, 23, 40, 62]) | st.integers(-31, 62))
    out_dtype = draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32]))
    return a, b, bias, shift, out_dtype


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requant_case(), st.integers(1, 3))
def test_requantising_epilogue_equals_rescale(case, threads):
    """The kernel's epilogue (bias, rounding shift or exact left shift, saturation) is ops/fixed.py's rescale."""
    a, b, bias, shift, out_dtype = case
    want = int64_reference(a, b) + (0 if bias is None else bias.astype(np.int64))
    want = rescale(want, shift, out_dtype)
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        got = kernels.matmul_requantised(a, b, bias, shift, out_dtype.numpy)
    finally:
        kernels.set_threads(before)
    assert got.dtype == out_dtype.numpy
    assert np.array_equal(got, want)
    assert np.array_equal(exact_matmul_rescale(a, b, bias, shift, out_dtype), want)


def test_batched_requantised_items_and_shared_weights():
    """Items on separate threads (MATMUL's heads) and a shared 2-D weight under leading dims (LINEAR)."""
    rng = np.random.default_rng(11)
    a = rng.integers(-32768, 32768, size=(3, 12, 70, 32)).astype(np.int16)
    b = rng.integers(-32768, 32768, size=(3, 12, 90, 32)).astype(np.int16)
    for threads in (1, 2, 5):
        kernels.set_threads(threads)
        got = kernels.matmul_requantised(a, b, None, 14, np.int16)
        assert np.array_equal(got, rescale(int64_reference(a, b), 14, DType.INT16)), threads
    kernels.set_threads(len(os.sched_getaffinity(0)))
    w = rng.integers(-128, 128, size=(40, 32)).astype(np.int8)
    bias = rng.integers(-2**31, 2**31, size=40).astype(np.int32)
    got = kernels.matmul_requantised(a, w, bias, -2, np.int32)
    assert np.array_equal(got, rescale(int64_reference(a, w) + bias, -2, DType.INT32))
    assert kernels.matmul_requantised(a, w, bias.astype(np.int64), 3, np.int32) is None  # not the kernel's bias
    assert kernels.matmul_requantised(a.astype(np.int32), w, None, 3, np.int32) is None  # int32 operand


#: K values per AMX int32 block in _kernels.c (AMX_KBLOCK), and the fewest rows the AMX path takes (AMX_MIN_M).
AMX_KBLOCK = 32768
AMX_MIN_M = 16


@st.composite
def amx_case(draw):
    """Products the AMX path takes (at least AMX_MIN_M rows): row tiles of 16 with a remainder, 32-column steps
    with a remainder, K around the 64-value tile step and across AMX_KBLOCK; int8-valued a (one plane) and wide a
    (hi/lo planes); a requantisation as the epilogue's, or the exact int64 sum."""
    a_dt, b_dt = draw(st.sampled_from(PAIRS))
    m = draw(st.sampled_from([16, 17, 31, 32, 33, 48]) | st.integers(AMX_MIN_M, 70))
    n = draw(st.sampled_from([1, 15, 16, 17, 31, 32, 33, 64, 65]) | st.integers(1, 80))
    k = draw(st.sampled_from([1, 3, 63, 64, 65, 127, 128, 384, AMX_KBLOCK, AMX_KBLOCK + 65])
             | st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    a = fill(draw, (m, k), np.dtype(a_dt), seed)
    if a_dt == np.int16 and draw(st.booleans()):  # int16 holding int8 values: the one-plane path
        a = np.clip(a, -128, 127).astype(np.int16)
    b = fill(draw, (n, k), np.dtype(b_dt), seed + 1)
    bias = fill(draw, (n,), np.dtype(np.int32), seed + 2) if draw(st.booleans()) else None
    shift = draw(st.sampled_from([-9, 0, 1, 8, 15, 31, 62]) | st.integers(-31, 62))
    out_dtype = draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32, None]))
    return a, b, bias, shift, out_dtype


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amx_case(), st.integers(1, 3))
def test_tile_products_equal_reference(case, threads):
    """The AMX path (byte planes, VNNI-packed panels, the epilogue straight from the tiles or through int64 sums
    when K spans several blocks or the shift is a left shift) gives the reference's values; on the other ISAs the
    same shapes check the vector kernels."""
    a, b, bias, shift, out_dtype = case
    exact = int64_reference(a, b)
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        if out_dtype is None:
            got, want = kernels.matmul_exact(a, b), exact
        else:
            want = rescale(exact + (0 if bias is None else bias.astype(np.int64)), shift, out_dtype)
            got = kernels.matmul_requantised(a, b, bias, shift, out_dtype.numpy)
    finally:
        kernels.set_threads(before)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("k", [AMX_KBLOCK, 2 * AMX_KBLOCK + 69])
@pytest.mark.parametrize("a_value,b_value", [
    (np.int16(-32513), np.int16(-32513)),  # hi -128, lo 255 both: the mixed plane sum -65280 per k, the bound
    (np.int16(-32768), np.int16(-32768)), (np.int16(32767), np.int16(32767)), (np.int16(-32768), np.int8(-128)),
    (np.int16(32767), np.int8(-128)), (np.int8(-128), np.int8(-128)), (np.int8(-128), np.int16(-32513))])
def test_tile_planes_at_extremes_over_whole_blocks(k, a_value, b_value):
    """Every plane product at its largest over whole AMX blocks: with a = b = -32513 one int32 accumulator gains
    128 * 255 + 255 * 128 = 65280 per k-value, so a block of AMX_KBLOCK = 32768 ends at 2^31 - 8,388,608 (a block
    of 32960 would wrap, and this test would see it); K over two blocks and a tile-step remainder too."""
    a = np.full((AMX_MIN_M + 1, k), a_value, a_value.dtype)
    b = np.full((17, k), b_value, b_value.dtype)
    want = np.full((AMX_MIN_M + 1, 17), k * int(a_value) * int(b_value), np.int64)
    assert np.array_equal(kernels.matmul_exact(a, b), want)
    assert np.array_equal(kernels.matmul_requantised(a, b, None, 20, np.int32), rescale(want, 20, DType.INT32))


@pytest.mark.parametrize("m", [AMX_MIN_M - 1, AMX_MIN_M, 70])
def test_products_of_enough_rows_run_on_the_tiles(isa, m):
    """The AMX path, not a vector kernel, computes products of AMX_MIN_M rows or more where it is chosen (one job
    per thread and call), and no other ISA or shorter product reaches it: the tile tests above test the tiles."""
    rng = np.random.default_rng(m)
    a = rng.integers(-32768, 32768, size=(m, 100)).astype(np.int16)
    b = rng.integers(-128, 128, size=(40, 100)).astype(np.int8)
    before = kernels._c.amx_jobs()
    assert np.array_equal(kernels.matmul_exact(a, b), int64_reference(a, b))
    ran = kernels._c.amx_jobs() - before
    assert ran >= 1 if (isa == "amx" and m >= AMX_MIN_M) else ran == 0


def test_isas_name_the_cpu_whatever_is_forced(isa):
    """isas() is what the CPU runs, not the set a test forced (the ISA fixture's parameters come from it)."""
    with kernels.forced_isa("avx2"):
        assert kernels.isas()[-1] == kernels._c.isas()[-1] and kernels.isas()[0] == "avx2"
    assert isa in kernels.isas()


def test_python_threads_in_the_kernels_at_once_get_their_own_results(isa):
    """Several Python threads inside the kernels together (the GIL released): one takes the worker pool, the
    others run their whole batch on their own thread (with their own tile configuration on AMX); every result is
    its own product's, for tile-sized, vector-sized and elementwise work alike."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    cases = []
    for t in range(8):
        m = 48 if t % 2 else 3
        a = rng.integers(-32768, 32768, size=(m, 300)).astype(np.int16)
        b = rng.integers(-128, 128, size=(257, 300)).astype(np.int8)
        cases.append((a, b, rescale(int64_reference(a, b), 9, DType.INT16)))
    x = rng.integers(-32768, 32768, size=(1 << 17,)).astype(np.int16)

    def work(case):
        a, b, want = case
        for _ in range(5):
            assert np.array_equal(kernels.matmul_requantised(a, b, None, 9, np.int16), want)
            assert np.array_equal(kernels.binary("add", x, x, 0, 0, 1, x.shape, np.int16),
                                  _binary_reference("add", x, x, 0, 0, 1, DType.INT16))
        return True

    before = kernels.threads()
    kernels.set_threads(2)
    try:
        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(work, cases))
    finally:
        kernels.set_threads(before)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_computes_with_no_workers(isa):
    """After products started the pool's workers (which then poll), a fork child has none: the caller runs every
    job itself and gets the same values (on AMX the child keeps the parent's permission for the tile state)."""
    rng = np.random.default_rng(9)
    a = rng.integers(-32768, 32768, size=(64, 384)).astype(np.int16)
    b = rng.integers(-128, 128, size=(512, 384)).astype(np.int8)
    want = int64_reference(a, b)
    before = kernels.threads()
    kernels.set_threads(2)
    try:
        assert np.array_equal(kernels.matmul_exact(a, b), want)  # the workers exist and are polling now
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            ok = np.array_equal(kernels.matmul_exact(a, b), want)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        kernels.set_threads(before)


def _binary_reference(op: str, a: np.ndarray, b: np.ndarray, sa: int, sb: int, s: int, dtype: DType) -> np.ndarray:
    """ops/elementwise.py's numpy forward: int64 operands aligned by shifts, then rescale."""
    x, y = a.astype(np.int64), b.astype(np.int64)
    v = x * y if op == "mul" else (x << sa) + (1 if op == "add" else -1) * (y << sb)
    return rescale(np.broadcast_to(v, np.broadcast_shapes(a.shape, b.shape)), s, dtype)


@st.composite
def binary_case(draw):
    """ADD/SUB/MUL operands of any int dtypes at random or extreme values, shapes that broadcast either way
    (trailing blocks, size-1 dims in the middle, scalars), shifts across their whole ranges."""
    op = draw(st.sampled_from(["add", "sub", "mul"]))
    shape = tuple(draw(st.lists(st.integers(1, 70), min_size=1, max_size=3)))

    def operand_shape():
        dims = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else d for d in shape)
        return dims[draw(st.integers(0, len(dims))):]

    seed = draw(st.integers(0, 2**32 - 1))
    a = fill(draw, operand_shape(), np.dtype(draw(st.sampled_from([np.int8, np.int16, np.int32]))), seed)
    b = fill(draw, operand_shape(), np.dtype(draw(st.sampled_from([np.int8, np.int16, np.int32]))), seed + 1)
    sa, sb = (0, 0) if op == "mul" else (draw(st.integers(0, 30)), draw(st.integers(0, 30)))
    s = draw(st.sampled_from([-31, -1, 0, 1, 14, 30, 62]) | st.integers(-31, 62))
    return op, a, b, sa, sb, s, draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(binary_case())
def test_binary_equals_numpy_elementwise(case):
    """The C ADD/SUB/MUL pass gives the numpy forward's integers; where rshift_round refuses a value (|acc| >= 2^62,
    e.g. int32 min squared) it declines, so the numpy path raises the same error."""
    op, a, b, sa, sb, s, dtype = case
    shape = np.broadcast_shapes(a.shape, b.shape)
    got = kernels.binary(op, a, b, sa, sb, s, shape, dtype.numpy)
    try:
        want = _binary_reference(op, a, b, sa, sb, s, dtype)
    except OperandRangeError:
        assert got is None
        return
    assert got is not None and got.dtype == dtype.numpy and got.shape == shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("op,a_dt,b_dt,sa,sb,s", [
    ("add", np.int16, np.int16, 15, 14, 1),  # |f| + half = 2^30 + 2^29 + 1: the int32 chunks
    ("add", np.int16, np.int16, 15, 14, 30),  # + 2^29 = 2^31: one past them, the int64 chunks
    ("sub", np.int16, np.int16, 16, 15, 0),  # 2^31 + 2^30, and (2^15 - 1) 2^16 + 2^15 2^15 > 2^31 - 1: int64
    ("sub", np.int8, np.int16, 22, 15, 29),  # 2^29 + 2^30 + 2^28: int32
    ("mul", np.int16, np.int16, 0, 0, 30),  # (-2^15)^2 = 2^30, + 2^29: int32
    ("mul", np.int16, np.int32, 0, 0, 0),  # a short int32 operand at +-(2^15 - 1): int32 by its values
    ("add", np.int16, np.int32, 3, 0, 0),  # ... or past them (int32 extremes): int64
])
def test_binary_int32_chunks_at_their_bound(op, a_dt, b_dt, sa, sb, s):
    """ADD/SUB/MUL take int32 chunks only while |f| plus the rounding half stays inside int32 for every operand
    value; at and just past that bound the values equal numpy's, for extreme operands of both signs."""
    # every pair of values: a's rows each hold one value, b (a trailing block) all five
    a = np.repeat(np.array([np.iinfo(a_dt).min, np.iinfo(a_dt).max, -1, 0, 1], a_dt), 5).reshape(5, 5)
    if b_dt == np.int32 and op == "mul":
        b = np.array([-(2**15 - 1), 2**15 - 1, 7, -3, 0], np.int32)
    else:
        b = np.array([np.iinfo(b_dt).min, np.iinfo(b_dt).max, -1, 1, 0], b_dt)
    for dtype in (DType.INT8, DType.INT16, DType.INT32):
        got = kernels.binary(op, a, b, sa, sb, s, a.shape, dtype.numpy)
        assert np.array_equal(got, _binary_reference(op, a, b, sa, sb, s, dtype)), dtype


def test_binary_declines_values_rshift_round_refuses():
    a = np.full((3, 70), -2**31, np.int32)
    assert kernels.binary("mul", a, a, 0, 0, 1, a.shape, np.int32) is None  # 2^62
    assert kernels.binary("mul", a, a, 0, 0, 0, a.shape, np.int32) is not None  # no shift: saturated, as numpy
    assert kernels.binary("mul", a[:, :1] + 1, a, 0, 0, 1, a.shape, np.int32) is not None  # 2^62 - 2^31
    with pytest.raises(ValueError, match="divide"):
        kernels._c.binary(np.zeros(3, np.int16), np.zeros(2, np.int16), 0, 0, 0, 0, np.zeros(4, np.int16), 1)
    with pytest.raises(ValueError, match="op"):
        kernels._c.binary(np.zeros(4, np.int16), np.zeros(2, np.int16), 3, 0, 0, 0, np.zeros(4, np.int16), 1)


@st.composite
def activation_pair(draw):
    """MATMUL's operands: one b per item (the column-vector kernel's case on AVX-512 when K <= 256 and N >= 16),
    N across the 16- and 32-column vectors, K odd and even up to past one 127-pair lane block."""
    a_dt, b_dt = draw(st.sampled_from(PAIRS))
    items, m = draw(st.integers(1, 3)), draw(st.integers(1, 9))
    n = draw(st.sampled_from([15, 16, 17, 31, 32, 33, 64, 70]) | st.integers(1, 80))
    k = draw(st.sampled_from([1, 2, 31, 32, 33, 128, 253, 254, 255, 256, 257]) | st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    return fill(draw, (items, m, k), np.dtype(a_dt), seed), fill(draw, (items, n, k), np.dtype(b_dt), seed + 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activation_pair(), st.integers(1, 3), st.sampled_from([0, 1, 14, -3]))
def test_activation_products_equal_reference(ab, threads, shift):
    """Per-item b (attention's scores and mixes): exact sums and the requantised int16 output, on 1-3 threads
    (items split between threads, or columns when there are fewer items)."""
    a, b = ab
    want = int64_reference(a, b)
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        assert np.array_equal(kernels.matmul_exact(a, b), want)
        got = kernels.matmul_requantised(a, b, None, shift, np.int16)
    finally:
        kernels.set_threads(before)
    assert np.array_equal(got, rescale(want, shift, DType.INT16))


@pytest.mark.parametrize("items,m,n,k", [(1, 128, 100, 200), (1, 300, 33, 255)])
def test_activation_product_split_by_columns(items, m, n, k):
    """Fewer items than threads and enough work for threads: the columns are split, each thread packs b."""
    rng = np.random.default_rng(m + n + k)
    a = rng.integers(-32768, 32768, size=(items, m, k)).astype(np.int16)
    b = rng.integers(-32768, 32768, size=(items, n, k)).astype(np.int16)
    want = int64_reference(a, b)
    before = kernels.threads()
    try:
        for threads in (1, 2, 3, 7):
            kernels.set_threads(threads)
            assert np.array_equal(kernels.matmul_exact(a, b), want), threads
    finally:
        kernels.set_threads(before)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_binary_threads_split_anywhere(threads):
    """Thread ranges cut the output anywhere, also inside a repeating operand's period; values never change."""
    rng = np.random.default_rng(threads)
    a = rng.integers(-32768, 32768, size=(3, 301, 1001)).astype(np.int16)
    b = rng.integers(-2**31, 2**31, size=(301, 1001)).astype(np.int32)
    want = _binary_reference("add", a, b, 16, 0, 15, DType.INT16)
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        assert np.array_equal(kernels.binary("add", a, b, 16, 0, 15, a.shape, np.int16), want)
    finally:
        kernels.set_threads(before)


def _rope_reference(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, s: int, dtype: DType) -> np.ndarray:
    """ops/rope.py's numpy forward."""
    x64, c, sn = (v.astype(np.int64) for v in (x, cos, sin))
    h = x.shape[-1] // 2
    rotated = np.concatenate([-x64[..., h:], x64[..., :h]], axis=-1)
    return rescale(x64 * c + rotated * sn, s, dtype)


@st.composite
def rope_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    t, d = draw(st.integers(1, 9)), 2 * draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    x = fill(draw, lead + (t, d), np.dtype(draw(st.sampled_from([np.int8, np.int16, np.int32]))), seed)
    table = np.dtype(draw(st.sampled_from([np.int8, np.int16, np.int32])))
    cos, sin = fill(draw, (t, d), table, seed + 1), fill(draw, (t, d), table, seed + 2)
    s = draw(st.sampled_from([-31, 0, 1, 14, 30, 62]) | st.integers(-31, 62))
    return x, cos, sin, s, draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rope_case(), st.integers(1, 3))
def test_rope_equals_numpy_forward(case, threads):
    """ROPE's C pass gives the numpy forward's integers, and declines where rshift_round raises."""
    x, cos, sin, s, dtype = case
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        got = kernels.rope(x, cos, sin, s, dtype.numpy)
    finally:
        kernels.set_threads(before)
    try:
        want = _rope_reference(x, cos, sin, s, dtype)
    except OperandRangeError:
        assert got is None
        return
    assert got is not None and got.dtype == dtype.numpy and np.array_equal(got, want)


def test_rope_large_threaded():
    rng = np.random.default_rng(5)
    x = rng.integers(-32768, 32768, size=(1, 32, 128, 128)).astype(np.int16)
    cos, sin = (rng.integers(-2**14, 2**14, size=(128, 128)).astype(np.int16) for _ in range(2))
    want = _rope_reference(x, cos, sin, 14, DType.INT16)
    for threads in (1, 2):
        kernels.set_threads(threads)
        assert np.array_equal(kernels.rope(x, cos, sin, 14, np.int16), want)
    kernels.set_threads(len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("out_dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gather_reads_entry_by_bits(dtype, out_dtype, threads):
    """Activation tables: entry u for the input whose two's-complement bits read u, every input value, threads."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    table = rng.integers(np.iinfo(out_dtype).min, np.iinfo(out_dtype).max, size=1 << info.bits,
                         endpoint=True).astype(out_dtype)
    every = np.arange(info.min, info.max + 1).astype(dtype)
    x = np.concatenate([every, rng.integers(info.min, info.max + 1, size=300_000).astype(dtype)])
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        got = kernels.gather(x.reshape(-1, 7, 1) if x.size % 7 == 0 else x, table).reshape(-1)
    finally:
        kernels.set_threads(before)
    assert got.dtype == out_dtype
    assert np.array_equal(got, table[x.astype(np.int64) & ((1 << info.bits) - 1)])
    with pytest.raises(ValueError, match="gather"):
        kernels._c.gather(x, table[:-1], np.empty(x.shape, out_dtype), 1)
