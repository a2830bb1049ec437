// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../interfaces/IAIOracle.sol";

/// @title BatchClassifier
/// @notice Example consumer of ORA's batch interface: classifies `batchSize` inputs with one
///         `requestBatchInference` and stores one label per item, the argmax of that item's int16 logits in the
///         batched output (the items' outputs one after the other).
contract BatchClassifier is AIOracleCallbackReceiver {
    /// @notice Gas the callback needs: decode the batch's logits, store the labels.
    uint64 public constant CALLBACK_GAS_LIMIT = 300_000;

    uint256 public immutable modelId;
    uint256 public immutable batchSize;

    mapping(uint256 requestId => address requester) public requesters;
    mapping(uint256 requestId => uint8[]) internal _labels;

    /// @dev A callback for a request this contract did not make, or one already delivered.
    error NotMyRequest(uint256 requestId);
    /// @dev The output is not `batchSize` items of whole int16 logits.
    error MalformedOutput(uint256 length, uint256 batchSize);

    event BatchClassified(uint256 indexed requestId, uint8[] labels);

    constructor(IAIOracle oracle, uint256 modelId_, uint256 batchSize_) AIOracleCallbackReceiver(oracle) {
        modelId = modelId_;
        batchSize = batchSize_;
    }

    /// @notice Fee to send with `classifyBatch`.
    function fee() external view returns (uint256) {
        return aiOracle.estimateFeeBatch(modelId, CALLBACK_GAS_LIMIT, batchSize);
    }

    /// @notice Requests labels for `inputs`, `batchSize` model inputs packed one after the other.
    function classifyBatch(bytes calldata inputs) external payable returns (uint256 requestId) {
        requestId = aiOracle.requestBatchInference{value: msg.value}(
            batchSize, modelId, inputs, address(this), CALLBACK_GAS_LIMIT, "", IAIOracle.DA.Calldata, IAIOracle.DA.Calldata
        );
        requesters[requestId] = msg.sender;
    }

    /// @notice The labels delivered for `requestId` (empty until then).
    function labels(uint256 requestId) external view returns (uint8[] memory) {
        return _labels[requestId];
    }

    /// @inheritdoc AIOracleCallbackReceiver
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        // INVARIANT: Only answers to this contract's own requests are stored, each once.
        if (requesters[requestId] == address(0) || _labels[requestId].length != 0) revert NotMyRequest(requestId);
        uint256 n = batchSize;
        if (output.length == 0 || output.length % (2 * n) != 0) revert MalformedOutput(output.length, n);
        uint256 perItem = output.length / (2 * n);
        uint8[] storage out = _labels[requestId];
        for (uint256 b; b < n; ++b) {
            uint256 best;
            int256 bestValue = type(int256).min;
            for (uint256 i; i < perItem; ++i) {
                uint256 at = (b * perItem + i) * 2;
                int256 v = int16(uint16(bytes2(output[at:at + 2])));
                if (v > bestValue) (best, bestValue) = (i, v);
            }
            out.push(uint8(best));
        }
        emit BatchClassified(requestId, out);
    }
}
