// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title UnaryOps
/// @notice RELU, NEG and RESCALE, mirroring offchain/engine/ops/unary.py: out[e] = rescale(f(x[e]), fx - fo).
contract UnaryOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant RELU = 7;
    uint256 internal constant NEG = 10;
    uint256 internal constant RESCALE = 11;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 1;
    }

    function range(NodeDesc calldata d, uint256 e, uint256, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        return (0, e, 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        int256 x = _m(operands[0]).at(0);
        if (d.op == RELU) x = x > 0 ? x : int256(0);
        else if (d.op == NEG) x = -x;
        return LibFixed.rescale(x, _copyShift(d, 0), d.out.width);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != RELU && d.op != NEG && d.op != RESCALE) revert UnsupportedOp(d.op);
        _expectInputs(d, 1, 1);
    }
}
