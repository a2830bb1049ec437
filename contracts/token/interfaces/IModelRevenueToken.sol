// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC7641} from "./IERC7641.sol";

/// @title IModelRevenueToken
/// @notice A model's ERC-7641 revenue-share token (Initial Model Offering). Revenue is ETH sent to the token
///         (inference fees from the oracle, ERC-7007 mint fees, anyone's deposit). Each `snapshot()` takes the
///         revenue received since the previous one and splits it: `percentClaimable` basis points are claimable
///         by the holders of that snapshot pro rata to their balances; the rest joins the burn-redemption pool,
///         which any holder can redeem from pro rata by burning tokens. A snapshot weighs the balances at the end
///         of the block before the one it is taken in, so tokens borrowed, snapshotted with and repaid within a
///         transaction or block (a flash loan) earn nothing.
///
///         Snapshot `s` stays claimable until snapshot `s + snapshotLifetime` is taken; what its holders left
///         unclaimed (including the rounding dust of every claim) is then added, whole, to that new snapshot's
///         claimable revenue. All amounts are wei; claims and redemptions round down, so the contract never pays
///         out more than it holds for them.
interface IModelRevenueToken is IERC7641 {
    /// @notice One snapshot's allocation.
    /// @param timestamp Block timestamp at which it was taken (seconds).
    /// @param balanceBlock The block whose closing balances and supply the snapshot weighs: the one before the
    ///        block it was taken in, so that tokens moved in that block (a flash loan) carry no weight.
    /// @param totalSupply Token supply at the end of `balanceBlock`: the denominator of every claim on it.
    /// @param claimable Wei allocated to its holders (its share of new revenue plus the rolled-forward amount).
    /// @param claimed Wei claimed from it so far.
    struct SnapshotInfo {
        uint48 timestamp;
        uint48 balanceBlock;
        uint256 totalSupply;
        uint256 claimable;
        uint256 claimed;
    }

    /// @dev The percent claimable is in basis points and cannot exceed 10_000.
    error InvalidPercentClaimable(uint256 basisPoints);
    /// @dev Snapshots need a minimum interval of at least one second.
    error ZeroSnapshotInterval();
    /// @dev A snapshot must stay claimable for at least one snapshot.
    error ZeroSnapshotLifetime();
    /// @dev Initial holders and amounts differ in length.
    error HolderAmountLengthMismatch(uint256 holders, uint256 amounts);
    /// @dev An amount that must be positive was zero (a deposit, a burn, an initial allocation, the supply).
    error ZeroAmount();
    /// @dev `snapshotId` has not been taken (ids start at 1).
    error UnknownSnapshot(uint256 snapshotId, uint256 currentSnapshotId);
    /// @dev `snapshotId` expired when snapshot `expiredAt` was taken; its unclaimed revenue rolled forward.
    error SnapshotExpired(uint256 snapshotId, uint256 expiredAt);
    /// @dev `account` has already claimed its revenue at `snapshotId`.
    error AlreadyClaimed(address account, uint256 snapshotId);
    /// @dev `account` has no revenue to claim at `snapshotId` (no balance then, or its share rounds to zero).
    error NothingToClaim(address account, uint256 snapshotId);
    /// @dev The next snapshot is allowed from `nextAllowedAt` (seconds); it is `timestamp` now.
    error SnapshotTooEarly(uint256 nextAllowedAt, uint256 timestamp);
    /// @dev `account` tried to burn `amount` but holds only `balance`.
    error BurnExceedsBalance(address account, uint256 balance, uint256 amount);
    /// @dev Burning `amount` tokens is impossible: only `supply` exist.
    error BurnExceedsSupply(uint256 supply, uint256 amount);
    /// @dev Sending `amount` wei to `to` failed.
    error TransferFailed(address to, uint256 amount);

    /// @dev `from` sent `amount` wei of revenue.
    event RevenueReceived(address indexed from, uint256 amount);
    /// @dev Snapshot `snapshotId` was taken: `newRevenue` wei arrived since the last one, `toPool` of it joined
    ///      the redemption pool, and `claimable` wei (the rest plus `rolledForward` from an expired snapshot)
    ///      is claimable by the holders of `totalSupply` tokens.
    event SnapshotTaken(
        uint256 indexed snapshotId,
        uint256 totalSupply,
        uint256 newRevenue,
        uint256 claimable,
        uint256 toPool,
        uint256 rolledForward
    );
    /// @dev `account` claimed `amount` wei at `snapshotId`.
    event RevenueClaimed(address indexed account, uint256 indexed snapshotId, uint256 amount);
    /// @dev `account` burned `amount` tokens and redeemed `redeemed` wei from the pool.
    event Redeemed(address indexed account, uint256 amount, uint256 redeemed);

    /// @notice Adds `msg.value` wei of revenue (for the next snapshot); anyone may call. Sending ETH to the token
    ///         does the same. Reverts with ZeroAmount for zero value.
    function depositRevenue() external payable;

    /// @notice Claims `snapshotIds` in one transaction and pays their sum; reverts if any single claim would.
    /// @return total Wei paid.
    function claimBatch(uint256[] calldata snapshotIds) external returns (uint256 total);

    /// @notice Share of each snapshot's new revenue claimable by holders, in basis points (fixed).
    function percentClaimable() external view returns (uint256);

    /// @notice Minimum seconds between two snapshots (fixed); also the wait for the first after deployment.
    function snapshotInterval() external view returns (uint256);

    /// @notice Number of later snapshots after which a snapshot expires (fixed).
    function snapshotLifetime() external view returns (uint256);

    /// @notice Id of the latest snapshot; 0 before the first.
    function currentSnapshotId() external view returns (uint256);

    /// @notice Earliest timestamp (seconds) at which `snapshot()` succeeds.
    function nextSnapshotAt() external view returns (uint256);

    /// @notice A taken snapshot's allocation; reverts with UnknownSnapshot otherwise.
    function snapshotInfo(uint256 snapshotId) external view returns (SnapshotInfo memory);

    /// @notice `account`'s balance at a taken snapshot (at the end of its `balanceBlock`, the block before the one it
    ///         was taken in); reverts with UnknownSnapshot otherwise.
    function balanceOfAt(address account, uint256 snapshotId) external view returns (uint256);

    /// @notice The supply at a taken snapshot (at the end of its `balanceBlock`); reverts with UnknownSnapshot
    ///         otherwise.
    function totalSupplyAt(uint256 snapshotId) external view returns (uint256);

    /// @notice Whether `account` has claimed at `snapshotId`.
    function hasClaimed(address account, uint256 snapshotId) external view returns (bool);

    /// @notice Whether `snapshotId` is taken and expired (its unclaimed revenue has rolled forward).
    function isExpired(uint256 snapshotId) external view returns (bool);

    /// @notice Wei in the burn-redemption pool.
    function redemptionPool() external view returns (uint256);

    /// @notice Wei still owed to holders of live snapshots (allocated, not yet claimed, not yet rolled forward).
    function outstandingClaims() external view returns (uint256);

    /// @notice Wei received since the last snapshot, not yet allocated.
    function pendingRevenue() external view returns (uint256);

    /// @notice Total wei received through `depositRevenue` and plain transfers, ever.
    function totalRevenueReceived() external view returns (uint256);

    /// @notice Total wei paid to claimers, ever.
    function totalClaimed() external view returns (uint256);

    /// @notice Total wei paid to burners, ever.
    function totalRedeemed() external view returns (uint256);
}
