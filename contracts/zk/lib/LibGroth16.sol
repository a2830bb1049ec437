// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title LibGroth16
/// @notice Groth16 checks over the BN254 precompiles (ecAdd 0x06, ecMul 0x07, ecPairing 0x08).
/// @dev Verifying keys are `bytes` in memory: alpha1 at 0, beta2 at 64, gamma2 at 192, delta2 at 320, IC at 448
///      (64 bytes per G1 point, 128 per G2 point, EIP-197 word order). Proofs: A at 0, B at 64, C at 192.
///      Every function returns ok = false when a precompile rejects a point, never reverts for it.
library LibGroth16 {
    /// @dev BN254 base field modulus (coordinates).
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev BN254 scalar field order (public inputs, scalars).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint256 internal constant VK_ALPHA = 0;
    uint256 internal constant VK_BETA = 64;
    uint256 internal constant VK_GAMMA = 192;
    uint256 internal constant VK_DELTA = 320;
    uint256 internal constant VK_IC = 448;

    /// @dev s * (x, y) via ecMul.
    function mul(uint256 x, uint256 y, uint256 s) internal view returns (uint256 rx, uint256 ry, bool ok) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x)
            mstore(add(m, 0x20), y)
            mstore(add(m, 0x40), s)
            ok := staticcall(gas(), 0x07, m, 0x60, m, 0x40)
            rx := mload(m)
            ry := mload(add(m, 0x20))
        }
    }

    /// @dev (x1, y1) + (x2, y2) via ecAdd.
    function add(uint256 x1, uint256 y1, uint256 x2, uint256 y2)
        internal view returns (uint256 rx, uint256 ry, bool ok)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x1)
            mstore(add(m, 0x20), y1)
            mstore(add(m, 0x40), x2)
            mstore(add(m, 0x60), y2)
            ok := staticcall(gas(), 0x06, m, 0x80, m, 0x40)
            rx := mload(m)
            ry := mload(add(m, 0x20))
        }
    }

    /// @dev Word `i` (32-byte index) of memory bytes `b`.
    function word(bytes memory b, uint256 i) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), mul(i, 0x20)))
        }
    }

    /// @dev s0 * IC[0] + sum_j s[j] * IC[j+1]; s0 == 1 skips a multiplication.
    function icCombination(bytes memory vk, uint256 s0, uint256[] memory s)
        internal view returns (uint256 x, uint256 y, bool ok)
    {
        uint256 base = VK_IC / 32;
        x = word(vk, base);
        y = word(vk, base + 1);
        ok = true;
        if (s0 != 1) (x, y, ok) = mul(x, y, s0);
        for (uint256 j = 0; j < s.length && ok; ++j) {
            (uint256 px, uint256 py, bool okMul) = mul(word(vk, base + 2 * (j + 1)), word(vk, base + 2 * (j + 1) + 1), s[j]);
            (x, y, ok) = add(x, y, px, py);
            ok = ok && okMul;
        }
    }

    /// @dev Writes the pairing pair (g1, g2 from vk at `vkOffset`) at memory `dst`.
    function writeVkPair(uint256 dst, uint256 g1x, uint256 g1y, bytes memory vk, uint256 vkOffset) internal pure {
        assembly ("memory-safe") {
            mstore(dst, g1x)
            mstore(add(dst, 0x20), g1y)
            let src := add(add(vk, 0x20), vkOffset)
            mstore(add(dst, 0x40), mload(src))
            mstore(add(dst, 0x60), mload(add(src, 0x20)))
            mstore(add(dst, 0x80), mload(add(src, 0x40)))
            mstore(add(dst, 0xa0), mload(add(src, 0x60)))
        }
    }

    /// @dev ecPairing over `pairs` 192-byte pairs at memory `input`: true iff the product is 1.
    function pairing(uint256 input, uint256 pairs) internal view returns (bool ok) {
        assembly ("memory-safe") {
            let out := mload(0x40)
            let success := staticcall(gas(), 0x08, input, mul(pairs, 192), out, 0x20)
            ok := and(success, eq(mload(out), 1))
        }
    }
}
