// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IStepErrors} from "../interfaces/IStepErrors.sol";

/// @title LibFixed
/// @notice The protocol's one requantisation rule, mirroring `offchain/engine/ops/fixed.py::rescale_int` and
///         `offchain/engine/intmath_core.py::rshift_round_element`.
library LibFixed {
    /// @dev Accumulators must stay strictly inside +-2^62 (intmath_core.ACC_LIMIT).
    int256 internal constant ACC_LIMIT = int256(1) << 62;


    /// @dev (acc + 2^(s-1)) >> s with an arithmetic (floor) shift for s > 0; acc for s == 0; acc << -s for s < 0.
    function rshiftRound(int256 acc, int256 s) internal pure returns (int256) {
        if (s > 0) {
            if (s > 62) revert IStepErrors.ShiftOutOfRange(s);
            // INVARIANT: As in intmath_core.rshift_round_element, |acc| < 2^62 (the engine raises beyond it).
            if (acc >= ACC_LIMIT || acc <= -ACC_LIMIT) revert IStepErrors.AccumulatorOutOfRange(acc);
            return (acc + (int256(1) << uint256(s - 1))) >> uint256(s);
        }
        if (s == 0) return acc;
        if (s < -31) revert IStepErrors.ShiftOutOfRange(s);
        return acc << uint256(-s);
    }

    /// @dev Clamp to the signed range of a `width`-byte integer.
    function saturate(int256 x, uint256 width) internal pure returns (int256) {
        (int256 lo, int256 hi) = bounds(width);
        return x < lo ? lo : (x > hi ? hi : x);
    }

    /// @dev -2^(8w-1) and 2^(8w-1) - 1.
    function bounds(uint256 width) internal pure returns (int256 lo, int256 hi) {
        if (width != 1 && width != 2 && width != 4) revert IStepErrors.BadWidth(width);
        hi = (int256(1) << (8 * width - 1)) - 1;
        lo = -hi - 1;
    }

    /// @dev rshiftRound then saturate: `fixed.py::rescale_int`.
    function rescale(int256 acc, int256 s, uint256 width) internal pure returns (int256) {
        return saturate(rshiftRound(acc, s), width);
    }
}
