// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibRow} from "../lib/LibRow.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title SoftmaxOps
/// @notice SOFTMAX over the last axis, optionally causal (params (causal,)), mirroring
///         offchain/engine/ops/softmax.py and intmath_softmax.py's `softmax_element`: for a row whose first
///         L keys are valid (causal row i: L = min(n, i + 1)), m = max x[0..L), S = sum_{i<L} e^(x_i - m) in Q30,
///         out_j = saturate(div_round(e^(x_j - m) << fo, S)) for j < L, 0 for masked j. One output element
///         reads its whole row, so one step costs L exps (measured in bench/bench_ops_gas.py).
contract SoftmaxOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant SOFTMAX = 12;
    /// Longest row the reference accepts (intmath_softmax.MAX_ROW).
    uint256 internal constant MAX_ROW = 1 << 16;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 1;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r != 0) revert BadNode("range index");
        uint256 n = _dim(d.inputs[0], 0);
        return (0, (e / n) * n, n);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        (uint256 n, uint256 fIn, uint256 fOut) = _check(d);
        Operand memory row = _m(operands[0]);
        if (row.len != n) revert BadNode("row length");
        uint256 valid = n;
        if (d.params[0] == 1) {
            uint256 query = (e / n) % _dim(d.inputs[0], 1);
            if (query + 1 < valid) valid = query + 1;
        }
        uint256 j = e % n;
        if (j >= valid) return 0;
        int256 m = LibRow.maxPrefix(row, valid);
        int256 s = LibIntMath.expNegSumQ30(row, valid, m, fIn);
        int256 ej = LibIntMath.expNegQ30(m - row.at(j), fIn);
        // Safe: ej <= 2^30 and fOut <= 30, so the shift stays below 2^61.
        return LibFixed.saturate(LibIntMath.divRound(ej << fOut, s), d.out.width);
    }

    /// @dev The op, its params and the reference's domain; returns (row length, fIn, fOut).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n, uint256, uint256) {
        if (d.op != SOFTMAX) revert UnsupportedOp(d.op);
        _expectInputs(d, 1, 1);
        if (d.params.length != 1 || (d.params[0] != 0 && d.params[0] != 1)) revert BadNode("causal flag");
        n = _dim(d.inputs[0], 0);
        if (n == 0 || n > MAX_ROW) revert BadNode("row length outside [1, 2^16]");
        int256 fIn = d.inputs[0].frac;
        int256 fOut = d.out.frac;
        if (fIn < 0 || fIn > LibIntMath.FRAC_IN_MAX) revert BadNode("f_in outside [0, 24]");
        if (fOut < 0 || fOut > LibIntMath.FRAC_OUT_MAX) revert BadNode("f_out outside [0, 30]");
        return (n, uint256(fIn), uint256(fOut));
    }
}
