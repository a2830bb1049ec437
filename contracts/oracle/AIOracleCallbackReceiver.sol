// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IAIOracle} from "./interfaces/IAIOracle.sol";
import {IAIOracleErrors} from "./interfaces/IAIOracleErrors.sol";

/// @title AIOracleCallbackReceiver
/// @notice Base for consumer contracts, compatible with ORA's: bind to an oracle, receive results in
///         `aiOracleCallback`, which only that oracle may call. Inherits IAIOracleErrors so the oracle's errors
///         (`Underpaid`, `UnknownModel`, `InputOutOfDomain`, ...) bubbling up through a consumer are in its ABI.
abstract contract AIOracleCallbackReceiver is IAIOracleErrors {
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

    // ---------------------------------------------------------------- error callbacks (issue 18)

    /// @notice Why the oracle answers a request with an error instead of a result (ORA's enum, same order).
    enum AIOracleError {
        InvalidInput,
        InvalidBatchSize
    }

    /// @notice The oracle answered `requestId` with an error (emitted by the default `aiOracleCallbackError`).
    event AICallbackError(uint256 indexed requestId, AIOracleError indexed code, bytes message, bytes callbackData);

    /// @notice Receives an error answer: the request will never get a result. Same signature as ORA's (selector
    ///         0x8e6fd006). The default emits AICallbackError; override it to react (refund your user, retry).
    /// @param requestId The oracle's request id.
    /// @param code Why (InvalidInput: the input is outside the model's input domain; InvalidBatchSize: a batch size
    ///        with no batch variant).
    /// @param message The oracle's reason, ABI-encoded as its custom error (e.g. `InputOutOfDomain(index, value,
    ///        min, max)`), decodable with the consumer's own ABI.
    /// @param callbackData What the requester passed to `requestCallback`.
    function aiOracleCallbackError(
        uint256 requestId,
        AIOracleError code,
        bytes calldata message,
        bytes calldata callbackData
    ) external virtual onlyAIOracleCallback {
        emit AICallbackError(requestId, code, message, callbackData);
    }
}
