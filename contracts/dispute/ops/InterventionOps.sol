// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title InterventionOps
/// @notice LOREFT, a rank-r LoReFT intervention h + R^T (W h + b - R h), mirroring
///         offchain/engine/ops/intervention.py: z[k] = (W_k - R_k) . h + b[k] (exact), e[k] = rescale(z[k], fw),
///         out[j] = rescale(h[j] << fw + sum_k R[k, j] e[k], fw), saturated to h's dtype. One element reads its row
///         of h, all of R and W (int8, [r, d]) and b (int32, [r]).
contract InterventionOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant LOREFT = 26;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 4;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        uint256 rank = d.inputs[1].shape[0];
        uint256 dim = d.inputs[1].shape[1];
        if (r == 0) return (0, (e / dim) * dim, dim);
        if (r == 1 || r == 2) return (r, 0, rank * dim);
        if (r == 3) return (3, 0, rank);
        revert BadNode("range index");
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        uint256 dim = d.inputs[1].shape[1];
        Operand[4] memory m = [_m(operands[0]), _m(operands[1]), _m(operands[2]), _m(operands[3])];
        int256 acc = m[0].at(e % dim) << uint256(d.inputs[1].frac);
        for (uint256 k; k < d.inputs[1].shape[0]; ++k) {
            acc += m[1].at(k * dim + e % dim) * _e(d, m, k);
        }
        return LibFixed.rescale(acc, d.inputs[1].frac, d.out.width);
    }

    /// @dev e[k] = rescale((W_k - R_k) . h + b[k], fw), the dot taken as W_k . h - R_k . h (the same exact integer).
    ///      m = [h, R, W, b].
    function _e(NodeDesc calldata d, Operand[4] memory m, uint256 k) internal pure returns (int256) {
        uint256 dim = d.inputs[1].shape[1];
        int256 z = _row(m[2], k, dim).dot(m[0]) - _row(m[1], k, dim).dot(m[0]) + m[3].at(k);
        return LibFixed.rescale(z, d.inputs[1].frac, d.out.width);
    }

    /// @dev Row k of a [r, d] operand, as an operand over the same bytes.
    function _row(Operand memory m, uint256 k, uint256 dim) internal pure returns (Operand memory row) {
        row.data = m.data;
        row.skip = m.skip + k * dim;
        row.width = m.width;
        row.len = dim;
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != LOREFT) revert UnsupportedOp(d.op);
        _expectInputs(d, 4, 4);
        if (d.inputs[1].shape.length != 2 || d.inputs[1].shape[1] == 0) revert BadNode("R shape");
        if (d.inputs[1].frac < 0 || d.inputs[1].frac > 31) revert BadNode("fw");
    }
}
