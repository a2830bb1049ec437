// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {StepContext} from "../lib/Types.sol";

/// @title IOneStepProver
/// @notice Recomputes one element of one node's output from operands proven against the model's and the
///         claim's commitments. The game only compares the result with the submitter's element, so it never
///         knows which operators exist.
interface IOneStepProver {
    /// @notice The true value of element `ctx.elementIndex` of node `ctx.nodeIndex`'s output.
    /// @param ctx The commitments and the position being disputed.
    /// @param descriptor Node `ctx.nodeIndex`'s canonical descriptor (the game has checked it against the
    ///        graph root).
    /// @param proof The operands of that element with their Merkle proofs, in the prover's encoding.
    /// @dev Reverts (with the prover's named error) when a proof does not verify.
    function recompute(StepContext calldata ctx, bytes calldata descriptor, bytes calldata proof)
        external
        view
        returns (int256 value);

    /// @notice The layout of a node's output as its descriptor declares it: element count, bytes per
    ///         element (1, 2 or 4) and the commitment's chunk size (log2 bytes). The game uses it to bound the
    ///         tensor descent and to read the submitter's element.
    function outputLayout(bytes calldata descriptor)
        external
        pure
        returns (uint256 numel, uint256 widthBytes, uint256 chunkLog2);
}
