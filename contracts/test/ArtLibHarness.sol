// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibJsonString} from "../token/lib/LibJsonString.sol";
import {LibPixelSvg} from "../token/lib/LibPixelSvg.sol";

/// @title ArtLibHarness
/// @notice Test harness exposing AIGCCollection's metadata libraries, so property tests run as eth_calls without
///         a mint per example. Never deployed outside tests.
contract ArtLibHarness {
    /// @notice LibJsonString.escape(data).
    function escape(bytes calldata data) external pure returns (bytes memory) {
        return LibJsonString.escape(data);
    }

    /// @notice LibPixelSvg.render(pixels, width, height).
    function render(bytes calldata pixels, uint256 width, uint256 height) external pure returns (bytes memory) {
        return LibPixelSvg.render(pixels, width, height);
    }
}
