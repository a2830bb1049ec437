// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IDisputeErrors} from "../dispute/interfaces/IDisputeErrors.sol";
import {IDisputeGame} from "../dispute/interfaces/IDisputeGame.sol";
import {PrivateIO} from "../zk/interfaces/IPrivateNodeJudge.sol";
import {LibMerkle} from "../dispute/lib/LibMerkle.sol";
import {ClaimStatus} from "../dispute/lib/Types.sol";
import {AIOracleCallbackReceiver} from "./AIOracleCallbackReceiver.sol";
import {IAIOracle} from "./interfaces/IAIOracle.sol";
import {IInferenceResults} from "../token/interfaces/IInferenceResults.sol";
import {IInputDomainErrors} from "./interfaces/IInputDomainErrors.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {LibInputDomain} from "./lib/LibInputDomain.sol";

/// @title AIOracle
/// @notice ORA-compatible AI oracle whose answers are secured by the dispute game (opML).
///
/// Life of a request: requested (fee paid, input root computed here) -> submitted (the submitter's bonded claim
/// in the game) -> finalized once the claim's window passes with no game lost -> callback delivered with its gas
/// cap. A voided claim reopens the request for a new submission; a request with no finalized result by its
/// deadline is refundable. Fees are split at request time: the model fee goes to the model's revenue receiver,
/// the node reward to the finalized submitter, the callback fee to whoever pays the callback's gas (the finalizer).
///
/// Gas design: only hashes of the input, callback data and output are stored; `finalize` takes the output and
/// callback data back as calldata (both are in this contract's events) and checks them against the hashes.
contract AIOracle is IAIOracle, IInferenceResults, IDisputeErrors, IInputDomainErrors, AccessControl, ReentrancyGuard {
    enum RequestStatus {
        None,
        Open,
        Submitted,
        Finalized,
        Refunded
    }

    struct Request {
        address account;
        uint64 createdAt;
        RequestStatus status;
        address callbackContract;
        uint64 gasLimit;
        uint256 modelId;
        bytes32 inputHash;
        bytes32 inputRoot;
        bytes32 callbackDataHash;
        uint256 modelFee;
        uint256 nodeReward;
        uint256 callbackFee;
        uint256 claimId;
        address submitter;
        bytes32 outputHash;
    }

    struct Config {
        IModelRegistry registry;
        IDisputeGame game;
        /// Paid to the submitter of each finalized result.
        uint256 nodeReward;
        /// Wei per unit of callback gas limit, paid to the finalizer who sends the callback.
        uint256 callbackGasPrice;
        uint64 maxCallbackGasLimit;
        /// Seconds after a request without a finalized result before it is refundable.
        uint64 requestTimeout;
    }

    /// @dev Gas kept back besides the callback's limit: EIP-150 passes at most 63/64 of what is left, and the
    ///      bookkeeping after the call must still run.
    uint256 internal constant CALLBACK_GAS_RESERVE = 60_000;
    /// @dev Gas given to a revenue receiver's receive(); enough for an ERC-7641 token's accounting.
    uint256 internal constant REVENUE_PUSH_GAS = 100_000;

    IModelRegistry public immutable registry;
    IDisputeGame public immutable game;
    uint256 public immutable nodeReward;
    uint256 public immutable callbackGasPrice;
    uint64 public immutable maxCallbackGasLimit;
    uint64 public immutable requestTimeout;

    mapping(uint256 requestId => Request) internal _requests;
    uint256 public requestCount;
    mapping(address account => uint256) public credit;
    uint256 public totalCredit;
    /// @notice Fees of requests not yet finalized or refunded.
    uint256 public heldFees;

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
    /// @dev The request is not in a state that accepts this call.
    error WrongRequestStatus(uint256 requestId, RequestStatus status);
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

    /// @dev A submitter posted a result (the output is here for challengers and finalizers).
    event ResultSubmitted(
        uint256 indexed requestId, uint256 indexed claimId, address indexed submitter, bytes output, bytes32 traceRoot
    );
    /// @dev A finalized result's callback reverted or ran out of gas; finalization went on.
    event CallbackFailed(uint256 indexed requestId, address callbackContract);
    /// @dev A request's fee was returned to its account.
    event Refunded(uint256 indexed requestId, address indexed account, uint256 amount);
    /// @dev ETH was credited to an account (withdraw with `withdraw`).
    event Credited(address indexed account, uint256 amount);

    constructor(Config memory config, address admin) {
        if (address(config.registry) == address(0)) revert BadOracleConfig("registry");
        if (address(config.game) == address(0)) revert BadOracleConfig("game");
        // INVARIANT: A claim submitted when the request is made is decided before the request's deadline (the
        //            challenge window plus a game opened at the window's end and played out on both clocks), so a
        //            request whose first answer is voided reopens for a correct one while submissions are still
        //            accepted, instead of sitting under a pending claim past its deadline.
        if (config.requestTimeout <= uint256(config.game.challengeWindow()) + 2 * uint256(config.game.clockBudget())) {
            revert BadOracleConfig("requestTimeout");
        }
        if (admin == address(0)) revert BadOracleConfig("admin");
        registry = config.registry;
        game = config.game;
        nodeReward = config.nodeReward;
        callbackGasPrice = config.callbackGasPrice;
        maxCallbackGasLimit = config.maxCallbackGasLimit;
        requestTimeout = config.requestTimeout;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ requests

    /// @inheritdoc IAIOracle
    function requestCallback(
        uint256 modelId,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData
    ) external payable returns (uint256 requestId) {
        IModelRegistry.Model memory model = registry.getModel(modelId);
        return _request(modelId, model, model.fee, input, callbackContract, gasLimit, callbackData);
    }

    /// @dev Checks and records a request of `modelId` (the model that runs) charging `modelFee` to its receiver.
    function _request(
        uint256 modelId,
        IModelRegistry.Model memory model,
        uint256 modelFee,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData
    ) internal returns (uint256 requestId) {
        if (input.length == 0) revert EmptyInput();
        // INVARIANT: The input fits the model's static input tensor (shorter inputs are zero-padded).
        if (input.length > model.inputLength) revert InputTooLong(input.length, model.inputLength);
        // INVARIANT: Every accepted input has one result a dispute can reach: it lies in the model's input domain
        //            (an EMBEDDING has no row for an id outside its vocabulary, so no honest node could answer it
        //            and no one-step proof could refute any answer).
        LibInputDomain.check(input, model.inputLength, model.inputWidth, model.inputMin, model.inputMax);
        if ((callbackContract == address(0)) != (gasLimit == 0)) revert CallbackGasMismatch(callbackContract, gasLimit);
        if (gasLimit > maxCallbackGasLimit) revert CallbackGasTooHigh(gasLimit, maxCallbackGasLimit);
        uint256 callbackFee = uint256(gasLimit) * callbackGasPrice;
        uint256 fee = modelFee + nodeReward + callbackFee;
        if (msg.value < fee) revert Underpaid(msg.value, fee);

        requestId = ++requestCount;
        Request storage r = _requests[requestId];
        r.account = msg.sender;
        r.createdAt = uint64(block.timestamp);
        r.status = RequestStatus.Open;
        r.callbackContract = callbackContract;
        r.gasLimit = gasLimit;
        r.modelId = modelId;
        r.inputHash = keccak256(input);
        r.inputRoot = inputRoot(input, model.inputLength, model.inputChunkLog2);
        r.callbackDataHash = keccak256(callbackData);
        r.modelFee = modelFee;
        r.nodeReward = nodeReward;
        r.callbackFee = callbackFee;
        heldFees += fee;
        if (msg.value > fee) _credit(msg.sender, msg.value - fee);
        emit AICallbackRequest(msg.sender, requestId, modelId, input, callbackContract, gasLimit, callbackData);
    }

    /// @inheritdoc IAIOracle
    function estimateFee(uint256 modelId, uint256 gasLimit) public view returns (uint256) {
        return registry.getModel(modelId).fee + nodeReward + gasLimit * callbackGasPrice;
    }

    // ------------------------------------------------------------------ results

    /// @notice Posts a result with the game's submitter bond (msg.value). The output is the model's packed output
    ///         tensor; `outputProof` proves its root is the trace's last leaf.
    function submit(uint256 requestId, bytes calldata output, bytes32 traceRoot, bytes32[] calldata outputProof)
        external
        payable
        returns (uint256 claimId)
    {
        Request storage r = _existing(requestId);
        bytes32 outputRoot = _checkSubmission(requestId, r, output);
        claimId = game.propose{value: msg.value}(
            r.modelId, r.inputRoot, outputRoot, traceRoot, outputProof, msg.sender
        );
        _recordSubmission(requestId, r, claimId, output, traceRoot);
    }

    /// @dev The request takes a submission now and `output` has the model's length; returns the output's root.
    function _checkSubmission(uint256 requestId, Request storage r, bytes calldata output)
        internal
        view
        returns (bytes32)
    {
        _requireReopenable(requestId, r);
        uint256 deadline = uint256(r.createdAt) + requestTimeout;
        if (block.timestamp >= deadline) revert RequestExpired(requestId, deadline);
        IModelRegistry.Model memory model = registry.getModel(r.modelId);
        if (output.length != model.outputLength) revert WrongOutputLength(output.length, model.outputLength);
        return LibMerkle.tensorRoot(output, uint256(1) << model.outputChunkLog2);
    }

    function _recordSubmission(
        uint256 requestId,
        Request storage r,
        uint256 claimId,
        bytes calldata output,
        bytes32 traceRoot
    ) internal {
        r.status = RequestStatus.Submitted;
        r.claimId = claimId;
        r.submitter = msg.sender;
        r.outputHash = keccak256(output);
        emit ResultSubmitted(requestId, claimId, msg.sender, output, traceRoot);
    }

    /// @notice `submit` for a model with private nodes: `ios` holds, per private node, the Poseidon hashes its
    ///         Groth16 proof is about, the proof, and the node's output with its trace proof (see PrivateIO). The
    ///         game verifies the proofs (batched per key) and publishes the outputs; challengers recompute the rest.
    function submitPrivate(
        uint256 requestId,
        bytes calldata output,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        PrivateIO[] calldata ios
    ) external payable returns (uint256 claimId) {
        Request storage r = _existing(requestId);
        bytes32 outputRoot = _checkSubmission(requestId, r, output);
        claimId = game.proposePrivate{value: msg.value}(
            r.modelId, r.inputRoot, outputRoot, traceRoot, outputProof, msg.sender, ios
        );
        _recordSubmission(requestId, r, claimId, output, traceRoot);
    }

    /// @notice Finalizes a submitted result whose claim stands, pays the fees and delivers the callback.
    /// @dev Anyone may call, passing back the submitted output and the request's callback data. The callback
    ///      gets exactly its gas limit; if it reverts or runs out of gas, finalization still completes.
    function finalize(uint256 requestId, bytes calldata output, bytes calldata callbackData) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != RequestStatus.Submitted) revert WrongRequestStatus(requestId, r.status);
        if (keccak256(output) != r.outputHash) revert DataMismatch("output");
        if (keccak256(callbackData) != r.callbackDataHash) revert DataMismatch("callbackData");
        ClaimStatus status = game.claimStatus(r.claimId);
        if (status == ClaimStatus.Void) revert ClaimVoided(requestId, r.claimId);
        if (status == ClaimStatus.Pending) {
            if (!game.canFinalize(r.claimId)) revert ResultNotFinal(requestId, r.claimId);
            game.finalize(r.claimId);
        }

        r.status = RequestStatus.Finalized;
        heldFees -= r.modelFee + r.nodeReward + r.callbackFee;
        _credit(r.submitter, r.nodeReward);
        _credit(msg.sender, r.callbackFee);
        _payRevenue(r.modelId, r.modelFee);
        if (r.callbackContract != address(0)) _deliver(requestId, r, output, callbackData);
        emit AICallbackResult(r.account, requestId, msg.sender, output);
    }

    /// @notice Returns the fee of a request that has no finalized result by its deadline.
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = _existing(requestId);
        _requireReopenable(requestId, r);
        uint256 deadline = uint256(r.createdAt) + requestTimeout;
        if (block.timestamp < deadline) revert RequestNotExpired(requestId, deadline);
        r.status = RequestStatus.Refunded;
        uint256 amount = r.modelFee + r.nodeReward + r.callbackFee;
        heldFees -= amount;
        _credit(r.account, amount);
        emit Refunded(requestId, r.account, amount);
    }

    /// @notice Sends the caller everything credited to it.
    function withdraw() external nonReentrant {
        _payOut(msg.sender);
    }

    /// @notice Anyone: pushes `account`'s credit to it, e.g. a revenue token whose model fees could not be pushed
    ///         at finalization (the token cannot call `withdraw` itself).
    function pushCredit(address account) external nonReentrant {
        _payOut(account);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAIOracle
    function isFinalized(uint256 requestId) external view returns (bool) {
        return _requests[requestId].status == RequestStatus.Finalized;
    }

    /// @inheritdoc IInferenceResults
    /// @dev Reverts with NotFinalized for a request that is not finalized.
    function finalizedResult(uint256 requestId)
        external
        view
        returns (uint256 modelId, bytes32 inputHash, bytes32 outputHash)
    {
        Request storage r = _requests[requestId];
        if (r.status != RequestStatus.Finalized) revert NotFinalized(requestId);
        return (r.modelId, r.inputHash, r.outputHash);
    }

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _existing(requestId);
    }

    /// @notice The input tensor's root as the model commits to it: the input zero-padded to `inputLength` bytes,
    ///         cut into 2^chunkLog2-byte chunks.
    function inputRoot(bytes memory input, uint256 inputLength, uint256 chunkLog2) public pure returns (bytes32) {
        bytes memory padded = input;
        if (input.length < inputLength) {
            padded = new bytes(inputLength);
            for (uint256 i; i < input.length; ++i) {
                padded[i] = input[i];
            }
        }
        return LibMerkle.tensorRoot(padded, uint256(1) << chunkLog2);
    }

    // ------------------------------------------------------------------ internal

    function _existing(uint256 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
    }

    /// @dev Open, or submitted with a claim that lost a game (a voided result reopens the request).
    function _requireReopenable(uint256 requestId, Request storage r) internal view {
        if (r.status == RequestStatus.Open) return;
        if (r.status != RequestStatus.Submitted) revert WrongRequestStatus(requestId, r.status);
        // INVARIANT: A pending result cannot be replaced or refunded; only a voided one can.
        if (game.claimStatus(r.claimId) != ClaimStatus.Void) revert ClaimStillPending(requestId, r.claimId);
    }

    function _deliver(uint256 requestId, Request storage r, bytes calldata output, bytes calldata callbackData)
        internal
    {
        uint256 gasLimit = r.gasLimit;
        // INVARIANT: The callback gets its whole gas limit, so a finalizer cannot starve it on purpose.
        uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
        if (gasleft() < needed) revert InsufficientGasForCallback(gasleft(), needed);
        bytes memory payload =
            abi.encodeCall(AIOracleCallbackReceiver.aiOracleCallback, (requestId, output, callbackData));
        address target = r.callbackContract;
        bool ok;
        assembly ("memory-safe") {
            // No return data is copied, so a callback cannot make this call expensive by returning a huge blob.
            ok := call(gasLimit, target, 0, add(payload, 0x20), mload(payload), 0, 0)
        }
        if (!ok) emit CallbackFailed(requestId, target);
    }

    /// @dev Pushes the model fee to the model's revenue receiver; credits it instead if the push fails, so a
    ///      broken receiver never blocks finalization.
    function _payRevenue(uint256 modelId, uint256 amount) internal {
        if (amount == 0) return;
        address receiver = registry.getModel(modelId).revenueReceiver;
        (bool ok,) = receiver.call{value: amount, gas: REVENUE_PUSH_GAS}("");
        if (!ok) _credit(receiver, amount);
    }

    function _payOut(address account) internal {
        uint256 amount = credit[account];
        if (amount == 0) revert NothingToWithdraw(account);
        credit[account] = 0;
        totalCredit -= amount;
        (bool ok,) = account.call{value: amount}("");
        if (!ok) revert PayoutFailed(account, amount);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credit[account] += amount;
        totalCredit += amount;
        emit Credited(account, amount);
    }

    // ---------------------------------------------------------------- batch inference (issue 18)

    /// @notice Batch variants: (model, batch size) => the model id of the same network compiled with a leading
    ///         batch dimension of that size (its own graph and weights roots, so one claim covers the batch).
    mapping(uint256 modelId => mapping(uint256 batchSize => uint256 variantId)) public batchVariant;

    /// @dev `batchSize` has no registered variant of `modelId` (sizes 0 and 1 included: 1 is a plain request).
    error InvalidBatchSize(uint256 modelId, uint256 batchSize);
    /// @dev Only calldata input and output are served.
    error UnsupportedDA(DA inputDA, DA outputDA);
    /// @dev `variantId` is not `batchSize` copies of `modelId` (name: the field that differs) or not the owner's.
    error BadBatchVariant(uint256 modelId, uint256 variantId, string field);
    /// @dev The caller does not own the base model.
    error NotBatchOwner(uint256 modelId, address caller);

    /// @notice A batch variant was registered.
    event BatchVariantRegistered(uint256 indexed modelId, uint256 indexed batchSize, uint256 variantId);
    /// @notice A batch request: `AICallbackRequest` of the same id names the variant that runs.
    event BatchInferenceRequest(
        uint256 indexed requestId, uint256 indexed modelId, uint256 batchSize, uint256 variantId, DA inputDA, DA outputDA
    );

    /// @notice The owner of `modelId` records `variantId` (a registered model it also owns) as its batch-`batchSize`
    ///         variant: input and output exactly `batchSize` times the base's, the same element width, domain and
    ///         revenue receiver. Re-registering a size replaces its variant (for requests made afterwards).
    function registerBatchVariant(uint256 modelId, uint256 batchSize, uint256 variantId) external {
        IModelRegistry.Model memory base = registry.getModel(modelId);
        IModelRegistry.Model memory v = registry.getModel(variantId);
        // INVARIANT: Only a model's owner decides which network answers its batches.
        if (msg.sender != base.owner) revert NotBatchOwner(modelId, msg.sender);
        // INVARIANT: A variant is the owner's own, its own model (a batch of 1 is the model), of the batch's size.
        if (v.owner != base.owner) revert BadBatchVariant(modelId, variantId, "owner");
        if (batchSize < 2 || batchSize > type(uint32).max || variantId == modelId) {
            revert InvalidBatchSize(modelId, batchSize);
        }
        if (v.inputLength != batchSize * base.inputLength) revert BadBatchVariant(modelId, variantId, "inputLength");
        if (v.outputLength != batchSize * base.outputLength) revert BadBatchVariant(modelId, variantId, "outputLength");
        if (v.inputWidth != base.inputWidth || v.inputMin != base.inputMin || v.inputMax != base.inputMax) {
            revert BadBatchVariant(modelId, variantId, "inputDomain");
        }
        batchVariant[modelId][batchSize] = variantId;
        emit BatchVariantRegistered(modelId, batchSize, variantId);
    }

    /// @inheritdoc IAIOracle
    function requestBatchInference(
        uint256 batchSize,
        uint256 modelId,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData,
        DA inputDA,
        DA outputDA
    ) external payable returns (uint256 requestId) {
        // INVARIANT: Inputs and outputs are in calldata and events, where disputes and finalize read them.
        if (inputDA != DA.Calldata || outputDA != DA.Calldata) revert UnsupportedDA(inputDA, outputDA);
        (uint256 variantId, IModelRegistry.Model memory variant, uint256 modelFee) = _batchModel(modelId, batchSize);
        requestId = _request(variantId, variant, modelFee, input, callbackContract, gasLimit, callbackData);
        emit BatchInferenceRequest(requestId, modelId, batchSize, variantId, inputDA, outputDA);
    }

    /// @inheritdoc IAIOracle
    function estimateFeeBatch(uint256 modelId, uint256 gasLimit, uint256 batchSize) external view returns (uint256) {
        (,, uint256 modelFee) = _batchModel(modelId, batchSize);
        return modelFee + nodeReward + gasLimit * callbackGasPrice;
    }

    /// @dev The one batch-size check: the model that runs a batch of `batchSize` of `modelId` and its fee (the
    ///      base model's fee in force, `batchSize` times), or `InvalidBatchSize`.
    function _batchModel(uint256 modelId, uint256 batchSize)
        internal
        view
        returns (uint256 variantId, IModelRegistry.Model memory variant, uint256 modelFee)
    {
        IModelRegistry.Model memory base = registry.getModel(modelId);
        variantId = batchVariant[modelId][batchSize];
        // INVARIANT: A batch runs a variant its base model's owner registered for exactly that size.
        if (variantId == 0) revert InvalidBatchSize(modelId, batchSize);
        variant = registry.getModel(variantId);
        // INVARIANT: A batch's fees reach the base model's revenue receiver (finalize pays the variant's).
        if (variant.revenueReceiver != base.revenueReceiver) revert BadBatchVariant(modelId, variantId, "revenueReceiver");
        modelFee = batchSize * base.fee;
    }
}
