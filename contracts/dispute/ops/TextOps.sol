// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibDescriptor, NodeDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title TextOps
/// @notice The disputable tokenizer, mirroring offchain/engine/ops/text.py (whose docstring is the spec):
///         UTF8_DECODE (bytes -> code point per byte), CHAR_MAP (code point -> normalised stream values through
///         a two-stage table), TRIE_MATCH (longest vocabulary piece per stream slot, walking a hashed trie whose
///         node ids are path hashes, so each probe window's position follows from the stream alone) and WORDPIECE (word-by-word pieces with
///         [UNK] rules, framed and padded). Stream values are `cp * 4 + class` (0 empty, 1 word character,
///         2 SPACE, 3 punctuation).
contract TextOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant UTF8_DECODE = 22;
    uint256 internal constant CHAR_MAP = 23;
    uint256 internal constant TRIE_MATCH = 24;
    uint256 internal constant WORDPIECE = 25;
    int256 internal constant MAX_CODE_POINT = 0x10FFFF;
    int256 internal constant HASH_NODE = 2654435761;
    int256 internal constant HASH_CHAR = 2246822519;
    int256 internal constant HASH_MASK = 0xFFFFFFFF;
    uint256 internal constant ROW = 3;
    uint256 internal constant NONE = type(uint256).max;
    int256 internal constant MISSING = type(int256).min;

    /// @dev A stage-1 entry points outside the stage-2 table (the committed table is malformed).
    error TableOutOfRange(int256 block_, uint256 rows);

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == CHAR_MAP || op == TRIE_MATCH;
    }

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        if (d.op == UTF8_DECODE) return 1;
        if (d.op == CHAR_MAP) return 3;
        if (d.op == TRIE_MATCH) return 2 + uint256(d.params[3]);
        return 2;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (d.op == UTF8_DECODE) {
            uint256 n = LibDescriptor.numelOf(d.inputs[0]);
            if (r != 0 || e >= n) revert BadNode("range index");
            return (0, e, n - e < 4 ? n - e : 4);
        }
        if (d.op == CHAR_MAP) return _charMapRange(d, e, r, loaded);
        uint256 s = LibDescriptor.numelOf(d.inputs[0]);
        if (r == 0) return (0, 0, s);
        if (d.op == WORDPIECE) {
            if (r != 1) revert BadNode("range index");
            return (1, 0, 2 * s);
        }
        if (r > 1 + uint256(d.params[3]) || loaded.length != r) revert BadNode("range index");
        // The window of path step r - 1 follows from the stream alone (node ids are path hashes).
        (bool exists, uint256 home) = _pathHome(d, LibOperand.int32View(loaded[0]), e / 2, r - 1);
        if (!exists) return (1, 0, 0);
        return (1, home * ROW, uint256(d.params[2]) * ROW);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (d.op == UTF8_DECODE) return _decode(_m(operands[0]));
        if (d.op == CHAR_MAP) {
            if (operands[2].len == 0) return 0;
            return _charValue(_m(operands[2]).at(0), _m(operands[0]).at(0));
        }
        if (d.op == TRIE_MATCH) {
            (int256 end, int256 token) = _walk(d, operands, e / 2);
            return e % 2 == 0 ? end : token;
        }
        return _wordpiece(d, LibOperand.int32View(operands[0]), LibOperand.int32View(operands[1]), e);
    }

    // ------------------------------------------------------------------------------------------- UTF-8

    /// @dev Code point of the well-formed sequence at the operand's start (Unicode Table 3-7), else -1.
    function _decode(Operand memory o) internal pure returns (int256) {
        uint256 n = o.len;
        if (n == 0) return -1;
        uint256 b0 = uint256(o.at(0)) & 0xFF;
        if (b0 < 0x80) return int256(b0);
        uint256 need;
        uint256 lo = 0x80;
        uint256 hi = 0xBF;
        uint256 cp;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            (need, cp) = (1, b0 & 0x1F);
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            (need, cp) = (2, b0 & 0x0F);
            if (b0 == 0xE0) lo = 0xA0;
            else if (b0 == 0xED) hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            (need, cp) = (3, b0 & 0x07);
            if (b0 == 0xF0) lo = 0x90;
            else if (b0 == 0xF4) hi = 0x8F;
        } else {
            return -1;
        }
        if (n < 1 + need) return -1;
        for (uint256 j = 1; j <= need; ++j) {
            uint256 bj = uint256(o.at(j)) & 0xFF;
            bool ok = j == 1 ? (bj >= lo && bj <= hi) : (bj >= 0x80 && bj <= 0xBF);
            if (!ok) return -1;
            cp = (cp << 6) | (bj & 0x3F);
        }
        return int256(cp);
    }

    // ----------------------------------------------------------------------------------------- char map

    function _charMapRange(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 k = d.inputs[2].shape[1];
        if (r == 0) return (0, e / k, 1);
        if (r > 2 || loaded.length != r) revert BadNode("range index");
        int256 cp = _m(loaded[0]).at(0);
        if (cp < 0 || cp > MAX_CODE_POINT) return (r, 0, 0);
        uint256 shift = uint256(d.params[0]);
        if (r == 1) return (1, uint256(cp) >> shift, 1);
        int256 block_ = _m(loaded[1]).at(0);
        uint256 rows = d.inputs[2].shape[0];
        if (block_ < 0) revert TableOutOfRange(block_, rows);
        uint256 row = (uint256(block_) << shift) + (uint256(cp) & ((uint256(1) << shift) - 1));
        // INVARIANT: A stage-2 row is read only where the executor reads it (it rejects the model otherwise).
        if (row >= rows) revert TableOutOfRange(block_, rows);
        return (2, row * k + e % k, 1);
    }

    /// @dev Stream value of stage-2 entry `v` for code point `cp`: 4 * ((v >> 3) + bit2(v) * cp) + (v & 3).
    function _charValue(int256 v, int256 cp) internal pure returns (int256) {
        if (v == 0) return 0;
        return 4 * ((v >> 3) + ((v >> 2) & 1) * cp) + (v & 3);
    }

    // --------------------------------------------------------------------------------------- trie match

    /// @dev (end, token) of slot i: follows the word's path, step k using probe window k + 1, while the edge
    ///      (node, character) is in its window; keeps the last node that is a piece.
    function _walk(NodeDesc calldata d, Operand[] calldata ops, uint256 i) internal pure returns (int256 end, int256 token) {
        (end, token) = (int256(i), -1);
        Int32View memory s = LibOperand.int32View(ops[0]);
        bool punct;
        int256 node;
        {
            bool word;
            (word, punct, node) = _pathStart(d, s, i);
            if (!word) return (end, token);
        }
        int256 salt = d.params[4];
        uint256 pos = i;
        for (uint256 k; k <= uint256(d.params[3]); ++k) {
            uint256 q = _nextChar(s, i, pos, punct);
            if (q == NONE) break;
            int256 cp = LibOperand.at(s, q) >> 2;
            int256 tok = _findEdge(LibOperand.int32View(ops[k + 1]), node, cp);
            if (tok == MISSING) break;
            node = _child(node, cp, salt);
            pos = q + 1;
            if (tok >= 0) (end, token) = (int256(pos), tok);
        }
    }

    /// @dev Where slot i's path starts (shared by _walk and _pathHome, which must follow the same path): whether
    ///      the slot holds a word at all, whether that word is a single punctuation character, and its root node
    ///      (params[0] at a word's start, params[1] for a continuation).
    function _pathStart(NodeDesc calldata d, Int32View memory s, uint256 i)
        internal
        pure
        returns (bool word, bool punct, int256 node)
    {
        int256 c = LibOperand.at(s, i) & 3;
        if (c != 1 && c != 3) return (false, false, 0);
        punct = c == 3;
        node = punct || _wordStart(s, i) ? d.params[0] : d.params[1];
        word = true;
    }

    /// @dev Home row of path step `k` of slot i (the edge from the node after k characters by character k), or
    ///      exists = false when the word has no character k (or slot i none at all).
    function _pathHome(NodeDesc calldata d, Int32View memory s, uint256 i, uint256 k)
        internal
        pure
        returns (bool exists, uint256 home)
    {
        (bool word, bool punct, int256 node) = _pathStart(d, s, i);
        if (!word) return (false, 0);
        int256 salt = d.params[4];
        uint256 pos = i;
        for (uint256 step;; ++step) {
            uint256 q = _nextChar(s, i, pos, punct);
            if (q == NONE) return (false, 0);
            int256 cp = LibOperand.at(s, q) >> 2;
            if (step == k) {
                uint256 homes = d.inputs[1].shape[0] - uint256(d.params[2]) + 1;
                return (true, uint256(_child(node, cp, salt)) % homes);
            }
            node = _child(node, cp, salt);
            pos = q + 1;
        }
    }

    /// @dev child(n, c) = ((n * 2654435761 + c * 2246822519 + salt) mod 2^32) >> 1: node ids are path hashes.
    function _child(int256 node, int256 cp, int256 salt) internal pure returns (int256) {
        // Cannot overflow: |node| < 2^32 (a root < 2^31 or a 31-bit hash), |cp| < 2^31, 0 <= salt < 2^32 (_check).
        unchecked {
            return ((node * HASH_NODE + cp * HASH_CHAR + salt) & HASH_MASK) >> 1;
        }
    }

    /// @dev Whether letter slot i starts a word: the nearest non-empty slot before it ends one (or there is none).
    function _wordStart(Int32View memory s, uint256 i) internal pure returns (bool) {
        uint256 j = i;
        while (j > 0) {
            --j;
            int256 c = LibOperand.at(s, j) & 3;
            if (c != 0) return c == 2 || c == 3;
        }
        return true;
    }

    /// @dev Slot of the next character of slot i's word at or after `pos`, NONE if there is none. The scan over
    ///      empty slots reads calldata directly: it runs once per path step in every `range` call.
    function _nextChar(Int32View memory s, uint256 i, uint256 pos, bool punct) internal pure returns (uint256 q) {
        if (punct) return pos == i ? i : NONE;
        uint256 n = s.len;
        uint256 base = s.base;
        uint256 cls;
        q = pos;
        assembly ("memory-safe") {
            for {} lt(q, n) { q := add(q, 1) } {
                cls := and(shr(224, calldataload(add(base, mul(q, 4)))), 3)
                if cls { break }
            }
        }
        if (q >= n || cls != 1) return NONE;
    }

    /// @dev Token of the window's row whose (parent, char) is (node, cp); MISSING when no row matches.
    function _findEdge(Int32View memory w, int256 node, int256 cp) internal pure returns (int256) {
        for (uint256 r; r + ROW <= w.len; r += ROW) {
            if (LibOperand.at(w, r) == node && LibOperand.at(w, r + 1) == cp) return LibOperand.at(w, r + 2);
        }
        return MISSING;
    }

    // ---------------------------------------------------------------------------------------- wordpiece

    /// @dev Element t of `[cls] pieces[:T-2] [sep] [pad]...` (params: cls, sep, pad, unk, max_word_chars).
    function _wordpiece(NodeDesc calldata d, Int32View memory s, Int32View memory m, uint256 t)
        internal
        pure
        returns (int256)
    {
        uint256 length = LibDescriptor.numelOf(d.out);
        if (t >= length) revert BadNode("element");
        if (t == 0) return d.params[0];
        uint256 room = length - 2;
        (int256[] memory pieces, uint256 count) = _pieces(d, s, m, room, t < room ? t : room);
        if (count > room) count = room;
        if (t <= count) return pieces[t - 1];
        return t == count + 1 ? d.params[1] : d.params[2];
    }

    /// @dev The first pieces (at least `goal` of them when the text has them; more may follow from the last word).
    function _pieces(NodeDesc calldata d, Int32View memory s, Int32View memory m, uint256 room, uint256 goal)
        internal
        pure
        returns (int256[] memory pieces, uint256 count)
    {
        pieces = new int256[](room);
        uint256 p;
        while (p < s.len && count < goal) {
            int256 c = LibOperand.at(s, p) & 3;
            if (c == 0 || c == 2) {
                ++p;
                continue;
            }
            (uint256 wEnd, uint256 chars) = c == 3 ? (p + 1, 1) : _wordEnd(s, p);
            count = chars > uint256(d.params[4])
                ? _push(pieces, count, d.params[3])
                : _wordPieces(d, s, m, pieces, count, p, wEnd);
            p = wEnd;
        }
    }

    /// @dev End slot (exclusive) and character count of the word of class-1 and empty slots starting at p.
    function _wordEnd(Int32View memory s, uint256 p) internal pure returns (uint256 wEnd, uint256 chars) {
        wEnd = p;
        uint256 n = s.len;
        while (wEnd < n) {
            int256 c = LibOperand.at(s, wEnd) & 3;
            if (c != 0 && c != 1) break;
            if (c == 1) ++chars;
            ++wEnd;
        }
    }

    /// @dev Appends one word's pieces (or one [UNK] if a piece is missing) after `count`; returns the new count.
    function _wordPieces(
        NodeDesc calldata d,
        Int32View memory s,
        Int32View memory m,
        int256[] memory pieces,
        uint256 count,
        uint256 p,
        uint256 wEnd
    ) internal pure returns (uint256) {
        uint256 start = count;
        uint256 q = p;
        while (q < wEnd) {
            int256 end = LibOperand.at(m, 2 * q);
            int256 token = LibOperand.at(m, 2 * q + 1);
            if (token < 0) return _push(pieces, start, d.params[3]);
            count = _push(pieces, count, token);
            // INVARIANT: A piece ends after it starts (TRIE_MATCH gives end > i with a token), so this terminates.
            if (end <= int256(q)) revert BadNode("match end");
            q = uint256(end);
            while (q < wEnd && LibOperand.at(s, q) & 3 == 0) {
                ++q;
            }
        }
        return count;
    }

    function _push(int256[] memory pieces, uint256 count, int256 token) internal pure returns (uint256) {
        if (count < pieces.length) pieces[count] = token;
        return count + 1;
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op == UTF8_DECODE) {
            _expectInputs(d, 1, 1);
        } else if (d.op == CHAR_MAP) {
            _expectInputs(d, 3, 3);
            if (d.params.length != 1 || d.params[0] < 0 || d.params[0] > 20) revert BadNode("params");
            if (d.inputs[2].shape.length != 2 || d.inputs[2].shape[1] == 0) revert BadNode("stage2 shape");
        } else if (d.op == TRIE_MATCH) {
            _expectInputs(d, 2, 2);
            if (
                d.params.length != 5 || d.params[2] < 1 || d.params[3] < 0 || d.params[3] > 64 || d.params[4] < 0
                    || d.params[4] > HASH_MASK || d.params[0] < 0 || d.params[0] > HASH_MASK >> 1 || d.params[1] < 0
                    || d.params[1] > HASH_MASK >> 1
            ) {
                revert BadNode("params");
            }
            if (d.inputs[1].shape.length != 2 || d.inputs[1].shape[1] != ROW) revert BadNode("trie shape");
            if (uint256(d.params[2]) > d.inputs[1].shape[0]) revert BadNode("window");
        } else if (d.op == WORDPIECE) {
            _expectInputs(d, 2, 2);
            if (d.params.length != 5 || LibDescriptor.numelOf(d.out) < 2) revert BadNode("params");
        } else {
            revert UnsupportedOp(d.op);
        }
    }
}
