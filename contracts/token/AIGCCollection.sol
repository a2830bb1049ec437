// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IAIGCCollection} from "./interfaces/IAIGCCollection.sol";
import {IERC7007} from "./interfaces/IERC7007.sol";
import {IInferenceResults} from "./interfaces/IInferenceResults.sol";
import {IModelRevenueToken} from "./interfaces/IModelRevenueToken.sol";
import {IModelTokenFactory} from "./interfaces/IModelTokenFactory.sol";

/// @title AIGCCollection
/// @notice ERC-7007 NFTs of one model's oracle-finalized outputs (see IAIGCCollection).
contract AIGCCollection is IAIGCCollection, ERC721 {
    /// @inheritdoc IAIGCCollection
    uint256 public immutable modelId;
    /// @inheritdoc IAIGCCollection
    address public immutable oracle;
    /// @inheritdoc IAIGCCollection
    address public immutable revenueToken;
    /// @inheritdoc IAIGCCollection
    uint256 public immutable mintFee;

    /// @dev What a minted token carries: the attesting request and the hash of its output.
    struct Aigc {
        uint256 requestId;
        bytes32 aigcDataHash;
    }

    mapping(uint256 tokenId => Aigc) private _aigc;

    /// @param name_ ERC-721 name.
    /// @param symbol_ ERC-721 symbol.
    /// @param oracle_ The oracle (IInferenceResults) whose finalized results `verify` trusts.
    /// @param factory Where the model's revenue token is looked up, so mint fees cannot be routed elsewhere.
    /// @param modelId_ The model whose outputs this collection accepts.
    /// @param mintFee_ Wei per mint, paid to the model's revenue token (may be zero).
    constructor(
        string memory name_,
        string memory symbol_,
        address oracle_,
        IModelTokenFactory factory,
        uint256 modelId_,
        uint256 mintFee_
    ) ERC721(name_, symbol_) {
        // INVARIANT: `verify` calls the oracle with try/catch, which cannot catch a call to an account without code.
        if (oracle_.code.length == 0) revert OracleNotContract(oracle_);
        address token = factory.tokenOf(modelId_);
        if (token == address(0)) revert NoRevenueToken(modelId_);
        oracle = oracle_;
        modelId = modelId_;
        revenueToken = token;
        mintFee = mintFee_;
    }

    /// @inheritdoc IAIGCCollection
    function mint(address to, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        payable
        returns (uint256 tokenId)
    {
        if (msg.value != mintFee) revert WrongMintFee(msg.value, mintFee);
        uint256 requestId = _requireVerified(prompt, aigcData, proof);
        tokenId = uint256(keccak256(prompt));
        // Reverts with ERC721InvalidSender(0) if the prompt was minted before: one token per prompt.
        _mint(to, tokenId);
        _bind(tokenId, prompt, aigcData, proof, requestId);
        if (msg.value != 0) IModelRevenueToken(revenueToken).depositRevenue{value: msg.value}();
        // Last, because it calls into `to`: the same check `_safeMint` makes, after all effects.
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), to, tokenId, "");
    }

    /// @inheritdoc IERC7007
    /// @dev Only the token's owner or an approved operator may call; the prompt must be the token's, and the data
    ///      must verify. Re-binding replaces the attesting request (a deterministic model gives the same output).
    function addAigcData(uint256 tokenId, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
    {
        address tokenOwner = _requireOwned(tokenId);
        if (!_isAuthorized(tokenOwner, msg.sender, tokenId)) revert NotTokenOwnerOrApproved(tokenId, msg.sender);
        uint256 promptTokenId = uint256(keccak256(prompt));
        if (tokenId != promptTokenId) revert TokenIdNotPrompt(tokenId, promptTokenId);
        uint256 requestId = _requireVerified(prompt, aigcData, proof);
        _bind(tokenId, prompt, aigcData, proof, requestId);
    }

    /// @inheritdoc IERC7007
    function verify(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        view
        returns (bool success)
    {
        (bytes memory failure,) = _check(prompt, aigcData, proof);
        return failure.length == 0;
    }

    /// @inheritdoc IAIGCCollection
    function requestIdOf(uint256 tokenId) external view returns (uint256) {
        _requireOwned(tokenId);
        return _aigc[tokenId].requestId;
    }

    /// @inheritdoc IAIGCCollection
    function aigcDataHashOf(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return _aigc[tokenId].aigcDataHash;
    }

    /// @notice ERC-165: ERC-7007 (0x702c55a6), ERC-721, ERC-721 Metadata and ERC-165.
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, IERC165) returns (bool) {
        return interfaceId == type(IERC7007).interfaceId || super.supportsInterface(interfaceId);
    }

    function _bind(
        uint256 tokenId,
        bytes calldata prompt,
        bytes calldata aigcData,
        bytes calldata proof,
        uint256 requestId
    ) internal {
        _aigc[tokenId] = Aigc({requestId: requestId, aigcDataHash: keccak256(aigcData)});
        emit AigcData(tokenId, prompt, aigcData, proof);
    }

    /// @dev Reverts with the named error of the first failed check, else returns the attesting request id.
    function _requireVerified(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        internal
        view
        returns (uint256 requestId)
    {
        bytes memory failure;
        (failure, requestId) = _check(prompt, aigcData, proof);
        if (failure.length != 0) {
            // Re-raises the ABI-encoded custom error built by `_check`; memory-safe: it only reads `failure`.
            assembly ("memory-safe") {
                revert(add(failure, 0x20), mload(failure))
            }
        }
    }

    /// @dev The one definition of what `verify` accepts. Returns an empty `failure` when `aigcData` is the
    ///      finalized output of this model for `prompt`, else the ABI-encoded error saying why not.
    function _check(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        internal
        view
        returns (bytes memory failure, uint256 requestId)
    {
        if (proof.length != 32) return (abi.encodeWithSelector(MalformedProof.selector, proof.length), 0);
        requestId = abi.decode(proof, (uint256));
        try IInferenceResults(oracle).finalizedResult(requestId) returns (
            uint256 resultModelId, bytes32 inputHash, bytes32 outputHash
        ) {
            // INVARIANT: Only this collection's model's outputs, for exactly this prompt and this output.
            if (resultModelId != modelId) {
                return (abi.encodeWithSelector(WrongModel.selector, requestId, modelId, resultModelId), requestId);
            }
            bytes32 promptHash = keccak256(prompt);
            if (promptHash != inputHash) {
                return (abi.encodeWithSelector(PromptMismatch.selector, requestId, inputHash, promptHash), requestId);
            }
            bytes32 dataHash = keccak256(aigcData);
            if (dataHash != outputHash) {
                return (abi.encodeWithSelector(OutputMismatch.selector, requestId, outputHash, dataHash), requestId);
            }
        } catch {
            // INVARIANT: The oracle reverts for any request that is not finalized; such outputs are never accepted.
            return (abi.encodeWithSelector(OutputNotFinalized.selector, requestId), requestId);
        }
    }
}
