// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IERC7641
/// @notice ERC-7641 Intrinsic RevShare Token, exactly as the EIP writes it: an ERC-20 whose holders claim a share
///         of the revenue per snapshot, pro rata to their balance at that snapshot, and may burn tokens to redeem
///         their share of the remaining revenue pool. The EIP defines no events.
/// @dev ERC-165 id: type(IERC7641).interfaceId == 0xed7b2e4e (the XOR of these five selectors; IERC20's
///      functions are inherited and so not part of it).
interface IERC7641 is IERC20 {
    /// @notice ETH (wei) that `account` can claim at `snapshotId`: zero once claimed or expired.
    /// @param account The token holder.
    /// @param snapshotId The snapshot id.
    function claimableRevenue(address account, uint256 snapshotId) external view returns (uint256);

    /// @notice Pays the caller its revenue share at `snapshotId`, once per holder and snapshot.
    function claim(uint256 snapshotId) external;

    /// @notice Snapshots the balances and allocates the revenue received since the previous snapshot.
    ///         Rate-limited so that snapshots cannot be spammed.
    /// @return The new snapshot's id.
    function snapshot() external returns (uint256);

    /// @notice ETH (wei) that burning `amount` tokens would redeem from the burn-redemption pool now.
    function redeemableOnBurn(uint256 amount) external view returns (uint256);

    /// @notice Burns `amount` of the caller's tokens and pays it the redeemable ETH.
    function burn(uint256 amount) external;
}
