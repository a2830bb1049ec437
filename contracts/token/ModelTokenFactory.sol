// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IModelTokenFactory} from "./interfaces/IModelTokenFactory.sol";
import {ModelRevenueToken} from "./ModelRevenueToken.sol";

/// @title ModelTokenFactory
/// @notice Deploys one ModelRevenueToken per model (see IModelTokenFactory).
contract ModelTokenFactory is IModelTokenFactory, AccessControl {
    /// @notice Role allowed to create tokens: the oracle / model registry that registers models.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    mapping(uint256 modelId => address token) private _tokens;

    /// @param admin Receives the admin role (it grants REGISTRAR_ROLE, e.g. to the oracle).
    constructor(address admin) {
        // INVARIANT: The factory must have an admin, or no registrar could ever be added.
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IModelTokenFactory
    function createToken(uint256 modelId, Offering calldata offering)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (address token)
    {
        if (modelId == 0) revert ZeroModelId();
        // INVARIANT: A model has one revenue token for life, so its fee stream cannot be redirected by a second.
        address existing = _tokens[modelId];
        if (existing != address(0)) revert TokenAlreadyCreated(modelId, existing);
        ModelRevenueToken created = new ModelRevenueToken(
            offering.name,
            offering.symbol,
            offering.holders,
            offering.amounts,
            offering.percentClaimable,
            offering.snapshotInterval,
            offering.snapshotLifetime
        );
        token = address(created);
        _tokens[modelId] = token;
        emit ModelTokenCreated(modelId, token, offering.symbol, created.totalSupply());
    }

    /// @inheritdoc IModelTokenFactory
    function tokenOf(uint256 modelId) external view returns (address) {
        return _tokens[modelId];
    }
}
