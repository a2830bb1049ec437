// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title EmbeddingOps
/// @notice EMBEDDING (row gather from a [V, D] table by int32 token id), mirroring
///         offchain/engine/ops/embedding.py: out[.., d] = rescale(table[ids[..], d], ft - fo).
///         Data-dependent: range 0 is the token id, range 1 the table element that id selects.
contract EmbeddingOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant EMBEDDING = 15;

    /// @dev The proven token id lies outside the vocabulary [0, vocab).
    error TokenOutOfVocabulary(int256 token, uint256 vocab);

    /// @inheritdoc IOperator
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == EMBEDDING;
    }

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 2;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        uint256 dim = d.inputs[1].shape[1];
        if (r == 0) return (0, e / dim, 1);
        if (r != 1 || loaded.length != 1) revert BadNode("range index");
        int256 token = _m(loaded[0]).at(0);
        uint256 vocab = d.inputs[1].shape[0];
        // INVARIANT: A row is only read for an id the executor would accept (it rejects the whole input).
        if (token < 0 || uint256(token) >= vocab) revert TokenOutOfVocabulary(token, vocab);
        return (1, uint256(token) * dim + e % dim, 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        return LibFixed.rescale(_m(operands[1]).at(0), _copyShift(d, 1), d.out.width);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != EMBEDDING) revert UnsupportedOp(d.op);
        _expectInputs(d, 2, 2);
        if (d.inputs[1].shape.length != 2 || d.inputs[1].shape[1] == 0) revert BadNode("table shape");
    }
}
