// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibDescriptor, NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title BpeOps
/// @notice The BPE model of a Hugging Face tokenizer as one-step checks, mirroring offchain/engine/ops/bpe.py (whose
///         docstring is the spec): BPE_SYMBOLS (initial symbols [N, 5] per text position: a virtual prefix char, then
///         the char's UTF-8 byte tokens or its SentencePiece piece), PAIR_RANK ((rank, new id) of each symbol with
///         the next one of its word, from one probe window of a hashed merges table), BPE_MERGE (one round: every
///         word's least-rank pairs, leftmost first, non-overlapping) and BPE_IDS (the post-processor's framed,
///         padded ids). Every operand is int32 and read in place from calldata.
contract BpeOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant BPE_SYMBOLS = 42;
    uint256 internal constant PAIR_RANK = 43;
    uint256 internal constant BPE_MERGE = 44;
    uint256 internal constant BPE_IDS = 45;
    uint256 internal constant SLOTS = 5;
    uint256 internal constant MERGE_ROW = 4;
    uint256 internal constant BYTE_TOKENS = 256;
    uint256 internal constant MAX_POSITIONS = 256;
    uint256 internal constant MAX_WINDOW = 64;
    uint256 internal constant MAX_MERGE_ROWS = 1 << 24;
    uint256 internal constant MAX_FRAME = 64;
    int256 internal constant INF_RANK = type(int32).max;
    int256 internal constant NO_SYMBOL = -1;
    int256 internal constant COVERED = -2;
    int256 internal constant SPACE = 0x20;
    int256 internal constant MAX_CODE_POINT = 0x10FFFF;
    int256 internal constant HASH_NODE = 2654435761;
    int256 internal constant HASH_CHAR = 2246822519;
    int256 internal constant HASH_MASK = 0xFFFFFFFF;
    uint256 internal constant NONE = type(uint256).max;

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == PAIR_RANK;
    }

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        if (d.op == BPE_SYMBOLS) return 5;
        if (d.op == BPE_IDS) return d.inputs.length;
        return 3;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 n = _check(d);
        if (d.op == BPE_SYMBOLS) {
            uint256 i = e / SLOTS;
            if (r == 0 || r == 2 || r == 3) return (r, i, 1);
            if (r == 1) return (1, 2 * i, 1);
            if (r == 4) return (4, 0, BYTE_TOKENS);
        } else if (d.op == PAIR_RANK) {
            return _pairRankRange(d, n, e / 2, r, loaded);
        } else if (d.op == BPE_MERGE) {
            if (r == 0) return (0, 0, SLOTS * n);
            if (r == 1) return (1, 0, 2 * SLOTS * n);
            if (r == 2) return (2, 0, 2 * n);
        } else {
            if (r == 0) return (0, 0, SLOTS * n);
            if (r == 1 && d.inputs.length == 2) return (1, 0, LibDescriptor.numelOf(d.inputs[1]));
        }
        revert BadNode("range index");
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (d.op == BPE_SYMBOLS) return _symbol(d, operands, e % SLOTS);
        if (d.op == PAIR_RANK) {
            (int256 rank, int256 newId) = _pairRank(operands);
            return e % 2 == 0 ? rank : newId;
        }
        Int32View memory symbols = LibOperand.int32View(operands[0]);
        if (d.op == BPE_MERGE) {
            return _merged(symbols, LibOperand.int32View(operands[1]), LibOperand.int32View(operands[2]), e);
        }
        Int32View memory frame;
        if (operands.length == 2) frame = LibOperand.int32View(operands[1]);
        return _framed(d, symbols, frame, e);
    }

    // ------------------------------------------------------------------------------------------ symbols

    /// @dev Slot k of one position from its chars, pretok[i, 0], added, charids entries and the byte ids.
    function _symbol(NodeDesc calldata d, Operand[] calldata ops, uint256 k) internal pure returns (int256) {
        if (k == 0) return LibOperand.int32View(ops[1]).at(0) == 1 ? d.params[1] : NO_SYMBOL;
        int256 added = LibOperand.int32View(ops[2]).at(0);
        if (added >= 0) return k == 1 ? added : NO_SYMBOL;
        int256 cp = LibOperand.int32View(ops[0]).at(0);
        if (added == COVERED || cp < 0) return NO_SYMBOL;
        if (d.params[0] == 1) {
            int256 charId = LibOperand.int32View(ops[3]).at(0);
            if (charId > 0) return k == 1 ? charId >> 2 : NO_SYMBOL;
            if (cp == SPACE) cp = d.params[2];
        }
        uint256 b = _utf8Byte(cp, k - 1);
        if (b == NONE) return NO_SYMBOL;
        return LibOperand.int32View(ops[4]).at(b);
    }

    /// @dev Byte j of the UTF-8 bit pattern of cp >= 0 (U+FFFD's above U+10FFFF), NONE past its last byte.
    function _utf8Byte(int256 cp_, uint256 j) internal pure returns (uint256) {
        uint256 cp = cp_ > MAX_CODE_POINT ? 0xFFFD : uint256(cp_);
        uint256 len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (j >= len) return NONE;
        if (len == 1) return cp;
        if (j == 0) return (cp >> (6 * (len - 1))) | ((0xF00 >> len) & 0xFF);
        return 0x80 | ((cp >> (6 * (len - 1 - j))) & 0x3F);
    }

    // ---------------------------------------------------------------------------------------- pair rank

    /// @dev Ranges of PAIR_RANK's element for slot s: symbols[s:], then pretok of next(s)'s position (empty when s
    ///      holds nothing or has no next), then the probe window (empty unless the pair is looked up).
    function _pairRankRange(NodeDesc calldata d, uint256 n, uint256 s, uint256 r, Operand[] calldata loaded)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        if (r == 0) return (0, s, SLOTS * n - s);
        if (r > 2 || loaded.length != r) revert BadNode("range index");
        Int32View memory tail = LibOperand.int32View(loaded[0]);
        uint256 q = tail.len == 0 || tail.at(0) == NO_SYMBOL ? NONE : _next(tail, 0);
        if (q == NONE) return (r, 0, 0);
        uint256 slot = s + q;
        if (r == 1) return (1, 2 * (slot / SLOTS), 2);
        if (slot % SLOTS < 2 && LibOperand.int32View(loaded[1]).at(slot % SLOTS) == 1) return (2, 0, 0);
        return (2, _home(d, tail.at(0), tail.at(q)) * MERGE_ROW, uint256(d.params[0]) * MERGE_ROW);
    }

    /// @dev First row of the pair's probe window: pair_hash mod (M - W + 1).
    function _home(NodeDesc calldata d, int256 left, int256 right) internal pure returns (uint256) {
        uint256 homes = d.inputs[2].shape[0] - uint256(d.params[0]) + 1;
        return uint256(_pairHash(left, right, d.params[1])) % homes;
    }

    /// @dev (rank, new id) of the first window row whose (left, right) is (symbols[s], symbols[next(s)]); (INF, -1)
    ///      with no window or no matching row.
    function _pairRank(Operand[] calldata ops) internal pure returns (int256, int256) {
        Int32View memory w = LibOperand.int32View(ops[2]);
        if (w.len == 0) return (INF_RANK, NO_SYMBOL);
        Int32View memory tail = LibOperand.int32View(ops[0]);
        int256 left = tail.at(0);
        int256 right = tail.at(_next(tail, 0));
        uint256 wb = w.base;
        uint256 rows = w.len / MERGE_ROW;
        // (left, right) of a row is its first 8 bytes: compared as one 64-bit word.
        uint256 key = (uint256(uint32(int32(left))) << 32) | uint256(uint32(int32(right)));
        int256 rank = INF_RANK;
        int256 newId = NO_SYMBOL;
        // Safe: row < len / 4, within the proven window.
        assembly ("memory-safe") {
            for { let row := 0 } lt(row, rows) { row := add(row, 1) } {
                let word := calldataload(add(wb, mul(row, 16)))
                if eq(shr(192, word), key) {
                    rank := signextend(3, and(shr(160, word), 0xffffffff))
                    newId := signextend(3, and(shr(128, word), 0xffffffff))
                    break
                }
            }
        }
        return (rank, newId);
    }

    /// @dev pair_hash(a, b, salt) = ((a * 2654435761 + b * 2246822519 + salt) mod 2^32) >> 1 (text.py's trie mix).
    function _pairHash(int256 a, int256 b, int256 salt) internal pure returns (int256) {
        // Cannot overflow: |a|, |b| < 2^31 (int32 operands), 0 <= salt < 2^32 (_check), so |sum| < 2^65.
        unchecked {
            return ((a * HASH_NODE + b * HASH_CHAR + salt) & HASH_MASK) >> 1;
        }
    }

    // -------------------------------------------------------------------------------------------- merge

    /// @dev Slot t after one round: the word of t is [ws, we) between word-start slots; m is the least rank of its
    ///      pairs (consecutive symbols inside it); pairs of rank m are taken left to right unless they overlap the
    ///      last one taken. The operands' lengths are 5N, 10N and 2N (the ranges `range` gives, proven by the prover).
    function _merged(Int32View memory s, Int32View memory rk, Int32View memory p, uint256 t)
        internal
        pure
        returns (int256)
    {
        if (t >= s.len || rk.len != 2 * s.len || 5 * p.len != 2 * s.len) {
            revert OperandIndexOutOfRange(t, s.len);
        }
        (uint256 ws, uint256 we) = _wordOf(p, t, s.len / SLOTS);
        int256 m = _leastRank(s, rk, ws, we);
        if (m >= INF_RANK) return s.at(t);
        return _walk(s, rk, ws, we, t, m);
    }

    /// @dev [ws, we): the word-start slot at or before t (0 if none) and the next word-start slot after t (5N if
    ///      none). A position's two pretok flags are read as one 8-byte word.
    function _wordOf(Int32View memory p, uint256 t, uint256 n) internal pure returns (uint256 ws, uint256 we) {
        uint256 pb = p.base;
        // Safe: every index stays below 2N (t < 5N, so i < N), within the proven pretok operand.
        assembly ("memory-safe") {
            // flags of position i: (pretok[i, 0] == 1, pretok[i, 1] == 1)
            function flags(base, i) -> f0, f1 {
                let w := calldataload(add(base, mul(i, 8)))
                f0 := eq(shr(224, w), 1)
                f1 := eq(and(shr(192, w), 0xffffffff), 1)
            }
            let i := div(t, 5)
            let k := mod(t, 5)
            let f0, f1 := flags(pb, i)
            let found := 0
            if and(gt(k, 0), f1) {
                ws := add(mul(i, 5), 1)
                found := 1
            }
            if and(iszero(found), f0) {
                ws := mul(i, 5)
                found := 1
            }
            for { let j := i } and(iszero(found), gt(j, 0)) {} {
                j := sub(j, 1)
                f0, f1 := flags(pb, j)
                if f1 {
                    ws := add(mul(j, 5), 1)
                    found := 1
                }
                if and(iszero(found), f0) {
                    ws := mul(j, 5)
                    found := 1
                }
            }
            we := mul(n, 5)
            found := 0
            if and(iszero(k), f1) {
                we := add(t, 1)
                found := 1
            }
            for { let j := add(i, 1) } and(iszero(found), lt(j, n)) { j := add(j, 1) } {
                f0, f1 := flags(pb, j)
                if f0 {
                    we := mul(j, 5)
                    found := 1
                }
                if and(iszero(found), f1) {
                    we := add(mul(j, 5), 1)
                    found := 1
                }
            }
        }
    }

    /// @dev Least rank over the pairs of consecutive symbols in slots [ws, we) (INF if none).
    function _leastRank(Int32View memory s, Int32View memory rk, uint256 ws, uint256 we)
        internal
        pure
        returns (int256 m)
    {
        uint256 sb = s.base;
        uint256 rb = rk.base;
        m = INF_RANK;
        // Safe: a < we <= 5N = s.len and the rank index 2 * prev < 10N = rk.len.
        assembly ("memory-safe") {
            let prev := not(0)
            for { let a := ws } lt(a, we) { a := add(a, 1) } {
                if iszero(eq(shr(224, calldataload(add(sb, mul(a, 4)))), 0xffffffff)) {
                    if iszero(eq(prev, not(0))) {
                        let r := signextend(3, shr(224, calldataload(add(rb, mul(prev, 8)))))
                        if slt(r, m) { m := r }
                    }
                    prev := a
                }
            }
        }
    }

    /// @dev Slot t after the round that merges the rank-m pairs of [ws, we), leftmost first, non-overlapping.
    function _walk(Int32View memory s, Int32View memory rk, uint256 ws, uint256 we, uint256 t, int256 m)
        internal
        pure
        returns (int256 out)
    {
        uint256 sb = s.base;
        uint256 rb = rk.base;
        // Safe: as in _leastRank; t < 5N.
        assembly ("memory-safe") {
            out := signextend(3, shr(224, calldataload(add(sb, mul(t, 4)))))
            let prev := not(0)
            let previousRight := not(0)
            for { let a := ws } lt(a, we) { a := add(a, 1) } {
                if iszero(eq(shr(224, calldataload(add(sb, mul(a, 4)))), 0xffffffff)) {
                    if iszero(eq(prev, not(0))) {
                        if gt(prev, t) { break }
                        let w := calldataload(add(rb, mul(prev, 8)))
                        if and(eq(signextend(3, shr(224, w)), m), iszero(eq(prev, previousRight))) {
                            if eq(prev, t) {
                                out := signextend(3, and(shr(192, w), 0xffffffff))
                                break
                            }
                            if eq(a, t) {
                                out := sub(0, 1)
                                break
                            }
                            previousRight := a
                        }
                    }
                    prev := a
                }
            }
        }
    }

    /// @dev The first slot after `a` holding a symbol (!= -1), NONE if none. Scans calldata directly: BPE_MERGE
    ///      walks every slot of a word twice per element.
    function _next(Int32View memory v, uint256 a) internal pure returns (uint256 q) {
        uint256 n = v.len;
        uint256 base = v.base;
        q = a + 1;
        assembly ("memory-safe") {
            for {} lt(q, n) { q := add(q, 1) } {
                if iszero(eq(shr(224, calldataload(add(base, mul(q, 4)))), 0xffffffff)) { break }
            }
        }
        if (q >= n) return NONE;
    }

    // ---------------------------------------------------------------------------------------------- ids

    /// @dev Element t of frame[:nBefore] ++ pieces[:T - F] ++ frame[nBefore:] ++ [pad]...
    function _framed(NodeDesc calldata d, Int32View memory s, Int32View memory frame, uint256 t)
        internal
        pure
        returns (int256)
    {
        uint256 length = LibDescriptor.numelOf(d.out);
        if (t >= length) revert BadNode("element");
        uint256 nBefore = uint256(d.params[0]);
        if (t < nBefore) return frame.at(t);
        uint256 want = t - nBefore;
        uint256 room = length - frame.len;
        uint256 count;
        bool hit;
        int256 piece;
        uint256 sb = s.base;
        uint256 n = s.len;
        // Safe: q < s.len, within the proven symbols operand.
        assembly ("memory-safe") {
            for { let q := 0 } and(lt(q, n), lt(count, room)) { q := add(q, 1) } {
                let v := shr(224, calldataload(add(sb, mul(q, 4))))
                if iszero(eq(v, 0xffffffff)) {
                    if eq(count, want) {
                        piece := signextend(3, v)
                        hit := 1
                        break
                    }
                    count := add(count, 1)
                }
            }
        }
        if (hit) return piece;
        if (t < frame.len + count) return frame.at(t - count);
        return d.params[1];
    }

    // -------------------------------------------------------------------------------------------- checks

    /// @dev Reverts BadNode unless the node has this family's inputs, params and shapes; returns N (positions).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n) {
        if (d.op == BPE_SYMBOLS) {
            _expectInputs(d, 5, 5);
            if (
                d.params.length != 3 || (d.params[0] != 0 && d.params[0] != 1) || !_isInt32(d.params[1])
                    || d.params[2] < 0 || d.params[2] > MAX_CODE_POINT
            ) revert BadNode("params");
            if (LibDescriptor.numelOf(d.inputs[4]) != BYTE_TOKENS) revert BadNode("byte ids");
            return _positions(d.out);
        }
        if (d.op == PAIR_RANK) {
            _expectInputs(d, 3, 3);
            TensorDesc calldata merges = d.inputs[2];
            if (merges.shape.length != 2 || merges.shape[1] != MERGE_ROW || merges.shape[0] > MAX_MERGE_ROWS) {
                revert BadNode("merges shape");
            }
            if (
                d.params.length != 2 || d.params[0] < 1 || uint256(d.params[0]) > merges.shape[0]
                    || d.params[0] > int256(MAX_WINDOW) || d.params[1] < 0 || d.params[1] > HASH_MASK
            ) revert BadNode("params");
        } else if (d.op == BPE_MERGE) {
            _expectInputs(d, 3, 3);
            if (d.params.length != 0) revert BadNode("params");
        } else if (d.op == BPE_IDS) {
            _expectInputs(d, 1, 2);
            uint256 f = d.inputs.length == 2 ? LibDescriptor.numelOf(d.inputs[1]) : 0;
            if (d.inputs.length == 2 && (d.inputs[1].shape.length != 1 || f == 0 || f > MAX_FRAME)) {
                revert BadNode("frame");
            }
            if (
                d.params.length != 2 || d.params[0] < 0 || uint256(d.params[0]) > f || !_isInt32(d.params[1])
                    || LibDescriptor.numelOf(d.out) < f
            ) revert BadNode("params");
        } else {
            revert UnsupportedOp(d.op);
        }
        return _positions(d.inputs[0]);
    }

    /// @dev N of a symbols tensor [N, 5] with 1 <= N <= MAX_POSITIONS (the one-step gas cap).
    function _positions(TensorDesc calldata t) internal pure returns (uint256 n) {
        if (t.shape.length != 2 || t.shape[1] != SLOTS) revert BadNode("symbols shape");
        n = t.shape[0];
        // INVARIANT: N stays within the cap whose worst one-step proof fits 2,000,000 gas (bench_ops_gas).
        if (n == 0 || n > MAX_POSITIONS) revert BadNode("positions");
    }

    function _isInt32(int256 v) internal pure returns (bool) {
        return v >= type(int32).min && v <= type(int32).max;
    }
}
