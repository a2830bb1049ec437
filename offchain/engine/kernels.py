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
    """The instruction set the C kernel uses ("avx512vnni" or "avx2"), or "numpy" when it is off."""
    return _c.isa() if _enabled else "numpy"


def isas() -> list[str]:
    """Every instruction set the C kernel can use on this CPU (tests run each)."""
    if not AVAILABLE:
        return []
    best = _c.isa()
    return ["avx2", "avx512vnni"][: 2 if best == "avx512vnni" else 1]


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


def _c_matmul_2d(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """[M, K] x [N, K] -> [M, N] int64 through the C kernel (int8 or int16 on each side)."""
    if a.dtype.itemsize == 1 and b_t.dtype.itemsize == 2:  # the int8 side goes second: (b a^T)^T
        return _c_matmul_2d(b_t, a).T
    out = np.zeros((a.shape[0], b_t.shape[0]), dtype=np.int64)
    matmul = _c.matmul_i16_i8 if b_t.dtype.itemsize == 1 else _c.matmul_i16_i16
    matmul(np.ascontiguousarray(a, dtype=np.int16), np.ascontiguousarray(b_t), out, _threads)
    return out


def matmul_exact(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """``a @ b_t.swapaxes(-1, -2)`` exactly, as int64.

    ``a`` [..., M, K] and ``b_t`` [..., N, K] (b's rows contiguous, torch's ``[out, in]``); a 2-D ``b_t`` is shared
    by every leading index of ``a`` (LINEAR), otherwise the leading dims match (MATMUL). Integer dtypes only.
    """
    if not (_enabled and _c_pair(a, b_t)):
        return reference_matmul(a, b_t)
    k = a.shape[-1]
    if b_t.ndim == 2:
        rows = a.reshape(-1, k)
        return _c_matmul_2d(rows, b_t).reshape(a.shape[:-1] + (b_t.shape[0],))
    lead = a.shape[:-2]
    a3, b3 = a.reshape((-1,) + a.shape[-2:]), b_t.reshape((-1,) + b_t.shape[-2:])
    out = np.stack([_c_matmul_2d(x, y) for x, y in zip(a3, b3)]) if len(a3) else \
        np.zeros((0, a.shape[-2], b_t.shape[-2]), np.int64)
    return out.reshape(lead + out.shape[-2:])
