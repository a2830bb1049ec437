// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {LibDescriptor, NodeDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title PretokOps
/// @notice The front of the BPE tokenizer graph (issue 14), mirroring offchain/engine/ops/pretok.py (whose docstring
///         is the spec): UTF8_CHARS (bytes -> code point per UTF-8 unit, U+FFFD per maximal ill-formed subpart),
///         ADDED_TOKENS (leftmost-longest added-token matches) and PRETOKENIZE (word starts of the GPT-2, Llama-3 and
///         Qwen2 regexes, Metaspace and no split, run as state machines over the class stream 4 * cp + cls).
///         Every element reads its operands whole; every input has exactly one result.
contract PretokOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant UTF8_CHARS = 39;
    uint256 internal constant PRETOKENIZE = 40;
    uint256 internal constant ADDED_TOKENS = 41;
    int256 internal constant REPLACEMENT = 0xFFFD;
    int256 internal constant SPACE = 0x20;
    int256 internal constant META = 0x2581;
    int256 internal constant CLS_L = 0;
    int256 internal constant CLS_N = 1;
    int256 internal constant CLS_S = 2;
    int256 internal constant CLS_O = 3;

    /// @dev An operand that should hold int8 bytes has another width.
    error NotBytes(uint256 width);

    /// @inheritdoc OperatorBase
    function dataDependent(uint256) external pure override returns (bool) {
        return false;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.op == UTF8_CHARS ? 1 : 2;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out) || r >= (d.op == UTF8_CHARS ? 1 : 2)) revert BadNode("range index");
        return (r, 0, LibDescriptor.numelOf(d.inputs[r]));
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        if (d.op == UTF8_CHARS) return _utf8Char(operands[0], e);
        Int32View memory a = LibOperand.int32View(operands[0]);
        Int32View memory b = LibOperand.int32View(operands[1]);
        if (d.op == ADDED_TOKENS) return _added(a, b, d.inputs[1].shape[1], e);
        return _pretok(d, a, b, e);
    }

    // ------------------------------------------------------------------------------------------- UTF-8

    /// @dev Element i: the unit's value at a unit start, -1 inside a unit or in the trailing zero padding.
    function _utf8Char(Operand calldata o, uint256 i) internal pure returns (int256) {
        if (o.width != 1) revert NotBytes(o.width);
        bytes calldata data = o.data;
        uint256 n = o.len;
        if (o.skip + n > data.length) revert OperandIndexOutOfRange(o.skip + n, data.length);
        uint256 base;
        // Safe: only reads the calldata offset of the operand's bytes.
        assembly ("memory-safe") {
            base := data.offset
        }
        base += o.skip;
        uint256 end = n;
        while (end > 0 && _byte(base, end - 1) == 0) {
            --end;
        }
        if (i >= end) return -1;
        uint256 bi = _byte(base, i);
        if (bi < 0x80 || bi > 0xBF) return _unit(base, i, end) >> 8;
        // A continuation byte: inside the unit of the nearest lead within 3 bytes if that unit reaches it.
        uint256 j = i;
        while (j > 0 && j + 3 > i) {
            --j;
            uint256 bj = _byte(base, j);
            if (bj < 0x80 || bj > 0xBF) return j + uint256(_unit(base, j, end) & 0xFF) > i ? int256(-1) : REPLACEMENT;
        }
        return REPLACEMENT;
    }

    /// @dev Byte i of the operand at calldata `base`; callers keep i < len, and skip + len <= data.length is checked.
    function _byte(uint256 base, uint256 i) internal pure returns (uint256 b) {
        assembly ("memory-safe") {
            b := shr(248, calldataload(add(base, i)))
        }
    }

    /// @dev The unit starting at byte j (ending before `end`), packed as value << 8 | length: a well-formed
    ///      sequence's code point (Unicode Table 3-7), or U+FFFD for a maximal ill-formed subpart.
    function _unit(uint256 base, uint256 j, uint256 end) internal pure returns (int256) {
        uint256 b0 = _byte(base, j);
        if (b0 < 0x80) return int256((b0 << 8) | 1);
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
            return (REPLACEMENT << 8) | 1;
        }
        for (uint256 k = 1; k <= need; ++k) {
            if (j + k >= end) return (REPLACEMENT << 8) | int256(k);
            uint256 bk = _byte(base, j + k);
            bool ok = k == 1 ? (bk >= lo && bk <= hi) : (bk >= 0x80 && bk <= 0xBF);
            if (!ok) return (REPLACEMENT << 8) | int256(k);
            cp = (cp << 6) | (bk & 0x3F);
        }
        return int256((cp << 8) | (need + 1));
    }

    // ------------------------------------------------------------------------------------- added tokens

    /// @dev Element i: scan the text (chars >= 0) from the left taking the longest row at each position. Its worst
    ///      case tries every row at every position, so rows are compared as byte strings: the text is packed like
    ///      the table (4-byte big-endian entries) and a row of content length k is one memcmp of 4k bytes.
    function _added(Int32View memory c, Int32View memory t, uint256 w, uint256 i) internal pure returns (int256) {
        if (LibOperand.at(c, i) < 0) return -1;
        (uint256 text, uint256 m, uint256 ti) = _text(c, i);
        uint256[] memory lens = _contentLengths(t, w);
        uint256 q;
        while (q <= ti) {
            (uint256 best, int256 id) = _longestAt(t.base, w, lens, text, m, q);
            if (best == 0) {
                ++q;
                continue;
            }
            if (ti < q + best) return ti == q ? id : int256(-2);
            q += best;
        }
        return -1;
    }

    /// @dev The text (chars >= 0) packed as 4-byte entries at memory `text`, its length m, and char i's text index.
    function _text(Int32View memory c, uint256 i) internal pure returns (uint256 text, uint256 m, uint256 ti) {
        uint256 n = c.len;
        uint256 cb = c.base;
        // Safe: calldata reads stay inside the proven view (p < n); memory is written only past the free pointer,
        // which is then moved past the packed text plus one word (the last store's tail).
        assembly ("memory-safe") {
            text := mload(0x40)
            for { let p := 0 } lt(p, n) { p := add(p, 1) } {
                let word := calldataload(add(cb, mul(p, 4)))
                if iszero(shr(255, word)) {
                    if eq(p, i) { ti := m }
                    // Entries are written in increasing order, so each store's 28 trailing bytes are overwritten.
                    mstore(add(text, mul(m, 4)), shl(224, shr(224, word)))
                    m := add(m, 1)
                }
            }
            mstore(0x40, add(text, add(mul(m, 4), 32)))
        }
    }

    /// @dev Each row's content length: its entries before the first negative one; 0 for a row whose id is negative.
    function _contentLengths(Int32View memory t, uint256 w) internal pure returns (uint256[] memory lens) {
        uint256 rows = t.len / w;
        lens = new uint256[](rows);
        for (uint256 r; r < rows; ++r) {
            uint256 ra = t.base + r * w * 4;
            if (_word(ra) < 0) continue;
            uint256 k;
            while (k + 1 < w && _word(ra + (k + 1) * 4) >= 0) {
                ++k;
            }
            lens[r] = k;
        }
    }

    /// @dev The int32 at calldata address `addr` (inside a proven Int32View: the caller keeps addr in bounds).
    function _word(uint256 addr) internal pure returns (int256 v) {
        // Safe: a calldata read; callers pass addresses inside a proven Int32View.
        assembly ("memory-safe") {
            v := signextend(3, shr(224, calldataload(addr)))
        }
    }

    /// @dev (length, id) of the first longest row whose content equals the text at q; length 0 when none does.
    function _longestAt(uint256 tb, uint256 w, uint256[] memory lens, uint256 text, uint256 m, uint256 q)
        internal
        pure
        returns (uint256 best, int256 id)
    {
        // Safe: row r < rows and o < 4k <= 4(w - 1) keep calldata reads inside the table's view (a word read near its
        // end only brings in bytes the mask shifts out); q + k <= m keeps memory reads inside the packed text and
        // its one-word tail.
        assembly ("memory-safe") {
            let rows := mload(lens)
            let at := add(text, mul(q, 4))
            for { let r := 0 } lt(r, rows) { r := add(r, 1) } {
                let k := mload(add(lens, mul(add(r, 1), 32)))
                if and(gt(k, best), iszero(gt(add(q, k), m))) {
                    let ra := add(tb, mul(mul(r, w), 4))
                    let bytes_ := mul(k, 4)
                    let ok := 1
                    for { let o := 0 } lt(o, bytes_) { o := add(o, 32) } {
                        let diff := xor(calldataload(add(add(ra, 4), o)), mload(add(at, o)))
                        let rest := sub(bytes_, o)
                        if lt(rest, 32) { diff := shr(sub(256, mul(rest, 8)), diff) }
                        if diff {
                            ok := 0
                            break
                        }
                    }
                    if ok {
                        best := k
                        id := signextend(3, shr(224, calldataload(ra)))
                    }
                }
            }
        }
    }

    // -------------------------------------------------------------------------------------- pretokenize

    /// @dev Element e = (i, col) of PRETOKENIZE: finds i's segment, builds its class stream (with the virtual
    ///      prefix char) in memory and runs the kind's scanner up to i.
    function _pretok(NodeDesc calldata d, Int32View memory s, Int32View memory a, uint256 e)
        internal
        pure
        returns (int256)
    {
        uint256 i = e / 2;
        bool col0 = e % 2 == 0;
        int256 ad = LibOperand.at(a, i);
        if (LibOperand.at(s, i) == 0 || ad < -1) return col0 ? int256(0) : -1;
        if (ad >= 0) return col0 ? int256(0) : int256(1);
        uint256 start = i;
        bool seen;
        for (uint256 j = i; j > 0;) {
            --j;
            if (_word(s.base + j * 4) == 0) continue;
            if (_word(a.base + j * 4) != -1) {
                seen = true;
                break;
            }
            start = j;
        }
        int256 kind = d.params[0];
        bool prefix;
        {
            int256 first = _word(s.base + start * 4) >> 2;
            bool isPrefixChar = first == SPACE || (kind >= 4 && first == META);
            prefix = d.params[1] == 1 || (d.params[1] == 2 && !isPrefixChar);
            if (d.params[2] == 1 && seen) prefix = false;
        }
        if (col0) return prefix && i == start ? int256(1) : int256(0);
        (int256[] memory seq, uint256 len, uint256 idx) =
            _segment(s, a, start, i, prefix ? 4 * (kind >= 4 ? META : SPACE) + CLS_S : int256(0));
        return _isStart(seq, len, kind, idx) ? int256(1) : int256(0);
    }

    /// @dev The class stream of the segment starting at `start` (the virtual char first unless it is 0), its
    ///      length and the index of position i in it.
    function _segment(Int32View memory s, Int32View memory a, uint256 start, uint256 i, int256 virtualChar)
        internal
        pure
        returns (int256[] memory seq, uint256 len, uint256 idx)
    {
        seq = new int256[](s.len + 1);
        if (virtualChar != 0) seq[len++] = virtualChar;
        for (uint256 j = start; j < s.len; ++j) {
            int256 v = _word(s.base + j * 4);
            if (v == 0) continue;
            if (_word(a.base + j * 4) != -1) break;
            if (j == i) idx = len;
            seq[len++] = v;
        }
    }

    /// @dev Whether element idx of the segment's stream seq[0..len) starts a word under `kind`.
    function _isStart(int256[] memory seq, uint256 len, int256 kind, uint256 idx) internal pure returns (bool) {
        if (idx == 0) return true;
        if (kind == 5) return false;
        if (kind == 4) return _s(seq, idx) >> 2 == SPACE || _s(seq, idx) >> 2 == META;
        uint256 p;
        while (p < idx) {
            p += _matchLen(seq, len, p, kind);
        }
        return p == idx;
    }

    /// @dev Length (>= 1) of the match of regex `kind` (1 GPT-2, 2 Llama-3, 3 Qwen2) at p.
    function _matchLen(int256[] memory seq, uint256 len, uint256 p, int256 kind) internal pure returns (uint256) {
        int256 cls = _s(seq, p) & 3;
        int256 cp = _s(seq, p) >> 2;
        uint256 k = _contraction(seq, len, p, kind != 1);
        if (k != 0) return k;
        if (kind == 1) {
            // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' in that order
            for (int256 c; c <= CLS_O; c += c == CLS_N ? int256(2) : int256(1)) {
                if (cp == SPACE && _isCls(seq, len, p + 1, c)) return 1 + _run(seq, len, p + 1, c);
                if (cls == c) return _run(seq, len, p, c);
            }
            return _spaceTail(seq, len, p);
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if ((cls == CLS_S || cls == CLS_O) && !_crlf(seq, len, p) && _isCls(seq, len, p + 1, CLS_L)) {
            return 1 + _run(seq, len, p + 1, CLS_L);
        }
        if (cls == CLS_L) return _run(seq, len, p, CLS_L);
        if (cls == CLS_N) {
            // \p{N}{1,3} (Llama-3) or \p{N} (Qwen2)
            if (kind == 3) return 1;
            k = _run(seq, len, p, CLS_N);
            return k < 3 ? k : 3;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        uint256 q = cp == SPACE && _isCls(seq, len, p + 1, CLS_O) ? p + 1 : p;
        if (_isCls(seq, len, q, CLS_O)) {
            q += _run(seq, len, q, CLS_O);
            while (_crlf(seq, len, q)) {
                ++q;
            }
            return q - p;
        }
        // \s*[\r\n]+: up to the whitespace run's last \r or \n
        k = _run(seq, len, p, CLS_S);
        for (uint256 j = k; j > 0; --j) {
            if (_crlf(seq, len, p + j - 1)) return j;
        }
        return _spaceTail(seq, len, p);
    }

    /// @dev 's|'t|'re|'ve|'m|'ll|'d at p (case-folded when `fold`: A-Z and U+017F as Oniguruma's (?i)); 0 if none.
    function _contraction(int256[] memory seq, uint256 len, uint256 p, bool fold) internal pure returns (uint256) {
        if (_s(seq, p) >> 2 != 0x27 || p + 1 >= len) return 0;
        int256 c1 = _fold(_s(seq, p + 1) >> 2, fold);
        if (c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64) return 2;
        if (p + 2 >= len) return 0;
        int256 c2 = _fold(_s(seq, p + 2) >> 2, fold);
        if ((c1 == 0x72 || c1 == 0x76) && c2 == 0x65) return 3;
        if (c1 == 0x6C && c2 == 0x6C) return 3;
        return 0;
    }

    function _fold(int256 cp, bool fold) internal pure returns (int256) {
        if (!fold) return cp;
        if (cp >= 0x41 && cp <= 0x5A) return cp + 0x20;
        return cp == 0x17F ? int256(0x73) : cp;
    }

    /// @dev \s+(?!\S)|\s+ at whitespace p: the whole run, less its last char when a non-space follows it.
    function _spaceTail(int256[] memory seq, uint256 len, uint256 p) internal pure returns (uint256) {
        uint256 k = _run(seq, len, p, CLS_S);
        return p + k < len && k >= 2 ? k - 1 : k;
    }

    /// @dev seq[p] without a bounds check: every caller has p < len <= seq.length.
    function _s(int256[] memory seq, uint256 p) internal pure returns (int256 v) {
        // Safe: a read of element p < seq.length (see above).
        assembly ("memory-safe") {
            v := mload(add(add(seq, 0x20), mul(p, 0x20)))
        }
    }

    function _run(int256[] memory seq, uint256 len, uint256 p, int256 cls) internal pure returns (uint256 k) {
        while (p + k < len && _s(seq, p + k) & 3 == cls) {
            ++k;
        }
    }

    function _isCls(int256[] memory seq, uint256 len, uint256 p, int256 cls) internal pure returns (bool) {
        return p < len && _s(seq, p) & 3 == cls;
    }

    function _crlf(int256[] memory seq, uint256 len, uint256 p) internal pure returns (bool) {
        return p < len && (_s(seq, p) >> 2 == 0x0A || _s(seq, p) >> 2 == 0x0D);
    }

    // ---------------------------------------------------------------------------------------- checks

    function _check(NodeDesc calldata d) internal pure {
        if (d.op == UTF8_CHARS) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 0 || d.inputs[0].width != 1) revert BadNode("params");
            // INVARIANT: One output per byte.
            if (LibDescriptor.numelOf(d.out) != LibDescriptor.numelOf(d.inputs[0])) revert BadNode("shape");
        } else if (d.op == ADDED_TOKENS) {
            _expectInputs(d, 2, 2);
            if (d.params.length != 0 || d.inputs[1].shape.length != 2 || d.inputs[1].shape[1] < 2) {
                revert BadNode("table shape");
            }
            // INVARIANT: One output per char.
            if (LibDescriptor.numelOf(d.out) != LibDescriptor.numelOf(d.inputs[0])) revert BadNode("shape");
        } else if (d.op == PRETOKENIZE) {
            _expectInputs(d, 2, 2);
            if (
                d.params.length != 3 || d.params[0] < 1 || d.params[0] > 5 || d.params[1] < 0 || d.params[1] > 2
                    || d.params[2] < 0 || d.params[2] > 1
            ) revert BadNode("params");
            uint256 n = LibDescriptor.numelOf(d.inputs[0]);
            // INVARIANT: added has one entry per stream slot and the output two per slot.
            if (LibDescriptor.numelOf(d.inputs[1]) != n || LibDescriptor.numelOf(d.out) != 2 * n) {
                revert BadNode("shape");
            }
        } else {
            revert UnsupportedOp(d.op);
        }
    }
}
