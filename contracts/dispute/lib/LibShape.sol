// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title LibShape
/// @notice Row-major index arithmetic on descriptor shapes, mirroring `offchain/engine/ops/base.py`'s
///         `unravel` and `ravel`, and `elementwise.py`'s `broadcast_index`.
library LibShape {
    /// @dev A multi-index of another rank than the shape it is ravelled in.
    error RankMismatch(uint256 multiRank, uint256 shapeRank);

    /// @dev Row-major multi-index of flat `index` in `shape` (the last axis varies fastest).
    function unravel(uint256 index, uint256[] calldata shape) internal pure returns (uint256[] memory multi) {
        uint256 rank = shape.length;
        multi = new uint256[](rank);
        for (uint256 k = rank; k > 0; --k) {
            uint256 dim = shape[k - 1];
            // A zero dim has no elements; the prover never asks for one (its numel is 0).
            if (dim == 0) return multi;
            multi[k - 1] = index % dim;
            index /= dim;
        }
    }

    /// @dev Flat row-major index of `multi` in `shape`.
    function ravel(uint256[] memory multi, uint256[] calldata shape) internal pure returns (uint256 flat) {
        if (multi.length != shape.length) revert RankMismatch(multi.length, shape.length);
        for (uint256 k; k < multi.length; ++k) {
            flat = flat * shape[k] + multi[k];
        }
    }

    /// @dev Flat index into an input of shape `inShape` read by output multi-index `outMulti` under numpy
    ///      broadcasting: shapes are right-aligned and a dimension of size 1 repeats.
    function broadcastIndex(uint256[] memory outMulti, uint256[] calldata inShape)
        internal
        pure
        returns (uint256 flat)
    {
        uint256 rank = inShape.length;
        if (rank > outMulti.length) revert RankMismatch(outMulti.length, rank);
        uint256 offset = outMulti.length - rank;
        for (uint256 k; k < rank; ++k) {
            uint256 dim = inShape[k];
            flat = flat * dim + (dim == 1 ? 0 : outMulti[offset + k]);
        }
    }

    /// @dev Product of the dims.
    function numel(uint256[] calldata shape) internal pure returns (uint256 n) {
        n = 1;
        for (uint256 k; k < shape.length; ++k) {
            n *= shape[k];
        }
    }
}
