// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title PiecewiseOps
/// @notice CLAMP, LEAKY_RELU, HARDSWISH and HARDSIGMOID, mirroring offchain/engine/ops/piecewise.py (whose
///         docstring states each rule, its rounding and its bounds). One output element reads one input element.
contract PiecewiseOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant CLAMP = 29;
    uint256 internal constant LEAKY_RELU = 30;
    uint256 internal constant HARDSWISH = 31;
    uint256 internal constant HARDSIGMOID = 32;

    int256 internal constant LEAKY_SHIFT_MAX = 24;
    int256 internal constant LEAKY_MULT_MAX = 1 << 24;
    int256 internal constant HARD_FRAC_IN_MAX = 24;
    int256 internal constant HARD_FRAC_OUT_MAX = 30;

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 1;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r != 0) revert BadNode("range index");
        return (0, e, 1);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        int256 x = _m(operands[0]).at(0);
        int256 fx = d.inputs[0].frac;
        int256 fo = d.out.frac;
        uint256 width = d.out.width;
        if (d.op == CLAMP) {
            int256 lo = d.params[0];
            int256 hi = d.params[1];
            return LibFixed.rescale(x < lo ? lo : (x > hi ? hi : x), fx - fo, width);
        }
        if (d.op == LEAKY_RELU) {
            int256 k = d.params[1];
            // |x| <= 2^31 and |m|, 2^k <= 2^24: the product is < 2^55 (checked arithmetic regardless).
            return LibFixed.rescale(x * (x >= 0 ? int256(1) << uint256(k) : d.params[0]), fx + k - fo, width);
        }
        // fx in [0, 24] and fo in [0, 30] (checked): every shift below is of a non-negative amount.
        int256 three = int256(3) << uint256(fx);
        if (d.op == HARDSIGMOID) {
            int256 t = x + three;
            t = t < 0 ? int256(0) : (t > 2 * three ? 2 * three : t);
            return LibFixed.saturate(LibIntMath.divRound(t << uint256(fo), 2 * three), width);
        }
        if (x <= -three) return 0;
        if (x >= three) return LibFixed.rescale(x, fx - fo, width);
        // |x (x + 3 2^fx)| < 18 2^(2 fx) <= 2^53; g = 2 fx - fo.
        int256 a = x * (x + three);
        int256 g = 2 * fx - fo;
        int256 q = g >= 0 ? LibIntMath.divRound(a, int256(6) << uint256(g)) : LibIntMath.divRound(a << uint256(-g), 6);
        return LibFixed.saturate(q, width);
    }

    /// @dev The op, its input count and its params as piecewise.py's `check` accepts them.
    function _check(NodeDesc calldata d) internal pure {
        uint256 op = d.op;
        if (op != CLAMP && op != LEAKY_RELU && op != HARDSWISH && op != HARDSIGMOID) revert UnsupportedOp(op);
        _expectInputs(d, 1, 1);
        if (op == CLAMP || op == LEAKY_RELU) {
            if (d.params.length != 2) revert BadNode("param count");
        } else if (d.params.length != 0) {
            revert BadNode("param count");
        }
        if (op == CLAMP) {
            (int256 qmin, int256 qmax) = LibFixed.bounds(d.inputs[0].width);
            int256 lo = d.params[0];
            int256 hi = d.params[1];
            // INVARIANT: Clamp bounds lie inside the input dtype's range and in order (one result per x).
            if (lo < qmin || lo > hi || hi > qmax) revert ClampBoundsOutOfRange(lo, hi, qmin, qmax);
        } else if (op == LEAKY_RELU) {
            int256 m = d.params[0];
            int256 k = d.params[1];
            // INVARIANT: The slope m / 2^k keeps x * m and x * 2^k below 2^55.
            if (k < 0 || k > LEAKY_SHIFT_MAX || m > LEAKY_MULT_MAX || m < -LEAKY_MULT_MAX) {
                revert SlopeOutOfRange(m, k);
            }
        } else {
            int256 fx = d.inputs[0].frac;
            int256 fo = d.out.frac;
            // INVARIANT: Hard activations take fx in [0, 24] and fo in [0, 30] (their products stay below 2^61).
            if (fx < 0 || fx > HARD_FRAC_IN_MAX || fo < 0 || fo > HARD_FRAC_OUT_MAX) {
                revert FracOutOfRange(fx, fo, HARD_FRAC_IN_MAX, HARD_FRAC_OUT_MAX);
            }
        }
    }
}
