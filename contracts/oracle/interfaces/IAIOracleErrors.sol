// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IInputDomainErrors} from "./IInputDomainErrors.sol";
import {IModelRegistryErrors} from "./IModelRegistryErrors.sol";

/// @title IAIOracleErrors
/// @notice Every error a consumer's call into the oracle can revert with, declared once: AIOracle's own, the input
///         domain's (IInputDomainErrors) and the registry's (IModelRegistryErrors, e.g. `UnknownModel` from
///         `requestCallback`). IAIOracle and AIOracleCallbackReceiver inherit it, so a consumer's ABI holds them and
///         a client (ape, ethers) decodes a revert bubbling up from the oracle by name.
interface IAIOracleErrors is IInputDomainErrors, IModelRegistryErrors {
    /// @dev The config is unusable (named field).
    error BadOracleConfig(string field);
    /// @dev No request with this id.
    error UnknownRequest(uint256 requestId);
    /// @dev Inputs must not be empty.
    error EmptyInput();
    /// @dev The input is longer than the model's input length.
    error InputTooLong(uint256 length, uint256 maxLength);
    /// @dev A callback contract needs a gas limit and a gas limit needs a callback contract.
    error CallbackGasMismatch(address callbackContract, uint64 gasLimit);
    /// @dev The callback gas limit is above the oracle's maximum.
    error CallbackGasTooHigh(uint64 gasLimit, uint64 maxGasLimit);
    /// @dev Less than the fee was paid.
    error Underpaid(uint256 paid, uint256 fee);
    /// @dev The request is not in a state that accepts this call (`status`: AIOracle.RequestStatus; the ABI type of
    ///      an enum is uint8, so the selector is the one the enum-typed error had).
    error WrongRequestStatus(uint256 requestId, uint8 status);
    /// @dev The request's current claim is still pending: it cannot be replaced or refunded.
    error ClaimStillPending(uint256 requestId, uint256 claimId);
    /// @dev The request's claim is still in its challenge window or has games open.
    error ResultNotFinal(uint256 requestId, uint256 claimId);
    /// @dev The request's claim lost a game: submit a new result.
    error ClaimVoided(uint256 requestId, uint256 claimId);
    /// @dev The output has the wrong length for the model.
    error WrongOutputLength(uint256 length, uint256 expected);
    /// @dev The request's deadline has passed: no more submissions, only a refund.
    error RequestExpired(uint256 requestId, uint256 deadline);
    /// @dev The request's deadline has not passed yet.
    error RequestNotExpired(uint256 requestId, uint256 deadline);
    /// @dev The bytes given back to finalize are not the ones submitted or requested.
    error DataMismatch(string what);
    /// @dev Not enough gas was sent to give the callback its full gas limit.
    error InsufficientGasForCallback(uint256 gasLeft, uint256 needed);
    /// @dev The request is not finalized.
    error NotFinalized(uint256 requestId);
    // fast callbacks, callback retry and batches (issue 18)
    /// @dev The request did not opt into fast callbacks.
    error NotFastRequest(uint256 requestId);
    /// @dev The request's fast callback was already delivered (for claim `claimId`).
    error FastCallbackAlreadyDelivered(uint256 requestId, uint256 claimId);
    /// @dev The finalized request has no failed callback to retry (none, delivered, or retried successfully).
    error NoFailedCallback(uint256 requestId);
    /// @dev A retry must give the callback more gas than the request's limit.
    error RetryGasTooLow(uint64 gasLimit, uint64 requestGasLimit);
    /// @dev The retried callback reverted or ran out of gas again; nothing changed.
    error CallbackRetryFailed(uint256 requestId, uint64 gasLimit);
    /// @dev `batchSize` has no registered variant of `modelId` (sizes 0 and 1 included: 1 is a plain request).
    error InvalidBatchSize(uint256 modelId, uint256 batchSize);
    /// @dev `variantId` is not `batchSize` copies of `modelId` (name: the field that differs) or not the owner's.
    error BadBatchVariant(uint256 modelId, uint256 variantId, string field);
    /// @dev The caller does not own the base model.
    error NotBatchOwner(uint256 modelId, address caller);
}
