// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IAIOracle} from "./interfaces/IAIOracle.sol";

/// @title AIOracleCallbackReceiver
/// @notice Base for consumer contracts, compatible with ORA's: bind to an oracle, receive results in
///         `aiOracleCallback`, which only that oracle may call.
abstract contract AIOracleCallbackReceiver {
    /// @notice The oracle this contract accepts results from.
    IAIOracle public immutable aiOracle;

    /// @dev The callback came from `found`, not from the bound oracle.
    error UnauthorizedCallbackSource(IAIOracle expected, IAIOracle found);

    constructor(IAIOracle _aiOracle) {
        aiOracle = _aiOracle;
    }

    /// @notice Only the bound oracle may call functions with this modifier.
    modifier onlyAIOracleCallback() {
        IAIOracle found = IAIOracle(msg.sender);
        if (found != aiOracle) revert UnauthorizedCallbackSource(aiOracle, found);
        _;
    }

    /// @notice Receives a finalized result.
    /// @param requestId The oracle's request id.
    /// @param output The model's output in its declared encoding.
    /// @param callbackData What the requester passed to `requestCallback`.
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata callbackData) external virtual;

    /// @notice Whether the oracle has finalized `requestId`.
    function isFinalized(uint256 requestId) external view returns (bool) {
        return aiOracle.isFinalized(requestId);
    }
}
