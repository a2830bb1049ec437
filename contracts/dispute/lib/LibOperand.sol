// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IStepErrors} from "../interfaces/IStepErrors.sol";

/// @notice A contiguous run of `len` elements of one operand, kept packed (big-endian two's complement,
///         `width` bytes each) as the chunks that were proven against the operand's root. Element i sits at
///         byte (skip + i) * width of `data`. Kept packed because unpacking 10^4 elements into int256 words
///         would cost more in memory expansion than the whole recomputation.
struct Operand {
    bytes data;
    uint256 skip;
    uint256 width;
    uint256 len;
}

/// @notice An int32 operand read in place from calldata, for operators that read many scattered elements
///         (the tokenizer's stream scans) where copying the operand to memory on every call would dominate:
///         the calldata address of element 0 and the element count.
struct Int32View {
    uint256 base;
    uint256 len;
}

/// @title LibOperand
/// @notice Reading elements of packed operands.
library LibOperand {

    /// @dev Element i as a signed integer.
    function at(Operand memory o, uint256 i) internal pure returns (int256 v) {
        if (i >= o.len) revert IStepErrors.OperandIndexOutOfRange(i, o.len);
        bytes memory data = o.data;
        uint256 byteOffset = (o.skip + i) * o.width;
        uint256 width = o.width;
        assembly ("memory-safe") {
            // Load the word starting at the element, keep its top `width` bytes, sign-extend them.
            let word := mload(add(add(data, 0x20), byteOffset))
            v := signextend(sub(width, 1), shr(sub(256, mul(width, 8)), word))
        }
    }

    /// @dev sum_i a[i] * b[i] over the whole length of both operands (which must be equal). The loop is
    ///      in assembly because it runs up to ~10^4 times per step (a 7B-dims FFN row).
    function dot(Operand memory a, Operand memory b) internal pure returns (int256 acc) {
        if (a.len != b.len) revert IStepErrors.OperandIndexOutOfRange(a.len, b.len);
        bytes memory da = a.data;
        bytes memory db = b.data;
        uint256 wa = a.width;
        uint256 wb = b.width;
        uint256 n = a.len;
        assembly ("memory-safe") {
            let pa := add(add(da, 0x20), mul(mload(add(a, 0x20)), wa))
            let pb := add(add(db, 0x20), mul(mload(add(b, 0x20)), wb))
            let sa := sub(256, mul(wa, 8))
            let sb := sub(256, mul(wb, 8))
            let ea := sub(wa, 1)
            let eb := sub(wb, 1)
            // Safe without overflow checks: |a|,|b| < 2^31 and n < 2^32, so |acc| < 2^94.
            // Pointers advance by the element widths instead of recomputing addresses, and four terms are summed
            // per iteration: the loop runs ~10^4 times in a 7B-dims step, so per-term overhead is the step's cost.
            // Reads past an operand's last element only load words whose extra bytes are shifted out.
            let end4 := sub(n, mod(n, 4))
            let i := 0
            for {} lt(i, end4) { i := add(i, 4) } {
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
                pa := add(pa, wa)
                pb := add(pb, wb)
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
                pa := add(pa, wa)
                pb := add(pb, wb)
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
                pa := add(pa, wa)
                pb := add(pb, wb)
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
                pa := add(pa, wa)
                pb := add(pb, wb)
            }
            for {} lt(i, n) { i := add(i, 1) } {
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
                pa := add(pa, wa)
                pb := add(pb, wb)
            }
        }
    }

    /// @dev A calldata operand as an Int32View; reverts unless it is int32 and its bytes hold `len` elements after
    ///      `skip`.
    function int32View(Operand calldata o) internal pure returns (Int32View memory v) {
        if (o.width != 4) revert IStepErrors.BadWidth(o.width);
        bytes calldata data = o.data;
        if ((o.skip + o.len) * 4 > data.length) {
            revert IStepErrors.OperandIndexOutOfRange(o.skip + o.len, data.length / 4);
        }
        uint256 offset;
        assembly ("memory-safe") {
            offset := data.offset
        }
        v.base = offset + o.skip * 4;
        v.len = o.len;
    }

    /// @dev Element i of an Int32View (the value `at` gives on the same operand in memory).
    function at(Int32View memory v, uint256 i) internal pure returns (int256 r) {
        if (i >= v.len) revert IStepErrors.OperandIndexOutOfRange(i, v.len);
        uint256 addr = v.base + i * 4;
        assembly ("memory-safe") {
            r := signextend(3, shr(224, calldataload(addr)))
        }
    }
}
