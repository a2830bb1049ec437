// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IModelRegistryErrors} from "./IModelRegistryErrors.sol";

/// @title IModelRegistry
/// @notice Models that the oracle can serve. A model is fixed by its commitments: the graph root (Merkle root
///         over the integer graph's node descriptors) and the weights root (Merkle root over its weight tensors'
///         roots). Both are what the dispute game's one-step proofs are checked against.
///
///         Fees. A model's owner changes its fee by announcing it: the new fee is in force FEE_DELAY seconds after
///         the announcement (event ModelFeeAnnounced), so the fee a user reads can change only at a time announced
///         a day before (the oracle charges the fee in force at the request and pins it in the request). A
///         launched model (an Initial Model Offering, whose revenue receiver is its ERC-7641 token) is locked: its
///         revenue receiver can never change, and each announced fee is within [ceil(f / 2), 2 f] of the fee f in
///         force when it is announced, never 0, so the token's holders see any fall coming and it takes at least
///         log2(f) days of announcements to reach 1 wei.
interface IModelRegistry is IModelRegistryErrors {
    /// @notice What a model is and who is paid for it.
    /// @param graphRoot Merkle root over the canonical node descriptors, in execution order.
    /// @param weightsRoot Merkle root over the public weight tensors' roots.
    /// @param nodeCount Nodes in the graph: the number of leaves of the graph tree and of every trace tree.
    /// @param weightCount Public weight tensors: the number of leaves of the weights tree.
    /// @param inputLength Exact byte length of a request's input in the model's declared encoding.
    /// @param inputChunkLog2 Chunk size (log2 bytes) of the input tensor's commitment.
    /// @param inputWidth Bytes per input element (1, 2 or 4): the input tensor's dtype, each element packed as a
    ///        signed big-endian two's-complement integer. A request is a whole number of elements.
    /// @param inputMin Smallest value an input element may hold (inclusive), e.g. 0 for token ids.
    /// @param inputMax Largest value an input element may hold (inclusive), e.g. vocabulary size - 1. The range is
    ///        what every node reading the input gives a result for (offchain/engine/domain.py); the oracle refuses
    ///        any other request, so every accepted input has a result a dispute can reach. The width's full range
    ///        means any bytes.
    /// @param outputLength Byte length of the packed output tensor.
    /// @param outputChunkLog2 Chunk size (log2 bytes) of the output tensor's commitment.
    /// @param fee Model fee in wei per request, paid to the revenue receiver at finalization.
    /// @param owner May announce fee changes and, until the model is launched, change the revenue receiver.
    /// @param revenueReceiver Where model fees go (the model's ERC-7641 token once launched, for good).
    /// @param textOutput The output is text: an INT8 tensor of UTF-8 bytes, zero-padded (model meta
    ///        `output_encoding` "utf-8"). The oracle delivers it to callbacks without its trailing zero bytes, so a
    ///        consumer's `string(output)` is the text; the committed output (its root, `submit`, `finalize`) stays
    ///        the padded tensor.
    struct Model {
        bytes32 graphRoot;
        bytes32 weightsRoot;
        uint32 nodeCount;
        uint32 weightCount;
        uint32 inputLength;
        uint8 inputChunkLog2;
        uint8 inputWidth;
        int32 inputMin;
        int32 inputMax;
        uint32 outputLength;
        uint8 outputChunkLog2;
        uint256 fee;
        address owner;
        address revenueReceiver;
        bool textOutput;
    }

    /// @notice A node whose weights are private (opp/ai, DESIGN.md section 5): its output is proven by a Groth16
    ///         proof against verifying key `keyId` of the dispute game's verifier, for the weights whose Poseidon
    ///         commitment is `commitment`. `outChunkLog2` is the node's output commitment chunk size, so a
    ///         submission's published output can be checked against the trace.
    struct PrivateNode {
        uint32 node;
        uint8 outChunkLog2;
        uint256 keyId;
        uint256 commitment;
    }

    /// @dev A model was registered.
    event ModelRegistered(
        uint256 indexed modelId, bytes32 graphRoot, bytes32 weightsRoot, address indexed owner, uint256 fee
    );
    /// @dev Model `modelId` has private nodes (`nodes`, ascending), each proven with a Groth16 proof.
    event PrivateNodesRegistered(uint256 indexed modelId, uint32[] nodes);
    /// @dev Model `modelId`'s fee will be `fee` wei from `effectiveAt` (seconds) on, unless announced again before.
    event ModelFeeAnnounced(uint256 indexed modelId, uint256 fee, uint256 effectiveAt);
    /// @dev A model's revenue receiver changed.
    event RevenueReceiverChanged(uint256 indexed modelId, address revenueReceiver);
    /// @dev Model `modelId` was launched: `revenueReceiver` (its token) receives its fees for good.
    event RevenueReceiverFixed(uint256 indexed modelId, address revenueReceiver);

