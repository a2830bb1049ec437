// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IPoseidon3, IPoseidon6} from "./interfaces/IPoseidon.sol";

/// @title PrivateNodeHasher
/// @notice On-chain twins of offchain/zk/private.py `tensor_hash` and `public_signal`: what a dispute on a
///         private node recomputes from revealed tensors to check them against the proven public signal.
/// @dev Packing: values offset by 2^(bits-1), 253 / bits per field element, little-endian within an element;
///      chain h_{i+1} = Poseidon6(h_i, next 5 elements) from h_0 = 0, zero-padded, at least one step.
contract PrivateNodeHasher {
    /// @dev `bits` is not 8, 16 or 32.
    error UnsupportedBits(uint256 bits);
    /// @dev `value` at `index` does not fit `bits` signed bits.
    error ValueOutOfRange(uint256 index, int256 value, uint256 bits);

    uint256 private constant PACK_BITS = 253;
    uint256 private constant RATE = 5;

    IPoseidon6 public immutable poseidon6;
    IPoseidon3 public immutable poseidon3;

    constructor(IPoseidon6 poseidon6_, IPoseidon3 poseidon3_) {
        poseidon6 = poseidon6_;
        poseidon3 = poseidon3_;
    }

    /// @notice Poseidon chain of a tensor's values (row-major) at `bits` bits per value.
    function tensorHash(int256[] calldata values, uint256 bits) external view returns (uint256 h) {
        if (bits != 8 && bits != 16 && bits != 32) revert UnsupportedBits(bits);
        uint256 perElement = PACK_BITS / bits;
        uint256 nElements = (values.length + perElement - 1) / perElement;
        uint256 steps = nElements == 0 ? 1 : (nElements + RATE - 1) / RATE;
        int256 offset = int256(1 << (bits - 1));
        uint256 next;
        for (uint256 s = 0; s < steps; ++s) {
            uint256[6] memory input;
            input[0] = h;
            for (uint256 k = 1; k <= RATE && next < nElements; ++k) {
                input[k] = _pack(values, next * perElement, perElement, bits, offset);
                ++next;
            }
            h = poseidon6.poseidon(input);
        }
    }

    /// @notice The proof's public input: Poseidon3(inHash, outHash, commitment).
    function publicSignal(uint256 inHash, uint256 outHash, uint256 commitment) external view returns (uint256) {
        return poseidon3.poseidon([inHash, outHash, commitment]);
    }

    /// @dev Field element packing values[start .. start + count) (fewer at the end of the tensor).
    function _pack(int256[] calldata values, uint256 start, uint256 count, uint256 bits, int256 offset)
        private pure returns (uint256 e)
    {
        uint256 end = start + count < values.length ? start + count : values.length;
        for (uint256 i = start; i < end; ++i) {
            int256 v = values[i];
            // INVARIANT: Only in-range values pack injectively (the circuit range-checks the same).
            if (v < -offset || v >= offset) revert ValueOutOfRange(i, v, bits);
            e |= uint256(v + offset) << (bits * (i - start));
        }
    }
}
