// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../oracle/AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../oracle/interfaces/IAIOracle.sol";

/// @notice A consumer written as ORA's Prompt is: `calculateAIResult` requests with a per-model callback gas limit
///         and stores the request after the oracle returns; it declares none of the oracle's errors itself.
contract OraStylePrompt is AIOracleCallbackReceiver {
    struct AIOracleRequest {
        address sender;
        uint256 modelId;
        bytes input;
        bytes output;
    }

    mapping(uint256 => AIOracleRequest) public requests;
    mapping(uint256 => uint64) public callbackGasLimit;
    mapping(uint256 => mapping(string => string)) public prompts;

    event promptsUpdated(uint256 requestId, uint256 modelId, string input, string output, bytes callbackData);
    event promptRequest(uint256 requestId, address sender, uint256 modelId, string prompt);

    constructor(IAIOracle _aiOracle) AIOracleCallbackReceiver(_aiOracle) {}

    function setCallbackGasLimit(uint256 modelId, uint64 gasLimit) external {
        callbackGasLimit[modelId] = gasLimit;
    }

    function calculateAIResult(uint256 modelId, string calldata prompt) external payable returns (uint256) {
        bytes memory input = bytes(prompt);
        uint256 requestId = aiOracle.requestCallback{value: msg.value}(
            modelId, input, address(this), callbackGasLimit[modelId], abi.encode(modelId, prompt)
        );
        AIOracleRequest storage request = requests[requestId];
        request.input = input;
        request.sender = msg.sender;
        request.modelId = modelId;
        emit promptRequest(requestId, msg.sender, modelId, prompt);
        return requestId;
    }

    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata callbackData)
        external
        override
        onlyAIOracleCallback
    {
        AIOracleRequest storage request = requests[requestId];
        request.output = output;
        (uint256 modelId, string memory input) = abi.decode(callbackData, (uint256, string));
        prompts[modelId][input] = string(output);
        emit promptsUpdated(requestId, modelId, input, string(output), callbackData);
    }

    function estimateFee(uint256 modelId) public view returns (uint256) {
        return aiOracle.estimateFee(modelId, callbackGasLimit[modelId]);
    }
}
