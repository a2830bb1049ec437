// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IAIGCCollection} from "./interfaces/IAIGCCollection.sol";
import {IERC7007} from "./interfaces/IERC7007.sol";
import {IInferenceResults} from "./interfaces/IInferenceResults.sol";
import {IModelRevenueToken} from "./interfaces/IModelRevenueToken.sol";
import {IModelTokenFactory} from "./interfaces/IModelTokenFactory.sol";
import {LibJsonString} from "./lib/LibJsonString.sol";
import {LibPixelSvg} from "./lib/LibPixelSvg.sol";

/// @title AIGCCollection
/// @notice ERC-7007 NFTs of one model's oracle-finalized outputs (see IAIGCCollection).
contract AIGCCollection is IAIGCCollection, IERC4906, ERC721 {
    /// @inheritdoc IAIGCCollection
    uint256 public immutable modelId;
    /// @inheritdoc IAIGCCollection
    address public immutable oracle;
    /// @inheritdoc IAIGCCollection
    address public immutable revenueToken;
    /// @inheritdoc IAIGCCollection
    uint256 public immutable mintFee;

    /// @notice Largest image side: tokenURI of a 32x32 image with every pixel its own run costs ~14 M gas in an
    ///         eth_call, inside common RPC caps (geth: 50 M); 64x64 would not be (see README).
    uint256 public constant MAX_IMAGE_SIDE = 32;
    /// @notice Largest text part of an image collection's prompt.
    uint256 public constant MAX_PROMPT_BYTES = 1024;

    uint16 private immutable _width;
    uint16 private immutable _height;
    uint16 private immutable _promptBytes;
    uint8 private immutable _seedBytes;

    /// @dev What a minted token carries: the attesting request and the hash of its output; for an image
    ///      collection also the prompt and the pixel bytes (the output `verify` matched against the oracle).
    struct Aigc {
        uint256 requestId;
        bytes32 aigcDataHash;
        bytes prompt;
        bytes pixels;
    }

    mapping(uint256 tokenId => Aigc) private _aigc;

    /// @param name_ ERC-721 name.
    /// @param symbol_ ERC-721 symbol.
    /// @param oracle_ The oracle (IInferenceResults) whose finalized results `verify` trusts.
    /// @param factory Where the model's revenue token is looked up, so mint fees cannot be routed elsewhere.
    /// @param modelId_ The model whose outputs this collection accepts.
    /// @param mintFee_ Wei per mint, paid to the model's revenue token (may be zero).
    /// @param layout The model's image layout, or all zero for a collection of non-image outputs.
    constructor(
        string memory name_,
        string memory symbol_,
        address oracle_,
        IModelTokenFactory factory,
        uint256 modelId_,
        uint256 mintFee_,
        ImageLayout memory layout
    ) ERC721(name_, symbol_) {
        // INVARIANT: `verify` calls the oracle with try/catch, which cannot catch a call to an account without code.
        if (oracle_.code.length == 0) revert OracleNotContract(oracle_);
        address token = factory.tokenOf(modelId_);
        if (token == address(0)) revert NoRevenueToken(modelId_);
        oracle = oracle_;
        modelId = modelId_;
        revenueToken = token;
        mintFee = mintFee_;
        bool none = layout.width == 0 && layout.height == 0 && layout.promptBytes == 0 && layout.seedBytes == 0;
        bool image = layout.width != 0 && layout.width <= MAX_IMAGE_SIDE && layout.height != 0
            && layout.height <= MAX_IMAGE_SIDE && layout.promptBytes <= MAX_PROMPT_BYTES && layout.seedBytes <= 32;
        // INVARIANT: A layout is either none at all or one whose tokenURI is bounded and whose seed fits a uint256.
        if (!none && !image) {
            revert BadImageLayout(layout.width, layout.height, layout.promptBytes, layout.seedBytes);
        }
        _width = layout.width;
        _height = layout.height;
        _promptBytes = layout.promptBytes;
        _seedBytes = layout.seedBytes;
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
        // ERC-4906: tokenURI now names the new request (and, for an image, shows its pixels).
        emit MetadataUpdate(tokenId);
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

    /// @inheritdoc IAIGCCollection
    function imageLayout() external view returns (ImageLayout memory) {
        return ImageLayout({width: _width, height: _height, promptBytes: _promptBytes, seedBytes: _seedBytes});
    }

    /// @inheritdoc IERC721Metadata
    /// @dev `data:application/json;base64,` of {"name","description","image"?,"attributes"}. Attribute values are
    ///      JSON strings (decimal for ids and the seed, so a uint64 seed survives JavaScript's doubles). An image
    ///      collection adds "image" (`data:image/svg+xml;base64,` of LibPixelSvg's rendering of the stored
    ///      pixels) and the "prompt" (the text up to its first zero byte, as LibJsonString escapes it: ill-formed
    ///      UTF-8 shows as U+FFFD; the exact bytes are in the AigcData event and hash to the token id) and "seed"
    ///      attributes. Gas (eth_call): see the README's ERC-7007 section.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Aigc storage aigc = _aigc[tokenId];
        bytes memory name_ = LibJsonString.escape(bytes(name()));
        string memory requestId = Strings.toString(aigc.requestId);
        bytes memory json = abi.encodePacked(
            '{"name":"',
            name_,
            " #",
            requestId,
            '","description":"',
            name_,
            ": output of model ",
            Strings.toString(modelId),
            " finalized by the oracle ",
            Strings.toHexString(oracle),
            " in request ",
            requestId,
            '; verify(prompt, aigcData, abi.encode(requestId)) on this contract checks it."'
        );
        if (_width != 0) json = abi.encodePacked(json, _imageFields(aigc));
        json = abi.encodePacked(
            json,
            ',"attributes":[{"trait_type":"model id","value":"',
            Strings.toString(modelId),
            '"},{"trait_type":"request id","value":"',
            requestId,
            '"},{"trait_type":"output hash","value":"',
            Strings.toHexString(uint256(aigc.aigcDataHash), 32),
            '"}',
            _width != 0 ? _promptAttributes(aigc.prompt) : bytes(""),
            "]}"
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    /// @notice ERC-165: ERC-7007 (0x702c55a6), ERC-4906 (0x49064906), ERC-721, ERC-721 Metadata and ERC-165.
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, IERC165) returns (bool) {
        return interfaceId == type(IERC7007).interfaceId || interfaceId == bytes4(0x49064906)
            || super.supportsInterface(interfaceId);
    }

    function _bind(
        uint256 tokenId,
        bytes calldata prompt,
        bytes calldata aigcData,
        bytes calldata proof,
        uint256 requestId
    ) internal {
        Aigc storage aigc = _aigc[tokenId];
        aigc.requestId = requestId;
        aigc.aigcDataHash = keccak256(aigcData);
        if (_width != 0) {
            aigc.prompt = prompt;
            aigc.pixels = aigcData;
        }
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
        if (_width != 0) {
            uint256 maxPrompt = uint256(_promptBytes) + _seedBytes;
            uint256 pixels = uint256(_width) * _height;
            // INVARIANT: An image collection binds only prompts its layout can read and outputs of its size.
            if (prompt.length > maxPrompt) {
                return (abi.encodeWithSelector(PromptTooLong.selector, prompt.length, maxPrompt), 0);
            }
            if (aigcData.length != pixels) {
                return (abi.encodeWithSelector(ImageSizeMismatch.selector, aigcData.length, pixels), 0);
            }
        }
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

    /// @dev `,"image":"data:image/svg+xml;base64,..."` for an image token.
    function _imageFields(Aigc storage aigc) internal view returns (bytes memory) {
        bytes memory svg = LibPixelSvg.render(aigc.pixels, _width, _height);
        return abi.encodePacked(',"image":"data:image/svg+xml;base64,', Base64.encode(svg), '"');
    }

    /// @dev The prompt and seed attributes of an image token. The prompt is read zero-padded to the layout
    ///      (the oracle pads a shorter input the same way before the model sees it).
    function _promptAttributes(bytes memory prompt) internal view returns (bytes memory) {
        uint256 textEnd;
        while (textEnd < _promptBytes && textEnd < prompt.length && prompt[textEnd] != 0) ++textEnd;
        bytes memory text = new bytes(textEnd);
        for (uint256 i; i < textEnd; ++i) {
            text[i] = prompt[i];
        }
        uint256 seed;
        for (uint256 i = _promptBytes; i < uint256(_promptBytes) + _seedBytes; ++i) {
            seed = (seed << 8) | (i < prompt.length ? uint8(prompt[i]) : 0);
        }
        return abi.encodePacked(
            ',{"trait_type":"prompt","value":"',
            LibJsonString.escape(text),
            '"},{"trait_type":"seed","value":"',
            Strings.toString(seed),
            '"}'
        );
    }
}
