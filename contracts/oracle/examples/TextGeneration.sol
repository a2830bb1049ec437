// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AIOracleCallbackReceiver} from "../AIOracleCallbackReceiver.sol";
import {IAIOracle} from "../interfaces/IAIOracle.sol";

/// @title TextGeneration
/// @notice Example consumer of a text-generating model: asks it a prompt and stores the generated text. The model
///         takes one INT8 input of `promptBytes` + 16 bytes: the prompt's UTF-8 bytes zero-padded to
///         `promptBytes`, then 16 parameter bytes (p[0] max new tokens, p[1..2] temperature in hundredths, p[3..4]
///         top-k, both uint16 big-endian, p[5..8] seed uint32 big-endian, p[9..15] reserved 0; 0 means the model's
///         default, temperature 0 greedy). Its output is text (the registry's `textOutput`), which the oracle
///         delivers without its zero padding, so `string(output)` is the answer.
contract TextGeneration is AIOracleCallbackReceiver {
    /// @notice Parameter bytes after the prompt (genspec's request layout).
    uint256 public constant PARAM_BYTES = 16;

    /// @notice The text-generating model asked.
    uint256 public immutable modelId;
    /// @notice B: the model's prompt length in bytes (its input is B + PARAM_BYTES bytes).
    uint256 public immutable promptBytes;
    /// @notice Gas the callback is given: storing an answer costs about 22,100 gas per 32 bytes.
    uint64 public immutable callbackGasLimit;

    /// A request of this contract and its answer (`delivered` tells an empty answer from none yet).
    struct Answer {
        address requester;
        bool delivered;
        string prompt;
    }

    mapping(uint256 requestId => Answer) internal _asked;
    /// @notice The generated text of each delivered request.
    mapping(uint256 requestId => string) public answers;

    /// @dev The prompt has no bytes: the model has nothing to continue (and the oracle refuses empty input).
    error EmptyPrompt();
    /// @dev The prompt's `length` UTF-8 bytes exceed the model's `promptBytes`; longer ones would run into the
    ///      parameter bytes.
    error PromptTooLong(uint256 length, uint256 promptBytes);
    /// @dev A callback for a request this contract did not make (anyone may name it as a callback) or one already
    ///      answered.
    error NotMyRequest(uint256 requestId);
    /// @dev Construction with a zero prompt length or callback gas limit.
    error BadConsumerConfig(uint256 promptBytes, uint64 callbackGasLimit);

    /// @dev `requester` asked `prompt` in request `requestId`.
    event Asked(uint256 indexed requestId, address indexed requester, string prompt);
    /// @dev Request `requestId`'s prompt was answered with `answer`.
    event Answered(uint256 indexed requestId, string prompt, string answer);

    constructor(IAIOracle oracle, uint256 modelId_, uint256 promptBytes_, uint64 callbackGasLimit_)
        AIOracleCallbackReceiver(oracle)
    {
        if (promptBytes_ == 0 || callbackGasLimit_ == 0) revert BadConsumerConfig(promptBytes_, callbackGasLimit_);
        modelId = modelId_;
        promptBytes = promptBytes_;
        callbackGasLimit = callbackGasLimit_;
    }

    /// @notice Fee to send with `ask` / `askWith`: the oracle's estimate for this model and callback gas.
    function fee() public view returns (uint256) {
        return aiOracle.estimateFee(modelId, callbackGasLimit);
    }

    /// @notice Asks `prompt` with the model's defaults (ORA's `bytes(prompt)` request: the oracle zero-pads it, so
    ///         every parameter byte is 0). Send at least `fee()`.
    function ask(string calldata prompt) external payable returns (uint256 requestId) {
        _checkPrompt(bytes(prompt));
        requestId = _request(bytes(prompt), prompt);
    }

    /// @notice Asks `prompt` with generation parameters (0 = the model's default for each; temperature 0 is
    ///         greedy): at most `maxNew` new tokens, temperature `temperatureCenti` / 100, the `topK` most likely
    ///         tokens, PRNG seed `seed`. Send at least `fee()`.
    function askWith(string calldata prompt, uint8 maxNew, uint16 temperatureCenti, uint16 topK, uint32 seed)
        external
        payable
        returns (uint256 requestId)
    {
        requestId = _request(encodeRequest(prompt, maxNew, temperatureCenti, topK, seed), prompt);
    }

    /// @notice The model input `askWith` sends: the prompt zero-padded to `promptBytes`, then the 16 parameter
    ///         bytes (mirrors offchain/chain/encoding.py::generation_request).
    function encodeRequest(string calldata prompt, uint8 maxNew, uint16 temperatureCenti, uint16 topK, uint32 seed)
        public
        view
        returns (bytes memory input)
    {
        bytes calldata text = bytes(prompt);
        _checkPrompt(text);
        input = new bytes(promptBytes + PARAM_BYTES);
        for (uint256 i; i < text.length; ++i) {
            input[i] = text[i];
        }
        bytes9 params = bytes9(abi.encodePacked(maxNew, temperatureCenti, topK, seed));
        for (uint256 i; i < 9; ++i) {
            input[promptBytes + i] = params[i];
        }
    }

    /// @notice Request `requestId`'s prompt and answer; `delivered` is false until the oracle's callback came.
    function answer(uint256 requestId)
        external
        view
        returns (bool delivered, address requester, string memory prompt, string memory text)
    {
        Answer storage a = _asked[requestId];
        return (a.delivered, a.requester, a.prompt, answers[requestId]);
    }

    /// @inheritdoc AIOracleCallbackReceiver
    function aiOracleCallback(uint256 requestId, bytes calldata output, bytes calldata)
        external
        override
        onlyAIOracleCallback
    {
        Answer storage a = _asked[requestId];
        // INVARIANT: Only answers to this contract's own requests are stored, each once.
        if (a.requester == address(0) || a.delivered) revert NotMyRequest(requestId);
        a.delivered = true;
        answers[requestId] = string(output);
        emit Answered(requestId, a.prompt, string(output));
    }

    function _checkPrompt(bytes calldata text) internal view {
        if (text.length == 0) revert EmptyPrompt();
        // INVARIANT: A prompt never spills into the parameter bytes.
        if (text.length > promptBytes) revert PromptTooLong(text.length, promptBytes);
    }

    function _request(bytes memory input, string calldata prompt) internal returns (uint256 requestId) {
        requestId = aiOracle.requestCallback{value: msg.value}(modelId, input, address(this), callbackGasLimit, "");
        Answer storage a = _asked[requestId];
        a.requester = msg.sender;
        a.prompt = prompt;
        emit Asked(requestId, msg.sender, prompt);
    }
}
