// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

/// @title IERC7007
/// @notice ERC-7007 Verifiable AI-Generated Content Token (final), as the EIP writes it.
/// @dev ERC-165 id: 0x702c55a6, the XOR of the `addAigcData` (0xaea30507) and `verify` (0xde8f50a1) selectors.
interface IERC7007 is IERC165, IERC721 {
    /// @dev AIGC data was bound to `tokenId`. Indexed `bytes` are logged as their keccak256.
    event AigcData(uint256 indexed tokenId, bytes indexed prompt, bytes indexed aigcData, bytes proof);

    /// @notice Binds `prompt` and its AI-generated `aigcData` to `tokenId`, given a `proof` that `verify` accepts.
    function addAigcData(uint256 tokenId, bytes calldata prompt, bytes calldata aigcData, bytes calldata proof) external;

    /// @notice Whether `aigcData` is the finalized output of the collection's model for `prompt`.
    function verify(bytes calldata prompt, bytes calldata aigcData, bytes calldata proof)
        external
        view
        returns (bool success);
}
