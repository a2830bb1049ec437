// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title LibMerkle
/// @notice The protocol's binary keccak Merkle trees, mirroring `offchain/commit/merkle.py` line for line
///         (that module's docstring is the normative definition; tests check both agree).
/// @dev Parent = keccak256(left ++ right). A tree over n leaves has depth ceil(log2 n) and is padded with the
///      empty-subtree ladder Z[0] = 0, Z[h+1] = keccak256(Z[h] ++ Z[h]). A root does not commit to n: callers
///      always pass n from context (a tensor's shape, a graph's node count).
library LibMerkle {
    /// @dev Deepest supported tree, as in Python (2^64 leaves).
    uint256 internal constant MAX_DEPTH = 64;

    /// @dev ceil(log2(n)); 0 for n <= 1.
    function depth(uint256 n) internal pure returns (uint256 d) {
        if (n <= 1) return 0;
        uint256 x = n - 1;
        while (x != 0) {
            x >>= 1;
            ++d;
        }
    }

    /// @dev keccak256(a ++ b) in scratch space: no memory growth.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @dev Z[h]: the hash of an all-padding subtree of height h.
    function zeroHash(uint256 height) internal pure returns (bytes32 z) {
        for (uint256 i; i < height; ++i) {
            z = hashPair(z, z);
        }
    }

    /// @dev Hashes 2^j sibling nodes (left to right) pairwise up to their ancestor. Returns false as `ok`
    ///      when the count is not a power of two. Overwrites `nodes`.
    function hashUp(bytes32[] memory nodes) internal pure returns (bytes32 root, bool ok) {
        uint256 count = nodes.length;
        if (count == 0 || count & (count - 1) != 0) return (bytes32(0), false);
        while (count > 1) {
            for (uint256 i; i < count; i += 2) {
                nodes[i >> 1] = hashPair(nodes[i], nodes[i + 1]);
            }
            count >>= 1;
        }
        return (nodes[0], true);
    }

    /// @dev Root implied by the contiguous leaves `leaves` at [start, start + m) of an n-leaf tree and the
    ///      range proof `proof` (siblings in the order of merkle.py's loop). `ok` is false when the inputs
    ///      cannot form a valid proof. Overwrites `leaves`.
    function computeRangeRoot(uint256 n, uint256 start, bytes32[] memory leaves, bytes32[] memory proof)
        internal
        pure
        returns (bytes32 root, bool ok)
    {
        uint256 m = leaves.length;
        if (n == 0 || m == 0 || start + m > n) return (bytes32(0), false);
        uint256 d = depth(n);
        uint256 p;
        uint256 lo = start;
        for (uint256 level; level < d; ++level) {
            uint256 out;
            uint256 i;
            if (lo & 1 == 1) {
                if (p >= proof.length) return (bytes32(0), false);
                leaves[0] = hashPair(proof[p++], leaves[0]);
                out = 1;
                i = 1;
            }
            while (i + 1 < m) {
                leaves[out++] = hashPair(leaves[i], leaves[i + 1]);
                i += 2;
            }
            if (i < m) {
                if (p >= proof.length) return (bytes32(0), false);
                leaves[out++] = hashPair(leaves[i], proof[p++]);
            }
            m = out;
            lo >>= 1;
        }
        if (p != proof.length) return (bytes32(0), false);
        return (leaves[0], true);
    }

    /// @dev True iff `leaves` sit at [start, start + leaves.length) of the n-leaf tree `root`.
    function verifyRange(bytes32 root, uint256 n, uint256 start, bytes32[] memory leaves, bytes32[] memory proof)
        internal
        pure
        returns (bool)
    {
        (bytes32 computed, bool ok) = computeRangeRoot(n, start, leaves, proof);
        return ok && computed == root;
    }

    /// @dev True iff `leaf` is leaf `index` of the n-leaf tree `root`.
    function verifyLeaf(bytes32 root, uint256 n, uint256 index, bytes32 leaf, bytes32[] memory proof)
        internal
        pure
        returns (bool)
    {
        bytes32[] memory one = new bytes32[](1);
        one[0] = leaf;
        return verifyRange(root, n, index, one, proof);
    }

    /// @dev Root of the tensor tree over `data` cut into `chunkBytes`-byte chunks (last one zero-padded),
    ///      for data small enough to hash on-chain (a request's input, a posted output). Empty data has the
    ///      root keccak256("") like merkle.py's EMPTY_ROOT.
    function tensorRoot(bytes memory data, uint256 chunkBytes) internal pure returns (bytes32) {
        uint256 len = data.length;
        if (len == 0) return keccak256("");
        uint256 n = (len + chunkBytes - 1) / chunkBytes;
        bytes32[] memory level = new bytes32[](n);
        uint256 full = len / chunkBytes;
        for (uint256 c; c < full; ++c) {
            bytes32 h;
            assembly ("memory-safe") {
                h := keccak256(add(add(data, 0x20), mul(c, chunkBytes)), chunkBytes)
            }
            level[c] = h;
        }
        if (full < n) {
            bytes memory last = new bytes(chunkBytes);
            for (uint256 k = full * chunkBytes; k < len; ++k) {
                last[k - full * chunkBytes] = data[k];
            }
            level[full] = keccak256(last);
        }
        return rootOf(level);
    }

    /// @dev Root of the padded tree over `leaves` (keccak256("") for none). Overwrites `leaves`.
    function rootOf(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 count = leaves.length;
        if (count == 0) return keccak256("");
        bytes32 z;
        while (count > 1) {
            uint256 half = (count + 1) >> 1;
            for (uint256 i; i < half; ++i) {
                bytes32 right = 2 * i + 1 < count ? leaves[2 * i + 1] : z;
                leaves[i] = hashPair(leaves[2 * i], right);
            }
            z = hashPair(z, z);
            count = half;
        }
        return leaves[0];
    }
}
