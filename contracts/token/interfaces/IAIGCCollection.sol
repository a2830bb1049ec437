// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC7007} from "./IERC7007.sol";

/// @title IAIGCCollection
/// @notice An ERC-7007 collection of one model's outputs. `verify` accepts an output only if the oracle has
///         finalized it: `proof` is abi.encode(uint256 requestId), and the oracle's `finalizedResult(requestId)`
///         must name this collection's model, keccak256(prompt) as the input hash and keccak256(aigcData) as the
///         output hash. The token id of a prompt is uint256(keccak256(prompt)), so each prompt is minted once.
///         Mint fees go to the model's ERC-7641 revenue token.
///         An image collection (ImageLayout.width > 0) also fixes the layout of the model's input and output: the
///         input (the ERC-7007 prompt) is a zero-padded UTF-8 text of `promptBytes` bytes and a big-endian seed of
///         `seedBytes` bytes, the output is `width * height` grayscale bytes (row-major, 0 black .. 255 white). It
///         keeps both, and `tokenURI` renders the image as an on-chain SVG.
interface IAIGCCollection is IERC7007 {
    /// @notice How an image collection reads its model's input and output; all zero for any other collection.
    struct ImageLayout {
        /// Pixels per row (0: not an image collection).
        uint16 width;
        /// Rows.
        uint16 height;
        /// Bytes of zero-padded UTF-8 text at the start of the input; the text ends at the first zero byte.
        uint16 promptBytes;
        /// Bytes of big-endian seed after the text.
        uint8 seedBytes;
    }

    /// @dev The layout is not all zero (not an image) nor 1 <= width, height <= 32, promptBytes <= 1024,
    ///      seedBytes <= 32.
    error BadImageLayout(uint256 width, uint256 height, uint256 promptBytes, uint256 seedBytes);
    /// @dev An image collection's prompt is `length` bytes, more than the layout's `max` (promptBytes + seedBytes).
    error PromptTooLong(uint256 length, uint256 max);
    /// @dev An image collection's AIGC data is `length` bytes, not width * height = `expected`.
    error ImageSizeMismatch(uint256 length, uint256 expected);
    /// @dev The oracle was not a contract.
    error OracleNotContract(address oracle);
    /// @dev The factory has no revenue token for `modelId`.
    error NoRevenueToken(uint256 modelId);
    /// @dev `proof` must be abi.encode(uint256 requestId): 32 bytes, not `length`.
    error MalformedProof(uint256 length);
    /// @dev The oracle has not finalized `requestId` (unknown, pending or disputed).
    error OutputNotFinalized(uint256 requestId);
    /// @dev `requestId` was served by model `actual`, not this collection's `expected`.
    error WrongModel(uint256 requestId, uint256 expected, uint256 actual);
    /// @dev keccak256(prompt) is not the input of `requestId`.
    error PromptMismatch(uint256 requestId, bytes32 inputHash, bytes32 promptHash);
    /// @dev keccak256(aigcData) is not the finalized output of `requestId`.
    error OutputMismatch(uint256 requestId, bytes32 outputHash, bytes32 aigcDataHash);
    /// @dev `tokenId` is not the token id of the prompt: uint256(keccak256(prompt)).
    error TokenIdNotPrompt(uint256 tokenId, uint256 promptTokenId);
    /// @dev `caller` is neither the owner of `tokenId` nor approved for it.
    error NotTokenOwnerOrApproved(uint256 tokenId, address caller);
    /// @dev The mint fee is exactly `required` wei; `sent` was sent.
    error WrongMintFee(uint256 sent, uint256 required);

    /// @notice Mints the NFT of `prompt` (id uint256(keccak256(prompt))) to `to` and binds `aigcData` to it.
    ///         Anyone may call, paying exactly `mintFee()` wei, which goes to the model's revenue token. Reverts
    ///         with the named error of the first check `verify` fails.
    /// @return tokenId The minted token's id.
    function mint(address to, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        payable
        returns (uint256 tokenId);

    /// @notice The model whose finalized outputs this collection accepts.
    function modelId() external view returns (uint256);

    /// @notice The oracle's finalized results.
    function oracle() external view returns (address);

    /// @notice The model's ERC-7641 revenue token, which receives mint fees.
    function revenueToken() external view returns (address);

    /// @notice Wei per mint (fixed).
    function mintFee() external view returns (uint256);

    /// @notice The image layout fixed at deployment (all zero: not an image collection).
    function imageLayout() external view returns (ImageLayout memory);

    /// @notice The oracle request whose finalized output `tokenId` carries; reverts for an unminted token.
    function requestIdOf(uint256 tokenId) external view returns (uint256);

    /// @notice keccak256 of `tokenId`'s AIGC data (the output bytes); reverts for an unminted token.
    function aigcDataHashOf(uint256 tokenId) external view returns (bytes32);
}
