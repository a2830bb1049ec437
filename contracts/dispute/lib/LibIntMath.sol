// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibFixed} from "./LibFixed.sol";
import {Operand} from "./LibOperand.sol";
import {LibRow} from "./LibRow.sol";

/// @title LibIntMath
/// @notice Integer-only exp, sigmoid, tanh, softplus, SiLU and GELU (erf and tanh forms), mirroring the scalar references
///         `*_element` of offchain/engine/intmath_act.py line by line (same constants, same rounding, same
///         order of operations), plus the primitives of intmath_core.py they and the norms use (div_round,
///         isqrt, bit_length). Internal values are Q30 (real = v / 2^30) unless a name says otherwise.
///
///         Overflow: every intermediate stays below 2^125 in magnitude for the references' domain (int32
///         inputs, frac bits in range, magnitudes clamped before any product), so int256 arithmetic cannot
///         overflow and the bodies run `unchecked`. Callers validate frac bits (ActivationOps, SoftmaxOps).
library LibIntMath {
    /// @dev div_round's divisor is not strictly positive.
    error DivisorNotPositive(int256 divisor);

    int256 internal constant ONE_Q30 = 1 << 30;
    /// Frac bits an input (f_in) and an output (f_out) of exp/sigmoid/SiLU/GELU/softmax may have.
    int256 internal constant FRAC_IN_MAX = 24;
    int256 internal constant FRAC_OUT_MAX = 30;
    /// round(log2(e) * 2^30).
    int256 internal constant LOG2E_Q30 = 1549082005;
    /// e^-64 < 2^-92 rounds to 0 at any f_out <= 30, so clamping the magnitude there is exact.
    int256 internal constant EXP_CLAMP = 64;
    /// 2^-r ~= 1 + r (C1 + r (C2 + ... + r C6)) on r in [0, 1), Q30 (intmath_act.EXP2_POLY_Q30).
    int256 internal constant EXP2_C1 = -744261020;
    int256 internal constant EXP2_C2 = 257939319;
    int256 internal constant EXP2_C3 = -59584401;
    int256 internal constant EXP2_C4 = 10288824;
    int256 internal constant EXP2_C5 = -1371676;
    int256 internal constant EXP2_C6 = 118043;
    /// |x| >= 8 gives 1 - erf(|x| / sqrt 2) < 2^-45: exactly 0 in Q30, so clamping there is exact.
    int256 internal constant GELU_CLAMP = 8;
    int256 internal constant INV_SQRT2_Q30 = 759250125;
    /// Abramowitz & Stegun 7.1.26, Q30 (intmath_act.ERF_P_Q30, ERF_A_Q30).
    int256 internal constant ERF_P_Q30 = 351748265;
    int256 internal constant ERF_A1 = 273621191;
    int256 internal constant ERF_A2 = -305476044;
    int256 internal constant ERF_A3 = 1526231383;
    int256 internal constant ERF_A4 = -1560310108;
    int256 internal constant ERF_A5 = 1139675401;
    /// GELU tanh form: 2u = TANH_K * (x + TANH_C x^3), Q30.
    int256 internal constant TANH_C_Q30 = 48012366;
    int256 internal constant TANH_K_Q30 = 1713444047;
    /// @dev log1p(t) on [0, 1], Q30 (intmath_act.LOG1P_POLY_Q30): t (L1 + t (L2 + ... + t L10)).
    int256 internal constant LOG1P_L1 = 1073741689;
    int256 internal constant LOG1P_L2 = -536863906;
    int256 internal constant LOG1P_L3 = 357786731;
    int256 internal constant LOG1P_L4 = -267277129;
    int256 internal constant LOG1P_L5 = 208556835;
    int256 internal constant LOG1P_L6 = -157747304;
    int256 internal constant LOG1P_L7 = 104059111;
    int256 internal constant LOG1P_L8 = -52448800;
    int256 internal constant LOG1P_L9 = 17057455;
    int256 internal constant LOG1P_L10 = -2603565;

    /// @dev (v + 2^(s-1)) >> s for s > 0, v for s == 0 (`_rshift_round_int`); `>>` on int256 floors.
    function roundShift(int256 v, uint256 s) internal pure returns (int256) {
        unchecked {
            // Safe: callers bound |v| < 2^125 and s < 200, so the rounding term cannot overflow.
            return s == 0 ? v : (v + (int256(1) << (s - 1))) >> s;
        }
    }

    /// @dev a / b rounded to nearest, halves up: floor((2a + b) / (2b)), b > 0 (`div_round_element`).
    ///      Solidity's `/` truncates toward zero, so a negative numerator is floored explicitly.
    function divRound(int256 a, int256 b) internal pure returns (int256 q) {
        if (b <= 0) revert DivisorNotPositive(b);
        unchecked {
            // Safe: |a|, b < 2^125 (callers), so 2a + b and 2b fit.
            int256 num = 2 * a + b;
            int256 den = 2 * b;
            q = num / den;
            if (num < 0 && q * den != num) q -= 1;
        }
    }

    /// @dev Smallest b with x < 2^b (`bit_length_element`), for x >= 0.
    function bitLength(uint256 x) internal pure returns (uint256 b) {
        assembly ("memory-safe") {
            // Binary search over the bit position: each step halves the remaining width.
            let r := shl(7, lt(0xffffffffffffffffffffffffffffffff, x))
            r := or(r, shl(6, lt(0xffffffffffffffff, shr(r, x))))
            r := or(r, shl(5, lt(0xffffffff, shr(r, x))))
            r := or(r, shl(4, lt(0xffff, shr(r, x))))
            r := or(r, shl(3, lt(0xff, shr(r, x))))
            r := or(r, shl(2, lt(0xf, shr(r, x))))
            r := or(r, shl(1, lt(0x3, shr(r, x))))
            r := or(r, lt(0x1, shr(r, x)))
            // r = floor(log2 x) for x > 0; bit length is one more, and 0 for x = 0.
            b := mul(add(r, 1), iszero(iszero(x)))
        }
    }

    /// @dev Floor square root by the reference's integer Newton iteration (`isqrt_element`): start at
    ///      2^ceil(bits/2) >= sqrt(x), step y = (r + x / r) / 2 while it decreases.
    function isqrt(uint256 x) internal pure returns (uint256 r) {
        if (x == 0) return 0;
        unchecked {
            // Safe: r >= 1 throughout and r + x / r < 2 x + 1 < 2^256 for the callers' x < 2^64.
            r = uint256(1) << ((bitLength(x) + 1) >> 1);
            while (true) {
                uint256 y = (r + x / r) >> 1;
                if (y >= r) return r;
                r = y;
            }
        }
    }

    /// @dev 2^(-r / 2^30) in Q30 for 0 <= r < 2^30 (`exp2_frac_q30_element`): degree-6 Horner, each step
    ///      rounded half up by `+ 2^29 >> 30`.
    function exp2FracQ30(int256 r) internal pure returns (int256 acc) {
        unchecked {
            // Safe: |acc| < 2^31 and 0 <= r < 2^30 at every step, so acc * r < 2^61.
            acc = EXP2_C5 + ((EXP2_C6 * r + (1 << 29)) >> 30);
            acc = EXP2_C4 + ((acc * r + (1 << 29)) >> 30);
            acc = EXP2_C3 + ((acc * r + (1 << 29)) >> 30);
            acc = EXP2_C2 + ((acc * r + (1 << 29)) >> 30);
            acc = EXP2_C1 + ((acc * r + (1 << 29)) >> 30);
            acc = ONE_Q30 + ((acc * r + (1 << 29)) >> 30);
        }
    }

    /// @dev e^(-w / 2^fIn) in Q30 for w >= 0 (`exp_neg_q30_element`): 2^-(w log2 e) split into an integer part
    ///      z and a fraction, 2^-fraction by the polynomial, 2^-z by a rounding shift.
    function expNegQ30(int256 w, uint256 fIn) internal pure returns (int256) {
        unchecked {
            // Safe: w is clamped to 2^6 * 2^24, so w * LOG2E_Q30 < 2^61; z <= 93.
            int256 lim = EXP_CLAMP << fIn;
            if (w > lim) w = lim;
            int256 u = roundShift(w * LOG2E_Q30, fIn);
            int256 z = u >> 30;
            return roundShift(exp2FracQ30(u - (z << 30)), uint256(z));
        }
    }

    /// @dev sum_{i < count} expNegQ30(m - row[i], fIn): softmax's denominator, for m >= row[i] (m the max of
    ///      the summed elements). The same steps as `expNegQ30` and `exp2FracQ30`, inlined into one assembly
    ///      loop because a 4096-key attention row runs it 4096 times in one step; the softmax tests hold both
    ///      to `exp_neg_q30_element`. Three rewrites leave every term unchanged:
    ///      - a Horner step c + ((acc r + 2^29) >> 30) is ((acc r + c 2^30 + 2^29) >> 30): c 2^30 is a multiple
    ///        of 2^30, so it passes through the floor shift exactly, and each step adds one folded constant;
    ///      - no clamp of m - row[i] at EXP_CLAMP << fIn: past the clamp the reference's z is 92 and the term
    ///        0; unclamped, z >= 92 and the term is 0 as well (a <= 2^30 < 2^(z-1)), also for z >= 256 where
    ///        the EVM's shifts give 0;
    ///      - (m - x) LOG2E_Q30 + 2^(fIn-1) as (m LOG2E_Q30 + 2^(fIn-1)) - x LOG2E_Q30, the first part once per row.
    function expNegSumQ30(Operand memory row, uint256 count, int256 m, uint256 fIn) internal pure returns (int256 s) {
        (uint256 p, uint256 sh, uint256 ext) = LibRow.cursor(row, 0);
        uint256 w = row.width;
        assembly ("memory-safe") {
            // m * LOG2E_Q30 + 2^(fIn - 1) (0 for fIn = 0: then the shift is the identity), so that each key costs
            // one product: (m - x) * LOG2E_Q30 + 2^(fIn - 1) = mL - x * LOG2E_Q30 (two's complement, >= 0).
            let mL := add(mul(m, 1549082005), shr(1, shl(fIn, 1)))
            let end := add(p, mul(count, w))
            // Safe without overflow checks: |m|, |row[i]| <= 2^31, so |mL| < 2^63 and 0 <= mL - x LOG2E < 2^64;
            // the Horner accumulator stays below 2^31 in magnitude and r < 2^30 (|acc r + constant| < 2^61; mul,
            // add and sar are two's complement); each term is <= 2^30 and count <= 2^16, so s < 2^46.
            for {} lt(p, end) { p := add(p, w) } {
                // u = roundShift((m - x) * LOG2E_Q30, fIn) >= 0, z = u >> 30, r = u mod 2^30; the Horner chain
                // with folded constants c 2^30 + 2^29 (EXP2_C6 * r, then EXP2_C5 .. EXP2_C1, then ONE_Q30, which
                // leaves a in (2^29, 2^30]; negative ones subtracted as magnitudes); roundShift(a, z) with rounding
                // term 2^(z-1) = shr(1, shl(z, 1)).
                let u := shr(fIn, sub(mL, mul(signextend(ext, shr(sh, mload(p))), 1549082005)))
                let z := shr(30, u)
                let r := and(u, 0x3fffffff)
                let a := sar(30, sub(mul(118043, r), 1472825353306112))
                a := sar(30, add(mul(a, r), 11047541185445888))
                a := sar(30, sub(mul(a, r), 63978262874816512))
                a := sar(30, add(mul(a, r), 276960235401248768))
                a := sar(30, sub(mul(a, r), 799144184610029568))
                a := sar(30, add(mul(a, r), 1152921505143717888))
                s := add(s, shr(z, add(a, shr(1, shl(z, 1)))))
            }
        }
    }

    /// @dev sigmoid(x / 2^fIn) in Q30 (`sigmoid_q30_element`): num / den with den = 2^30 + e^-|x|.
    function sigmoidQ30(int256 x, uint256 fIn) internal pure returns (int256) {
        int256 e = expNegQ30(x >= 0 ? x : -x, fIn);
        return divRound((x >= 0 ? ONE_Q30 : e) << 30, ONE_Q30 + e);
    }

    /// @dev SiLU x sigmoid(x) (`silu_element`): x int32-range, fIn <= 24, fOut <= 30, saturated to `width`.
    function silu(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 s = sigmoidQ30(x, fIn);
        // Safe without checks: |x * s| <= 2^31 * 2^30.
        unchecked {
            return LibFixed.saturate(roundShift(x * s, 30 + fIn - fOut), width);
        }
    }

    /// @dev GELU erf form x Phi(x) (`gelu_element`), saturated to `width`.
    function gelu(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 phi = _geluPhiQ31(x, fIn);
        // Safe without checks: |x * phi| < 2^62.
        unchecked {
            return LibFixed.saturate(roundShift(x * phi, 31 + fIn - fOut), width);
        }
    }

    /// @dev GELU tanh form x sigmoid(2u) (`gelu_tanh_element`), saturated to `width`.
    function geluTanh(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 s = sigmoidQ30(_tanhArgQ24(x, fIn), 24);
        // Safe without checks: |x * s| <= 2^31 * 2^30.
        unchecked {
            return LibFixed.saturate(roundShift(x * s, 30 + fIn - fOut), width);
        }
    }

    /// @dev Phi(x) in Q31 via A&S 7.1.26 on a = |x| / sqrt 2 (`_gelu_phi_q31_element`).
    function _geluPhiQ31(int256 x, uint256 fIn) private pure returns (int256) {
        unchecked {
            // Safe: m <= 2^27, a24 < 2^27, den in [2^30, 2^32), t <= 2^30, |acc| < 2^31, q <= 2^30.
            int256 m = x >= 0 ? x : -x;
            int256 lim = GELU_CLAMP << fIn;
            if (m > lim) m = lim;
            int256 a24 = roundShift(m * INV_SQRT2_Q30, fIn + 6);
            int256 den = ONE_Q30 + ((ERF_P_Q30 * a24 + (1 << 23)) >> 24);
            int256 t = divRound(1 << 60, den);
            int256 acc = ERF_A4 + ((ERF_A5 * t + (1 << 29)) >> 30);
            acc = ERF_A3 + ((acc * t + (1 << 29)) >> 30);
            acc = ERF_A2 + ((acc * t + (1 << 29)) >> 30);
            acc = ERF_A1 + ((acc * t + (1 << 29)) >> 30);
            int256 poly = (acc * t + (1 << 29)) >> 30;
            int256 sq24 = (a24 * a24 + (1 << 23)) >> 24;
            int256 q = (poly * expNegQ30(sq24, 24) + (1 << 29)) >> 30;
            return x >= 0 ? (int256(1) << 31) - q : q;
        }
    }

    /// @dev 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) in Q24, x clamped to +-8 (`_gelu_tanh_arg_q24_element`).
    function _tanhArgQ24(int256 x, uint256 fIn) private pure returns (int256) {
        unchecked {
            // Safe: |x24| <= 2^27, x2 <= 2^30, |x3| <= 2^33, |v| < 2^30.
            int256 lim = GELU_CLAMP << fIn;
            int256 x24 = (x > lim ? lim : (x < -lim ? -lim : x)) << (24 - fIn);
            int256 x2 = (x24 * x24 + (1 << 23)) >> 24;
            int256 x3 = (x2 * x24 + (1 << 23)) >> 24;
            int256 v = x24 + ((x3 * TANH_C_Q30 + (1 << 29)) >> 30);
            return (v * TANH_K_Q30 + (1 << 29)) >> 30;
        }
    }

    // ---------------------------------------------------------------- activations (issue 13)

    /// @dev Logistic sigmoid (`sigmoid_element`): divRound(num 2^fOut, 2^30 + e^-|x|), saturated to `width`.
    function sigmoid(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 e = expNegQ30(x >= 0 ? x : -x, fIn);
        return LibFixed.saturate(divRound((x >= 0 ? ONE_Q30 : e) << fOut, ONE_Q30 + e), width);
    }

    /// @dev tanh (`tanh_element`): sign(x) divRound((2^30 - e) 2^fOut, 2^30 + e), e = e^-2|x| in Q30, saturated.
    function tanh(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 e = expNegQ30(2 * (x >= 0 ? x : -x), fIn);
        int256 mag = divRound((ONE_Q30 - e) << fOut, ONE_Q30 + e);
        return LibFixed.saturate(x < 0 ? -mag : mag, width);
    }

    /// @dev softplus (`softplus_element`): roundShift(max(x, 0) 2^(30 - fIn) + log1pQ30(e^-|x|), 30 - fOut),
    ///      saturated to `width`.
    function softplus(int256 x, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        int256 lg = log1pQ30(expNegQ30(x >= 0 ? x : -x, fIn));
        // Safe without checks: 0 <= x < 2^31 and fIn >= 0, so the sum is < 2^61 + 2^30.
        unchecked {
            return LibFixed.saturate(roundShift(((x > 0 ? x : int256(0)) << (30 - fIn)) + lg, 30 - fOut), width);
        }
    }

    /// @dev log(1 + t / 2^30) in Q30 for 0 <= t <= 2^30 (`log1p_q30_element`): degree-10 Horner, each step
    ///      rounded half up by `+ 2^29 >> 30`.
    function log1pQ30(int256 t) internal pure returns (int256 acc) {
        unchecked {
            // Safe: every partial sum is below 2^31 in magnitude and 0 <= t <= 2^30, so acc * t < 2^61.
            acc = LOG1P_L9 + ((LOG1P_L10 * t + (1 << 29)) >> 30);
            acc = LOG1P_L8 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L7 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L6 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L5 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L4 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L3 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L2 + ((acc * t + (1 << 29)) >> 30);
            acc = LOG1P_L1 + ((acc * t + (1 << 29)) >> 30);
            acc = (acc * t + (1 << 29)) >> 30;
        }
    }
}
