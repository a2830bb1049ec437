// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {LibDescriptor, NodeDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title DetokOps
/// @notice The disputable detokenizer, mirroring offchain/engine/ops/detok.py (whose docstring is the spec):
///         DETOK_LEN (byte length of each token's text, a lookup in the [V, L + 1] byte table) and DETOK_BYTES
///         (byte b of the tokens' concatenated bytes, optionally stripped: strip 1 drops a leading 0x20 of the
///         text, strip 2 drops the marked entries (bit 8, a Metaspace U+2581) of its first non-empty token).
///         Total on every int32: a length outside [0, L] counts as 0, an id outside [0, V) has length 0 and
///         bytes 0; the text byte is the table entry's low 8 bits as int8.
contract DetokOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant DETOK_LEN = 46;
    uint256 internal constant DETOK_BYTES = 47;
    int256 internal constant SPACE = 0x20;
    int256 internal constant MARK = 0x100;
    uint256 internal constant NONE = type(uint256).max;

    /// @dev DETOK_BYTES' strip param is not 0 (none), 1 (leading space) or 2 (first token's marks).
    error StripModeOutOfRange(int256 mode);

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == DETOK_LEN || op == DETOK_BYTES;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        if (d.op == DETOK_LEN) return 2;
        return d.params[0] == 0 ? 3 : 5;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        uint256 vocab = d.inputs[d.inputs.length - 1].shape[0];
        uint256 width = d.inputs[d.inputs.length - 1].shape[1];
        if (d.op == DETOK_LEN) {
            if (r == 0) {
                if (e >= LibDescriptor.numelOf(d.inputs[0])) revert BadNode("element");
                return (0, e, 1);
            }
            if (r != 1 || loaded.length != 1) revert BadNode("range index");
            int256 v = LibOperand.at(LibOperand.int32View(loaded[0]), 0);
            return _valid(v, vocab) ? (1, uint256(v) * width, 1) : (1, 0, 0);
        }
        if (r == 0) return (1, 0, LibDescriptor.numelOf(d.inputs[1]));
        if (loaded.length != r) revert BadNode("range index");
        if (d.params[0] != 0 && r <= 2) return _headRange(d.params[0], r, loaded, vocab, width);
        return _byteRange(d, e, r, loaded);
    }

    /// @dev Ranges 1 and 2 of a stripping DETOK_BYTES: the first token's id, then its leading entries.
    function _headRange(int256 strip, uint256 r, Operand[] calldata loaded, uint256 vocab, uint256 width)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        (uint256 t0, uint256 len0) = _firstToken(LibOperand.int32View(loaded[0]), width - 1);
        if (r == 1) return t0 == NONE ? (0, 0, 0) : (0, t0, 1);
        if (loaded[1].len == 0) return (2, 0, 0);
        int256 v0 = LibOperand.at(LibOperand.int32View(loaded[1]), 0);
        if (!_valid(v0, vocab)) return (2, 0, 0);
        return (2, uint256(v0) * width + 1, strip == 1 ? 1 : len0);
    }

    /// @dev The last two ranges of DETOK_BYTES: the id of the token covering byte e's entry, then that entry.
    function _byteRange(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 base = d.params[0] == 0 ? 1 : 3;
        if (r > base + 1) revert BadNode("range index");
        (uint256 t, uint256 k) = _target(d, loaded, e);
        if (r == base) return t == NONE ? (0, 0, 0) : (0, t, 1);
        if (loaded[base].len == 0) return (2, 0, 0);
        int256 v = LibOperand.at(LibOperand.int32View(loaded[base]), 0);
        if (!_valid(v, d.inputs[2].shape[0])) return (2, 0, 0);
        return (2, uint256(v) * d.inputs[2].shape[1] + 1 + k, 1);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        Operand calldata last = operands[operands.length - 1];
        if (d.op == DETOK_LEN) {
            if (last.len == 0) return 0;
            int256 value = _m(last).at(0);
            return _effectiveLen(value, d.inputs[1].shape[1] - 1) == NONE ? int256(0) : value;
        }
        if (last.len == 0) return 0;
        // The entry's low byte as int8 (q & 0xFF is the byte, as for the request bytes).
        return int256(int8(uint8(uint256(_m(last).at(0)) & 0xFF)));
    }

    // ------------------------------------------------------------------------------------------- helpers

    function _valid(int256 v, uint256 vocab) internal pure returns (bool) {
        return v >= 0 && uint256(v) < vocab;
    }

    /// @dev A length as read: `value` if it lies in [0, maxLen], else NONE (callers count it as 0).
    function _effectiveLen(int256 value, uint256 maxLen) internal pure returns (uint256) {
        return value >= 0 && uint256(value) <= maxLen ? uint256(value) : NONE;
    }

    /// @dev The first token with a non-zero effective length and that length; (NONE, 0) if none. The scans over
    ///      lens read calldata in assembly: a step may scan 4,096 lengths several times.
    function _firstToken(Int32View memory lens, uint256 maxLen) internal pure returns (uint256 t, uint256 len0) {
        uint256 base = lens.base;
        uint256 n = lens.len;
        assembly ("memory-safe") {
            for {} lt(t, n) { t := add(t, 1) } {
                // int32 at t, sign-extended; a negative one is a huge unsigned value, so `gt` rejects it too.
                let v := signextend(3, shr(224, calldataload(add(base, shl(2, t)))))
                len0 := mul(v, iszero(gt(v, maxLen)))
                if len0 { break }
            }
        }
        if (t == n) return (NONE, 0);
    }

    /// @dev (token, offset) of entry p of the unstripped concatenation; (NONE, 0) past its end.
    function _locate(Int32View memory lens, uint256 maxLen, uint256 p) internal pure returns (uint256 t, uint256 k) {
        uint256 base = lens.base;
        uint256 n = lens.len;
        uint256 start;
        assembly ("memory-safe") {
            // Cannot overflow: start <= n * maxLen.
            for {} lt(t, n) { t := add(t, 1) } {
                let v := signextend(3, shr(224, calldataload(add(base, shl(2, t)))))
                let end := add(start, mul(v, iszero(gt(v, maxLen))))
                if lt(p, end) { break }
                start := end
            }
        }
        if (t == n) return (NONE, 0);
        k = p - start;
    }

    /// @dev (token, offset) of the unstripped entry that becomes text byte b; (NONE, 0) past the text.
    function _target(NodeDesc calldata d, Operand[] calldata loaded, uint256 b) internal pure returns (uint256, uint256) {
        uint256 p = _sourceEntry(d, loaded, b);
        return _locate(LibOperand.int32View(loaded[0]), d.inputs[2].shape[1] - 1, p);
    }

    /// @dev The unstripped entry that becomes text byte b. `ops[2]` holds the first token's leading entries
    ///      (strip 1: one; strip 2: its whole length; empty when there is no first token or its id is outside
    ///      the table).
    function _sourceEntry(NodeDesc calldata d, Operand[] calldata ops, uint256 b) internal pure returns (uint256) {
        int256 strip = d.params[0];
        if (strip == 0) return b;
        Int32View memory head = LibOperand.int32View(ops[2]);
        if (strip == 1) return head.len != 0 && LibOperand.at(head, 0) & 0xFF == SPACE ? b + 1 : b;
        // The head is the first token's whole row (its length len0 = head.len), which starts at entry 0: every
        // token before it is empty. With no head (no first token, or its id outside the table) nothing is marked
        // and entry b is byte b. Walk the kept entries (bit 8 clear).
        uint256 len0 = head.len;
        uint256 kept;
        uint256 hb = head.base;
        uint256 k;
        assembly ("memory-safe") {
            for {} lt(k, len0) { k := add(k, 1) } {
                let marked := and(shr(224, calldataload(add(hb, shl(2, k)))), 0x100)
                if iszero(marked) {
                    if eq(kept, b) { break }
                    kept := add(kept, 1)
                }
            }
        }
        if (k < len0) return k;
        return b - kept + len0;
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op == DETOK_LEN) {
            _expectInputs(d, 2, 2);
            if (d.params.length != 0) revert BadNode("params");
        } else if (d.op == DETOK_BYTES) {
            _expectInputs(d, 3, 3);
            if (d.params.length != 1) revert BadNode("params");
            // INVARIANT: The strip mode is one the Python op defines (0, 1 or 2).
            if (d.params[0] < 0 || d.params[0] > 2) revert StripModeOutOfRange(d.params[0]);
            if (LibDescriptor.numelOf(d.inputs[1]) != LibDescriptor.numelOf(d.inputs[0])) revert BadNode("lens");
        } else {
            revert UnsupportedOp(d.op);
        }
        // The byte table is [V, L + 1] with V >= 1 and L >= 1.
        uint256[] calldata shape = d.inputs[d.inputs.length - 1].shape;
        if (shape.length != 2 || shape[0] == 0 || shape[1] < 2) revert BadNode("table shape");
    }
}
