// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {LibIntMathNorm} from "../lib/LibIntMathNorm.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibRow} from "../lib/LibRow.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title NormOps
/// @notice LAYERNORM (x, gamma, beta) and RMSNORM (x, gamma) over the last axis, params (eps_lsb2,), mirroring
///         offchain/engine/ops/norm.py and intmath_norm.py's `layernorm_element` / `rmsnorm_element`:
///         out_j = saturate(rshift_round(z_j gamma_j [+ beta_j << (20 + fg - fb)], 20 + fg - fo)) with z_j the
///         normalised value in Q20 (LibIntMathNorm). One output element reads its row, gamma[j] (and beta[j]).
contract NormOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant LAYERNORM = 13;
    uint256 internal constant RMSNORM = 14;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.inputs.length;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 n = _check(d);
        uint256 j = e % n;
        if (r == 0) return (0, e - j, n);
        if (r >= d.inputs.length) revert BadNode("range index");
        return (r, j, 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        uint256 n = _check(d);
        Operand memory row = _m(operands[0]);
        if (row.len != n) revert BadNode("row length");
        int256 gamma = _m(operands[1]).at(0);
        int256 acc = d.op == LAYERNORM
            ? _layerNorm(d, row, e % n, gamma, _m(operands[2]).at(0))
            : _rmsNorm(d, row, e % n, gamma);
        // 20 + fg - fo >= 0: _check bounds fo <= 20 + fg.
        uint256 shift = uint256(20 + d.inputs[1].frac - d.out.frac);
        return LibFixed.saturate(LibIntMath.roundShift(acc, shift), d.out.width);
    }

    /// @dev z_j gamma_j + beta_j << (20 + fg - fb), before the output rounding.
    function _layerNorm(NodeDesc calldata d, Operand memory row, uint256 j, int256 gamma, int256 beta)
        internal
        pure
        returns (int256)
    {
        (int256 total, int256 hi, int256 lo) = LibRow.sumMaxMin(row);
        int256 n = int256(row.len);
        // c_i = n x_i - total; its largest magnitude is at the row's max or min (total / n lies between).
        uint256 maxAbs = uint256(n * hi - total > total - n * lo ? n * hi - total : total - n * lo);
        // eps_lsb2 * n^3: LayerNorm's sum of squares is n^3 times the variance in input LSB^2.
        int256 eps = _epsTerm(d, row.len * row.len * row.len);
        return LibIntMathNorm.normalised(row, j, n, total, maxAbs, eps) * gamma + _scaledBeta(d, beta);
    }

    /// @dev z_j gamma_j, before the output rounding.
    function _rmsNorm(NodeDesc calldata d, Operand memory row, uint256 j, int256 gamma) internal pure returns (int256) {
        (, int256 hi, int256 lo) = LibRow.sumMaxMin(row);
        uint256 maxAbs = uint256(hi > -lo ? hi : -lo);
        return LibIntMathNorm.normalised(row, j, 1, 0, maxAbs, _epsTerm(d, row.len)) * gamma;
    }

    /// @dev eps_lsb2 * mult, which the reference bounds below 2^61 (and eps_lsb2 >= 0).
    function _epsTerm(NodeDesc calldata d, uint256 mult) internal pure returns (int256) {
        int256 eps = d.params[0];
        if (eps < 0 || eps >= LibIntMathNorm.EPS_TERM_LIMIT) revert BadNode("eps_lsb2 outside [0, 2^61)");
        int256 term = eps * int256(mult);
        if (term >= LibIntMathNorm.EPS_TERM_LIMIT) revert BadNode("eps_lsb2 * n^k >= 2^61");
        return term;
    }

    /// @dev beta_j << (20 + fg - fb), with the reference's bounds: 0 <= fb <= min(30, 20 + fg) and
    ///      |beta_j| < 2^60 >> (20 + fg - fb).
    function _scaledBeta(NodeDesc calldata d, int256 beta) internal pure returns (int256) {
        int256 fg = d.inputs[1].frac;
        int256 fb = d.inputs[2].frac;
        if (fb < 0 || fb > LibIntMathNorm.FRAC_MAX || fb > 20 + fg) revert BadNode("f_beta");
        uint256 sb = uint256(20 + fg - fb);
        int256 lim = int256((uint256(1) << 60) >> sb);
        if (beta <= -lim || beta >= lim) revert BadNode("beta too large for its shift");
        return beta << sb;
    }

    /// @dev The op, its inputs and params, and the reference's domain; returns the row length n.
    function _check(NodeDesc calldata d) internal pure returns (uint256 n) {
        if (d.op != LAYERNORM && d.op != RMSNORM) revert UnsupportedOp(d.op);
        uint256 inputs = d.op == LAYERNORM ? 3 : 2;
        _expectInputs(d, inputs, inputs);
        if (d.params.length != 1) revert BadNode("param count");
        n = _dim(d.inputs[0], 0);
        if (n == 0 || n > LibIntMathNorm.MAX_ROW) revert BadNode("row length outside [1, 2^16]");
        int256 fx = d.inputs[0].frac;
        int256 fg = d.inputs[1].frac;
        int256 fo = d.out.frac;
        int256 fmax = LibIntMathNorm.FRAC_MAX;
        if (fx < 0 || fx > fmax) revert BadNode("f_in");
        if (fg < 0 || fg > fmax) revert BadNode("f_gamma");
        if (fo < 0 || fo > fmax || fo > 20 + fg) revert BadNode("f_out");
    }
}
