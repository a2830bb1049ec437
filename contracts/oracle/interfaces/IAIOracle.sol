// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IAIOracleErrors} from "./IAIOracleErrors.sol";

/// @title IAIOracle
/// @notice ORA's AI Oracle interface, with the same function and event signatures (so the same selectors and
///         topics): a consumer compiled against ORA's IAIOracle and AIOracleCallbackReceiver works unchanged. It
///         inherits IAIOracleErrors: every error a call into the oracle can revert with.
interface IAIOracle is IAIOracleErrors {
    /// @notice Where a request's input and output live (ORA's enum, same order). This oracle serves calldata only.
    enum DA {
        Calldata,
        Blob,
        IPFS
    }

    /// @notice A request was made.
    event AICallbackRequest(
        address indexed account,
        uint256 indexed requestId,
        uint256 modelId,
        bytes input,
        address callbackContract,
        uint64 gasLimit,
        bytes callbackData
    );

    /// @notice A request's result was finalized and delivered (the callback may still have failed; see
    ///         AIOracle's CallbackFailed).
    event AICallbackResult(address indexed account, uint256 indexed requestId, address invoker, bytes output);

    /// @notice Asks for an inference of `modelId` on `input`; the result is delivered by calling
    ///         `callbackContract.aiOracleCallback(requestId, output, callbackData)` with at most `gasLimit` gas.
    /// @dev Pay at least `estimateFee(modelId, gasLimit)`. A zero callback address needs a zero gas limit.
    function requestCallback(
        uint256 modelId,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData
    ) external payable returns (uint256);

    /// @notice Fee in wei for one request: model fee + node reward + callback gas.
    function estimateFee(uint256 modelId, uint256 gasLimit) external view returns (uint256);

    /// @notice True once the request's result stands (its challenge window passed with no game lost).
    function isFinalized(uint256 requestId) external view returns (bool);

    /// @notice ORA's batch request: `batchSize` inputs of `modelId`, packed one after the other in `input` (the
    ///         batched input tensor [batchSize, ...]), answered by one inference of the model's registered batch
    ///         variant; the callback gets the batched output tensor (the items' outputs one after the other).
    /// @dev Pay at least `estimateFeeBatch(modelId, gasLimit, batchSize)`. A size with no variant makes an invalid
    ///      request (at least node reward + callback fee paid) answered by `aiOracleCallbackError(InvalidBatchSize)`.
    function requestBatchInference(
        uint256 batchSize,
        uint256 modelId,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData,
        DA inputDA,
        DA outputDA
    ) external payable returns (uint256);

    /// @notice Fee in wei for a batch request: batchSize x model fee + node reward + callback gas.
    function estimateFeeBatch(uint256 modelId, uint256 gasLimit, uint256 batchSize) external view returns (uint256);
}
