// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @notice circomlibjs' generated Poseidon contracts (offchain/zk/artifacts/PoseidonT4.json, PoseidonT7.json):
///         `poseidon(uint256[n])` = circomlib Poseidon(n) of field elements.
interface IPoseidon3 {
    function poseidon(uint256[3] calldata input) external pure returns (uint256);
}

/// @notice See IPoseidon3; six inputs (t = 7), the tensor chain's step.
interface IPoseidon6 {
    function poseidon(uint256[6] calldata input) external pure returns (uint256);
}
