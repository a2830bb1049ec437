// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC7641} from "../token/interfaces/IERC7641.sol";

/// @notice Called by FlashLender with the borrowed tokens in hand; must send them back before returning.
interface IFlashBorrower {
    function onFlashLoan(IERC20 token, uint256 amount) external;
}

/// @title FlashLender
/// @notice Test-only: lends any amount of the tokens it holds for the span of one call, like a flash-loan pool.
///         Never deployed outside tests.
contract FlashLender {
    /// @dev The borrower returned `returned` of the `lent` tokens.
    error NotRepaid(uint256 lent, uint256 returned);

    /// @notice Sends `amount` of `token` to `borrower`, calls its onFlashLoan, and reverts unless the tokens are back.
    function flashLoan(IERC20 token, uint256 amount, IFlashBorrower borrower) external {
        uint256 before = token.balanceOf(address(this));
        token.transfer(address(borrower), amount);
        borrower.onFlashLoan(token, amount);
        uint256 afterwards = token.balanceOf(address(this));
        if (afterwards < before) revert NotRepaid(amount, amount - (before - afterwards));
    }
}

/// @title FlashSnapshotAttacker
/// @notice Test-only: in one transaction borrows revenue tokens, takes an ERC-7641 snapshot, claims it and repays:
///         the attack a snapshot that reads balances at the instant it is taken lets through.
contract FlashSnapshotAttacker is IFlashBorrower {
    /// @dev Only the lender of the attack in progress may call back.
    error NotLender(address caller);

    FlashLender private _lender;
    /// @notice The snapshot the last attack took, and the wei it claimed from it.
    uint256 public lastSnapshotId;
    uint256 public lastClaimed;

    /// @notice Borrows `amount` of `token` from `lender`, snapshots, claims and repays, all in this call.
    function attack(FlashLender lender, IERC20 token, uint256 amount) external {
        _lender = lender;
        lender.flashLoan(token, amount, this);
        _lender = FlashLender(address(0));
    }

    /// @inheritdoc IFlashBorrower
    function onFlashLoan(IERC20 token, uint256 amount) external {
        if (msg.sender != address(_lender)) revert NotLender(msg.sender);
        IERC7641 revenue = IERC7641(address(token));
        uint256 snapshotId = revenue.snapshot();
        uint256 before = address(this).balance;
        if (revenue.claimableRevenue(address(this), snapshotId) != 0) revenue.claim(snapshotId);
        lastSnapshotId = snapshotId;
        lastClaimed = address(this).balance - before;
        token.transfer(msg.sender, amount);
    }

    /// @notice Claimed revenue arrives here.
    receive() external payable {}
}
