// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title LibTextOutput
/// @notice How a text model's output reaches its consumer, mirroring `offchain/chain/encoding.py::delivered_output`:
///         the output tensor is the text's UTF-8 bytes zero-padded to the model's output length; the delivery drops
///         the trailing zero bytes (interior zero bytes stay), so ORA's `string(output)` is the text itself.
library LibTextOutput {
    /// @dev `output` without its trailing zero bytes (empty for an all-zero output). Gas: 32-byte words from the
    ///      end, then at most 31 single bytes: about 75 gas per zero word; an all-zero output of 256 bytes costs
    ///      916 gas, of 1024 bytes 2,716, a text with no padding 316 (test-sol/LibTextOutput.t.sol measures it).
    function trimmed(bytes calldata output) internal pure returns (bytes calldata) {
        uint256 n = output.length;
        uint256 start;
        assembly ("memory-safe") {
            start := output.offset
            // Whole zero words from the end; `n >= 32` keeps every load inside `output`.
            for {} and(gt(n, 31), iszero(calldataload(sub(add(start, n), 32)))) {} { n := sub(n, 32) }
            // Then single bytes: byte 0 of the word at start + n - 1 is output[n - 1].
            for {} and(gt(n, 0), iszero(byte(0, calldataload(sub(add(start, n), 1))))) {} { n := sub(n, 1) }
        }
        return output[:n];
    }
}
