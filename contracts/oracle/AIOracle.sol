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
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {LibInputDomain} from "./lib/LibInputDomain.sol";
import {LibTextOutput} from "./lib/LibTextOutput.sol";

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
contract AIOracle is IAIOracle, IInferenceResults, IDisputeErrors, AccessControl, ReentrancyGuard {
    enum RequestStatus {
        None,
        Open,
        Submitted,
        Finalized,
        Refunded,
        /// The input is outside the model's input domain: no result, an error callback (issue 18).
        Invalid,
        /// An invalid request whose error callback was delivered (`finalizeInvalid`).
        Rejected
    }

    struct Request {
        address account;
        uint64 createdAt;
        RequestStatus status;
        /// The pinned model's output is text (IModelRegistry.Model.textOutput): callbacks get it trimmed.
        bool textOutput;
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
        uint256 versionId = registry.currentVersionId(modelId);
        IModelRegistry.Model memory model = registry.getModel(versionId);
        requestId = _request(modelId, model, model.fee, input, callbackContract, gasLimit, callbackData);
        if (versionId != modelId) _pinnedVersion[requestId] = versionId;
        // Same storage slot as the status just written: a text model's request costs no extra slot.
        if (model.textOutput) _requests[requestId].textOutput = true;
    }

    /// @dev Checks and records a request of `modelId` whose spec is `model` (its current version's, or a batch
    ///      variant's), charging `modelFee` to the model's revenue receiver.
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
        //            and no one-step proof could refute any answer). An input outside it is answered with an error
        //            (`_refuse`, `finalizeInvalid`), never with a result.
        bytes memory refusal =
            LibInputDomain.reason(input, model.inputLength, model.inputWidth, model.inputMin, model.inputMax);
        requestId = _record(modelId, modelFee, refusal, input, callbackContract, gasLimit, callbackData);
        _requests[requestId].inputRoot = inputRoot(input, model.inputLength, model.inputChunkLog2);
    }

    /// @dev Records a checked request of `modelId` (all but its input root): takes the fees (`modelFee` to the
    ///      model's revenue receiver at finalization) and credits back any excess; a non-empty `refusal` makes it
    ///      an invalid request answered by `finalizeInvalid` (`_refuse`).
    function _record(
        uint256 modelId,
        uint256 modelFee,
        bytes memory refusal,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData
    ) internal returns (uint256 requestId) {
        if ((callbackContract == address(0)) != (gasLimit == 0)) revert CallbackGasMismatch(callbackContract, gasLimit);
        if (gasLimit > maxCallbackGasLimit) revert CallbackGasTooHigh(gasLimit, maxCallbackGasLimit);
        uint256 callbackFee = uint256(gasLimit) * callbackGasPrice;
        uint256 fastFee = fastCallbacks[callbackContract] ? callbackFee : 0;
        uint256 fee = modelFee + nodeReward + callbackFee + fastFee;
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
        r.callbackDataHash = keccak256(callbackData);
        r.modelFee = modelFee;
        r.nodeReward = nodeReward;
        r.callbackFee = callbackFee;
        if (refusal.length != 0) fee = _refuse(requestId, r, refusal);
        else if (fastFee != 0) _callbacks[requestId].fastFee = fastFee;
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
            pinnedVersion(requestId), r.inputRoot, outputRoot, traceRoot, outputProof, msg.sender
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
        IModelRegistry.Model memory model = registry.getModel(pinnedVersion(requestId));
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
            pinnedVersion(requestId), r.inputRoot, outputRoot, traceRoot, outputProof, msg.sender, ios
        );
        _recordSubmission(requestId, r, claimId, output, traceRoot);
    }

    /// @notice Finalizes a submitted result whose claim stands, pays the fees and delivers the callback.
    /// @dev Anyone may call, passing back the submitted output and the request's callback data. The callback
    ///      gets exactly its gas limit; if it reverts or runs out of gas, finalization still completes.
    function finalize(uint256 requestId, bytes calldata output, bytes calldata callbackData) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != RequestStatus.Submitted) revert WrongRequestStatus(requestId, uint8(r.status));
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
        _payRevenue(_revenueModelOf(requestId, r), r.modelFee);
        _finalCallback(requestId, r, output, callbackData);
        emit AICallbackResult(r.account, requestId, msg.sender, output);
    }

    /// @notice Returns the fee of a request that has no finalized result by its deadline.
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = _existing(requestId);
        _requireReopenable(requestId, r);
        uint256 deadline = uint256(r.createdAt) + requestTimeout;
        if (block.timestamp < deadline) revert RequestNotExpired(requestId, deadline);
        r.status = RequestStatus.Refunded;
        uint256 amount = r.modelFee + r.nodeReward + r.callbackFee + _takeUnspentFastFee(requestId);
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
        if (r.status != RequestStatus.Submitted) revert WrongRequestStatus(requestId, uint8(r.status));
        // INVARIANT: A pending result cannot be replaced or refunded; only a voided one can.
        if (game.claimStatus(r.claimId) != ClaimStatus.Void) revert ClaimStillPending(requestId, r.claimId);
    }

    /// @dev Every result callback (final, fast, correction, retry) goes through here. A text model's output is
    ///      delivered without its trailing zero bytes (LibTextOutput); what was committed and checked (the output's
    ///      root and hash) is the padded tensor.
    function _deliver(
        uint256 requestId,
        address target,
        uint256 gasLimit,
        bytes calldata output,
        bytes calldata callbackData
    ) internal returns (bool ok) {
        // INVARIANT: The callback gets its whole gas limit, so a finalizer cannot starve it on purpose.
        uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
        if (gasleft() < needed) revert InsufficientGasForCallback(gasleft(), needed);
        if (_requests[requestId].textOutput) output = LibTextOutput.trimmed(output);
        bytes memory payload =
            abi.encodeCall(AIOracleCallbackReceiver.aiOracleCallback, (requestId, output, callbackData));
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

    // ---------------------------------------------------------------- error callbacks (issue 18)

    /// @dev A request's input is outside its model's input domain; `reason` is the error `checkInput` reverts with.
    event InputRefused(uint256 indexed requestId, bytes reason);
    /// @dev An invalid request's error was delivered (the callback may still have failed: CallbackFailed).
    event RequestRejected(uint256 indexed requestId, address indexed account, address invoker, bytes reason);

    /// @notice Reverts InputNotWholeElements / InputOutOfDomain (naming the first bad element) if `input` lies
    ///         outside model `modelId`'s input domain, UnknownModel for an unknown model; returns otherwise. A
    ///         request with such an input is accepted but answered with `aiOracleCallbackError(InvalidInput)`: call
    ///         this first to get the revert instead.
    function checkInput(uint256 modelId, bytes calldata input) external view {
        IModelRegistry.Model memory model = registry.getModel(registry.currentVersionId(modelId));
        LibInputDomain.check(input, model.inputLength, model.inputWidth, model.inputMin, model.inputMax);
    }

    /// @notice Anyone: delivers an invalid request's error, `aiOracleCallbackError(requestId, InvalidInput, reason,
    ///         callbackData)` with the request's gas limit, and ends it. The caller is paid the callback fee, as a
    ///         finalizer is (the model fee and node reward were never charged: credited back at request time).
    /// @dev `input` and `callbackData` are the request's (in its AICallbackRequest event), checked against their
    ///      hashes; the reason is recomputed from the input against its pinned version's domain (which never
    ///      changes). A callback that reverts or lacks the function (ORA's older consumers) does not stop the
    ///      request from ending.
    function finalizeInvalid(uint256 requestId, bytes calldata input, bytes calldata callbackData)
        external
        nonReentrant
    {
        Request storage r = _existing(requestId);
        if (r.status != RequestStatus.Invalid) revert WrongRequestStatus(requestId, uint8(r.status));
        if (keccak256(input) != r.inputHash) revert DataMismatch("input");
        if (keccak256(callbackData) != r.callbackDataHash) revert DataMismatch("callbackData");
        (AIOracleCallbackReceiver.AIOracleError code, bytes memory reason) = _refusal(requestId, r, input);
        r.status = RequestStatus.Rejected;
        heldFees -= r.callbackFee;
        _credit(msg.sender, r.callbackFee);
        address target = r.callbackContract;
        if (target != address(0)) {
            uint256 gasLimit = r.gasLimit;
            // INVARIANT: The error callback gets its whole gas limit, like a result's.
            uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
            if (gasleft() < needed) revert InsufficientGasForCallback(gasleft(), needed);
            bytes memory payload = abi.encodeCall(
                AIOracleCallbackReceiver.aiOracleCallbackError,
                (requestId, code, reason, callbackData)
            );
            bool ok;
            assembly ("memory-safe") {
                ok := call(gasLimit, target, 0, add(payload, 0x20), mload(payload), 0, 0)
            }
            if (!ok) emit CallbackFailed(requestId, target);
        }
        emit RequestRejected(requestId, r.account, msg.sender, reason);
    }

    /// @dev Why invalid request `requestId` is refused, recomputed: `InvalidBatchSize(modelId, batchSize)` for a
    ///      batch of a size with no variant, else the input's domain error against its pinned version.
    function _refusal(uint256 requestId, Request storage r, bytes calldata input)
        internal
        view
        returns (AIOracleCallbackReceiver.AIOracleError, bytes memory)
    {
        InvalidBatch storage b = _invalidBatch[requestId];
        if (b.refused) {
            return (
                AIOracleCallbackReceiver.AIOracleError.InvalidBatchSize,
                abi.encodeWithSelector(InvalidBatchSize.selector, r.modelId, b.batchSize)
            );
        }
        IModelRegistry.Model memory model = registry.getModel(pinnedVersion(requestId));
        return (
            AIOracleCallbackReceiver.AIOracleError.InvalidInput,
            LibInputDomain.reason(input, model.inputLength, model.inputWidth, model.inputMin, model.inputMax)
        );
    }

    /// @dev Marks a new request invalid: only its callback fee stays held (for whoever delivers the error); the
    ///      model fee and node reward are not charged. Returns the fee held.
    function _refuse(uint256 requestId, Request storage r, bytes memory reason) internal returns (uint256) {
        r.status = RequestStatus.Invalid;
        r.modelFee = 0;
        r.nodeReward = 0;
        emit InputRefused(requestId, reason);
        return r.callbackFee;
    }

    // ---------------------------------------------------------------- model versions (issue 18)

    /// @dev Request id => the registry id of the model version it was made for, when not the model id itself.
    mapping(uint256 requestId => uint256 versionId) private _pinnedVersion;

    /// @notice The registry id of the model version request `requestId` is pinned to: the version current when it
    ///         was made. Submissions are checked and proposed against its roots, whatever is published later.
    function pinnedVersion(uint256 requestId) public view returns (uint256) {
        uint256 versionId = _pinnedVersion[requestId];
        return versionId != 0 ? versionId : _requests[requestId].modelId;
    }

    // ---------------------------------------------------------------- fast callbacks and callback retry (issue 18)

    /// Per request: the fast callback's fee and delivery, and whether the finalized output still awaits delivery.
    struct CallbackState {
        /// Unspent fee of the fast callback (a second callback fee, paid only by fast requests).
        uint256 fastFee;
        /// The claim whose output the fast callback delivered (0: none delivered).
        uint256 fastClaimId;
        /// Whether the fast callback returned without reverting.
        bool fastOk;
        /// The request is finalized and its output's callback reverted or ran out of gas (retry allowed).
        bool undelivered;
    }

    /// @notice Consumers that opted into fast callbacks; set by the consumer itself and snapshot per request.
    mapping(address consumer => bool) public fastCallbacks;
    mapping(uint256 requestId => CallbackState) internal _callbacks;


    /// @dev `consumer` opted in (or out of) fast callbacks for its future requests.
    event FastCallbacksSet(address indexed consumer, bool enabled);
    /// @dev A not yet final output was delivered early to a fast request's callback.
    event FastCallback(uint256 indexed requestId, uint256 indexed claimId, address indexed caller, bool ok);
    /// @dev A finalized output's failed callback was delivered by `caller` with `gasLimit`.
    event CallbackRetried(uint256 indexed requestId, address indexed caller, uint64 gasLimit);

    /// @notice The caller (a consumer contract) opts into fast callbacks for the requests made from now on whose
    ///         callback it is: one callback when a result is submitted (`isFinalized` false) and, if that claim
    ///         is voided, a correction callback with the finalized output (`isFinalized` true). Such requests cost
    ///         one more callback fee (see `estimateFeeFor`); the unspent part returns to the requester.
    function setFastCallbacks(bool enabled) external {
        fastCallbacks[msg.sender] = enabled;
        emit FastCallbacksSet(msg.sender, enabled);
    }

    /// @notice `estimateFee` for a request calling back `callbackContract`: twice the callback fee when that
    ///         consumer opted into fast callbacks.
    function estimateFeeFor(uint256 modelId, uint256 gasLimit, address callbackContract)
        external
        view
        returns (uint256)
    {
        return estimateFee(modelId, gasLimit) + (fastCallbacks[callbackContract] ? gasLimit * callbackGasPrice : 0);
    }

    /// @notice Anyone (the submitter, right after `submit`): delivers a fast request's submitted, not yet final
    ///         output to its callback, once per request, and is paid the fast callback fee. The callback gets
    ///         the request's gas limit exactly as in `finalize`.
    function deliverFast(uint256 requestId, bytes calldata output, bytes calldata callbackData)
        external
        nonReentrant
    {
        Request storage r = _existing(requestId);
        CallbackState storage c = _callbacks[requestId];
        if (r.status != RequestStatus.Submitted) revert WrongRequestStatus(requestId, uint8(r.status));
        // INVARIANT: Only a request that paid for a fast callback gets one.
        if (c.fastFee == 0) {
            if (c.fastClaimId != 0) revert FastCallbackAlreadyDelivered(requestId, c.fastClaimId);
            revert NotFastRequest(requestId);
        }
        if (keccak256(output) != r.outputHash) revert DataMismatch("output");
        if (keccak256(callbackData) != r.callbackDataHash) revert DataMismatch("callbackData");
        ClaimStatus status = game.claimStatus(r.claimId);
        // INVARIANT: A fast callback carries a standing claim's output, never a voided one.
        if (status != ClaimStatus.Pending) revert ClaimNotPending(r.claimId, status);
        uint256 fee = c.fastFee;
        c.fastFee = 0;
        c.fastClaimId = r.claimId;
        heldFees -= fee;
        _credit(msg.sender, fee);
        c.fastOk = _deliver(requestId, r.callbackContract, r.gasLimit, output, callbackData);
        emit FastCallback(requestId, r.claimId, msg.sender, c.fastOk);
    }

    /// @notice Anyone: re-delivers a finalized output whose callback reverted or ran out of gas, with a larger
    ///         gas limit that the caller pays. Succeeds at most once per request; a retry whose callback fails
    ///         again reverts and changes nothing.
    function retryCallback(uint256 requestId, bytes calldata output, bytes calldata callbackData, uint64 gasLimit)
        external
        nonReentrant
    {
        Request storage r = _existing(requestId);
        CallbackState storage c = _callbacks[requestId];
        if (r.status != RequestStatus.Finalized) revert NotFinalized(requestId);
        // INVARIANT: A finalized output is delivered successfully at most once.
        if (!c.undelivered) revert NoFailedCallback(requestId);
        // INVARIANT: A retry gives the callback more gas than the limit it already failed with.
        if (gasLimit <= r.gasLimit) revert RetryGasTooLow(gasLimit, r.gasLimit);
        if (keccak256(output) != r.outputHash) revert DataMismatch("output");
        if (keccak256(callbackData) != r.callbackDataHash) revert DataMismatch("callbackData");
        // Marked before the call; the call cannot re-enter (nonReentrant) and a failure reverts the mark.
        c.undelivered = false;
        if (!_deliver(requestId, r.callbackContract, gasLimit, output, callbackData)) {
            revert CallbackRetryFailed(requestId, gasLimit);
        }
        emit CallbackRetried(requestId, msg.sender, gasLimit);
    }

    /// @notice The request's fast callback fee (unspent), fast delivery and failed-callback state.
    function callbackState(uint256 requestId) external view returns (CallbackState memory) {
        return _callbacks[requestId];
    }

    /// @dev Finalization's callback: none when the fast callback already carried this claim's output (its unused
    ///      callback fee returns to the requester), otherwise the callback (a correction for a fast request whose
    ///      early answer was voided) paid to the finalizer. An unspent fast fee returns to the requester.
    function _finalCallback(uint256 requestId, Request storage r, bytes calldata output, bytes calldata callbackData)
        internal
    {
        CallbackState storage c = _callbacks[requestId];
        uint256 unspent = _takeUnspentFastFee(requestId);
        if (unspent != 0) {
            heldFees -= unspent;
            _credit(r.account, unspent);
        }
        if (c.fastClaimId != 0 && c.fastClaimId == r.claimId) {
            _credit(r.account, r.callbackFee);
            c.undelivered = !c.fastOk;
            return;
        }
        _credit(msg.sender, r.callbackFee);
        if (r.callbackContract != address(0)) {
            c.undelivered = !_deliver(requestId, r.callbackContract, r.gasLimit, output, callbackData);
        }
    }

    /// @dev Zeroes and returns the request's fast callback fee if no fast callback spent it.
    function _takeUnspentFastFee(uint256 requestId) internal returns (uint256 fee) {
        fee = _callbacks[requestId].fastFee;
        if (fee != 0) _callbacks[requestId].fastFee = 0;
    }

    // ---------------------------------------------------------------- batch inference (issue 18)

    /// @notice Batch variants: (model, batch size) => the model id of the same network compiled with a leading
    ///         batch dimension of that size (its own graph and weights roots, so one claim covers the batch).
    mapping(uint256 modelId => mapping(uint256 batchSize => uint256 variantId)) public batchVariant;

    /// @dev Only calldata input and output are served.
    error UnsupportedDA(DA inputDA, DA outputDA);

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
        uint256 variantId = batchVariant[modelId][batchSize];
        if (variantId == 0) {
            requestId = _refuseBatch(modelId, batchSize, input, callbackContract, gasLimit, callbackData);
        } else {
            (, IModelRegistry.Model memory variant, uint256 modelFee) = _batchModel(modelId, batchSize);
            // A batch's output is its items' outputs one after the other, delivered as it is even for a text model
            // (no `textOutput`): trimming would move the item boundaries at multiples of the item's length.
            requestId = _request(variantId, variant, modelFee, input, callbackContract, gasLimit, callbackData);
            _batchBase[requestId] = modelId;
        }
        emit BatchInferenceRequest(requestId, modelId, batchSize, variantId, inputDA, outputDA);
    }

    /// @dev Batch request => its base model, whose revenue receiver the batch's fee goes to at finalize.
    mapping(uint256 requestId => uint256 baseModelId) private _batchBase;

    /// @dev The model whose revenue receiver request `requestId`'s fee goes to: a batch's base model, else the
    ///      request's own. A batch variant is its owner's own unlaunched model, whose receiver the owner could
    ///      redirect between a batch request and its finalization; the base model's receiver (a launched model's
    ///      token) is locked.
    function _revenueModelOf(uint256 requestId, Request storage r) internal view returns (uint256) {
        uint256 base = _batchBase[requestId];
        return base != 0 ? base : r.modelId;
    }

    /// Per request refused for its batch size: the size (`refused` tells a refused size 0 from no refusal).
    struct InvalidBatch {
        bool refused;
        uint256 batchSize;
    }

    mapping(uint256 requestId => InvalidBatch) private _invalidBatch;

    /// @dev A batch of a size `modelId` has no variant for (0, 1 or unregistered) is an invalid request of the base
    ///      model, answered like an out-of-domain input: only the callback fee is held (the payment covers at least
    ///      the node reward and callback fees), and `finalizeInvalid` delivers `InvalidBatchSize`. The input's
    ///      length and domain are not checked (no network of that size defines them) and it has no input root.
    function _refuseBatch(
        uint256 modelId,
        uint256 batchSize,
        bytes memory input,
        address callbackContract,
        uint64 gasLimit,
        bytes memory callbackData
    ) internal returns (uint256 requestId) {
        registry.getModel(modelId); // UnknownModel for an unknown model
        if (input.length == 0) revert EmptyInput();
        requestId = _record(
            modelId,
            0,
            abi.encodeWithSelector(InvalidBatchSize.selector, modelId, batchSize),
            input,
            callbackContract,
            gasLimit,
            callbackData
        );
        _invalidBatch[requestId] = InvalidBatch(true, batchSize);
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
