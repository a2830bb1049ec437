"""Exact integer matrix products: the C kernel (offchain/engine/_kernels.c, AVX-512 VNNI or AVX2) or numpy.

``matmul_exact(a, b_t)`` is ``a @ b_t.swapaxes(-1, -2)`` as int64 for integer arrays whose products are exact in
int64 (the engine's nodes guarantee it). The C kernel takes int8/int16 x int8 operands (either side int8; the other
is widened to int16, which costs M x K, never the weight matrix) and int16 x int16 (the weight split exactly into
two int8-range halves inside the kernel); int32 operands, and every machine without the built extension or
without AVX2, take the numpy path (``reference_matmul``): float64 BLAS where the static bound
proves every partial sum exact, int64 matmul otherwise. Both give the same integers; tests/engine/test_kernels.py
checks that bit for bit.

Threads: ``OFFCHAIN_KERNEL_THREADS`` (default: the CPUs this process may run on), or :func:`set_threads`.
``OFFCHAIN_KERNEL=numpy`` (or :func:`forced_fallback`) turns the C kernel off, and with it the C row kernels
(offchain/engine/_rowops.c: SOFTMAX, LAYERNORM, RMSNORM), which :func:`rowops` hands to intmath_softmax and
intmath_norm; they need no AVX2 and give the numpy definitions' integers (tests/engine/test_rowops.py).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import numpy as np

try:
    from offchain.engine import _kernels as _c
except ImportError:  # not built (no compiler at install time): the numpy path gives the same integers
    _c = None
try:
    from offchain.engine import _rowops as _r
except ImportError:  # not built: intmath_softmax / intmath_norm run their numpy code, the same integers
    _r = None

#: float64 adds integers exactly while every partial sum stays below this.
FLOAT64_EXACT = 1 << 53

#: Whether the C kernel can run here (built, and the CPU has AVX2).
AVAILABLE: bool = _c is not None and bool(_c.avx2())

_requested = os.environ.get("OFFCHAIN_KERNEL", "").lower() != "numpy"
_enabled = AVAILABLE and _requested
_rowops_on = _r is not None and _requested
_threads = int(os.environ.get("OFFCHAIN_KERNEL_THREADS", "0")) or len(os.sched_getaffinity(0))


def isa() -> str:
    """The instruction set the C kernel uses ("amx", "avx512vnni" or "avx2"), or "numpy" when it is off."""
    return _c.isa() if _enabled else "numpy"


def isas() -> list[str]:
    """Every instruction set the C kernel can use on this CPU (tests run each)."""
    if not AVAILABLE:
        return []
    return list(_c.isas())


@contextlib.contextmanager
def forced_isa(name: str) -> Iterator[None]:
    """Run the block with the C kernel on instruction set ``name`` (at most what the CPU runs)."""
    before = _c.isa()
    _c.set_isa(name)
    try:
        yield
    finally:
        _c.set_isa(before)


def enabled() -> bool:
    """Whether :func:`matmul_exact` uses the C kernel for the operand pairs it takes."""
    return _enabled


def rowops():
    """The C row-kernel module (``softmax_rows``, ``norm_rows``) when it is built and not turned off, else None."""
    return _r if _rowops_on else None


def threads() -> int:
    """Threads the C kernel may use per product."""
    return _threads


def set_threads(n: int) -> None:
    """Let the C kernel use ``n`` >= 1 threads per product (results never depend on it)."""
    global _threads
    if n < 1:
        raise ValueError(f"kernel threads must be >= 1, got {n}")
    _threads = n


@contextlib.contextmanager
def forced_fallback() -> Iterator[None]:
    """Run the block on the numpy path, matrix products and row kernels alike (tests compare the two; the bench
    shows the gain)."""
    global _enabled, _rowops_on
    before = _enabled, _rowops_on
    _enabled = _rowops_on = False
    try:
        yield
    finally:
        _enabled, _rowops_on = before


def reference_matmul(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """``a @ b_t.swapaxes(-1, -2)`` exactly, as int64, with numpy.

    float64 BLAS when the static bound ``K * |a|max * |b|max < 2**53`` holds for the operands' dtypes (then every
    partial sum is an exactly representable integer, whatever order BLAS adds in), int64 matmul otherwise.
    """
    k = a.shape[-1]
    bound = k * (1 << (8 * a.dtype.itemsize - 1)) * (1 << (8 * b_t.dtype.itemsize - 1))
    if bound < FLOAT64_EXACT:
        out = np.matmul(a.astype(np.float64), np.swapaxes(b_t, -1, -2).astype(np.float64))
        return out.astype(np.int64)
    return np.matmul(a.astype(np.int64), np.swapaxes(b_t, -1, -2).astype(np.int64))


def _c_pair(a: np.ndarray, b_t: np.ndarray) -> bool:
    """Whether the C kernel takes this dtype pair: int8 or int16 on both sides."""
    return (a.dtype.kind == "i" and b_t.dtype.kind == "i" and max(a.dtype.itemsize, b_t.dtype.itemsize) <= 2
            and a.size > 0 and b_t.size > 0)


def _c_matmul(a: np.ndarray, b_t: np.ndarray, bias: np.ndarray | None, shift: int, out_dtype: np.dtype) -> np.ndarray:
    """The C kernel's ``requantise(a @ b_t^T + bias, shift)`` as ``out_dtype`` (int64: the exact sum, shift 0).

    ``a`` [..., M, K] and ``b_t`` [N, K] (shared) or [..., N, K]; int8 ``a`` is widened to int16 (M x K, the
    small side), and int16 ``b_t`` takes the kernel's exact split, so an int8 x int16 pair needs no transpose.
    """
    k = a.shape[-1]
    if b_t.ndim == 2:
        a3 = a.reshape(1, -1, k)
        b3 = b_t.reshape(1, b_t.shape[0], k)
        shape = a.shape[:-1] + (b_t.shape[0],)
    else:
        a3 = a.reshape((-1,) + a.shape[-2:])
        b3 = b_t.reshape((-1,) + b_t.shape[-2:])
        shape = a.shape[:-1] + (b_t.shape[-2],)
    out = np.empty((a3.shape[0], a3.shape[1], b3.shape[1]), dtype=out_dtype)
    _c.matmul(np.ascontiguousarray(a3, dtype=np.int16), np.ascontiguousarray(b3), bias, shift, out, _threads)
    return out.reshape(shape)


def matmul_exact(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """``a @ b_t.swapaxes(-1, -2)`` exactly, as int64.

    ``a`` [..., M, K] and ``b_t`` [..., N, K] (b's rows contiguous, torch's ``[out, in]``); a 2-D ``b_t`` is shared
    by every leading index of ``a`` (LINEAR), otherwise the leading dims match (MATMUL). Integer dtypes only.
    """
    if not (_enabled and _c_pair(a, b_t)):
        return reference_matmul(a, b_t)
    return _c_matmul(a, b_t, None, 0, np.dtype(np.int64))


def matmul_requantised(a: np.ndarray, b_t: np.ndarray, bias: np.ndarray | None, shift: int,
                       out_dtype: np.dtype) -> np.ndarray | None:
    """The C kernel's ``rescale(a @ b_t^T + bias, shift)`` saturated to int8/int16/int32 ``out_dtype`` in one pass
    (ops/fixed.py's rescale rule, applied in the kernel's epilogue while the sums are in cache), or None when the
    kernel does not take these operands (the caller then runs matmul_exact and rescale: the same integers).

    ``bias`` is None or int32 [N] (LINEAR's); ``shift`` in [-31, 62].
    """
    out_dtype = np.dtype(out_dtype)
    if not (_enabled and _c_pair(a, b_t)) or out_dtype.itemsize > 4 or out_dtype.kind != "i":
        return None
    if bias is not None:
        if bias.dtype != np.int32:
            return None
        bias = np.ascontiguousarray(bias)
    return _c_matmul(a, b_t, bias, shift, out_dtype)


#: ADD, SUB, MUL codes of the C ``binary`` function.
BINARY_OPS = {"add": 0, "sub": 1, "mul": 2}
#: A repeating operand smaller than this many elements is expanded first (the C loop works in runs of its size).
_MIN_REPEAT = 64


def _repeating(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` as a C-contiguous array whose flat values repeat to give ``np.broadcast_to(x, shape)``: itself when
    its shape is ones and then ``shape``'s trailing dims (or it has one element), else the broadcast expanded."""
    dims = (1,) * (len(shape) - x.ndim) + x.shape
    lead = next((j for j, d in enumerate(dims) if d != 1), len(dims))
    if x.size == 1 or (dims[lead:] == shape[lead:] and (x.size >= _MIN_REPEAT or x.size == int(np.prod(shape)))):
        return np.ascontiguousarray(x)
    return np.ascontiguousarray(np.broadcast_to(x, shape))


def binary(op: str, a: np.ndarray, b: np.ndarray, sa: int, sb: int, s: int, shape: tuple[int, ...],
           out_dtype: np.dtype) -> np.ndarray | None:
    """ADD / SUB / MUL's whole forward in one C pass: ``rescale((a << sa) +/- (b << sb), s)`` or
    ``rescale(a * b, s)`` over numpy broadcasting to ``shape``, saturated to int8/int16/int32 ``out_dtype``; None
    when the C module is off or the operands are not int8/16/32 (the caller then runs its numpy code: the same
    integers), also when a value is beyond rshift_round's bound (the numpy path then raises its error). The caller's
    checks keep every intermediate inside int64."""
    out_dtype = np.dtype(out_dtype)
    if not (_enabled and a.dtype.kind == "i" and b.dtype.kind == "i" and a.dtype.itemsize <= 4
            and b.dtype.itemsize <= 4 and out_dtype.kind == "i" and out_dtype.itemsize <= 4):
        return None
    out = np.empty(shape, out_dtype)
    if out.size and not _c.binary(_repeating(a, shape), _repeating(b, shape), BINARY_OPS[op], sa, sb, s, out,
                                   _threads):
        return None
    return out


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, s: int, out_dtype: np.dtype) -> np.ndarray | None:
    """ROPE's forward in one C pass: ``rescale(x * cos + rotate_half(x) * sin, s)`` for x [..., T, D] and tables
    [T, D], saturated to int8/int16/int32 ``out_dtype``; None when the C module is off, a dtype is not int8..int64,
    D exceeds 2048, or a value is beyond rshift_round's bound (the caller's numpy code then gives the same integers
    or raises its error)."""
    out_dtype = np.dtype(out_dtype)
    arrays = (x, cos, sin)
    if not (_enabled and all(a.dtype.kind == "i" for a in arrays) and cos.dtype == sin.dtype
            and out_dtype.kind == "i" and out_dtype.itemsize <= 4 and x.ndim >= 2 and x.shape[-1] <= 2048):
        return None
    t, d = x.shape[-2:]
    out = np.empty(x.shape, out_dtype)
    if out.size and not _c.rope(np.ascontiguousarray(x).reshape(-1, t, d), np.ascontiguousarray(cos),
                                np.ascontiguousarray(sin), s, out.reshape(-1, t, d), _threads):
        return None
    return out


def gather(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[x as unsigned bits]`` for int8/int16 ``x`` and a table of 2^bits entries (rolled by the caller so
    that entry u is the value at the input whose bits read u): the C module's threaded loop, or numpy's gather."""
    if _enabled and x.dtype.kind == "i" and x.dtype.itemsize in (1, 2) and table.size == 1 << (8 * x.dtype.itemsize):
        out = np.empty(x.shape, table.dtype)
        _c.gather(np.ascontiguousarray(x), np.ascontiguousarray(table), out, _threads)
        return out
    return table[x.view(f"u{x.dtype.itemsize}")]
