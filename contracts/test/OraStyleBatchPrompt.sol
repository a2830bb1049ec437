// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../oracle/AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../oracle/interfaces/IAIOracle.sol";

/// @notice An ORA-shaped batch consumer: requests with `requestBatchInference` and overrides
///         `aiOracleCallbackError` to keep the oracle's error per request (as a consumer refunding its user would).
contract OraStyleBatchPrompt is AIOracleCallbackReceiver {
    struct Refusal {
        AIOracleError code;
        bytes message;
        bytes callbackData;
    }

    mapping(uint256 requestId => address) public requesters;
    mapping(uint256 requestId => bytes) public outputs;
    mapping(uint256 requestId => Refusal) public refusals;

    event BatchRefused(uint256 indexed requestId, AIOracleError code, bytes message);

    constructor(IAIOracle _aiOracle) AIOracleCallbackReceiver(_aiOracle) {}

    function requestBatch(uint256 batchSize, uint256 modelId, bytes calldata input, uint64 gasLimit)
        external
        payable
        returns (uint256 requestId)
    {
        requestId = aiOracle.requestBatchInference{value: msg.value}(
            batchSize,
            modelId,
            input,
            address(this),
            gasLimit,
            abi.encode(modelId, batchSize),
            IAIOracle.DA.Calldata,
            IAIOracle.DA.Calldata
        );
        requesters[requestId] = msg.sender;
    }

    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        outputs[requestId] = output;
    }

    function aiOracleCallbackError(
        uint256 requestId,
        AIOracleError code,
        bytes calldata message,
        bytes calldata callbackData
    ) external override onlyAIOracleCallback {
        refusals[requestId] = Refusal(code, message, callbackData);
        emit BatchRefused(requestId, code, message);
    }
}