    /// @notice Registers a model. Only accounts holding the registrar role may call.
    /// @return modelId The new model's id, counting from 1 (0 is never a model).
    function registerModel(Model calldata model) external returns (uint256 modelId);

    /// @notice Registers a model whose `privateNodes` (ascending node indices) keep their weights private: every
    ///         result must carry a valid proof for each of them. Only registrars; atomic with the registration,
    ///         so no result of the model is ever accepted without the proofs.
    function registerPrivateModel(Model calldata model, PrivateNode[] calldata privateNodes)
        external
        returns (uint256 modelId);

    /// @notice The private nodes of a model (empty for a public one), ascending by node index.
    function privateNodes(uint256 modelId) external view returns (PrivateNode[] memory);

    /// @notice Seconds between a fee announcement and the fee taking effect.
    function FEE_DELAY() external view returns (uint256);

    /// @notice Announces model `modelId`'s fee in wei, in force FEE_DELAY seconds from now; replaces an announced
    ///         fee not yet in force. Only the model's owner may call. For a launched model `fee` must lie in
    ///         [ceil(f / 2), 2 f] for the fee f in force now (FeeChangeOutOfBounds otherwise).
    function announceFee(uint256 modelId, uint256 fee) external;

    /// @notice The fee announced for `modelId` and not yet in force, and when it will be; (0, 0) if none.
    function pendingFee(uint256 modelId) external view returns (uint256 fee, uint256 effectiveAt);

    /// @notice Sets where a model's fees go. Only the model's owner may call, and only until the model is
    ///         launched (RevenueReceiverLocked afterwards).
    function setRevenueReceiver(uint256 modelId, address revenueReceiver) external;

    /// @notice Fixes model `modelId`'s current revenue receiver for good and bounds its fee changes: the model
    ///         was launched with its revenue token as receiver. Only registrars (trusted: they register models);
    ///         the launcher calls it in the launch transaction. Drops a fee announced and not yet in force (it was not bounded); reverts with
    ///         ZeroLaunchFee if the model charges no fee, RevenueReceiverLocked if already locked.
    function lockRevenueReceiver(uint256 modelId) external;

    /// @notice Whether model `modelId` was launched: its revenue receiver fixed and its fee changes bounded.
    function isRevenueReceiverLocked(uint256 modelId) external view returns (bool);

    /// @notice The registered model, with the fee in force now (an announced fee once its time has come);
    ///         reverts with UnknownModel for an id never registered.
    function getModel(uint256 modelId) external view returns (Model memory);

    /// @notice Number of models registered; ids are 1..modelCount().
    function modelCount() external view returns (uint256);

    // ---------------------------------------------------------------- model versions (issue 18)

    /// @dev `versionId` is a version of model `modelId`: its fee and revenue receiver change only through `modelId`.
    error IsVersion(uint256 versionId, uint256 modelId);

    /// @dev No registrar approved this version spec (keccak256(abi.encode(version))) for model `modelId`.
    error VersionNotApproved(uint256 modelId, bytes32 specHash);

    /// @dev A registrar approved version spec `specHash` for model `modelId`; its owner may now publish it.
    event ModelVersionApproved(uint256 indexed modelId, bytes32 specHash);
    /// @dev Model `modelId` has a new current version `version` (1, 2, ...), registered as `versionId`.
    event ModelVersionPublished(
        uint256 indexed modelId, uint256 version, uint256 indexed versionId, bytes32 graphRoot, bytes32 weightsRoot
    );

    /// @notice Approves version spec `version` for model `modelId` after the checks a registration gets (graph
    ///         check, move gas): registrars only, since a version's roots are what disputes are decided against.
    function approveVersion(uint256 modelId, Model calldata version) external;

    /// @notice Publishes a new version of model `modelId` (ORA's updateModel): new graph and weights roots, shapes
    ///         and input domain, checked like a registration, and registered under its own id `versionId` that
    ///         the game and the nodes use for its roots. Requests made from now on are pinned to it; open requests
    ///         keep their version. Only the model's owner, and only a spec a registrar approved (VersionNotApproved
    ///         otherwise; each approval publishes once). The version's `fee`, `owner` and `revenueReceiver` are
    ///         ignored: it always charges the model's fee in force and pays the model's revenue receiver (a
    ///         launched model's token), so publishing changes neither. Public models only (no private nodes).
    function publishVersion(uint256 modelId, Model calldata version) external returns (uint256 versionId);

    /// @notice The registry id of model `modelId`'s current version: `modelId` itself until a version is published
    ///         (and for a version id, that version).
    function currentVersionId(uint256 modelId) external view returns (uint256);

    /// @notice Registry ids of every version of `modelId`, index = version number (index 0 is `modelId`).
    function versionIds(uint256 modelId) external view returns (uint256[] memory);

    /// @notice The model a registry id is a version of (itself for a model).
    function modelOfVersion(uint256 versionId) external view returns (uint256);
}
