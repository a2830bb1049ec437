"""Circuit builders for private nodes: descriptor + the engine's integer values -> constraint system + witness.

Each builder range-checks the input, weights and output (so their packings
are injective), multiplies with one constraint per weight x activation
product, applies the engine's requantisation exactly (``gadgets.requantize``),
hashes input, output and weights with Poseidon chains and exposes one public
signal ``Poseidon(in_hash, out_hash, commitment)``. The same code run with
``witness_only=True`` gives the prover's witness without the constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from offchain.engine.intmath_core import requantize as engine_requantize
from offchain.zk.gadgets import Saturation, chain_gadget, pack_lcs, pack_values, poseidon_gadget, requantize, signed_var
from offchain.zk.loreft import check_loreft
from offchain.zk.private import Descriptor, LinearDescriptor, LoreftDescriptor, PrivateNodeError, dtype_of_bits
from offchain.zk.poseidon import TENSOR_RATE, WEIGHT_RATE
from offchain.zk.r1cs import LC, ConstraintSystem, lc_add


@dataclass
class Built:
    """A built circuit: the system (with witness), the output values, and the hashes behind the public signal."""

    cs: ConstraintSystem
    output: np.ndarray
    in_hash: int
    out_hash: int
    commitment: int
    signal: int


def _sat(bits: int) -> Saturation:
    return Saturation(qmin=-(1 << (bits - 1)), qmax=(1 << (bits - 1)) - 1, bits=bits)


def _signed_vars(cs: ConstraintSystem, values: Sequence[int], bits: int) -> list[LC]:
    return [signed_var(cs, int(v), bits) for v in values]


def _check_shape(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
    if tuple(arr.shape) != shape:
        raise PrivateNodeError(f"{name} has shape {tuple(arr.shape)}, descriptor needs {shape}")


def _check_rows(name: str, arr: np.ndarray, rows: int, width: int) -> None:
    """``arr`` is ``[..., width]`` with ``rows`` rows in all (leading dims flattened)."""
    if arr.ndim < 1 or arr.shape[-1] != width or arr.size != rows * width:
        raise PrivateNodeError(f"{name} has shape {tuple(arr.shape)}, descriptor needs [..., {width}] "
                               f"with {rows} rows")


def _hash(cs: ConstraintSystem, lcs: list[LC], values: Sequence[int], bits: int) -> tuple[LC, int]:
    return chain_gadget(cs, pack_lcs(lcs, bits), pack_values(values, bits), TENSOR_RATE)


def _finish(cs: ConstraintSystem, x_lcs: list[LC], x_vals: list[int], x_bits: int,
            out_lcs: list[LC], out_vals: list[int], out_bits: int,
            w_lcs: list[LC], w_elems: list[int]) -> tuple[int, int, int, int]:
    in_lc, in_h = _hash(cs, x_lcs, x_vals, x_bits)
    out_lc, out_h = _hash(cs, out_lcs, out_vals, out_bits)
    com_lc, com = chain_gadget(cs, w_lcs, w_elems, WEIGHT_RATE)
    sig_lc, sig = poseidon_gadget(cs, [in_lc, out_lc, com_lc], [in_h, out_h, com])
    cs.set_public(0, sig_lc)
    return in_h, out_h, com, sig


def build_linear(desc: LinearDescriptor, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                 witness_only: bool = False, cheat: dict[int, dict[str, int]] | None = None) -> Built:
    """Private LINEAR circuit for ``x [rows, k]``, ``W [n, k]``, ``b [n]``; ``cheat`` (tests) maps output index -> overrides."""
    _check_rows("x", x, desc.rows, desc.k)
    _check_shape("W", w, (desc.n, desc.k))
    if desc.has_bias != (b is not None):
        raise PrivateNodeError(f"descriptor has_bias={desc.has_bias} but bias {'given' if b is not None else 'missing'}")
    cs = ConstraintSystem(1, witness_only=witness_only)
    xv = x.reshape(desc.rows, desc.k).astype(np.int64)
    x_vals = xv.reshape(-1).tolist()
    w_vals = w.reshape(-1).astype(np.int64).tolist()
    x_lcs = _signed_vars(cs, x_vals, desc.x_bits)
    w_lcs = _signed_vars(cs, w_vals, desc.w_bits)
    b_vals = b.astype(np.int64).tolist() if b is not None else []
    b_lcs = _signed_vars(cs, b_vals, 32)
    acc = xv @ w.astype(np.int64).T + (np.asarray(b_vals, dtype=np.int64) if b is not None else 0)
    bound = desc.k * (1 << (desc.x_bits - 1)) * (1 << (desc.w_bits - 1)) + (1 << 31 if b is not None else 0)
    sat = _sat(desc.out_bits)
    out_lcs, out_vals = [], []
    for m in range(desc.rows):
        for n in range(desc.n):
            terms = []
            for kk in range(desc.k):
                xi, wi = m * desc.k + kk, n * desc.k + kk
                p = cs.var(x_vals[xi] * w_vals[wi])
                cs.enforce(x_lcs[xi], w_lcs[wi], {p: 1})
                terms.append((1, {p: 1}))
            if b is not None:
                terms.append((1, b_lcs[n]))
            lc, v = requantize(cs, lc_add(*terms), int(acc[m, n]), bound, desc.shift, sat,
                               cheat=(cheat or {}).get(m * desc.n + n))
            out_lcs.append(lc)
            out_vals.append(v)
    w_elems = pack_values(w_vals, desc.w_bits) + pack_values(b_vals, 32)
    w_elem_lcs = pack_lcs(w_lcs, desc.w_bits) + pack_lcs(b_lcs, 32)
    in_h, out_h, com, sig = _finish(cs, x_lcs, x_vals, desc.x_bits, out_lcs, out_vals, desc.out_bits,
                                    w_elem_lcs, w_elems)
    out = np.asarray(out_vals, dtype=np.int64).reshape(desc.rows, desc.n)
    return Built(cs, out, in_h, out_h, com, sig)


def build_loreft(desc: LoreftDescriptor, h: np.ndarray, r_mat: np.ndarray, w_mat: np.ndarray, b: np.ndarray,
                 witness_only: bool = False, cheat: dict[int, dict[str, int]] | None = None) -> Built:
    """Private LoReFT circuit (definition in ``offchain.zk.loreft``); ``cheat`` maps output index -> overrides."""
    check_loreft(h, r_mat, w_mat, b)
    _check_rows("h", h, desc.rows, desc.d)
    _check_shape("R", r_mat, (desc.r, desc.d))
    cs = ConstraintSystem(1, witness_only=witness_only)
    d, r, s = desc.d, desc.r, desc.shift
    hv = h.reshape(desc.rows, d).astype(np.int64)
    rv, wv, bv = r_mat.astype(np.int64), w_mat.astype(np.int64), b.astype(np.int64)
    h_vals, r_vals, w_vals, b_vals = (a.reshape(-1).tolist() for a in (hv, rv, wv, bv))
    h_lcs = _signed_vars(cs, h_vals, desc.h_bits)
    r_lcs = _signed_vars(cs, r_vals, 8)
    w_lcs = _signed_vars(cs, w_vals, 8)
    b_lcs = _signed_vars(cs, b_vals, 32)
    diff = (wv - rv).reshape(-1).tolist()
    sat = _sat(desc.h_bits)
    dtype = dtype_of_bits(desc.h_bits).numpy
    hmax = 1 << (desc.h_bits - 1)
    z_bound = d * hmax * 256 + (1 << 31)
    out_bound = (hmax << s) + r * 128 * hmax
    z = hv @ (wv - rv).T + bv
    e = engine_requantize(z, s, dtype).astype(np.int64)
    acc2 = (hv << s) + e @ rv
    out_lcs, out_vals = [], []
    for m in range(desc.rows):
        hrow = m * d
        e_lcs, e_vals = [], []
        for k in range(r):
            terms = []
            prods = cs.vars(diff[k * d + j] * h_vals[hrow + j] for j in range(d))
            for j in range(d):
                cs.enforce(lc_add((1, w_lcs[k * d + j]), (-1, r_lcs[k * d + j])), h_lcs[hrow + j], {prods + j: 1})
            terms = {prods + j: 1 for j in range(d)}
            lc, v = requantize(cs, lc_add((1, terms), (1, b_lcs[k])), int(z[m, k]), z_bound, s, sat)
            e_lcs.append(lc)
            e_vals.append(v)
        for j in range(d):
            prods = cs.vars(r_vals[k * d + j] * e_vals[k] for k in range(r))
            for k in range(r):
                cs.enforce(r_lcs[k * d + j], e_lcs[k], {prods + k: 1})
            acc_lc = lc_add((1 << s, h_lcs[hrow + j]), (1, {prods + k: 1 for k in range(r)}))
            lc, v = requantize(cs, acc_lc, int(acc2[m, j]), out_bound, s, sat,
                               cheat=(cheat or {}).get(m * d + j))
            out_lcs.append(lc)
            out_vals.append(v)
    w_elems = pack_values(r_vals, 8) + pack_values(w_vals, 8) + pack_values(b_vals, 32)
    w_elem_lcs = pack_lcs(r_lcs, 8) + pack_lcs(w_lcs, 8) + pack_lcs(b_lcs, 32)
    in_h, out_h, com, sig = _finish(cs, h_lcs, h_vals, desc.h_bits, out_lcs, out_vals, desc.h_bits,
                                    w_elem_lcs, w_elems)
    out = np.asarray(out_vals, dtype=np.int64).reshape(desc.rows, d)
    return Built(cs, out, in_h, out_h, com, sig)


def build(desc: Descriptor, inputs: np.ndarray, weights: Sequence[np.ndarray], witness_only: bool = False) -> Built:
    """Dispatch on the descriptor's kind; ``weights`` in commitment order (W[, b] or R, W, b)."""
    if isinstance(desc, LinearDescriptor):
        return build_linear(desc, inputs, weights[0], weights[1] if desc.has_bias else None, witness_only)
    return build_loreft(desc, inputs, *weights, witness_only=witness_only)
