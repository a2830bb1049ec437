// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title AddedOps
/// @notice The tokenizer graph's added-token matching for many added tokens (issue 14), mirroring
///         offchain/engine/ops/added.py (whose docstring is the spec). ADDED_MATCH (57): for each char, the
///         (id, end) of the longest added token starting there, found by one hashed probe window per distinct
///         token length (rows: keccak256 of the token's code points as int32 big-endian in 8 words, then its id:
///         WORD_VOCAB's layout), or copied from prev (an earlier node of a chain over longer lengths);
///         ADDED_RESOLVE (58): the leftmost-longest non-overlapping matches of those candidates in ADDED_TOKENS'
///         format. Operands are int32, read in place; every input has one result.
contract AddedOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant ADDED_MATCH = 57;
    uint256 internal constant ADDED_RESOLVE = 58;
    uint256 internal constant ROW = 9;
    uint256 internal constant MAX_CHARS = 256;
    uint256 internal constant MAX_WINDOW = 8;
    uint256 internal constant MAX_ROWS = 1 << 16;
    uint256 internal constant MAX_LENGTHS = 12;
    int256 internal constant MAX_TOKEN_CHARS = 64;
    int256 internal constant NONE = -1;
    int256 internal constant COVERED = -2;
    int256 internal constant HASH_MASK = 0xFFFFFFFF;

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == ADDED_MATCH;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.op == ADDED_MATCH ? d.params.length - 1 + _prev(d) : 2;
    }

    /// @dev 1 when an ADDED_MATCH node reads prev (a third input), else 0.
    function _prev(NodeDesc calldata d) internal pure returns (uint256) {
        return d.inputs.length - 2;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        uint256 n = _check(d);
        if (d.op == ADDED_RESOLVE) {
            if (e >= n || r >= 2) revert BadNode("range index");
            return r == 0 ? (0, 0, 2 * n) : (1, 0, n);
        }
        uint256 hasPrev = _prev(d);
        if (e >= 2 * n || r >= d.params.length - 1 + hasPrev) revert BadNode("range index");
        if (r == 0) return (0, 0, n);
        if (hasPrev == 1 && r == 1) return (2, e - e % 2, 2);
        if (loaded.length != r) revert BadNode("loaded ranges");
        if (hasPrev == 1) {
            Int32View memory pv = LibOperand.int32View(loaded[1]);
            if (pv.len != 2) revert OperandIndexOutOfRange(2, pv.len);
            if (pv.at(0) >= 0) return (1, 0, 0);
        }
        return _windowRange(d, n, e / 2, uint256(d.params[r + 1 - hasPrev]), loaded[0]);
    }

    /// @dev The probe window of the `length` chars of the text from position i (empty when chars[i] < 0 or fewer
    ///      chars remain).
    function _windowRange(NodeDesc calldata d, uint256 n, uint256 i, uint256 length, Operand calldata chars)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        Int32View memory c = LibOperand.int32View(chars);
        if (c.len != n) revert OperandIndexOutOfRange(n, c.len);
        (uint256 got, uint256 buf,) = _gather(c, i, length);
        if (got < length) return (1, 0, 0);
        bytes32 h;
        // Safe: hashes the `length` packed chars _gather wrote at buf.
        assembly ("memory-safe") {
            h := keccak256(buf, mul(length, 4))
        }
        return (1, _home(d, h) * ROW, uint256(d.params[0]) * ROW);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        uint256 n = _check(d);
        if (d.op == ADDED_RESOLVE) {
            if (e >= n) revert BadNode("element");
            if (operands.length != 2) revert BadNode("operand count");
            return _resolve(LibOperand.int32View(operands[0]), LibOperand.int32View(operands[1]), n, e);
        }
        if (e >= 2 * n) revert BadNode("element");
        uint256 first = 1 + _prev(d);
        if (operands.length != d.params.length - 2 + first) revert BadNode("operand count");
        if (first == 2) {
            Int32View memory pv = LibOperand.int32View(operands[1]);
            if (pv.len != 2) revert OperandIndexOutOfRange(2, pv.len);
            if (pv.at(0) >= 0) return pv.at(e % 2);
        }
        Int32View memory c = LibOperand.int32View(operands[0]);
        if (c.len != n) revert OperandIndexOutOfRange(n, c.len);
        (uint256 got, uint256 buf, uint256 posAt) = _gather(c, e / 2, uint256(d.params[2]) + 1);
        if (got == 0) return NONE;
        for (uint256 r = first; r < operands.length; ++r) {
            uint256 length = uint256(d.params[r + 2 - first]);
            Int32View memory w = LibOperand.int32View(operands[r]);
            if (length > got || w.len == 0) continue;
            bytes32 h;
            // Safe: hashes the first `length` packed chars at buf (got >= length).
            assembly ("memory-safe") {
                h := keccak256(buf, mul(length, 4))
            }
            (bool found, int256 id) = _find(w, h);
            if (found && id >= 0) {
                if (e % 2 == 0) return id;
                if (length == got) return int256(n);
                uint256 endPos;
                // Safe: posAt holds `got` > length positions, one word each.
                assembly ("memory-safe") {
                    endPos := mload(add(posAt, mul(length, 32)))
                }
                return int256(endPos);
            }
        }
        return NONE;
    }

    /// @dev Collects up to `want` chars of the text (values >= 0) starting at position i, none when chars[i] < 0:
    ///      their values packed 4 bytes big-endian at `buf` and their positions one word each at `posAt` (memory
    ///      this call allocates: the free memory pointer moves past both).
    function _gather(Int32View memory c, uint256 i, uint256 want)
        internal
        pure
        returns (uint256 got, uint256 buf, uint256 posAt)
    {
        uint256 base = c.base;
        uint256 n = c.len;
        // Safe: reads positions < n of the proven chars operand; writes only the memory it allocates (posAt leaves
        // want * 4 + 32 bytes for buf, so the trailing bytes of buf's last mstore stay below posAt).
        assembly ("memory-safe") {
            buf := mload(0x40)
            posAt := add(buf, add(mul(want, 4), 32))
            mstore(0x40, add(posAt, mul(want, 32)))
            if lt(i, n) {
                if iszero(shr(255, calldataload(add(base, mul(i, 4))))) {
                    for { let q := i } and(lt(q, n), lt(got, want)) { q := add(q, 1) } {
                        let word := calldataload(add(base, mul(q, 4)))
                        if iszero(shr(255, word)) {
                            mstore(add(buf, mul(got, 4)), and(word, shl(224, 0xffffffff)))
                            mstore(add(posAt, mul(got, 32)), q)
                            got := add(got, 1)
                        }
                    }
                }
            }
        }
    }

    /// @dev First row of the key's probe window: (first 32 bits of h XOR salt) mod (H - W + 1).
    function _home(NodeDesc calldata d, bytes32 h) internal pure returns (uint256) {
        uint256 homes = d.inputs[1].shape[0] - uint256(d.params[0]) + 1;
        return ((uint256(h) >> 224) ^ uint256(d.params[1])) % homes;
    }

    /// @dev The id of the first window row whose 8 key words (32 bytes) equal h.
    function _find(Int32View memory w, bytes32 h) internal pure returns (bool found, int256 id) {
        uint256 wb = w.base;
        uint256 rows = w.len / ROW;
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

    /// @dev ADDED_RESOLVE element q: the scan from position 0 takes a candidate at p when chars[p] >= 0,
    ///      id >= 0 and p < end <= N, then continues at end; it stops once it reaches q.
    function _resolve(Int32View memory cand, Int32View memory c, uint256 n, uint256 q) internal pure returns (int256) {
        if (cand.len != 2 * n || c.len != n) revert OperandIndexOutOfRange(2 * n, cand.len);
        uint256 p;
        while (p <= q) {
            int256 id = cand.at(2 * p);
            int256 end = cand.at(2 * p + 1);
            if (c.at(p) >= 0 && id >= 0 && end > int256(p) && end <= int256(n)) {
                if (p == q) return id;
                if (int256(q) < end) return c.at(q) >= 0 ? COVERED : NONE;
                p = uint256(end);
            } else {
                ++p;
            }
        }
        return NONE;
    }

    /// @dev Reverts BadNode unless the node is ADDED_MATCH or ADDED_RESOLVE with its inputs, params and shapes
    ///      (all int32); returns N.
    function _check(NodeDesc calldata d) internal pure returns (uint256 n) {
        if (d.op != ADDED_MATCH && d.op != ADDED_RESOLVE) revert UnsupportedOp(d.op);
        _expectInputs(d, 2, d.op == ADDED_MATCH ? 3 : 2);
        TensorDesc calldata chars = d.inputs[d.op == ADDED_MATCH ? 0 : 1];
        TensorDesc calldata other = d.inputs[d.op == ADDED_MATCH ? 1 : 0];
        // INVARIANT: every operand and the output are int32 with frac 0.
        if (
            chars.width != 4 || other.width != 4 || d.out.width != 4 || chars.frac != 0 || other.frac != 0
                || d.out.frac != 0
        ) revert BadNode("dtype");
        if (chars.shape.length != 1) revert BadNode("chars shape");
        n = chars.shape[0];
        // INVARIANT: N stays within the cap whose worst one-step proof fits 2,000,000 gas (bench_ops_gas).
        if (n == 0 || n > MAX_CHARS) revert BadNode("positions");
        if (d.op == ADDED_RESOLVE) {
            // INVARIANT: ADDED_RESOLVE takes no params, cand is [N, 2] and the output [N].
            if (d.params.length != 0) revert BadNode("params");
            if (other.shape.length != 2 || other.shape[0] != n || other.shape[1] != 2) revert BadNode("cand shape");
            if (d.out.shape.length != 1 || d.out.shape[0] != n) revert BadNode("output shape");
            return n;
        }
        // INVARIANT: the output is [N, 2] (id, end).
        if (d.out.shape.length != 2 || d.out.shape[0] != n || d.out.shape[1] != 2) revert BadNode("output shape");
        // INVARIANT: the table is [H, 9] with H <= MAX_ROWS.
        if (other.shape.length != 2 || other.shape[1] != ROW || other.shape[0] > MAX_ROWS) {
            revert BadNode("table shape");
        }
        _checkParams(d.params, other.shape[0]);
        if (d.inputs.length == 3) {
            TensorDesc calldata prev = d.inputs[2];
            // INVARIANT: prev (an earlier ADDED_MATCH's output) is int32 [N, 2] like the output.
            if (prev.width != 4 || prev.frac != 0 || prev.shape.length != 2 || prev.shape[0] != n || prev.shape[1] != 2)
            {
                revert BadNode("prev shape");
            }
        }
    }

    /// @dev Reverts BadNode("params") unless params = (W, salt, l_1 > .. > l_D) with 1 <= W <= min(H, MAX_WINDOW),
    ///      0 <= salt < 2^32, 1 <= D <= MAX_LENGTHS and every l in [1, MAX_TOKEN_CHARS].
    function _checkParams(int256[] calldata p, uint256 rows) internal pure {
        // INVARIANT: 1 <= W <= min(H, MAX_WINDOW), salt a uint32 and 1 <= D <= MAX_LENGTHS.
        if (
            p.length < 3 || p.length > MAX_LENGTHS + 2 || p[0] < 1 || uint256(p[0]) > rows
                || p[0] > int256(MAX_WINDOW) || p[1] < 0 || p[1] > HASH_MASK
        ) revert BadNode("params");
        int256 prev = MAX_TOKEN_CHARS + 1;
        for (uint256 k = 2; k < p.length; ++k) {
            // INVARIANT: the lengths strictly decrease from at most MAX_TOKEN_CHARS to at least 1.
            if (p[k] < 1 || p[k] >= prev) revert BadNode("params");
            prev = p[k];
        }
    }
}
