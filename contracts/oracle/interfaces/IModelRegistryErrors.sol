// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IModelRegistryErrors
/// @notice Every error ModelRegistry raises, declared once: IModelRegistry inherits it, and so does IAIOracleErrors,
///         so a registry error bubbling up through the oracle (`UnknownModel` from `requestCallback`) is in the
///         oracle's and its consumers' ABIs.
interface IModelRegistryErrors {
    /// @dev No model has this id.
    error UnknownModel(uint256 modelId);
    /// @dev A model with the same graph and weights is registered already, under `modelId`.
    error ModelAlreadyRegistered(uint256 modelId);
    /// @dev A commitment root was zero: a model must commit to a graph and to weights.
    error ZeroRoot();
    /// @dev Inputs must be at least one byte long.
    error ZeroInputLength();
    /// @dev A model needs at least one node, and at most 2^32 - 1.
    error ZeroNodeCount();
    /// @dev Chunk sizes are 2^5 .. 2^20 bytes.
    error BadChunkSize(uint8 chunkLog2);
    /// @dev Input elements are 1, 2 or 4 bytes wide.
    error BadInputWidth(uint8 width);
    /// @dev The input length is not a whole number of `width`-byte elements.
    error InputLengthNotWhole(uint32 inputLength, uint8 width);
    /// @dev The input range is empty (min > max) or exceeds what a `width`-byte signed integer holds.
    error BadInputDomain(int32 min, int32 max, uint8 width);
    /// @dev The owner or revenue receiver was the zero address.
    error ZeroAddress();
    /// @dev Only the model's owner may do this.
    error NotModelOwner(uint256 modelId, address caller);
    /// @dev Private node `position` of the list is not a node of the model, not after the previous one, has chunk
    ///      size outside 2^5 .. 2^20, no key or a commitment outside the BN254 scalar field (or the list is empty).
    error BadPrivateNode(uint256 position);
    /// @dev Model `modelId` was launched with a revenue token: its revenue receiver is fixed for good.
    error RevenueReceiverLocked(uint256 modelId);
    /// @dev A launched model's fee may change only to between half and twice the fee in force (`currentFee`).
    error FeeChangeOutOfBounds(uint256 modelId, uint256 currentFee, uint256 newFee);
    /// @dev A launched model must charge a fee: its holders' revenue, and the base every later change is bounded by.
    error ZeroLaunchFee(uint256 modelId);
}
