// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibShape} from "../lib/LibShape.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ShapeOps
/// @notice RESHAPE, PERMUTE, SLICE and CONCAT, mirroring offchain/engine/ops/shape.py: data movement, so each
///         output element is one input element, unchanged (the graph gives inputs and output the same scale).
///         PERMUTE params: perm (one per axis). SLICE params: (axis, start, step). CONCAT params: (axis).
contract ShapeOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant RESHAPE = 17;
    uint256 internal constant PERMUTE = 18;
    uint256 internal constant SLICE = 19;
    uint256 internal constant CONCAT = 20;

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
        if (d.op == RESHAPE) {
            // Same element count: otherwise the flat index would name another tensor's layout.
            if (LibShape.numel(d.out.shape) != LibShape.numel(d.inputs[0].shape)) revert BadNode("reshape count");
            return (0, e, 1);
        }
        uint256[] memory multi = LibShape.unravel(e, d.out.shape);
        if (d.op == PERMUTE) return (0, _permuted(d, multi), 1);
        uint256 axis = _axis(d, multi.length);
        if (d.op == SLICE) {
            if (d.params[1] < 0 || d.params[2] < 1) revert BadNode("slice start/step");
            multi[axis] = uint256(d.params[1]) + multi[axis] * uint256(d.params[2]);
            // INVARIANT: A slice reads inside its axis (past it, the flat index would land in the next row).
            uint256[] calldata inShape = d.inputs[0].shape;
            if (axis >= inShape.length || multi[axis] >= inShape[axis]) revert BadNode("slice bound");
            return (0, LibShape.ravel(multi, inShape), 1);
        }
        // CONCAT: walk the inputs along the axis until the position falls inside one.
        uint256 pos = multi[axis];
        for (uint256 slot; slot < d.inputs.length; ++slot) {
            uint256[] calldata shape = d.inputs[slot].shape;
            if (axis >= shape.length) revert BadNode("concat rank");
            if (pos < shape[axis]) {
                multi[axis] = pos;
                return (slot, LibShape.ravel(multi, shape), 1);
            }
            pos -= shape[axis];
        }
        revert BadNode("concat index");
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        return _m(operands[0]).at(0);
    }

    /// @dev Flat input index of output multi-index `multi`: in_multi[perm[i]] = out_multi[i].
    function _permuted(NodeDesc calldata d, uint256[] memory multi) internal pure returns (uint256) {
        uint256 rank = multi.length;
        if (d.params.length != rank) revert BadNode("perm length");
        uint256[] memory inMulti = new uint256[](rank);
        uint256 seen;
        for (uint256 i; i < rank; ++i) {
            int256 p = d.params[i];
            // A permutation names every axis once (rank <= 6, so a bit mask holds the axes seen).
            if (p < 0 || uint256(p) >= rank || seen & (1 << uint256(p)) != 0) revert BadNode("perm entry");
            seen |= 1 << uint256(p);
            inMulti[uint256(p)] = multi[i];
        }
        return LibShape.ravel(inMulti, d.inputs[0].shape);
    }

    function _axis(NodeDesc calldata d, uint256 rank) internal pure returns (uint256) {
        int256 axis = d.params[0];
        if (axis < 0 || uint256(axis) >= rank) revert BadNode("axis");
        return uint256(axis);
    }

    function _check(NodeDesc calldata d) internal pure {
        uint256 op = d.op;
        if (op < RESHAPE || op > CONCAT) revert UnsupportedOp(op);
        if (op == CONCAT) {
            if (d.inputs.length == 0) revert BadNode("input count");
        } else {
            _expectInputs(d, 1, 1);
        }
        uint256 params = op == PERMUTE ? d.inputs[0].shape.length : (op == SLICE ? 3 : (op == CONCAT ? 1 : 0));
        if (d.params.length != params) revert BadNode("param count");
    }
}
