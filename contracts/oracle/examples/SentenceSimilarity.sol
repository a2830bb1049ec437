// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AIOracleCallbackReceiver} from "../AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../interfaces/IAIOracle.sol";

/// @title SentenceSimilarity
/// @notice Example consumer of a text model: asks the oracle for the MiniLM embedding of a sentence (the request's
///         input is the sentence's UTF-8 bytes; the model tokenises it in its own, disputable graph), stores the
///         embedding when the finalized result arrives, and compares stored embeddings by cosine similarity.
///         The output is the model's int16 embedding, big-endian, `dims` values.
contract SentenceSimilarity is AIOracleCallbackReceiver {
    /// @notice Gas the callback needs: store up to 384 int16 values (24 storage words) and emit an event.
    uint64 public constant CALLBACK_GAS_LIMIT = 700_000;
    /// @notice Bytes per embedding value (int16).
    uint256 public constant VALUE_BYTES = 2;
    /// @notice Cosine similarities are returned scaled by this (1e18 = identical direction).
    int256 public constant ONE = 1e18;

    uint256 public immutable modelId;
    /// @notice Embedding length the model outputs.
    uint256 public immutable dims;

    struct Embedding {
        address requester;
        bool done;
        bytes32 textHash;
        bytes values;
    }

    mapping(uint256 requestId => Embedding) internal _embeddings;

    /// @dev The output is not `dims` int16 values.
    error MalformedOutput(uint256 length, uint256 expected);
    /// @dev A callback for a request this contract did not make (anyone may name it as a request's callback,
    ///      for any model) or one already delivered.
    error NotMyRequest(uint256 requestId);
    /// @dev The request has no stored embedding yet.
    error NotEmbedded(uint256 requestId);
    /// @dev An embedding is all zeros, so it has no direction.
    error ZeroEmbedding(uint256 requestId);
    /// @dev The sentence is empty.
    error EmptySentence();
    /// @dev Asked for value `index` of an embedding of `dims` values.
    error ValueIndexOutOfRange(uint256 index, uint256 dims);

    event EmbeddingRequested(uint256 indexed requestId, address indexed requester, string sentence);
    event Embedded(uint256 indexed requestId, bytes32 textHash);

    constructor(IAIOracle oracle, uint256 modelId_, uint256 dims_) AIOracleCallbackReceiver(oracle) {
        modelId = modelId_;
        dims = dims_;
    }

    /// @notice Fee to send with `embed`.
    function fee() external view returns (uint256) {
        return aiOracle.estimateFee(modelId, CALLBACK_GAS_LIMIT);
    }

    /// @notice Requests the embedding of `sentence`; send at least `fee()`. The oracle rejects sentences longer
    ///         than the model's input (256 UTF-8 bytes for the reference MiniLM) with `InputTooLong`.
    function embed(string calldata sentence) external payable returns (uint256 requestId) {
        if (bytes(sentence).length == 0) revert EmptySentence();
        requestId = aiOracle.requestCallback{value: msg.value}(
            modelId, bytes(sentence), address(this), CALLBACK_GAS_LIMIT, ""
        );
        Embedding storage e = _embeddings[requestId];
        e.requester = msg.sender;
        e.textHash = keccak256(bytes(sentence));
        emit EmbeddingRequested(requestId, msg.sender, sentence);
    }

    /// @inheritdoc AIOracleCallbackReceiver
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        Embedding storage e = _embeddings[requestId];
        // INVARIANT: Only answers to this contract's own requests (made with `modelId`) are stored, each once.
        if (e.requester == address(0) || e.done) revert NotMyRequest(requestId);
        if (output.length != dims * VALUE_BYTES) revert MalformedOutput(output.length, dims * VALUE_BYTES);
        e.done = true;
        e.values = output;
        emit Embedded(requestId, e.textHash);
    }

    /// @notice Whether request `requestId`'s embedding has arrived, who asked and the sentence's keccak256.
    function embedding(uint256 requestId) external view returns (bool done, address requester, bytes32 textHash) {
        Embedding storage e = _embeddings[requestId];
        return (e.done, e.requester, e.textHash);
    }

    /// @notice Value `i` of request `requestId`'s embedding (the model's int16, real value = v / 2^frac).
    function valueAt(uint256 requestId, uint256 i) external view returns (int256) {
        if (i >= dims) revert ValueIndexOutOfRange(i, dims);
        return _at(_stored(requestId), i);
    }

    /// @notice Cosine similarity of two stored embeddings, scaled by 1e18 (rounded toward zero).
    function similarity(uint256 a, uint256 b) external view returns (int256) {
        bytes memory x = _stored(a);
        bytes memory y = _stored(b);
        int256 dot;
        uint256 xx;
        uint256 yy;
        for (uint256 i; i < dims; ++i) {
            int256 xi = _at(x, i);
            int256 yi = _at(y, i);
            dot += xi * yi;
            xx += uint256(xi * xi);
            yy += uint256(yi * yi);
        }
        if (xx == 0) revert ZeroEmbedding(a);
        if (yy == 0) revert ZeroEmbedding(b);
        // |dot| <= sqrt(xx * yy) < 2^30 * dims, so dot * 1e18 fits easily.
        return dot * ONE / int256(Math.sqrt(xx * yy));
    }

    function _stored(uint256 requestId) internal view returns (bytes memory) {
        Embedding storage e = _embeddings[requestId];
        if (!e.done) revert NotEmbedded(requestId);
        return e.values;
    }

    function _at(bytes memory v, uint256 i) internal pure returns (int256 r) {
        assembly ("memory-safe") {
            r := signextend(1, shr(240, mload(add(add(v, 0x20), mul(i, 2)))))
        }
    }
}
