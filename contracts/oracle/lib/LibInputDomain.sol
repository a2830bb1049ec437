// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IInputDomainErrors} from "../interfaces/IInputDomainErrors.sol";

/// @title LibInputDomain
/// @notice The request-time input rule, mirroring `offchain/engine/domain.py::InputDomain.check_request`: an input
///         is whole `width`-byte elements (signed big-endian two's complement, the tensor packing), each in
///         [min, max], and so is the zero that pads a short input to the model's input length.
library LibInputDomain {
    /// @dev Reverts with InputNotWholeElements or InputOutOfDomain (naming the first offending element) unless
    ///      `input` lies in the domain. `width` is 1, 2 or 4 and min <= max lie in its range (ModelRegistry checks
    ///      both at registration). A domain equal to the width's full range is not looped over. Gas: 100 per element
    ///      (test-sol/InputDomain.t.sol measures it).
    function check(bytes memory input, uint256 inputLength, uint256 width, int256 min, int256 max) internal pure {
        bytes memory err = reason(input, inputLength, width, min, max);
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 32), mload(err))
            }
        }
    }

    /// @dev The same rule without reverting: the ABI-encoded error `check` would revert with (InputNotWholeElements
    ///      or InputOutOfDomain), or empty bytes when `input` lies in the domain. The oracle answers a request
    ///      with this reason through `aiOracleCallbackError` (issue 18).
    function reason(bytes memory input, uint256 inputLength, uint256 width, int256 min, int256 max)
        internal
        pure
        returns (bytes memory)
    {
        // INVARIANT: A request is whole elements of the model's input tensor.
        if (input.length % width != 0) {
            return abi.encodeWithSelector(IInputDomainErrors.InputNotWholeElements.selector, input.length, width);
        }
        uint256 bits = 8 * width;
        int256 half = int256(1) << (bits - 1);
        if (min == -half && max == half - 1) return "";
        uint256 count = input.length / width;
        uint256 shift = 256 - bits;
        uint256 signByte = width - 1;
        uint256 bad = type(uint256).max;
        int256 value;
        assembly ("memory-safe") {
            // Element i is the top `width` bytes of the word at its offset: shift them down, sign-extend. The word
            // may run past the input's end; those bytes are shifted out.
            // min <= value <= max  <=>  value - min <= max - min as unsigned words (one comparison per element).
            let span := sub(max, min)
            let start := add(input, 32)
            let end := add(start, mul(count, width))
            for { let p := start } lt(p, end) { p := add(p, width) } {
                value := signextend(signByte, shr(shift, mload(p)))
                if gt(sub(value, min), span) {
                    bad := div(sub(p, start), width)
                    break
                }
            }
        }
        // INVARIANT: Every input element has a result: it lies in the range every node reading it accepts.
        if (bad != type(uint256).max) {
            return abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, bad, value, min, max);
        }
        // INVARIANT: The zero padding of a short input is in the domain too (it is part of the input tensor).
        if (input.length < inputLength && (min > 0 || max < 0)) {
            return abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, count, 0, min, max);
        }
        return "";
    }
}
