// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOneStepProver} from "../../contracts/dispute/interfaces/IOneStepProver.sol";
import {StepContext} from "../../contracts/dispute/lib/Types.sol";

/// @notice The "true" output of every node of the invariant suite's toy models: element `flat` of node `node` on
///         input `inputRoot` is `width` bytes of keccak256(inputRoot, node, word) (word = the 32-byte word of the
///         packed tensor holding it). A table fixed by the input, so an honest trace, a faulty one and the one-step
///         verdict all derive from it, without the Python engine.
library TruthTable {
    /// @dev Word `word` (32 bytes) of node `node`'s packed, big-endian output tensor.
    function word(bytes32 inputRoot, uint256 node, uint256 wordIndex) internal pure returns (bytes32) {
        return keccak256(abi.encode(inputRoot, node, wordIndex));
    }

    /// @dev The unsigned `width`-byte pattern of element `flat` (width divides 32, so it never spans words).
    function raw(bytes32 inputRoot, uint256 node, uint256 flat, uint256 width) internal pure returns (uint256) {
        uint256 offset = flat * width;
        uint256 w = uint256(word(inputRoot, node, offset / 32));
        uint256 shift = 8 * (32 - (offset % 32) - width);
        return (w >> shift) & ((uint256(1) << (8 * width)) - 1);
    }

    /// @dev Two's complement reading of a `width`-byte pattern, as the game reads the submitter's element.
    function signedOf(uint256 pattern, uint256 width) internal pure returns (int256) {
        uint256 bits = 8 * width;
        return pattern >= (uint256(1) << (bits - 1)) ? int256(pattern) - int256(uint256(1) << bits) : int256(pattern);
    }
}

/// @notice Node descriptor of the toy models: the node's place and its output layout, ABI-encoded (the game only
///         hashes descriptors into the graph root and hands them to the prover).
struct ToyDescriptor {
    uint256 modelTag;
    uint256 node;
    uint256 numel;
    uint256 width;
    uint256 chunkLog2;
}

/// @notice IOneStepProver over the truth table: `recompute` returns the true element whatever the proof (the real
///         prover's job, verifying operands, is tested elsewhere); a challenger wins a step only where the
///         submitter's element differs from the table.
contract TableProver is IOneStepProver {
    /// @inheritdoc IOneStepProver
    function recompute(StepContext calldata ctx, bytes calldata descriptor, bytes calldata)
        external
        pure
        returns (int256 value)
    {
        ToyDescriptor memory d = abi.decode(descriptor, (ToyDescriptor));
        return TruthTable.signedOf(TruthTable.raw(ctx.inputRoot, ctx.nodeIndex, ctx.elementIndex, d.width), d.width);
    }

    /// @inheritdoc IOneStepProver
    function outputLayout(bytes calldata descriptor)
        external
        pure
        returns (uint256 numel, uint256 widthBytes, uint256 chunkLog2)
    {
        ToyDescriptor memory d = abi.decode(descriptor, (ToyDescriptor));
        return (d.numel, d.width, d.chunkLog2);
    }
}
