// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IModelRegistry
/// @notice Models that the oracle can serve. A model is fixed by its commitments: the graph root (Merkle root
///         over the integer graph's node descriptors) and the weights root (Merkle root over its weight tensors'
///         roots). Both are what the dispute game's one-step proofs are checked against.
interface IModelRegistry {
    /// @notice What a model is and who is paid for it.
    /// @param graphRoot Merkle root over the canonical node descriptors, in execution order.
    /// @param weightsRoot Merkle root over the public weight tensors' roots.
    /// @param nodeCount Nodes in the graph: the number of leaves of the graph tree and of every trace tree.
    /// @param weightCount Public weight tensors: the number of leaves of the weights tree.
    /// @param inputLength Exact byte length of a request's input in the model's declared encoding.
    /// @param inputChunkLog2 Chunk size (log2 bytes) of the input tensor's commitment.
    /// @param outputLength Byte length of the packed output tensor.
    /// @param outputChunkLog2 Chunk size (log2 bytes) of the output tensor's commitment.
    /// @param fee Model fee in wei per request, paid to the revenue receiver at finalization.
    /// @param owner May change the fee and the revenue receiver.
    /// @param revenueReceiver Where model fees go (the model's ERC-7641 token once it exists).
    struct Model {
        bytes32 graphRoot;
        bytes32 weightsRoot;
        uint32 nodeCount;
        uint32 weightCount;
        uint32 inputLength;
        uint8 inputChunkLog2;
        uint32 outputLength;
        uint8 outputChunkLog2;
        uint256 fee;
        address owner;
        address revenueReceiver;
    }

    /// @dev No model has this id.
    error UnknownModel(uint256 modelId);
    /// @dev A model with the same graph and weights is registered already, under `modelId`.
    error ModelAlreadyRegistered(uint256 modelId);
    /// @dev A commitment root was zero: a model must commit to a graph and to weights.
    error ZeroRoot();
    /// @dev Inputs must be at least one byte long.
    error ZeroInputLength();
    /// @dev A model needs at least one node, and at most 2^32 - 1.
    error ZeroNodeCount();
    /// @dev Chunk sizes are 2^5 .. 2^20 bytes.
    error BadChunkSize(uint8 chunkLog2);
    /// @dev The owner or revenue receiver was the zero address.
    error ZeroAddress();
    /// @dev Only the model's owner may do this.
    error NotModelOwner(uint256 modelId, address caller);

    /// @dev A model was registered.
    event ModelRegistered(
        uint256 indexed modelId, bytes32 graphRoot, bytes32 weightsRoot, address indexed owner, uint256 fee
    );
    /// @dev A model's fee changed.
    event ModelFeeChanged(uint256 indexed modelId, uint256 fee);
    /// @dev A model's revenue receiver changed.
    event RevenueReceiverChanged(uint256 indexed modelId, address revenueReceiver);

    /// @notice Registers a model. Only accounts holding the registrar role may call.
    /// @return modelId The new model's id, counting from 1 (0 is never a model).
    function registerModel(Model calldata model) external returns (uint256 modelId);

    /// @notice Sets a model's fee in wei. Only the model's owner may call.
    function setFee(uint256 modelId, uint256 fee) external;

    /// @notice Sets where a model's fees go. Only the model's owner may call.
    function setRevenueReceiver(uint256 modelId, address revenueReceiver) external;

    /// @notice The registered model; reverts with UnknownModel for an id never registered.
    function getModel(uint256 modelId) external view returns (Model memory);

    /// @notice Number of models registered; ids are 1..modelCount().
    function modelCount() external view returns (uint256);
}
