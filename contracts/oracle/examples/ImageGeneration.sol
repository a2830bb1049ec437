// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../interfaces/IAIOracle.sol";

/// @title ImageGeneration
/// @notice Example consumer of a text-to-image model: asks it for an image of a prompt and stores the pixel bytes.
///         The model takes one INT8 input of `promptBytes` + 8 bytes: the prompt's UTF-8 bytes zero-padded to
///         `promptBytes`, then the sampler's seed as a big-endian uint64 (its initial noise comes from the seed
///         alone, so a prompt and a seed name one image). ORA's plain `bytes(prompt)` request (`generate(prompt)`)
///         is zero-padded by the oracle: seed 0. The output is the image's pixel bytes (row-major, brightness).
///         The exact input bytes of each request are kept: they are the ERC-7007 `prompt` an AIGCCollection mint
///         of the image must present.
contract ImageGeneration is AIOracleCallbackReceiver {
    /// @notice Seed bytes after the prompt.
    uint256 public constant SEED_BYTES = 8;

    /// @notice The text-to-image model asked.
    uint256 public immutable modelId;
    /// @notice B: the model's prompt length in bytes (its input is B + SEED_BYTES bytes).
    uint256 public immutable promptBytes;
    /// @notice Gas the callback is given: storing an image costs about 22,100 gas per 32 bytes.
    uint64 public immutable callbackGasLimit;

    /// A request of this contract and its image (`delivered` tells an empty image from none yet).
    struct Request {
        address requester;
        bool delivered;
        uint64 seed;
        string prompt;
        bytes input;
    }

    mapping(uint256 requestId => Request) internal _requests;
    /// @notice The pixel bytes of each delivered request.
    mapping(uint256 requestId => bytes) public images;

    /// @dev The prompt has no bytes (and the oracle refuses empty input).
    error EmptyPrompt();
    /// @dev The prompt's `length` UTF-8 bytes exceed the model's `promptBytes`; longer ones would run into the seed.
    error PromptTooLong(uint256 length, uint256 promptBytes);
    /// @dev A callback for a request this contract did not make (anyone may name it as a callback) or one already
    ///      answered.
    error NotMyRequest(uint256 requestId);
    /// @dev Construction with a zero prompt length or callback gas limit.
    error BadConsumerConfig(uint256 promptBytes, uint64 callbackGasLimit);

    /// @dev `requester` asked for an image of `prompt` with `seed` in request `requestId`.
    event ImageRequested(uint256 indexed requestId, address indexed requester, string prompt, uint64 seed);
    /// @dev Request `requestId`'s image arrived.
    event ImageDelivered(uint256 indexed requestId, bytes pixels);

    constructor(IAIOracle oracle, uint256 modelId_, uint256 promptBytes_, uint64 callbackGasLimit_)
        AIOracleCallbackReceiver(oracle)
    {
        if (promptBytes_ == 0 || callbackGasLimit_ == 0) revert BadConsumerConfig(promptBytes_, callbackGasLimit_);
        modelId = modelId_;
        promptBytes = promptBytes_;
        callbackGasLimit = callbackGasLimit_;
    }

    /// @notice Fee to send with `generate`: the oracle's estimate for this model and callback gas.
    function fee() public view returns (uint256) {
        return aiOracle.estimateFee(modelId, callbackGasLimit);
    }

    /// @notice Asks for an image of `prompt` with seed 0, as ORA's `bytes(prompt)` request. Send at least `fee()`.
    function generate(string calldata prompt) external payable returns (uint256 requestId) {
        _checkPrompt(bytes(prompt));
        requestId = _request(bytes(prompt), prompt, 0);
    }

    /// @notice Asks for an image of `prompt` from the noise of `seed`. Send at least `fee()`.
    function generate(string calldata prompt, uint64 seed) external payable returns (uint256 requestId) {
        requestId = _request(encodeRequest(prompt, seed), prompt, seed);
    }

    /// @notice The model input `generate(prompt, seed)` sends: the prompt zero-padded to `promptBytes`, then the
    ///         seed's 8 big-endian bytes (mirrors offchain/chain/encoding.py::image_request).
    function encodeRequest(string calldata prompt, uint64 seed) public view returns (bytes memory input) {
        bytes calldata text = bytes(prompt);
        _checkPrompt(text);
        input = new bytes(promptBytes + SEED_BYTES);
        for (uint256 i; i < text.length; ++i) {
            input[i] = text[i];
        }
        bytes8 s = bytes8(seed);
        for (uint256 i; i < SEED_BYTES; ++i) {
            input[promptBytes + i] = s[i];
        }
    }

    /// @notice Request `requestId`: who asked, its prompt and seed, the exact input bytes sent (an AIGCCollection
    ///         mint's `prompt`) and the image (empty until `delivered`).
    function request(uint256 requestId)
        external
        view
        returns (
            bool delivered,
            address requester,
            string memory prompt,
            uint64 seed,
            bytes memory input,
            bytes memory pixels
        )
    {
        Request storage r = _requests[requestId];
        return (r.delivered, r.requester, r.prompt, r.seed, r.input, images[requestId]);
    }

    /// @inheritdoc AIOracleCallbackReceiver
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        Request storage r = _requests[requestId];
        // INVARIANT: Only images for this contract's own requests are stored, each once.
        if (r.requester == address(0) || r.delivered) revert NotMyRequest(requestId);
        r.delivered = true;
        images[requestId] = output;
        emit ImageDelivered(requestId, output);
    }

    function _checkPrompt(bytes calldata text) internal view {
        if (text.length == 0) revert EmptyPrompt();
        // INVARIANT: A prompt never spills into the seed bytes.
        if (text.length > promptBytes) revert PromptTooLong(text.length, promptBytes);
    }

    function _request(bytes memory input, string calldata prompt, uint64 seed) internal returns (uint256 requestId) {
        requestId = aiOracle.requestCallback{value: msg.value}(modelId, input, address(this), callbackGasLimit, "");
        Request storage r = _requests[requestId];
        r.requester = msg.sender;
        r.seed = seed;
        r.prompt = prompt;
        r.input = input;
        emit ImageRequested(requestId, msg.sender, prompt, seed);
    }
}
