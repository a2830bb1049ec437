// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibTextOutput} from "../contracts/oracle/lib/LibTextOutput.sol";

/// Exposes the library on calldata, with bytes after the output in the same calldata (as `callbackData` follows the
/// output in the oracle's calls), so a load past the output's end would be seen.
contract TextOutputHarness {
    function trimmed(bytes calldata output, bytes calldata after_) external pure returns (bytes memory) {
        after_;
        return LibTextOutput.trimmed(output);
    }

    /// Gas of one trim, measured inside the call (no calldata or call overhead).
    function gasOf(bytes calldata output) external view returns (uint256 used) {
        used = gasleft();
        bytes calldata t = LibTextOutput.trimmed(output);
        used -= gasleft();
        t;
    }
}

/// LibTextOutput against a byte-by-byte reference (offchain/chain/encoding.py::delivered_output), and its gas.
contract LibTextOutputTest {
    TextOutputHarness internal harness;

    /// Printed by forge with -vv.
    event log_named_uint(string key, uint256 val);

    function setUp() public {
        harness = new TextOutputHarness();
    }

    function _reference(bytes memory output) internal pure returns (bytes memory out) {
        uint256 n = output.length;
        while (n > 0 && output[n - 1] == 0) --n;
        out = new bytes(n);
        for (uint256 i; i < n; ++i) out[i] = output[i];
    }

    /// Random text with zero runs inside and at the end, of every length up to 300: equal to the reference, with
    /// non-zero bytes before and after it in the calldata.
    function testFuzz_trimmedIsTheReference(bytes memory body, uint16 zeros, uint8 holes) public view {
        uint256 pad = uint256(zeros) % 300;
        bytes memory output = new bytes(body.length + pad);
        for (uint256 i; i < body.length; ++i) output[i] = body[i];
        for (uint256 i; i < body.length; i += 1 + uint256(holes) % 7) output[i] = 0;
        bytes memory got = harness.trimmed(output, hex"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        require(keccak256(got) == keccak256(_reference(output)), "trimmed != reference");
    }

    /// Edge cases: empty, all zero (one word, several words and a tail), a single non-zero byte at each end of a
    /// word, interior NULs kept.
    function test_edges() public view {
        require(harness.trimmed("", hex"01").length == 0, "empty");
        require(harness.trimmed(new bytes(1), hex"01").length == 0, "one zero");
        require(harness.trimmed(new bytes(32), hex"01").length == 0, "one zero word");
        require(harness.trimmed(new bytes(97), hex"01").length == 0, "zero words and a tail");
        for (uint256 len = 1; len <= 70; ++len) {
            for (uint256 at; at < len; ++at) {
                bytes memory output = new bytes(len);
                output[at] = 0x41;
                require(harness.trimmed(output, hex"ff").length == at + 1, "one byte");
            }
        }
        require(keccak256(harness.trimmed(hex"410042000000", "")) == keccak256(hex"410042"), "interior NUL");
    }

    /// Gas of the trim: an all-zero output (the worst case: every word and the last 31 bytes looked at) of 32, 256
    /// and 1024 bytes, and a full 256-byte text (no trailing zero).
    function test_gas() public {
        uint256 zero32 = harness.gasOf(new bytes(32));
        uint256 zero256 = harness.gasOf(new bytes(256));
        uint256 zero1024 = harness.gasOf(new bytes(1024));
        bytes memory full = new bytes(256);
        for (uint256 i; i < 256; ++i) full[i] = 0x61;
        uint256 full256 = harness.gasOf(full);
        emit log_named_uint("trim gas, 32 zero bytes", zero32);
        emit log_named_uint("trim gas, 256 zero bytes", zero256);
        emit log_named_uint("trim gas, 1024 zero bytes", zero1024);
        emit log_named_uint("trim gas, 256-byte text, no padding", full256);
        // Linear in the zero words (about 75 gas each) plus at most 31 single bytes; a text ending in a non-zero
        // byte costs what a one-word output does.
        require(zero256 < 1_000 && zero1024 < 3_000 && full256 <= zero32, "trim gas");
    }
}
