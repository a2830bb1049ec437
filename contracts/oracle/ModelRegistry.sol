// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {LibGroth16} from "../zk/lib/LibGroth16.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Permissioned registry of models the oracle serves (see IModelRegistry).
contract ModelRegistry is IModelRegistry, AccessControl {
    /// @notice Role allowed to register models.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @inheritdoc IModelRegistry
    /// @dev One day: long enough for users, wallets and token holders to see a change coming.
    uint256 public constant FEE_DELAY = 1 days;

    /// @dev A fee announced and not yet in force (kept apart from Model, whose layout other contracts share).
    struct PendingFee {
        uint256 fee;
        uint64 effectiveAt;
    }

    /// @dev Models by id; ids start at 1 so that 0 means "none" in `_idByCommitment`.
    mapping(uint256 modelId => Model) private _models;
    /// @dev keccak(graphRoot, weightsRoot) => id, so that one model cannot be registered twice.
    mapping(bytes32 commitment => uint256 modelId) private _idByCommitment;
    uint256 private _count;
    mapping(uint256 modelId => PrivateNode[]) private _private;
    mapping(uint256 modelId => PendingFee) private _pendingFees;
    /// @dev Launched models: revenue receiver fixed, fee changes bounded.
    mapping(uint256 modelId => bool) private _locked;

    /// @param admin Receives the admin and registrar roles.
    constructor(address admin) {
        // INVARIANT: The registry must have an admin, or no registrar could ever be added.
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @inheritdoc IModelRegistry
    function registerModel(Model calldata model) external onlyRole(REGISTRAR_ROLE) returns (uint256 modelId) {
        return _register(model);
    }

    /// @inheritdoc IModelRegistry
    function registerPrivateModel(Model calldata model, PrivateNode[] calldata nodes)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 modelId)
    {
        if (nodes.length == 0) revert BadPrivateNode(0);
        modelId = _register(model);
        uint32[] memory indices = new uint32[](nodes.length);
        for (uint256 k; k < nodes.length; ++k) {
            PrivateNode calldata p = nodes[k];
            // INVARIANT: Private nodes are distinct nodes of the model in ascending order, each with a key and a
            //            commitment the circuit can take as a field element.
            bool ordered = k == 0 || p.node > nodes[k - 1].node;
            if (
                !ordered || p.node >= model.nodeCount || p.keyId == 0 || p.commitment >= LibGroth16.R
                    || p.outChunkLog2 < 5 || p.outChunkLog2 > 20
            ) revert BadPrivateNode(k);
            _private[modelId].push(p);
            indices[k] = p.node;
        }
        emit PrivateNodesRegistered(modelId, indices);
    }

    /// @inheritdoc IModelRegistry
    function privateNodes(uint256 modelId) external view returns (PrivateNode[] memory) {
        _existing(modelId);
        return _private[modelId];
    }

    function _register(Model memory model) internal returns (uint256 modelId) {
        // INVARIANT: A model commits to a graph and to weights; one-step proofs are checked against both.
        if (model.graphRoot == bytes32(0) || model.weightsRoot == bytes32(0)) revert ZeroRoot();
        if (model.inputLength == 0) revert ZeroInputLength();
        if (model.nodeCount == 0) revert ZeroNodeCount();
        // INVARIANT: Chunks are whole EVM words and small enough to reveal in one transaction.
        if (model.inputChunkLog2 < 5 || model.inputChunkLog2 > 20) revert BadChunkSize(model.inputChunkLog2);
        if (model.outputChunkLog2 < 5 || model.outputChunkLog2 > 20) revert BadChunkSize(model.outputChunkLog2);
        uint8 width = model.inputWidth;
        // INVARIANT: Input elements have one of the engine's widths (int8, int16, int32), and the input tensor is
        //            whole elements, so the oracle's request check and the engine's agree on every input.
        if (width != 1 && width != 2 && width != 4) revert BadInputWidth(width);
        if (model.inputLength % width != 0) revert InputLengthNotWhole(model.inputLength, width);
        int256 half = int256(1) << (8 * uint256(width) - 1);
        // INVARIANT: The input range is non-empty and within the width's signed range.
        if (model.inputMin > model.inputMax || model.inputMin < -half || model.inputMax >= half) {
            revert BadInputDomain(model.inputMin, model.inputMax, width);
        }
        if (model.owner == address(0) || model.revenueReceiver == address(0)) revert ZeroAddress();
        bytes32 commitment = keccak256(abi.encode(model.graphRoot, model.weightsRoot));
        // INVARIANT: The same commitments never get two ids, so a model's fee stream cannot be split or hijacked.
        uint256 existing = _idByCommitment[commitment];
        if (existing != 0) revert ModelAlreadyRegistered(existing);

        modelId = ++_count;
        _models[modelId] = model;
        _idByCommitment[commitment] = modelId;
        emit ModelRegistered(modelId, model.graphRoot, model.weightsRoot, model.owner, model.fee);
    }

    /// @inheritdoc IModelRegistry
    function announceFee(uint256 modelId, uint256 fee) external {
        Model storage model = _onlyModelOwner(modelId);
        uint256 current = _feeInForce(modelId, model);
        model.fee = current;
        // INVARIANT: A launched model's fee moves by at most a factor of two per announcement and never to 0,
        //            measured from the fee in force (so announcements made before one takes effect cannot compound).
        //            (Differences instead of products, so no fee can overflow the check.)
        bool outOfBounds = fee > current ? fee - current > current : current - fee > fee;
        if (_locked[modelId] && outOfBounds) revert FeeChangeOutOfBounds(modelId, current, fee);
        // INVARIANT: A fee takes effect FEE_DELAY after its announcement, so no request pays a fee it could not
        //            have seen coming.
        uint256 effectiveAt = block.timestamp + FEE_DELAY;
        _pendingFees[modelId] = PendingFee(fee, uint64(effectiveAt));
        emit ModelFeeAnnounced(modelId, fee, effectiveAt);
    }

    /// @inheritdoc IModelRegistry
    function pendingFee(uint256 modelId) external view returns (uint256 fee, uint256 effectiveAt) {
        _existing(modelId);
        PendingFee storage pending = _pendingFees[modelId];
        if (pending.effectiveAt == 0 || block.timestamp >= pending.effectiveAt) return (0, 0);
        return (pending.fee, pending.effectiveAt);
    }

    /// @inheritdoc IModelRegistry
    function setRevenueReceiver(uint256 modelId, address revenueReceiver) external {
        if (revenueReceiver == address(0)) revert ZeroAddress();
        Model storage model = _onlyModelOwner(modelId);
        // INVARIANT: A launched model's fees go to its token's holders for good.
        if (_locked[modelId]) revert RevenueReceiverLocked(modelId);
        model.revenueReceiver = revenueReceiver;
        emit RevenueReceiverChanged(modelId, revenueReceiver);
    }

    /// @inheritdoc IModelRegistry
    function lockRevenueReceiver(uint256 modelId) external onlyRole(REGISTRAR_ROLE) {
        Model storage model = _existing(modelId);
        if (_locked[modelId]) revert RevenueReceiverLocked(modelId);
        model.fee = _feeInForce(modelId, model);
        // An announcement not yet in force was not bounded; the owner may announce again, within the bounds.
        delete _pendingFees[modelId];
        // INVARIANT: A launched model charges a fee; with the multiplicative bounds a zero fee could never rise.
        if (model.fee == 0) revert ZeroLaunchFee(modelId);
        _locked[modelId] = true;
        emit RevenueReceiverFixed(modelId, model.revenueReceiver);
    }

    /// @inheritdoc IModelRegistry
    function isRevenueReceiverLocked(uint256 modelId) external view returns (bool) {
        _existing(modelId);
        return _locked[modelId];
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory model) {
        uint256 base = _baseOf[modelId];
        if (base != 0) return _versionView(modelId, base);
        Model storage stored = _existing(modelId);
        model = stored;
        model.fee = _feeInForce(modelId, stored);
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _count;
    }

    function _existing(uint256 modelId) internal view returns (Model storage model) {
        model = _models[modelId];
        if (model.owner == address(0)) revert UnknownModel(modelId);
    }

    /// @dev The announced fee once its time has come, else the stored one. Announcements write it through.
    function _feeInForce(uint256 modelId, Model storage model) internal view returns (uint256) {
        PendingFee storage pending = _pendingFees[modelId];
        if (pending.effectiveAt != 0 && block.timestamp >= pending.effectiveAt) return pending.fee;
        return model.fee;
    }

    function _onlyModelOwner(uint256 modelId) internal view returns (Model storage model) {
        model = _existing(modelId);
        if (model.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
        // INVARIANT: A version's fee and revenue receiver are its model's: they change only through the model id.
        if (_baseOf[modelId] != 0) revert IsVersion(modelId, _baseOf[modelId]);
    }

    // ---------------------------------------------------------------- model versions (issue 18)

    /// @dev Version registry id => its model's id (0 for a model itself).
    mapping(uint256 versionId => uint256 modelId) private _baseOf;
    /// @dev Model id => registry ids of its versions 1, 2, ... (version 0 is the model id itself).
    mapping(uint256 modelId => uint256[]) private _versions;
    /// @dev Model id => keccak256(abi.encode(version)) of each version spec a registrar approved, not yet published.
    mapping(uint256 modelId => mapping(bytes32 specHash => bool)) private _approvedVersions;

    /// @inheritdoc IModelRegistry
    function approveVersion(uint256 modelId, Model calldata version) external onlyRole(REGISTRAR_ROLE) {
        _existing(modelId);
        if (_baseOf[modelId] != 0) revert IsVersion(modelId, _baseOf[modelId]);
        bytes32 specHash = keccak256(abi.encode(version));
        _approvedVersions[modelId][specHash] = true;
        emit ModelVersionApproved(modelId, specHash);
    }

    /// @inheritdoc IModelRegistry
    function publishVersion(uint256 modelId, Model calldata version) external returns (uint256 versionId) {
        Model storage model = _onlyModelOwner(modelId);
        bytes32 specHash = keccak256(abi.encode(version));
        // INVARIANT: A version is vetted like a registration (graph check, every honest move fits a block) by a
        //            registrar before its owner can publish it; the owner alone chooses when.
        if (!_approvedVersions[modelId][specHash]) revert VersionNotApproved(modelId, specHash);
        delete _approvedVersions[modelId][specHash];
        Model memory stored = version;
        // INVARIANT: A version cannot redirect revenue or set a fee: both stay the model's (locked at launch, fee
        //            bounded by announceFee), whatever the owner puts in `version`.
        stored.owner = model.owner;
        stored.revenueReceiver = model.revenueReceiver;
        stored.fee = 0;
        versionId = _register(stored);
        _baseOf[versionId] = modelId;
        _versions[modelId].push(versionId);
        emit ModelVersionPublished(modelId, _versions[modelId].length, versionId, version.graphRoot, version.weightsRoot);
    }

    /// @inheritdoc IModelRegistry
    function currentVersionId(uint256 modelId) external view returns (uint256) {
        _existing(modelId);
        uint256[] storage versions = _versions[modelId];
        return versions.length == 0 ? modelId : versions[versions.length - 1];
    }

    /// @inheritdoc IModelRegistry
    function versionIds(uint256 modelId) external view returns (uint256[] memory ids) {
        _existing(modelId);
        uint256[] storage versions = _versions[modelId];
        ids = new uint256[](versions.length + 1);
        ids[0] = modelId;
        for (uint256 k; k < versions.length; ++k) {
            ids[k + 1] = versions[k];
        }
    }

    /// @inheritdoc IModelRegistry
    function modelOfVersion(uint256 versionId) external view returns (uint256) {
        _existing(versionId);
        uint256 base = _baseOf[versionId];
        return base == 0 ? versionId : base;
    }

    /// @dev A version as the oracle and the game see it: its own roots and shapes, its model's fee in force and
    ///      revenue receiver (so a launched model's token receives every version's fees).
    function _versionView(uint256 versionId, uint256 base) internal view returns (Model memory model) {
        model = _models[versionId];
        Model storage baseModel = _models[base];
        model.fee = _feeInForce(base, baseModel);
        model.revenueReceiver = baseModel.revenueReceiver;
        model.owner = baseModel.owner;
    }
}
