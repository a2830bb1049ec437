// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../oracle/AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../oracle/interfaces/IAIOracle.sol";

/// @notice Test consumers whose callbacks misbehave in one way each, to show finalization survives them.
contract CallbackProbe is AIOracleCallbackReceiver {
    /// 0 = records, 1 = reverts, 2 = burns all its gas, 3 = re-enters the oracle's finalize, 4 = returns a huge blob
    uint8 public immutable mode;
    uint256 public calls;
    bytes public lastOutput;
    bool public reentryFailed;

    error ProbeReverted();

    constructor(IAIOracle oracle, uint8 mode_) AIOracleCallbackReceiver(oracle) {
        mode = mode_;
    }

    function request(uint256 modelId, bytes calldata input, uint64 gasLimit) external payable returns (uint256) {
        return aiOracle.requestCallback{value: msg.value}(modelId, input, address(this), gasLimit, abi.encode(mode));
    }

    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata callbackData)
        external
        override
        onlyAIOracleCallback
    {
        if (mode == 1) revert ProbeReverted();
        if (mode == 2) {
            while (true) {
                calls += 1;
            }
        }
        if (mode == 3) {
            (bool ok,) = address(aiOracle).call(
                abi.encodeWithSignature("finalize(uint256,bytes,bytes)", requestId, output, callbackData)
            );
            reentryFailed = !ok;
        }
        if (mode == 4) {
            assembly {
                return(0, 100000)
            }
        }
        calls += 1;
        lastOutput = output;
    }
}
