// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibDescriptor} from "../lib/LibDescriptor.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title TextOps
/// @notice The disputable tokenizer, mirroring offchain/engine/ops/text.py (whose docstring is the spec):
///         UTF8_DECODE (bytes -> code point per byte), CHAR_MAP (code point -> normalised stream values through
///         a two-stage table), TRIE_MATCH (longest vocabulary piece per stream slot, walking a hashed trie whose
///         probe windows are data-dependent ranges of a weight tensor) and WORDPIECE (word-by-word pieces with
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
    uint256 internal constant ROW = 4;

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
        Operand[] memory probes = new Operand[](r);
        for (uint256 q; q < r; ++q) {
            probes[q] = loaded[q];
        }
        Walk memory w = _walk(d, probes[0], e / 2, probes, r);
        if (!w.planned) return (1, 0, 0);
        return (1, w.home * ROW, uint256(d.params[2]) * ROW);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (d.op == UTF8_DECODE) return _decode(_m(operands[0]));
        if (d.op == CHAR_MAP) {
            if (operands[2].len == 0) return 0;
            return _charValue(_m(operands[2]).at(0), _m(operands[0]).at(0));
        }
        if (d.op == TRIE_MATCH) {
            Operand[] memory ops = new Operand[](operands.length);
            for (uint256 q; q < ops.length; ++q) {
                ops[q] = operands[q];
            }
            Walk memory w = _walk(d, ops[0], e / 2, ops, 0);
            return e % 2 == 0 ? w.end : w.token;
        }
        return _wordpiece(d, _m(operands[0]), _m(operands[1]), e);
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

    /// @dev State of one walk: the planned probe's home row (when `want` > 0), the best (end, token) so far,
    ///      the current trie node and the slot after the last character consumed.
    struct Walk {
        bool planned;
        uint256 home;
        int256 end;
        int256 token;
        int256 node;
        uint256 pos;
    }

    /// @dev Walks slot i's word through the trie. With `want` > 0 it stops at probe `want` and returns its home
    ///      row (planned = false when the walk ends before it); with `want` = 0 it uses every probe window and
    ///      returns (end, token) of the longest accepted prefix.
    function _walk(NodeDesc calldata d, Operand memory s, uint256 i, Operand[] memory probes, uint256 want)
        internal
        pure
        returns (Walk memory w)
    {
        w.end = int256(i);
        w.token = -1;
        int256 c0 = s.at(i) & 3;
        if (c0 != 1 && c0 != 3) return w;
        w.node = _wordStart(s, i) ? d.params[0] : d.params[1];
        w.pos = i;
        for (uint256 r = 1; r <= 1 + uint256(d.params[3]); ++r) {
            (bool more, uint256 q) = _nextChar(s, i, w.pos);
            if (!more) break;
            int256 cp = s.at(q) >> 2;
            if (r == want) {
                (w.planned, w.home) = (true, _home(d, w.node, cp));
                return w;
            }
            (bool hit, int256 child, int256 tok) = _find(probes[r], w.node, cp);
            if (!hit) break;
            (w.node, w.pos) = (child, q + 1);
            if (tok >= 0) (w.end, w.token) = (int256(w.pos), tok);
        }
    }

    /// @dev First row of (node, cp)'s probe window: ((node * K1 + cp * K2 + salt) mod 2^32) mod (M - W + 1).
    function _home(NodeDesc calldata d, int256 node, int256 cp) internal pure returns (uint256) {
        uint256 homes = d.inputs[1].shape[0] - uint256(d.params[2]) + 1;
        return uint256((node * HASH_NODE + cp * HASH_CHAR + d.params[4]) & HASH_MASK) % homes;
    }

    function _wordStart(Operand memory s, uint256 i) internal pure returns (bool) {
        if (s.at(i) & 3 == 3) return true;
        uint256 j = i;
        while (j > 0) {
            --j;
            int256 c = s.at(j) & 3;
            if (c != 0) return c == 2 || c == 3;
        }
        return true;
    }

    function _nextChar(Operand memory s, uint256 i, uint256 pos) internal pure returns (bool, uint256) {
        if (s.at(i) & 3 == 3) return (pos == i, i);
        uint256 q = pos;
        while (q < s.len && s.at(q) & 3 == 0) {
            ++q;
        }
        if (q == s.len || s.at(q) & 3 != 1) return (false, 0);
        return (true, q);
    }

    function _find(Operand memory w, int256 node, int256 cp) internal pure returns (bool, int256, int256) {
        for (uint256 r; r + ROW <= w.len; r += ROW) {
            if (w.at(r) == node && w.at(r + 1) == cp) return (true, w.at(r + 2), w.at(r + 3));
        }
        return (false, 0, 0);
    }

    // ---------------------------------------------------------------------------------------- wordpiece

    /// @dev Element t of `[cls] pieces[:T-2] [sep] [pad]...` (params: cls, sep, pad, unk, max_word_chars).
    function _wordpiece(NodeDesc calldata d, Operand memory s, Operand memory m, uint256 t)
        internal
        pure
        returns (int256)
    {
        uint256 length = LibDescriptor.numelOf(d.out);
        if (t >= length) revert BadNode("element");
        if (t == 0) return d.params[0];
        uint256 room = length - 2;
        int256[] memory pieces = new int256[](room);
        uint256 count;
        uint256 p;
        while (p < s.len && count < (t < room ? t : room)) {
            int256 c = s.at(p) & 3;
            if (c == 0 || c == 2) {
                ++p;
                continue;
            }
            (uint256 wEnd, uint256 chars) = c == 3 ? (p + 1, 1) : _wordEnd(s, p);
            if (chars > uint256(d.params[4])) {
                count = _push(pieces, count, d.params[3]);
            } else {
                count = _wordPieces(d, s, m, pieces, count, p, wEnd);
            }
            p = wEnd;
        }
        if (count > room) count = room;
        if (t <= count) return pieces[t - 1];
        return t == count + 1 ? d.params[1] : d.params[2];
    }

    /// @dev End slot (exclusive) and character count of the word of class-1 and empty slots starting at p.
    function _wordEnd(Operand memory s, uint256 p) internal pure returns (uint256 wEnd, uint256 chars) {
        wEnd = p;
        while (wEnd < s.len) {
            int256 c = s.at(wEnd) & 3;
            if (c != 0 && c != 1) break;
            if (c == 1) ++chars;
            ++wEnd;
        }
    }

    /// @dev Appends one word's pieces (or one [UNK] if a piece is missing) after `count`; returns the new count.
    function _wordPieces(
        NodeDesc calldata d,
        Operand memory s,
        Operand memory m,
        int256[] memory pieces,
        uint256 count,
        uint256 p,
        uint256 wEnd
    ) internal pure returns (uint256) {
        uint256 start = count;
        uint256 q = p;
        while (q < wEnd) {
            int256 end = m.at(2 * q);
            int256 token = m.at(2 * q + 1);
            if (token < 0) return _push(pieces, start, d.params[3]);
            count = _push(pieces, count, token);
            // INVARIANT: A piece ends after it starts (TRIE_MATCH gives end > i with a token), so this terminates.
            if (end <= int256(q)) revert BadNode("match end");
            q = uint256(end);
            while (q < wEnd && s.at(q) & 3 == 0) {
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
            if (d.params.length != 5 || d.params[2] < 1 || d.params[3] < 0 || d.params[3] > 64) {
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
