// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IInferenceResults
/// @notice What the oracle attests about a finalized request. ERC-7007 collections read it to accept only outputs
///         that survived the challenge window.
interface IInferenceResults {
    /// @notice The model, input and output of a finalized request.
    /// @dev Reverts when `requestId` is unknown or not finalized yet.
    /// @param requestId The oracle's request id.
    /// @return modelId The model the request was served by.
    /// @return inputHash keccak256 of the request's input bytes.
    /// @return outputHash keccak256 of the delivered output bytes.
    function finalizedResult(uint256 requestId)
        external
        view
        returns (uint256 modelId, bytes32 inputHash, bytes32 outputHash);
}
