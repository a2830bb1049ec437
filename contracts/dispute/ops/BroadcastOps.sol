// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibShape} from "../lib/LibShape.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title BroadcastOps
/// @notice EXPAND and WHERE, mirroring offchain/engine/ops/broadcast.py: numpy broadcasting reads, values
///         unchanged (the graph gives x, y and the output the same scale).
///         EXPAND inputs (x): out = x broadcast to out.shape.
///         WHERE inputs (cond, x, y): out = cond != 0 ? x : y, each broadcast to out.shape.
contract BroadcastOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant EXPAND = 37;
    uint256 internal constant WHERE = 38;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.inputs.length;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r >= d.inputs.length) revert BadNode("range index");
        uint256[] memory multi = LibShape.unravel(e, d.out.shape);
        return (r, LibShape.broadcastIndex(multi, d.inputs[r].shape), 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        if (d.op == EXPAND) return _m(operands[0]).at(0);
        return _m(operands[0]).at(0) != 0 ? _m(operands[1]).at(0) : _m(operands[2]).at(0);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != EXPAND && d.op != WHERE) revert UnsupportedOp(d.op);
        uint256 n = d.op == EXPAND ? 1 : 3;
        _expectInputs(d, n, n);
        if (d.params.length != 0) revert BadNode("param count");
        uint256[] calldata outShape = d.out.shape;
        for (uint256 k; k < n; ++k) {
            uint256[] calldata shape = d.inputs[k].shape;
            if (shape.length > outShape.length) revert BadNode("broadcast rank");
            uint256 offset = outShape.length - shape.length;
            for (uint256 j; j < shape.length; ++j) {
                // INVARIANT: An input dim is 1 or the output's (any other size would read past the input's row).
                if (shape[j] != 1 && shape[j] != outShape[offset + j]) revert BadNode("broadcast dim");
            }
        }
    }
}
