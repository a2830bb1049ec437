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
    /// @param owner May change the fee and the revenue receiver.
    /// @param revenueReceiver Where model fees go (the model's ERC-7641 token once it exists).
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
    /// @dev Input elements are 1, 2 or 4 bytes wide.
    error BadInputWidth(uint8 width);
    /// @dev The input length is not a whole number of `width`-byte elements.
    error InputLengthNotWhole(uint32 inputLength, uint8 width);
    /// @dev The input range is empty (min > max) or exceeds what a `width`-byte signed integer holds.
    error BadInputDomain(int32 min, int32 max, uint8 width);
    /// @dev The owner or revenue receiver was the zero address.
    error ZeroAddress();
    /// @dev Only the model's owner may do this.
    error NotModelOwner(uint256 modelId, address caller);
    /// @dev Private node `position` of the list is not a node of the model, not after the previous one, has chunk
    ///      size outside 2^5 .. 2^20, no key or a commitment outside the BN254 scalar field (or the list is empty).
    error BadPrivateNode(uint256 position);

    /// @dev A model was registered.
    event ModelRegistered(
        uint256 indexed modelId, bytes32 graphRoot, bytes32 weightsRoot, address indexed owner, uint256 fee
    );
    /// @dev Model `modelId` has private nodes (`nodes`, ascending), each proven with a Groth16 proof.
    event PrivateNodesRegistered(uint256 indexed modelId, uint32[] nodes);
    /// @dev A model's fee changed.
    event ModelFeeChanged(uint256 indexed modelId, uint256 fee);
    /// @dev A model's revenue receiver changed.
    event RevenueReceiverChanged(uint256 indexed modelId, address revenueReceiver);

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

    /// @notice Sets a model's fee in wei. Only the model's owner may call.
    function setFee(uint256 modelId, uint256 fee) external;

    /// @notice Sets where a model's fees go. Only the model's owner may call.
    function setRevenueReceiver(uint256 modelId, address revenueReceiver) external;

    /// @notice The registered model; reverts with UnknownModel for an id never registered.
    function getModel(uint256 modelId) external view returns (Model memory);

    /// @notice Number of models registered; ids are 1..modelCount().
    function modelCount() external view returns (uint256);
}
