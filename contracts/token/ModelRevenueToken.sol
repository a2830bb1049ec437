// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IERC7641} from "./interfaces/IERC7641.sol";
import {IModelRevenueToken} from "./interfaces/IModelRevenueToken.sol";

/// @title ModelRevenueToken
/// @notice A model's ERC-7641 revenue-share token (see IModelRevenueToken for the economics).
/// @dev Accounting. The contract's ETH is always split three ways:
///        address(this).balance == _pool + _outstanding + pendingRevenue()
///      `_pool` is the burn-redemption pool, `_outstanding` what live snapshots still owe their holders, and the
///      pending remainder is revenue not yet allocated (including any ETH forced in without a call). Claims and
///      redemptions round down and subtract exactly what they pay, so neither term can go negative and the
///      balance always covers both.
///
///      Balances and the supply are OpenZeppelin `Checkpoints` keyed by block number (as ERC20Votes keys votes), and
///      a snapshot taken in block b reads them at the end of block b - 1. Tokens that arrive in the snapshot's own
///      block, such as a flash loan that snapshots, claims and repays in one transaction, therefore carry no
///      weight in it: a holder's share is fixed by what it held before anyone could see the snapshot coming in
///      that block. Two snapshots never share a block (they are at least one second apart).
contract ModelRevenueToken is IModelRevenueToken, ERC20, ERC165, ReentrancyGuard {
    using Checkpoints for Checkpoints.Trace208;

    /// @dev 100 % in basis points.
    uint256 private constant BPS = 10_000;

    /// @dev A snapshot's allocation; its balances are those at the end of block `balanceBlock`.
    struct Snapshot {
        uint48 timestamp;
        uint48 balanceBlock;
        uint256 totalSupply;
        uint256 claimable;
        uint256 claimed;
    }

    /// @inheritdoc IModelRevenueToken
    uint256 public immutable percentClaimable;
    /// @inheritdoc IModelRevenueToken
    uint256 public immutable snapshotInterval;
    /// @inheritdoc IModelRevenueToken
    uint256 public immutable snapshotLifetime;

    mapping(address account => Checkpoints.Trace208) private _balanceCheckpoints;
    Checkpoints.Trace208 private _supplyCheckpoints;
    mapping(uint256 snapshotId => Snapshot) private _snapshots;
    mapping(uint256 snapshotId => mapping(address account => bool)) private _claimed;
    uint256 private _currentSnapshotId;
    uint256 private _lastSnapshotAt;
    uint256 private _pool;
    uint256 private _outstanding;
    uint256 private _totalReceived;
    uint256 private _totalClaimed;
    uint256 private _totalRedeemed;

    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param holders Initial holders (the offering); the supply is minted to them once and never again.
    /// @param amounts Tokens (18 decimals) minted to each holder, all positive.
    /// @param percentClaimable_ Basis points of each snapshot's new revenue claimable by holders (0..10_000).
    /// @param snapshotInterval_ Minimum seconds between snapshots, and before the first one.
    /// @param snapshotLifetime_ Later snapshots after which a snapshot expires and its unclaimed revenue rolls
    ///        forward (1 = only the latest snapshot is claimable).
    constructor(
        string memory name_,
        string memory symbol_,
        address[] memory holders,
        uint256[] memory amounts,
        uint256 percentClaimable_,
        uint256 snapshotInterval_,
        uint256 snapshotLifetime_
    ) ERC20(name_, symbol_) {
        if (percentClaimable_ > BPS) revert InvalidPercentClaimable(percentClaimable_);
        // INVARIANT: Snapshots are rate-limited; otherwise anyone could expire every snapshot at once.
        if (snapshotInterval_ == 0) revert ZeroSnapshotInterval();
        if (snapshotLifetime_ == 0) revert ZeroSnapshotLifetime();
        if (holders.length != amounts.length) revert HolderAmountLengthMismatch(holders.length, amounts.length);
        // INVARIANT: A revenue token must have holders; with no supply, revenue could never be claimed.
        if (holders.length == 0) revert ZeroAmount();
        percentClaimable = percentClaimable_;
        snapshotInterval = snapshotInterval_;
        snapshotLifetime = snapshotLifetime_;
        _lastSnapshotAt = block.timestamp;
        for (uint256 i = 0; i < holders.length; ++i) {
            if (amounts[i] == 0) revert ZeroAmount();
            _mint(holders[i], amounts[i]);
        }
    }

    /// @notice Plain ETH transfers are revenue, like `depositRevenue`.
    receive() external payable {
        _receiveRevenue();
    }

    /// @inheritdoc IModelRevenueToken
    function depositRevenue() external payable {
        _receiveRevenue();
    }

    /// @inheritdoc IERC7641
    function snapshot() external returns (uint256 snapshotId) {
        uint256 nextAllowedAt = _lastSnapshotAt + snapshotInterval;
        // INVARIANT: Snapshots are at least `snapshotInterval` apart, so expiry cannot be rushed.
        if (block.timestamp < nextAllowedAt) revert SnapshotTooEarly(nextAllowedAt, block.timestamp);
        snapshotId = ++_currentSnapshotId;
        _lastSnapshotAt = block.timestamp;

        uint256 rolled;
        if (snapshotId > snapshotLifetime) {
            // The snapshot that expires now: what its holders did not claim (dust included) is owed no longer.
            Snapshot storage expiring = _snapshots[snapshotId - snapshotLifetime];
            rolled = expiring.claimable - expiring.claimed;
            _outstanding -= rolled;
        }
        // Cannot underflow: the balance covers _pool + _outstanding (see the contract's @dev), and `rolled` was
        // part of _outstanding until the line above.
        uint256 newRevenue = address(this).balance - _pool - _outstanding - rolled;
        // INVARIANT: A snapshot weighs the balances of the block before its own, so tokens borrowed for the
        //            snapshot's transaction (or block) earn nothing from it.
        uint48 balanceBlock = SafeCast.toUint48(block.number - 1);
        uint256 supply = _supplyCheckpoints.upperLookupRecent(balanceBlock);
        uint256 toPool;
        uint256 claimable;
        if (supply != 0) {
            uint256 toHolders = Math.mulDiv(newRevenue, percentClaimable, BPS);
            toPool = newRevenue - toHolders;
            // INVARIANT: Rolled-forward revenue goes to holders whole; it was theirs, not the pool's.
            claimable = toHolders + rolled;
        } else {
            // Nobody to allocate to: new and rolled revenue stay pending.
            rolled = 0;
        }
        _snapshots[snapshotId] = Snapshot({
            timestamp: SafeCast.toUint48(block.timestamp),
            balanceBlock: balanceBlock,
            totalSupply: supply,
            claimable: claimable,
            claimed: 0
        });
        _outstanding += claimable;
        _pool += toPool;
        emit SnapshotTaken(snapshotId, supply, newRevenue, claimable, toPool, rolled);
    }

    /// @inheritdoc IERC7641
    function claim(uint256 snapshotId) external nonReentrant {
        uint256 amount = _claim(msg.sender, snapshotId);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IModelRevenueToken
    function claimBatch(uint256[] calldata snapshotIds) external nonReentrant returns (uint256 total) {
        for (uint256 i = 0; i < snapshotIds.length; ++i) {
            total += _claim(msg.sender, snapshotIds[i]);
        }
        if (total != 0) _send(msg.sender, total);
    }

    /// @inheritdoc IERC7641
    function burn(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = balanceOf(msg.sender);
        // INVARIANT: A holder redeems only against tokens it holds.
        if (amount > balance) revert BurnExceedsBalance(msg.sender, balance, amount);
        uint256 redeemed = redeemableOnBurn(amount);
        _pool -= redeemed;
        _totalRedeemed += redeemed;
        _burn(msg.sender, amount);
        emit Redeemed(msg.sender, amount, redeemed);
        if (redeemed != 0) _send(msg.sender, redeemed);
    }

    /// @inheritdoc IERC7641
    function claimableRevenue(address account, uint256 snapshotId) public view returns (uint256) {
        Snapshot storage snap = _taken(snapshotId);
        if (isExpired(snapshotId) || _claimed[snapshotId][account]) return 0;
        uint256 balance = _balanceCheckpoints[account].upperLookupRecent(snap.balanceBlock);
        if (balance == 0) return 0;
        // Rounds down, so the claims on one snapshot sum to at most its `claimable` (balances sum to the supply).
        return Math.mulDiv(snap.claimable, balance, snap.totalSupply);
    }

    /// @inheritdoc IERC7641
    function redeemableOnBurn(uint256 amount) public view returns (uint256) {
        uint256 supply = totalSupply();
        if (amount > supply) revert BurnExceedsSupply(supply, amount);
        if (amount == 0) return 0;
        // Rounds down; burning the whole supply redeems the whole pool.
        return Math.mulDiv(_pool, amount, supply);
    }

    /// @inheritdoc IModelRevenueToken
    function currentSnapshotId() external view returns (uint256) {
        return _currentSnapshotId;
    }

    /// @inheritdoc IModelRevenueToken
    function nextSnapshotAt() external view returns (uint256) {
        return _lastSnapshotAt + snapshotInterval;
    }

    /// @inheritdoc IModelRevenueToken
    function snapshotInfo(uint256 snapshotId) external view returns (SnapshotInfo memory) {
        Snapshot storage snap = _taken(snapshotId);
        return SnapshotInfo({
            timestamp: snap.timestamp,
            balanceBlock: snap.balanceBlock,
            totalSupply: snap.totalSupply,
            claimable: snap.claimable,
            claimed: snap.claimed
        });
    }

    /// @inheritdoc IModelRevenueToken
    function balanceOfAt(address account, uint256 snapshotId) external view returns (uint256) {
        return _balanceCheckpoints[account].upperLookupRecent(_taken(snapshotId).balanceBlock);
    }

    /// @inheritdoc IModelRevenueToken
    function totalSupplyAt(uint256 snapshotId) external view returns (uint256) {
        return _taken(snapshotId).totalSupply;
    }

    /// @inheritdoc IModelRevenueToken
    function hasClaimed(address account, uint256 snapshotId) external view returns (bool) {
        return _claimed[snapshotId][account];
    }

    /// @inheritdoc IModelRevenueToken
    function isExpired(uint256 snapshotId) public view returns (bool) {
        // Written without `snapshotId + snapshotLifetime` so that a huge lifetime cannot overflow.
        return snapshotId != 0 && _currentSnapshotId >= snapshotLifetime
            && snapshotId <= _currentSnapshotId - snapshotLifetime;
    }

    /// @inheritdoc IModelRevenueToken
    function redemptionPool() external view returns (uint256) {
        return _pool;
    }

    /// @inheritdoc IModelRevenueToken
    function outstandingClaims() external view returns (uint256) {
        return _outstanding;
    }

    /// @inheritdoc IModelRevenueToken
    function pendingRevenue() external view returns (uint256) {
        return address(this).balance - _pool - _outstanding;
    }

    /// @inheritdoc IModelRevenueToken
    function totalRevenueReceived() external view returns (uint256) {
        return _totalReceived;
    }

    /// @inheritdoc IModelRevenueToken
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @inheritdoc IModelRevenueToken
    function totalRedeemed() external view returns (uint256) {
        return _totalRedeemed;
    }

    /// @notice ERC-165: ERC-7641 (0xed7b2e4e) and ERC-165 itself.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC7641).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev Records each changed balance, and the supply on mint and burn, at the current block number (see the
    ///      contract's notes); a later change in the same block overwrites that block's checkpoint.
    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        uint48 key = SafeCast.toUint48(block.number);
        if (from == address(0) || to == address(0)) _supplyCheckpoints.push(key, SafeCast.toUint208(totalSupply()));
        if (from != address(0)) _balanceCheckpoints[from].push(key, SafeCast.toUint208(balanceOf(from)));
        if (to != address(0)) _balanceCheckpoints[to].push(key, SafeCast.toUint208(balanceOf(to)));
    }

    /// @dev Checks and books `account`'s claim at `snapshotId`; the caller pays it.
    function _claim(address account, uint256 snapshotId) internal returns (uint256 amount) {
        Snapshot storage snap = _taken(snapshotId);
        // INVARIANT: Expired snapshots pay nothing more; their remainder has been given to a later snapshot.
        if (isExpired(snapshotId)) revert SnapshotExpired(snapshotId, snapshotId + snapshotLifetime);
        // INVARIANT: One claim per holder and snapshot.
        if (_claimed[snapshotId][account]) revert AlreadyClaimed(account, snapshotId);
        amount = claimableRevenue(account, snapshotId);
        if (amount == 0) revert NothingToClaim(account, snapshotId);
        _claimed[snapshotId][account] = true;
        snap.claimed += amount;
        _outstanding -= amount;
        _totalClaimed += amount;
        emit RevenueClaimed(account, snapshotId, amount);
    }

    function _receiveRevenue() internal {
        if (msg.value == 0) revert ZeroAmount();
        _totalReceived += msg.value;
        emit RevenueReceived(msg.sender, msg.value);
    }

    /// @dev Pays `amount` wei to `to`, forwarding all gas (state is final and every payer is nonReentrant).
    function _send(address to, uint256 amount) internal {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    /// @dev The snapshot `snapshotId`, which must have been taken.
    function _taken(uint256 snapshotId) internal view returns (Snapshot storage) {
        if (snapshotId == 0 || snapshotId > _currentSnapshotId) {
            revert UnknownSnapshot(snapshotId, _currentSnapshotId);
        }
        return _snapshots[snapshotId];
    }
}
