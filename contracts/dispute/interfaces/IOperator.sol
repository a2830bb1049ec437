// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {Operand} from "../lib/LibOperand.sol";
import {IStepErrors} from "./IStepErrors.sol";

/// @title IOperator
/// @notice One family of operators as the one-step prover sees them: which operand ranges one output element
///         reads, and the element's value from those operands. Each implementation mirrors the Python op's
///         `operand_ranges` and `element` (offchain/engine/ops/) exactly; tests check them against each other.
interface IOperator is IStepErrors {

    /// @notice True when `range` reads earlier ranges' values (e.g. embedding looks its row up by token id);
    ///         otherwise the prover passes `range` no loaded operands.
    function dataDependent(uint256 op) external pure returns (bool);

    /// @notice Number of operand ranges output element `e` reads (`len(operand_ranges(node, e))` in Python).
    function rangeCount(NodeDesc calldata d, uint256 e) external pure returns (uint256);

    /// @notice Range r of output element `e`: operand slot, flat start element and length.
    /// @param loaded The ranges 0..r-1, already proven (data-dependent ops, e.g. embedding, read them).
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256 slot, uint256 start, uint256 len);

    /// @notice Output element `e` (flat, row-major) from its proven operand ranges, in `range` order.
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256);
}
