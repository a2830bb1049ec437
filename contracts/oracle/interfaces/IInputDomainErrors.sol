// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IInputDomainErrors
/// @notice Why a request's input is refused at request time: it lies outside the model's input domain
///         (IModelRegistry.Model: inputWidth, inputMin, inputMax). Declared once; LibInputDomain reverts with these
///         and AIOracle inherits them, so they are in the oracle's ABI. offchain/engine/domain.py applies the same
///         rule and names the same element.
interface IInputDomainErrors {
    /// @dev The input's byte length is not a whole number of `width`-byte elements.
    error InputNotWholeElements(uint256 length, uint256 width);
    /// @dev Input element `index` (flat; an index at or past the input's end is the zero padding) holds `value`,
    ///      outside the model's input domain [min, max].
    error InputOutOfDomain(uint256 index, int256 value, int256 min, int256 max);
}
