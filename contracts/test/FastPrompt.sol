// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../oracle/AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../oracle/interfaces/IAIOracle.sol";

/// @notice The oracle's opt-in for fast callbacks, as a consumer sees it.
interface IFastCallbacks {
    function setFastCallbacks(bool enabled) external;
    function estimateFeeFor(uint256 modelId, uint256 gasLimit, address callbackContract)
        external
        view
        returns (uint256);
}

/// @notice An ORA-shaped consumer (ORA's Prompt: `calculateAIResult`, `aiOracleCallback`, `isFinalized`) that
///         records every callback with whether the oracle called it final, so tests see fast answers and their
///         corrections. It undoes a fast answer by overwriting it: the latest callback is the answer.
contract FastPrompt is AIOracleCallbackReceiver {
    struct Delivery {
        bytes output;
        bool finalized;
    }

    uint64 public callbackGasLimit;
    mapping(uint256 requestId => Delivery[]) internal _deliveries;
    mapping(uint256 requestId => bytes) public prompts;

    event promptsUpdated(uint256 requestId, uint256 modelId, string input, string output, bytes callbackData);

    constructor(IAIOracle oracle, uint64 callbackGasLimit_) AIOracleCallbackReceiver(oracle) {
        callbackGasLimit = callbackGasLimit_;
    }

    function setFast(bool enabled) external {
        IFastCallbacks(address(aiOracle)).setFastCallbacks(enabled);
    }

    function estimateFee(uint256 modelId) public view returns (uint256) {
        return IFastCallbacks(address(aiOracle)).estimateFeeFor(modelId, callbackGasLimit, address(this));
    }

    function calculateAIResult(uint256 modelId, bytes calldata input) external payable returns (uint256 requestId) {
        requestId = aiOracle.requestCallback{value: msg.value}(modelId, input, address(this), callbackGasLimit, "");
        prompts[requestId] = input;
    }

    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata callbackData)
        external
        override
        onlyAIOracleCallback
    {
        _deliveries[requestId].push(Delivery(output, aiOracle.isFinalized(requestId)));
        emit promptsUpdated(requestId, 0, string(prompts[requestId]), string(output), callbackData);
    }

    function deliveries(uint256 requestId) external view returns (Delivery[] memory) {
        return _deliveries[requestId];
    }
}
