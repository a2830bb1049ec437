// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title LinearOps
/// @notice LINEAR (x W^T + b, W [N, K]) and MATMUL (a b^T, b [.., N, K]), mirroring
///         offchain/engine/ops/linear.py: one output element is the dot product of two contiguous rows.
contract LinearOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant LINEAR = 1;
    uint256 internal constant MATMUL = 3;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        if (d.op == LINEAR) {
            _expectInputs(d, 2, 3);
            return d.inputs.length;
        }
        if (d.op == MATMUL) {
            _expectInputs(d, 2, 2);
            return 2;
        }
        revert UnsupportedOp(d.op);
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256 slot, uint256 start, uint256 len)
    {
        if (d.op == LINEAR) {
            uint256 n = d.inputs[1].shape[0];
            uint256 k = d.inputs[1].shape[1];
            (uint256 row, uint256 col) = (e / n, e % n);
            if (r == 0) return (0, row * k, k);
            if (r == 1) return (1, col * k, k);
            return (2, col, 1);
        }
        if (d.op == MATMUL) {
            uint256 m = _dim(d.inputs[0], 1);
            uint256 k = _dim(d.inputs[0], 0);
            uint256 n = _dim(d.inputs[1], 1);
            uint256 batch = e / (m * n);
            uint256 rest = e % (m * n);
            if (r == 0) return (0, (batch * m + rest / n) * k, k);
            return (1, (batch * n + rest % n) * k, k);
        }
        revert UnsupportedOp(d.op);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        if (d.op != LINEAR && d.op != MATMUL) revert UnsupportedOp(d.op);
        int256 acc = _m(operands[0]).dot(_m(operands[1]));
        if (operands.length == 3) acc += _m(operands[2]).at(0);
        return LibFixed.rescale(acc, _productShift(d, 0, 1), d.out.width);
    }
}
