// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../interfaces/IAIOracle.sol";

/// @title DigitsClassifier
/// @notice Example consumer: asks the oracle to classify an 8x8 digit image (64 pixel bytes, 0..16) and stores
///         the label, the argmax of the model's int16 logits, when the finalized result arrives.
contract DigitsClassifier is AIOracleCallbackReceiver {
    /// @notice Gas the callback needs: decode 10 logits, store the label, emit an event.
    uint64 public constant CALLBACK_GAS_LIMIT = 120_000;
    /// @notice Bytes per logit in the model's output (int16).
    uint256 public constant LOGIT_BYTES = 2;

    uint256 public immutable modelId;

    struct Classification {
        address requester;
        bool done;
        uint8 label;
    }

    mapping(uint256 requestId => Classification) public classifications;

    /// @dev The output holds no logits.
    error EmptyOutput();
    /// @dev The output length is not a whole number of logits.
    error MalformedOutput(uint256 length);
    /// @dev A callback for a request this contract did not make (anyone may name it as a request's callback,
    ///      for any model) or one already delivered.
    error NotMyRequest(uint256 requestId);

    event ClassificationRequested(uint256 indexed requestId, address indexed requester);
    event Classified(uint256 indexed requestId, uint8 label);

    constructor(IAIOracle oracle, uint256 modelId_) AIOracleCallbackReceiver(oracle) {
        modelId = modelId_;
    }

    /// @notice Fee to send with `classify`.
    function fee() external view returns (uint256) {
        return aiOracle.estimateFee(modelId, CALLBACK_GAS_LIMIT);
    }

    /// @notice Requests a classification of `image`; send at least `fee()`.
    function classify(bytes calldata image) external payable returns (uint256 requestId) {
        requestId = aiOracle.requestCallback{value: msg.value}(modelId, image, address(this), CALLBACK_GAS_LIMIT, "");
        classifications[requestId].requester = msg.sender;
        emit ClassificationRequested(requestId, msg.sender);
    }

    /// @inheritdoc AIOracleCallbackReceiver
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        Classification storage c = classifications[requestId];
        // INVARIANT: Only answers to this contract's own requests (made with `modelId`) are stored, each once.
        if (c.requester == address(0) || c.done) revert NotMyRequest(requestId);
        if (output.length == 0) revert EmptyOutput();
        if (output.length % LOGIT_BYTES != 0) revert MalformedOutput(output.length);
        uint256 best;
        int256 bestValue = type(int256).min;
        for (uint256 i; i < output.length / LOGIT_BYTES; ++i) {
            int256 v = int16(uint16(bytes2(output[i * 2:i * 2 + 2])));
            if (v > bestValue) (best, bestValue) = (i, v);
        }
        c.done = true;
        c.label = uint8(best);
        emit Classified(requestId, uint8(best));
    }
}
