// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title WordVocabOps
/// @notice WORD_VOCAB (BPE's ignore_merges, Llama-3) as a one-step check, mirroring offchain/engine/ops/wordvocab.py
///         (whose docstring is the spec): every word of at least two symbols whose keccak256 (symbols as int32
///         big-endian) sits in its probe window of the hashed vocabulary table becomes that token (at the word's
///         first symbol slot, the other slots -1); every other word is copied. Operands are int32, read in place.
contract WordVocabOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant WORD_VOCAB = 48;
    uint256 internal constant SLOTS = 5;
    uint256 internal constant VOCAB_ROW = 9;
    uint256 internal constant MAX_POSITIONS = 256;
    uint256 internal constant MAX_VOCAB_WINDOW = 64;
    uint256 internal constant MAX_VOCAB_ROWS = 1 << 24;
    int256 internal constant NO_SYMBOL = -1;
    int256 internal constant HASH_MASK = 0xFFFFFFFF;

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == WORD_VOCAB;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 3;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 n = _check(d);
        if (r == 0) return (0, 0, SLOTS * n);
        if (r == 1) return (1, 0, 2 * n);
        if (r != 2 || loaded.length != 2) revert BadNode("range index");
        return _windowRange(d, n, e, loaded);
    }

    /// @dev The probe window of element e's word (empty when the word holds fewer than two symbols).
    function _windowRange(NodeDesc calldata d, uint256 n, uint256 e, Operand[] calldata loaded)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        Int32View memory s = LibOperand.int32View(loaded[0]);
        Int32View memory p = LibOperand.int32View(loaded[1]);
        _lengths(s, p, n, e);
        (uint256 count, bytes32 h,) = _wordHash(s, p, e);
        if (count < 2) return (2, 0, 0);
        return (2, _home(d, h) * VOCAB_ROW, uint256(d.params[0]) * VOCAB_ROW);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        uint256 n = _check(d);
        Int32View memory s = LibOperand.int32View(operands[0]);
        Int32View memory p = LibOperand.int32View(operands[1]);
        Int32View memory w = LibOperand.int32View(operands[2]);
        _lengths(s, p, n, e);
        int256 own = s.at(e);
        (uint256 count, bytes32 h, uint256 first) = _wordHash(s, p, e);
        if (count < 2 || w.len == 0) return own;
        (bool found, int256 id) = _find(w, h);
        if (!found) return own;
        return e == first ? id : NO_SYMBOL;
    }

    /// @dev Reverts unless symbols and pretok hold 5N and 2N elements and e < 5N (the ranges `range` gives).
    function _lengths(Int32View memory s, Int32View memory p, uint256 n, uint256 e) internal pure {
        if (s.len != SLOTS * n || p.len != 2 * n || e >= s.len) revert OperandIndexOutOfRange(e, s.len);
    }

    /// @dev (symbols in t's word, keccak256 of them as int32 big-endian, the word's first symbol slot). The word is
    ///      [ws, we): the word-start slot at or before t (slot 0 always starts one; (i, 0) with pretok[i, 0] == 1 and
    ///      (i, 1) with pretok[i, 1] == 1 do) up to the next word-start slot after t (5N if none).
    function _wordHash(Int32View memory s, Int32View memory p, uint256 t)
        internal
        pure
        returns (uint256 count, bytes32 h, uint256 first)
    {
        uint256 size = s.len;
        uint256 pb = p.base;
        uint256 ws;
        uint256 we;
        // Safe: q < 5N, so 2 * (q / 5) + k < 2N, within the proven pretok operand (_lengths).
        assembly ("memory-safe") {
            function isStart(base, q) -> r {
                let k := mod(q, 5)
                if lt(k, 2) { r := eq(shr(224, calldataload(add(base, mul(add(mul(div(q, 5), 2), k), 4)))), 1) }
                if iszero(q) { r := 1 }
            }
            ws := t
            for {} iszero(isStart(pb, ws)) {} { ws := sub(ws, 1) }
            we := add(t, 1)
            for {} and(lt(we, size), iszero(isStart(pb, we))) {} { we := add(we, 1) }
        }
        uint256 base = s.base;
        first = we;
        assembly ("memory-safe") {
            // Scratch beyond the free memory pointer: the word's symbols packed 4 bytes each, ascending (each mstore
            // writes 32 bytes; the next one overwrites the 28 trailing ones).
            let ptr := mload(0x40)
            for { let q := ws } lt(q, we) { q := add(q, 1) } {
                let v := shr(224, calldataload(add(base, mul(q, 4))))
                if iszero(eq(v, 0xffffffff)) {
                    if iszero(count) { first := q }
                    mstore(add(ptr, mul(count, 4)), shl(224, v))
                    count := add(count, 1)
                }
            }
            h := keccak256(ptr, mul(count, 4))
        }
    }

    /// @dev First row of the key's probe window: (first 32 bits of h XOR salt) mod (M - W + 1).
    function _home(NodeDesc calldata d, bytes32 h) internal pure returns (uint256) {
        uint256 homes = d.inputs[2].shape[0] - uint256(d.params[0]) + 1;
        return ((uint256(h) >> 224) ^ uint256(d.params[1])) % homes;
    }

    /// @dev The token id of the first window row whose 8 key words (32 bytes) equal h.
    function _find(Int32View memory w, bytes32 h) internal pure returns (bool found, int256 id) {
        uint256 wb = w.base;
        uint256 rows = w.len / VOCAB_ROW;
        // Safe: row < len / 9, within the proven window.
        assembly ("memory-safe") {
            for { let row := 0 } lt(row, rows) { row := add(row, 1) } {
                let at := add(wb, mul(row, 36))
                if eq(calldataload(at), h) {
                    found := 1
                    id := signextend(3, shr(224, calldataload(add(at, 32))))
                    break
                }
            }
        }
    }

    /// @dev Reverts BadNode unless the node has WORD_VOCAB's inputs, params and shapes; returns N (positions).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n) {
        if (d.op != WORD_VOCAB) revert UnsupportedOp(d.op);
        _expectInputs(d, 3, 3);
        TensorDesc calldata sym = d.inputs[0];
        if (sym.shape.length != 2 || sym.shape[1] != SLOTS) revert BadNode("symbols shape");
        n = sym.shape[0];
        // INVARIANT: N stays within the cap whose worst one-step proof fits 2,000,000 gas (bench_ops_gas).
        if (n == 0 || n > MAX_POSITIONS) revert BadNode("positions");
        // INVARIANT: the output is [N, 5] like the symbols, and pretok is [N, 2].
        if (d.out.shape.length != 2 || d.out.shape[0] != n || d.out.shape[1] != SLOTS) revert BadNode("output shape");
        TensorDesc calldata pre = d.inputs[1];
        if (pre.shape.length != 2 || pre.shape[0] != n || pre.shape[1] != 2) revert BadNode("pretok shape");
        TensorDesc calldata table = d.inputs[2];
        // INVARIANT: the table is [M, 9] with M <= MAX_VOCAB_ROWS.
        if (table.shape.length != 2 || table.shape[1] != VOCAB_ROW || table.shape[0] > MAX_VOCAB_ROWS) {
            revert BadNode("table shape");
        }
        // INVARIANT: 1 <= W <= min(M, MAX_VOCAB_WINDOW) and 0 <= salt < 2^32.
        if (
            d.params.length != 2 || d.params[0] < 1 || uint256(d.params[0]) > table.shape[0]
                || d.params[0] > int256(MAX_VOCAB_WINDOW) || d.params[1] < 0 || d.params[1] > HASH_MASK
        ) revert BadNode("params");
    }
}
