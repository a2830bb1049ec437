// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IInputDomainErrors} from "../contracts/oracle/interfaces/IInputDomainErrors.sol";
import {LibInputDomain} from "../contracts/oracle/lib/LibInputDomain.sol";

/// Exposes the library so reverts can be caught (forge runs every `test*`).
contract InputDomainHarness {
    function check(bytes memory input, uint256 inputLength, uint256 width, int256 lo, int256 hi) external pure {
        LibInputDomain.check(input, inputLength, width, lo, hi);
    }

    /// Gas of one check, measured inside the call (no calldata or call overhead).
    function gasOf(bytes memory input, uint256 inputLength, uint256 width, int256 lo, int256 hi)
        external
        view
        returns (uint256 used)
    {
        used = gasleft();
        LibInputDomain.check(input, inputLength, width, lo, hi);
        used -= gasleft();
    }
}

/// LibInputDomain against a plain reference (the rule of offchain/engine/domain.py), and its gas per element.
contract InputDomainTest {
    InputDomainHarness internal harness;

    /// Printed by forge with -vv.
    event log_named_uint(string key, uint256 val);

    function setUp() public {
        harness = new InputDomainHarness();
    }

    /// The reference: the first element (flat) outside [lo, hi], counting the zero padding, decoded byte by byte.
    function _expected(bytes memory input, uint256 inputLength, uint256 width, int256 lo, int256 hi)
        internal
        pure
        returns (bytes memory)
    {
        if (input.length % width != 0) {
            return abi.encodeWithSelector(IInputDomainErrors.InputNotWholeElements.selector, input.length, width);
        }
        for (uint256 i; i < input.length / width; ++i) {
            int256 v = int8(uint8(input[i * width]));
            for (uint256 b = 1; b < width; ++b) {
                v = v * 256 + int256(uint256(uint8(input[i * width + b])));
            }
            if (v < lo || v > hi) return abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, i, v, lo, hi);
        }
        if (input.length < inputLength && (lo > 0 || hi < 0)) {
            return abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, input.length / width, 0, lo, hi);
        }
        return "";
    }

    function _width(uint8 seed) internal pure returns (uint256) {
        return [uint256(1), 2, 4][seed % 3];
    }

    /// Any bytes, any width, any range within the width: the library reverts exactly where the reference does,
    /// with the same error and arguments.
    function testFuzz_matchesTheReference(bytes memory input, uint8 widthSeed, int32 a, int32 b, uint16 extra)
        public
        view
    {
        uint256 width = _width(widthSeed);
        int256 half = int256(1) << (8 * width - 1);
        // a fifth of the draws take the width's extremes, so the lowest value and the full range (no check) are met
        int256 lo = a % 5 == 0 ? -half : int256(a) % half;
        int256 hi = b % 5 == 0 ? half - 1 : int256(b) % half;
        if (lo > hi) (lo, hi) = (hi, lo);
        uint256 inputLength = input.length + extra;
        bytes memory expected = _expected(input, inputLength, width, lo, hi);
        try harness.check(input, inputLength, width, lo, hi) {
            require(expected.length == 0, "accepted an input outside the domain");
        } catch (bytes memory reason) {
            require(keccak256(reason) == keccak256(expected), "wrong revert");
        }
    }

    /// Token ids (int32, [0, 31999]): a boundary id passes, one past it and a negative id revert naming the element.
    function test_tokenIdsAtTheBoundary() public view {
        bytes memory ok = abi.encodePacked(int32(0), int32(31999), int32(7));
        harness.check(ok, 64, 4, 0, 31999);
        bytes memory past = abi.encodePacked(int32(5), int32(32000));
        try harness.check(past, 64, 4, 0, 31999) {
            revert("id 32000 accepted");
        } catch (bytes memory reason) {
            require(
                keccak256(reason)
                    == keccak256(abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, 1, 32000, 0, 31999)),
                "wrong revert for 32000"
            );
        }
        bytes memory negative = abi.encodePacked(int32(-1));
        try harness.check(negative, 64, 4, 0, 31999) {
            revert("id -1 accepted");
        } catch (bytes memory reason) {
            require(
                keccak256(reason)
                    == keccak256(abi.encodeWithSelector(IInputDomainErrors.InputOutOfDomain.selector, 0, -1, 0, 31999)),
                "wrong revert for -1"
            );
        }
    }

    /// The gas figure in LibInputDomain's NatSpec and the README: the marginal cost of one more element, and no
    /// per-element cost at all for a full-range domain.
    function test_gasPerElement() public {
        bytes memory small = new bytes(4 * 16);
        bytes memory large = new bytes(4 * 1040);
        uint256 perElement = (harness.gasOf(large, large.length, 4, 0, 31999) - harness.gasOf(small, small.length, 4, 0, 31999)) / 1024;
        emit log_named_uint("gas per element", perElement);
        require(perElement <= 110, "more than 110 gas per element");
        uint256 fullSmall = harness.gasOf(small, small.length, 1, -128, 127);
        uint256 fullLarge = harness.gasOf(large, large.length, 1, -128, 127);
        require(fullLarge == fullSmall, "a full-range domain is looped over");
    }
}
