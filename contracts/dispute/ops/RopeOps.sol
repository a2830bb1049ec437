// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title RopeOps
/// @notice ROPE (rotate-half rotary embedding), mirroring offchain/engine/ops/rope.py: x [.., T, D],
///         cos [T, D], sin [T, D], h = D / 2:
///         out[.., t, i] = rescale(x[t, i] cos[t, i] - x[t, i + h] sin[t, i], fx + fc - fo)   for i < h
///         out[.., t, i] = rescale(x[t, i] cos[t, i] + x[t, i - h] sin[t, i], fx + fc - fo)   for i >= h
contract RopeOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant ROPE = 16;

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
        uint256 dim = _dim(d.inputs[0], 0);
        uint256 t = _dim(d.inputs[0], 1);
        if (r == 0) return (0, e, 1);
        if (r == 1) {
            uint256 h = dim / 2;
            return (0, e % dim < h ? e + h : e - h, 1);
        }
        if (r > 3) revert BadNode("range index");
        // The tables are [T, D]: the row-major position of (t, i) is e mod T*D.
        return (r - 1, e % (t * dim), 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        uint256 dim = _dim(d.inputs[0], 0);
        int256 x = _m(operands[0]).at(0);
        int256 other = _m(operands[1]).at(0);
        int256 cosine = _m(operands[2]).at(0);
        int256 sine = _m(operands[3]).at(0);
        int256 rotated = e % dim < dim / 2 ? -other * sine : other * sine;
        return LibFixed.rescale(x * cosine + rotated, _productShift(d, 0, 1), d.out.width);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != ROPE) revert UnsupportedOp(d.op);
        _expectInputs(d, 3, 3);
        uint256 dim = _dim(d.inputs[0], 0);
        if (dim == 0 || dim % 2 != 0) revert BadNode("odd last dim");
    }
}
