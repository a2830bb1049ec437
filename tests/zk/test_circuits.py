"""Circuits enforce the engine's fixed-point rules exactly: honest witnesses satisfy them, cheats do not."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.intmath_core import requantize as engine_requantize
from offchain.zk.circuits import build, build_linear, build_loreft
from offchain.zk.gadgets import Saturation, requantize, signed_var
from offchain.zk.loreft import LoreftShapeError, loreft_int
from offchain.zk.private import (
    LinearDescriptor,
    PrivateNodeError,
    public_signal,
    tensor_hash,
    weight_commitment,
)
from offchain.zk.r1cs import ConstraintSystem

from .conftest import LINEAR, LOREFT, linear_operands, loreft_operands

INT8 = Saturation(-128, 127, 8)


def _requant_system(acc: int, s: int, cheat=None) -> tuple[ConstraintSystem, int]:
    cs = ConstraintSystem(0)
    acc_lc = signed_var(cs, acc, 24)
    _, out = requantize(cs, acc_lc, acc, 1 << 23, s, INT8, cheat=cheat)
    return cs, out


@settings(max_examples=40, deadline=None)
@given(st.integers(-(1 << 23), (1 << 23) - 1), st.integers(0, 12))
def test_requantize_matches_engine_and_is_satisfied(acc, s):
    cs, out = _requant_system(acc, s)
    assert out == int(engine_requantize(np.int64(acc), s, "int8"))
    assert cs.unsatisfied() == []


@pytest.mark.parametrize("acc", [1000, -1000, 1024 + 511, 1024 + 512, -513, 64])
def test_off_by_one_rounding_is_rejected(acc):
    s = 10
    half = 1 << (s - 1)
    q = (acc + half) >> s
    rem = acc + half - (q << s)
    for q_bad, rem_bad in ((q + 1, rem - (1 << s)), (q - 1, rem + (1 << s))):
        cs, out = _requant_system(acc, s, cheat={"q": q_bad, "rem": rem_bad})
        assert out == q_bad
        assert cs.unsatisfied(), f"q={q_bad} accepted for acc={acc}"


@pytest.mark.parametrize("acc", [200 << 4, -(300 << 4)])
def test_unsaturated_or_wrongly_saturated_value_is_rejected(acc):
    s = 4
    q = (acc + 8) >> 4
    assert not -128 <= q <= 127   # the rounded quotient itself does not fit int8
    # The honest system saturates ...
    cs, out = _requant_system(acc, s)
    assert out == (127 if acc > 0 else -128) and cs.unsatisfied() == []
    # ... a prover who leaves the flags down to output q itself fails (q is out of int8 range),
    cs, _ = _requant_system(acc, s, cheat={"lo": 0, "hi": 0})
    assert cs.unsatisfied()
    # and one who raises the wrong flag fails too.
    cs, _ = _requant_system(acc, s, cheat={"lo": int(acc > 0), "hi": int(acc < 0)})
    assert cs.unsatisfied()


def test_saturating_an_in_range_value_is_rejected():
    cs, _ = _requant_system(50 << 4, 4, cheat={"hi": 1})
    assert cs.unsatisfied()


def test_linear_circuit_matches_engine_and_binds_hashes():
    x, (w, b) = linear_operands(3)
    built = build(LINEAR, x, [w, b])
    acc = x.astype(np.int64) @ w.astype(np.int64).T + b
    assert np.array_equal(built.output, engine_requantize(acc, LINEAR.shift, "int8"))
    assert built.cs.unsatisfied() == []
    assert built.signal == public_signal(tensor_hash(x, 8), tensor_hash(built.output, 8),
                                         weight_commitment(LINEAR, [w, b]))
    assert built.cs.public_values() == [built.signal]


def test_witness_only_gives_the_same_witness():
    x, weights = linear_operands(4)
    full = build(LINEAR, x, weights)
    fast = build(LINEAR, x, weights, witness_only=True)
    assert fast.cs.values == full.cs.values and fast.cs.constraints == []


def test_linear_wrong_output_is_rejected():
    x, (w, b) = linear_operands(5)
    w = w // 4  # keep accumulators small so that no output saturates
    honest = build_linear(LINEAR, x, w, b // 16).output.reshape(-1)
    acc = x.astype(np.int64)[0] @ w.astype(np.int64).T + b // 16
    half = 1 << (LINEAR.shift - 1)
    for n in range(LINEAR.n):
        q = (int(acc[n]) + half) >> LINEAR.shift
        assert -128 < q < 127
        cheat = {"q": q + 1, "rem": int(acc[n]) + half - ((q + 1) << LINEAR.shift)}
        bad = build_linear(LINEAR, x, w, b // 16, cheat={n: cheat})
        assert bad.output.reshape(-1)[n] == honest[n] + 1
        assert bad.cs.unsatisfied()


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2 ** 31))
def test_loreft_circuit_matches_integer_definition(seed):
    h, (r, w, b) = loreft_operands(seed)
    built = build_loreft(LOREFT, h, r, w, b)
    assert np.array_equal(built.output, loreft_int(h, r, w, b, LOREFT.shift, DType.INT16))
    assert built.cs.unsatisfied() == []


def test_loreft_saturates_like_the_definition():
    h, (r, w, b) = loreft_operands(7)
    h = np.full_like(h, 32000)
    r = np.full_like(r, 127)
    built = build_loreft(LOREFT, h, r, w, b)
    ref = loreft_int(h, r, w, b, LOREFT.shift, DType.INT16)
    assert (np.abs(ref) == 32767).any() or (ref == -32768).any()
    assert np.array_equal(built.output, ref) and built.cs.unsatisfied() == []


def test_loreft_integer_tracks_float():
    rng = np.random.default_rng(0)
    fh, fw = 8, 6
    h = rng.normal(0, 2, (3, 32))
    r = rng.normal(0, 0.3, (2, 32))
    w = rng.normal(0, 0.3, (2, 32))
    b = rng.normal(0, 0.5, 2)
    q = lambda a, f, dt: np.clip(np.round(a * 2 ** f), np.iinfo(dt).min, np.iinfo(dt).max).astype(dt)
    hi, ri, wi, bi = q(h, fh, np.int16), q(r, fw, np.int8), q(w, fw, np.int8), q(b, fh + fw, np.int32)
    out = loreft_int(hi, ri, wi, bi, fw, DType.INT16) / 2 ** fh
    from offchain.zk.loreft import loreft_float
    ref = loreft_float(hi / 2 ** fh, ri / 2 ** fw, wi / 2 ** fw, bi / 2 ** (fh + fw))
    assert np.max(np.abs(out - ref)) < 0.05


def test_bad_shapes_are_named():
    x, (w, b) = linear_operands(0)
    with pytest.raises(PrivateNodeError, match="W has shape"):
        build_linear(LINEAR, x, w[:, :4], b)
    with pytest.raises(PrivateNodeError, match="bias missing"):
        build_linear(LINEAR, x, w, None)
    h, (r, w2, b2) = loreft_operands(0)
    with pytest.raises(LoreftShapeError, match="b"):
        loreft_int(h, r, w2, b2[:1], 6, DType.INT16)
    with pytest.raises(PrivateNodeError):
        build(LinearDescriptor(1, 8, 4, 8, 8, True, 7, 8), x.reshape(2, 4), [w, b])
