// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IInferenceResults} from "../token/interfaces/IInferenceResults.sol";

/// @title InferenceResultsDouble
/// @notice Test double of the oracle's IInferenceResults: tests finalize results directly. Never deployed outside
///         tests; the oracle's own implementation is covered by its integration test.
contract InferenceResultsDouble is IInferenceResults {
    /// @dev `requestId` was never finalized here.
    error NotFinalized(uint256 requestId);

    struct Result {
        uint256 modelId;
        bytes32 inputHash;
        bytes32 outputHash;
        bool finalized;
    }

    mapping(uint256 requestId => Result) private _results;

    /// @notice Records `requestId` as finalized for `modelId` with these input and output bytes.
    function finalize(uint256 requestId, uint256 modelId, bytes calldata input, bytes calldata output) external {
        _results[requestId] = Result(modelId, keccak256(input), keccak256(output), true);
    }

    /// @inheritdoc IInferenceResults
    function finalizedResult(uint256 requestId)
        external
        view
        returns (uint256 modelId, bytes32 inputHash, bytes32 outputHash)
    {
        Result storage result = _results[requestId];
        if (!result.finalized) revert NotFinalized(requestId);
        return (result.modelId, result.inputHash, result.outputHash);
    }
}
