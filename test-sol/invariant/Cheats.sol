// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @notice The few forge cheatcodes the invariant suite uses (the project ships no forge-std: it is offline).
interface Vm {
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
    function prank(address sender) external;
}

/// @notice forge's console (logs show with -vv).
library Console {
    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}

/// @notice The selectors forge's invariant engine may call on a target (forge-std's StdInvariant shape).
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}

/// @dev The cheatcode address: keccak256("hevm cheat code")'s last 20 bytes.
Vm constant VM = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
