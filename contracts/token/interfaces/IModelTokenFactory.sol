// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IModelTokenFactory
/// @notice Initial Model Offering: deploys each model's ERC-7641 revenue token (a ModelRevenueToken) once and
///         records modelId => token, so fees and ERC-7007 mint fees can be routed to it.
interface IModelTokenFactory {
    /// @notice A model's offering.
    /// @param name ERC-20 name of the token.
    /// @param symbol ERC-20 symbol of the token.
    /// @param holders Initial holders; the whole supply is minted to them at creation, never later.
    /// @param amounts Tokens (18 decimals) for each holder, all positive, same length as `holders`.
    /// @param percentClaimable Basis points (0..10_000) of each snapshot's new revenue claimable by holders; the
    ///        rest funds the burn-redemption pool.
    /// @param snapshotInterval Minimum seconds between snapshots (> 0).
    /// @param snapshotLifetime Later snapshots after which a snapshot expires and its unclaimed revenue rolls
    ///        forward (> 0).
    struct Offering {
        string name;
        string symbol;
        address[] holders;
        uint256[] amounts;
        uint256 percentClaimable;
        uint256 snapshotInterval;
        uint256 snapshotLifetime;
    }

    /// @dev The admin was the zero address.
    error ZeroAdmin();
    /// @dev Model ids start at 1; 0 is never a model.
    error ZeroModelId();
    /// @dev `modelId` already has its revenue token at `token`.
    error TokenAlreadyCreated(uint256 modelId, address token);

    /// @dev `modelId`'s revenue token was deployed at `token` with `totalSupply` tokens.
    event ModelTokenCreated(uint256 indexed modelId, address indexed token, string symbol, uint256 totalSupply);

    /// @notice Deploys `modelId`'s revenue token. Only accounts holding the registrar role (the oracle / model
    ///         registry) may call, once per model; the token's own constructor checks the offering.
    /// @return token The new token's address.
    function createToken(uint256 modelId, Offering calldata offering) external returns (address token);

    /// @notice `modelId`'s revenue token, or the zero address if none was created.
    function tokenOf(uint256 modelId) external view returns (address);
}
