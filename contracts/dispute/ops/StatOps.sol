// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title StatOps
/// @notice RSQRT (64) and EXP (65), the scalar functions of a chunked GroupNorm and a two-pass softmax, mirroring
///         offchain/engine/ops/stat.py (sd-unet-block, issue 16). Both are total on their operands' values:
///         RSQRT:  out = rsqrt_element(min(max(x + eps, 0), 2^31 - 1), fi, fo), the dtype's max for 0;
///         EXP:    e = exp_neg_q30(max(m - x, 0), fi) (m = 0 without a row max); out = e at frac fo, or with a
///                 row sum S out = div_round(e << max(fo + fs - 30, 0), max(S, 1) << max(30 - fo - fs, 0));
///                 saturated. One element reads its input element (and EXP its row's m and S).
contract StatOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant RSQRT = 64;
    uint256 internal constant EXP = 65;
    int256 internal constant RSQRT_FRAC_MAX = 30;
    int256 internal constant EPS_LIMIT = int256(1) << 31;
    int256 internal constant INT32_MAX = (int256(1) << 31) - 1;

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.inputs.length;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r == 0) return (0, e, 1);
        // INVARIANT: Only EXP's row max and row sum are further ranges: one value per row of x's last axis.
        if (r >= d.inputs.length) revert BadNode("range index");
        return (r, e / _dim(d.inputs[0], 0), 1);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        int256 x = _m(operands[0]).at(0);
        uint256 fIn = uint256(d.inputs[0].frac);
        uint256 fOut = uint256(d.out.frac);
        if (d.op == RSQRT) return _rsqrt(x + d.params[0], fIn, fOut, d.out.width);
        int256 w = (d.inputs.length > 1 ? _m(operands[1]).at(0) : int256(0)) - x;
        if (w < 0) w = 0;
        if (d.inputs.length < 3) return LibFixed.saturate(_expNeg(w, fIn, fOut), d.out.width);
        int256 e = LibIntMath.expNegQ30(w, fIn);
        int256 s = _m(operands[2]).at(0);
        if (s < 1) s = 1;
        int256 total = int256(fOut) + d.inputs[2].frac;
        unchecked {
            // Safe: e <= 2^30 and a <= 30, so e << a <= 2^60; s < 2^31 and b <= 30, so s << b < 2^61.
            uint256 a = total > 30 ? uint256(total - 30) : 0;
            uint256 b = total < 30 ? uint256(30 - total) : 0;
            return LibFixed.saturate(LibIntMath.divRound(e << a, s << b), d.out.width);
        }
    }

    /// @dev intmath_norm.rsqrt_element of v = min(max(x + eps, 0), 2^31 - 1): 2^G / isqrt(v 4^G) at frac fOut.
    function _rsqrt(int256 v, uint256 fIn, uint256 fOut, uint256 width) internal pure returns (int256) {
        if (v > INT32_MAX) v = INT32_MAX;
        (, int256 hi) = LibFixed.bounds(width);
        if (v <= 0) return hi;
        unchecked {
            // Safe: 0 < v < 2^31, so v << odd <= 2^32 and G <= 15 keeps v << 2G <= 2^62; the numerator
            // 2^(fOut + h + G) <= 2^60 since G <= 60 - fOut - h (both G candidates are >= 15 >= 0).
            uint256 odd = fIn & 1;
            uint256 u = uint256(v) << odd;
            uint256 h = (fIn + odd) >> 1;
            uint256 g = (62 - LibIntMath.bitLength(u)) >> 1;
            if (g > 60 - fOut - h) g = 60 - fOut - h;
            int256 s = int256(LibIntMath.isqrt(u << (2 * g)));
            return LibFixed.saturate(LibIntMath.divRound(int256(1) << (fOut + h + g), s), width);
        }
    }

    /// @dev e^(-w / 2^fIn) at frac fOut (intmath_act _exp_neg_parts_element + _scale_exp_element): the same
    ///      steps as LibIntMath.expNegQ30 with the final shift 30 + z - fOut instead of z.
    function _expNeg(int256 w, uint256 fIn, uint256 fOut) internal pure returns (int256) {
        unchecked {
            // Safe: w is clamped to 2^6 * 2^24, so w * LOG2E_Q30 < 2^61; z <= 93 and 30 + z - fOut >= 0.
            int256 lim = LibIntMath.EXP_CLAMP << fIn;
            if (w > lim) w = lim;
            int256 u = LibIntMath.roundShift(w * LibIntMath.LOG2E_Q30, fIn);
            int256 z = u >> 30;
            return LibIntMath.roundShift(LibIntMath.exp2FracQ30(u - (z << 30)), uint256(30 + z) - fOut);
        }
    }

    /// @dev The op, its input count, params and frac bits, as stat.py's check() requires.
    function _check(NodeDesc calldata d) internal pure {
        if (d.op != RSQRT && d.op != EXP) revert UnsupportedOp(d.op);
        int256 fIn = d.inputs.length == 0 ? int256(0) : d.inputs[0].frac;
        int256 fOut = d.out.frac;
        if (d.op == RSQRT) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 1) revert BadNode("param count");
            // INVARIANT: eps is in [0, 2^31), so x + eps before the clamp is far inside int256.
            if (d.params[0] < 0 || d.params[0] >= EPS_LIMIT) revert EpsOutOfRange(d.params[0]);
            // INVARIANT: rsqrt's frac bits are in [0, 30] on both sides (intmath_norm.rsqrt).
            if (fIn < 0 || fIn > RSQRT_FRAC_MAX || fOut < 0 || fOut > RSQRT_FRAC_MAX) {
                revert FracOutOfRange(fIn, fOut, RSQRT_FRAC_MAX, RSQRT_FRAC_MAX);
            }
            return;
        }
        _expectInputs(d, 1, 3);
        if (d.params.length != 0) revert BadNode("param count");
        // INVARIANT: exp's input frac is in [0, 24] and its output's in [0, 30] (intmath_act).
        if (fIn < 0 || fIn > LibIntMath.FRAC_IN_MAX || fOut < 0 || fOut > LibIntMath.FRAC_OUT_MAX) {
            revert FracOutOfRange(fIn, fOut, LibIntMath.FRAC_IN_MAX, LibIntMath.FRAC_OUT_MAX);
        }
        if (d.inputs.length > 1) {
            _checkRow(d.inputs[0], d.inputs[1], 1);
            // INVARIANT: the row max is on x's scale, so m - x is the real difference in x's LSBs.
            if (d.inputs[1].frac != fIn) revert RowMaxFracMismatch(fIn, d.inputs[1].frac);
        }
        if (d.inputs.length > 2) {
            _checkRow(d.inputs[0], d.inputs[2], 2);
            TensorDesc calldata s = d.inputs[2];
            // INVARIANT: the row sum is INT32, so max(S, 1) << b stays below 2^61.
            if (s.width != 4) revert RowOperandMismatch(2, s.shape.length, s.width);
            // INVARIANT: the row sum's frac is in [0, 30], so the quotient's shifts stay within 30 bits.
            if (s.frac < 0 || s.frac > 30) revert FracOutOfRange(s.frac, 0, 30, 30);
        }
    }

    /// @dev Operand `slot` holds one value per row of x: x's shape with its last axis 1.
    function _checkRow(TensorDesc calldata x, TensorDesc calldata t, uint256 slot) internal pure {
        uint256 rank = x.shape.length;
        bool ok = rank > 0 && t.shape.length == rank && t.shape[rank - 1] == 1;
        for (uint256 i = 0; ok && i + 1 < rank; ++i) {
            ok = t.shape[i] == x.shape[i];
        }
        // INVARIANT: one row max / row sum per row of x (EXP's two- and three-input forms).
        if (!ok) revert RowOperandMismatch(slot, t.shape.length, t.width);
    }
}
