// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Operand} from "../lib/LibOperand.sol";

/// @title OperatorBase
/// @notice Helpers shared by the operator families: requantisation shifts and operand copies.
abstract contract OperatorBase is IOperator {
    /// @inheritdoc IOperator
    function dataDependent(uint256) external pure virtual returns (bool) {
        return false;
    }

    /// @dev Frac bits of input slot k plus those of slot j, minus the output's: the shift of a product.
    function _productShift(NodeDesc calldata d, uint256 k, uint256 j) internal pure returns (int256) {
        return d.inputs[k].frac + d.inputs[j].frac - d.out.frac;
    }

    /// @dev Input slot k's frac bits minus the output's: the shift of a copy.
    function _copyShift(NodeDesc calldata d, uint256 k) internal pure returns (int256) {
        return d.inputs[k].frac - d.out.frac;
    }

    function _expectInputs(NodeDesc calldata d, uint256 lo, uint256 hi) internal pure {
        if (d.inputs.length < lo || d.inputs.length > hi) revert BadNode("input count");
    }

    function _dim(TensorDesc calldata t, uint256 fromEnd) internal pure returns (uint256) {
        uint256 rank = t.shape.length;
        if (fromEnd >= rank) revert BadNode("rank");
        return t.shape[rank - 1 - fromEnd];
    }

    /// @dev A calldata operand as a memory one, for LibOperand's readers.
    function _m(Operand calldata o) internal pure returns (Operand memory) {
        return o;
    }
}
