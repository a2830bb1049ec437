// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {Operand} from "./LibOperand.sol";

/// @title LibRow
/// @notice Reductions over packed operands that LibOperand lacks: a plain sum and a dot product of two
///         sub-ranges. Loops are in assembly because rows run to ~10^4 elements in one step.
library LibRow {
    /// @dev A sub-range ending at `end` (exclusive) or a prefix of `end` elements past the operand's length.
    error RowRangeOutOfOperand(uint256 end, uint256 len);

    /// @dev sum_i o[i] over the whole operand.
    function sum(Operand memory o) internal pure returns (int256 acc) {
        (uint256 p, uint256 sh, uint256 ext) = cursor(o, 0);
        uint256 w = o.width;
        uint256 n = o.len;
        assembly ("memory-safe") {
            // Unrolled by four: the loop's own jumps and compares cost as much as an element's work.
            let w2 := add(w, w)
            let w3 := add(w2, w)
            let w4 := add(w2, w2)
            let end4 := add(p, mul(and(n, not(3)), w))
            let end := add(p, mul(n, w))
            // Safe without overflow checks: |o[i]| <= 2^31 and n < 2^32 (a proven range), so |acc| < 2^63.
            for {} lt(p, end4) { p := add(p, w4) } {
                let a := add(signextend(ext, shr(sh, mload(p))), signextend(ext, shr(sh, mload(add(p, w)))))
                let b := add(signextend(ext, shr(sh, mload(add(p, w2)))), signextend(ext, shr(sh, mload(add(p, w3)))))
                acc := add(acc, add(a, b))
            }
            for {} lt(p, end) { p := add(p, w) } { acc := add(acc, signextend(ext, shr(sh, mload(p)))) }
        }
    }

    /// @dev sum_{j < n} a[aStart + j] * b[bStart + j]; both sub-ranges must lie inside their operands.
    function dotSlice(Operand memory a, uint256 aStart, Operand memory b, uint256 bStart, uint256 n)
        internal
        pure
        returns (int256 acc)
    {
        if (aStart + n > a.len) revert RowRangeOutOfOperand(aStart + n, a.len);
        if (bStart + n > b.len) revert RowRangeOutOfOperand(bStart + n, b.len);
        bytes memory da = a.data;
        bytes memory db = b.data;
        uint256 wa = a.width;
        uint256 wb = b.width;
        uint256 pa0 = (a.skip + aStart) * wa;
        uint256 pb0 = (b.skip + bStart) * wb;
        assembly ("memory-safe") {
            let pa := add(add(da, 0x20), pa0)
            let pb := add(add(db, 0x20), pb0)
            let sa := sub(256, mul(wa, 8))
            let sb := sub(256, mul(wb, 8))
            let ea := sub(wa, 1)
            let eb := sub(wb, 1)
            let end := add(pa, mul(n, wa))
            // Safe without overflow checks: |a|, |b| <= 2^31 and n < 2^32, so |acc| < 2^95.
            for {} lt(pa, end) {
                pa := add(pa, wa)
                pb := add(pb, wb)
            } {
                acc := add(acc, mul(signextend(ea, shr(sa, mload(pa))), signextend(eb, shr(sb, mload(pb)))))
            }
        }
    }

    /// @dev sum_{j < n} a[j * aStep] * b[bStart + j], with `a` read straight from calldata: for operators that
    ///      take many short ranges (CONV2D's x runs, every aStep-th value of a run under dilation aStep), where
    ///      copying each operand to memory would cost more than its products. aStep >= 1.
    function dotSliceCalldata(Operand calldata a, uint256 aStep, Operand memory b, uint256 bStart, uint256 n)
        internal
        pure
        returns (int256 acc)
    {
        if (n == 0) return 0;
        {
            uint256 aEnd = (n - 1) * aStep + 1;
            if (aEnd > a.len) revert RowRangeOutOfOperand(aEnd, a.len);
            if ((a.skip + aEnd) * a.width > a.data.length) {
                revert RowRangeOutOfOperand((a.skip + aEnd) * a.width, a.data.length);
            }
        }
        if (bStart + n > b.len) revert RowRangeOutOfOperand(bStart + n, b.len);
        uint256 wa = a.width;
        uint256 wb = b.width;
        uint256 pa;
        {
            bytes calldata da = a.data;
            uint256 skipBytes = a.skip * wa;
            assembly ("memory-safe") {
                pa := add(da.offset, skipBytes)
            }
        }
        uint256 pb;
        {
            bytes memory db = b.data;
            uint256 startBytes = (b.skip + bStart) * wb;
            assembly ("memory-safe") {
                pb := add(add(db, 0x20), startBytes)
            }
        }
        uint256 stepA = aStep * wa;
        assembly ("memory-safe") {
            let sa := sub(256, mul(wa, 8))
            let sb := sub(256, mul(wb, 8))
            let ea := sub(wa, 1)
            let eb := sub(wb, 1)
            let end := add(pb, mul(n, wb))
            // Safe without overflow checks: |a|, |b| <= 2^31 and n < 2^32, so |acc| < 2^95. The calldata reads
            // stay inside `a.data` (its last one is element (n - 1) aStep, checked above); calldataload past
            // calldata's end would read zeros anyway.
            for {} lt(pb, end) {
                pa := add(pa, stepA)
                pb := add(pb, wb)
            } {
                acc := add(acc, mul(signextend(ea, shr(sa, calldataload(pa))), signextend(eb, shr(sb, mload(pb)))))
            }
        }
    }

    /// @dev max_{i < count} o[i], for 1 <= count <= o.len.
    function maxPrefix(Operand memory o, uint256 count) internal pure returns (int256 m) {
        if (count == 0 || count > o.len) revert RowRangeOutOfOperand(count, o.len);
        (uint256 p, uint256 sh, uint256 ext) = cursor(o, 0);
        uint256 w = o.width;
        assembly ("memory-safe") {
            // Reads only: the loops walk [p, p + count * w), inside the operand's proven bytes.
            let w2 := add(w, w)
            let w3 := add(w2, w)
            let w4 := add(w2, w2)
            let end4 := add(p, mul(and(count, not(3)), w))
            let end := add(p, mul(count, w))
            m := signextend(ext, shr(sh, mload(p)))
            // Unrolled by four (see `sum`); element 0 is read twice, which leaves the max unchanged.
            for {} lt(p, end4) { p := add(p, w4) } {
                let v := signextend(ext, shr(sh, mload(p)))
                if sgt(v, m) { m := v }
                v := signextend(ext, shr(sh, mload(add(p, w))))
                if sgt(v, m) { m := v }
                v := signextend(ext, shr(sh, mload(add(p, w2))))
                if sgt(v, m) { m := v }
                v := signextend(ext, shr(sh, mload(add(p, w3))))
                if sgt(v, m) { m := v }
            }
            for {} lt(p, end) { p := add(p, w) } {
                let v := signextend(ext, shr(sh, mload(p)))
                if sgt(v, m) { m := v }
            }
        }
    }

    /// @dev sum, max and min of the whole operand (len >= 1) in one pass: what LayerNorm and RMSNorm need
    ///      before their sum of squares (max |n x_i - sum| is max(n max - sum, sum - n min)).
    function sumMaxMin(Operand memory o) internal pure returns (int256 acc, int256 hi, int256 lo) {
        if (o.len == 0) revert RowRangeOutOfOperand(1, 0);
        (uint256 p, uint256 sh, uint256 ext) = cursor(o, 0);
        uint256 w = o.width;
        uint256 n = o.len;
        assembly ("memory-safe") {
            let w2 := add(w, w)
            let end2 := add(p, mul(and(n, not(1)), w))
            let end := add(p, mul(n, w))
            hi := signextend(ext, shr(sh, mload(p)))
            lo := hi
            // Unrolled by two (see `sum`). Safe without overflow checks: |o[i]| <= 2^31, n < 2^32.
            for {} lt(p, end2) { p := add(p, w2) } {
                let v := signextend(ext, shr(sh, mload(p)))
                let u := signextend(ext, shr(sh, mload(add(p, w))))
                acc := add(acc, add(v, u))
                if sgt(v, hi) { hi := v }
                if slt(v, lo) { lo := v }
                if sgt(u, hi) { hi := u }
                if slt(u, lo) { lo := u }
            }
            if lt(p, end) {
                let v := signextend(ext, shr(sh, mload(p)))
                acc := add(acc, v)
                if sgt(v, hi) { hi := v }
                if slt(v, lo) { lo := v }
            }
        }
    }

    /// @dev Memory address of element i's first byte and the shift and sign-extension byte that decode an
    ///      element from the word loaded there: for loops that walk a row themselves.
    function cursor(Operand memory o, uint256 i) internal pure returns (uint256 ptr, uint256 shift, uint256 ext) {
        bytes memory data = o.data;
        uint256 w = o.width;
        uint256 off = (o.skip + i) * w;
        assembly ("memory-safe") {
            // Address arithmetic only; `width` is 1, 2 or 4 (LibDescriptor rejects others), so the shift is
            // 224..248 and the sign-extension byte 0..3.
            ptr := add(add(data, 0x20), off)
            shift := sub(256, mul(w, 8))
            ext := sub(w, 1)
        }
    }

    /// @dev The element at `ptr` (as located by `cursor`).
    function load(uint256 ptr, uint256 shift, uint256 ext) internal pure returns (int256 v) {
        assembly ("memory-safe") {
            // A read of one word at a cursor the caller keeps inside the operand; its top bytes are the element.
            v := signextend(ext, shr(shift, mload(ptr)))
        }
    }
}
