// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IModelTokenFactory} from "../token/interfaces/IModelTokenFactory.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IModelRegistryErrors} from "./interfaces/IModelRegistryErrors.sol";

/// @title ModelLauncher
/// @notice Initial Model Offering: registers a model and creates its ERC-7641 revenue-share token in one
///         transaction, with the token as the model's revenue receiver, so every finalized request's model fee
///         flows to the token's holders from the first request on.
///         The registry then locks the model: its revenue receiver stays the token for good and its fee can move
///         only within bounds, after a delay (IModelRegistry.lockRevenueReceiver). A model with no fee cannot be
///         launched (ZeroLaunchFee).
/// @dev Needs the registry's and the factory's REGISTRAR_ROLE.
contract ModelLauncher is AccessControl {
    /// @notice May launch models.
    bytes32 public constant LAUNCHER_ROLE = keccak256("LAUNCHER_ROLE");

    IModelRegistry public immutable registry;
    IModelTokenFactory public immutable factory;

    /// @dev A constructor argument was the zero address.
    error ZeroLauncherAddress();
    /// @dev The registry assigned another id than the token was created for (a registration raced this one).
    error ModelIdMismatch(uint256 expected, uint256 assigned);

    /// @dev A model and its token were launched.
    event ModelLaunched(uint256 indexed modelId, address indexed token, address indexed owner);

    constructor(IModelRegistry registry_, IModelTokenFactory factory_, address admin) {
        if (address(registry_) == address(0) || address(factory_) == address(0) || admin == address(0)) {
            revert ZeroLauncherAddress();
        }
        registry = registry_;
        factory = factory_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(LAUNCHER_ROLE, admin);
    }

    /// @notice Registers `model` with a new revenue token (`offering`) as its revenue receiver.
    /// @dev `model.revenueReceiver` is ignored and replaced by the token.
    function launch(IModelRegistry.Model calldata model, IModelTokenFactory.Offering calldata offering)
        external
        onlyRole(LAUNCHER_ROLE)
        returns (uint256 modelId, address token)
    {
        IModelRegistry.PrivateNode[] memory none;
        return _launch(model, none, offering);
    }

    /// @notice Registers a model with private nodes (opp/ai: each node's Groth16 key and Poseidon weight
    ///         commitment, see IModelRegistry.registerPrivateModel) with a new revenue token as its revenue receiver,
    ///         so the fees of proven private inferences reach the token's holders like any other model's.
    /// @dev Reverts as registerPrivateModel does (e.g. BadPrivateNode), and then no token is created either.
    function launchPrivate(
        IModelRegistry.Model calldata model,
        IModelRegistry.PrivateNode[] calldata privateNodes,
        IModelTokenFactory.Offering calldata offering
    ) external onlyRole(LAUNCHER_ROLE) returns (uint256 modelId, address token) {
        // INVARIANT: A private launch registers private nodes; an empty list would launch a public model under a
        //            private launch's name (the registry rejects it too).
        if (privateNodes.length == 0) revert IModelRegistryErrors.BadPrivateNode(0);
        return _launch(model, privateNodes, offering);
    }

    function _launch(
        IModelRegistry.Model calldata model,
        IModelRegistry.PrivateNode[] memory privateNodes,
        IModelTokenFactory.Offering calldata offering
    ) private returns (uint256 modelId, address token) {
        uint256 expected = registry.modelCount() + 1;
        token = factory.createToken(expected, offering);
        IModelRegistry.Model memory spec = model;
        spec.revenueReceiver = token;
        modelId = privateNodes.length == 0
            ? registry.registerModel(spec)
            : registry.registerPrivateModel(spec, privateNodes);
        // INVARIANT: The token belongs to the id the model got, or fees would flow to another model's holders.
        if (modelId != expected) revert ModelIdMismatch(expected, modelId);
        // INVARIANT: A launched model's fees go to its token for good; its owner cannot redirect or zero them.
        registry.lockRevenueReceiver(modelId);
        emit ModelLaunched(modelId, token, model.owner);
    }
}
