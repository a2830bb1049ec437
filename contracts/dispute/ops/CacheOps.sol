// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {LibDescriptor, NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title CacheOps
/// @notice The text-generation graph's KV-cache ops, mirroring offchain/engine/ops/cache.py (whose docstring is the
///         spec): CAT_MATMUL (MATMUL of a by the concatenation of blocks b_1 .. b_m along N (axis 0) or K (axis 1),
///         without copying them: the decode steps' keys and values), ATTN_BIAS (the causal + left-padding mask
///         `neg if j > q or j < lead else 0`, lead = the leading pads of the right-aligned ids) and ALIGN_END (the
///         ids' trailing pads moved to the front). Total: every operand value has exactly one result.
contract CacheOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant CAT_MATMUL = 49;
    uint256 internal constant ATTN_BIAS = 50;
    uint256 internal constant ALIGN_END = 51;
    int256 internal constant INT32_MIN = type(int32).min;
    int256 internal constant INT32_MAX = type(int32).max;

    /// @dev CAT_MATMUL's axis param is neither 0 (blocks concatenated along N) nor 1 (along K).
    error CatAxisOutOfRange(int256 axis);
    /// @dev The blocks' rows (axis 0) or columns (axis 1) do not add up to the output's N / a's K.
    error CatBlocksMismatch(uint256 blocksTotal, uint256 expected);
    /// @dev ATTN_BIAS params outside `0 <= q0 < 2^31`, `nq >= 1`, `g >= 1`.
    error BiasQueryOutOfRange(int256 q0, int256 nq, int256 g);
    /// @dev ATTN_BIAS's masked value does not fit the output's `width`-byte dtype.
    error BiasValueOutOfRange(int256 neg, uint256 width);
    /// @dev A pad id outside int32 (no token id could equal it).
    error PadIdOutOfRange(int256 padId);

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        if (d.op == CAT_MATMUL) return d.params[0] == 0 ? 2 : d.inputs.length;
        return 1;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (d.op == ATTN_BIAS) {
            if (r != 0) revert BadNode("range index");
            uint256 l = _dim(d.inputs[0], 0);
            uint256 nk = _dim(d.out, 0);
            return (0, 0, l < nk ? l : nk);
        }
        if (d.op == ALIGN_END) {
            if (r != 0) revert BadNode("range index");
            return (0, 0, LibDescriptor.numelOf(d.inputs[0]));
        }
        return _catRange(d, e, r);
    }

    /// @dev CAT_MATMUL's ranges of element (batch, row, col): a's row; then (axis 0) the row of the block holding
    ///      column col, or (axis 1) b_i[batch, col, 0:K_i] for each block i.
    function _catRange(NodeDesc calldata d, uint256 e, uint256 r) internal pure returns (uint256, uint256, uint256) {
        uint256 m = _dim(d.inputs[0], 1);
        uint256 k = _dim(d.inputs[0], 0);
        uint256 n = _dim(d.out, 0);
        uint256 batch = e / (m * n);
        uint256 col = e % n;
        if (r == 0) return (0, (batch * m + (e % (m * n)) / n) * k, k);
        if (d.params[0] == 1) {
            if (r >= d.inputs.length) revert BadNode("range index");
            uint256 ki = _dim(d.inputs[r], 0);
            return (r, (batch * n + col) * ki, ki);
        }
        if (r != 1) revert BadNode("range index");
        uint256 off;
        for (uint256 i = 1; i < d.inputs.length; ++i) {
            uint256 rows = _dim(d.inputs[i], 1);
            if (col < off + rows) return (i, (batch * rows + col - off) * k, k);
            off += rows;
        }
        revert CatBlocksMismatch(off, n);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (d.op == CAT_MATMUL) return _catElement(d, operands);
        if (d.op == ATTN_BIAS) return _biasElement(d, operands[0], e);
        return _alignElement(d.params[0], operands[0], e);
    }

    /// @dev sum_k a[row, k] * concat(b)[col, k], rescaled as MATMUL: axis 0 reads one block row of K; axis 1 reads
    ///      a's whole row of K' and one run of K_i per block, which multiplies a's K_i elements after the earlier
    ///      blocks' (views into a's one memory copy, no second copy per block).
    function _catElement(NodeDesc calldata d, Operand[] calldata operands) internal pure returns (int256 acc) {
        Operand memory a = _m(operands[0]);
        if (d.params[0] == 0) {
            acc = a.dot(_m(operands[1]));
        } else {
            uint256 off;
            for (uint256 i = 1; i < operands.length; ++i) {
                Operand memory b = _m(operands[i]);
                if (off + b.len > a.len) revert CatBlocksMismatch(off + b.len, a.len);
                Operand memory part = Operand(a.data, a.skip + off, a.width, b.len);
                acc += part.dot(b);
                off += b.len;
            }
            // INVARIANT: The blocks' runs cover a's row exactly (sum K_i == K').
            if (off != a.len) revert CatBlocksMismatch(off, a.len);
        }
        return LibFixed.rescale(acc, _productShift(d, 0, 1), d.out.width);
    }

    /// @dev neg if key j is after query q = q0 + (r mod nq), or is one of the leading pads of ids[0 : min(L, nk)];
    ///      else 0. j < lead exactly when j < len and ids[0..j] all equal pad_id, so the scan stops at j.
    function _biasElement(NodeDesc calldata d, Operand calldata ids, uint256 e) internal pure returns (int256) {
        uint256 nk = _dim(d.out, 0);
        uint256 j = e % nk;
        uint256 q = uint256(d.params[2]) + (e / nk) % uint256(d.params[3]);
        int256 neg = d.params[1];
        if (j > q) return neg;
        Int32View memory v = LibOperand.int32View(ids);
        if (j >= v.len) return 0;
        int256 pad = d.params[0];
        uint256 base = v.base;
        bool allPads = true;
        // Safe: i <= j < v.len, and int32View checked that the operand's bytes hold v.len int32s from v.base; each id
        // is sign-extended, so `eq` with the int32 pad id (checked in _check) is Python's `==`.
        assembly ("memory-safe") {
            for { let i := 0 } iszero(gt(i, j)) { i := add(i, 1) } {
                if iszero(eq(signextend(3, shr(224, calldataload(add(base, shl(2, i))))), pad)) {
                    allPads := false
                    break
                }
            }
        }
        return allPads ? neg : int256(0);
    }

    /// @dev pad_id for e < s, else ids[e - s], with s the number of trailing pads of ids.
    function _alignElement(int256 pad, Operand calldata ids, uint256 e) internal pure returns (int256) {
        Int32View memory v = LibOperand.int32View(ids);
        uint256 n = v.len;
        if (e >= n) revert BadNode("element");
        uint256 base = v.base;
        uint256 s;
        // Safe: the index n - 1 - s stays in [0, n) while s < n, inside the ids int32View checked; ids are
        // sign-extended before `eq` with the int32 pad id.
        assembly ("memory-safe") {
            for {} lt(s, n) { s := add(s, 1) } {
                if iszero(eq(signextend(3, shr(224, calldataload(add(base, shl(2, sub(sub(n, 1), s)))))), pad)) {
                    break
                }
            }
        }
        return e < s ? pad : LibOperand.at(v, e - s);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op == CAT_MATMUL) {
            _expectInputs(d, 2, type(uint256).max);
            if (d.params.length != 1) revert BadNode("params");
            int256 axis = d.params[0];
            // INVARIANT: The axis is one the Python op defines (0: blocks along N, 1: blocks along K).
            if (axis != 0 && axis != 1) revert CatAxisOutOfRange(axis);
            uint256 total;
            for (uint256 i = 1; i < d.inputs.length; ++i) {
                total += _dim(d.inputs[i], axis == 0 ? 1 : 0);
            }
            uint256 expected = axis == 0 ? _dim(d.out, 0) : _dim(d.inputs[0], 0);
            // INVARIANT: The blocks tile the concatenated operand (rows sum to N / columns sum to K').
            if (total != expected) revert CatBlocksMismatch(total, expected);
        } else if (d.op == ATTN_BIAS) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 5) revert BadNode("params");
            _checkPad(d.params[0]);
            (int256 lo, int256 hi) = LibFixed.bounds(d.out.width);
            // INVARIANT: The masked value is a value of the output dtype (Python's check refuses other graphs).
            if (d.params[1] < lo || d.params[1] > hi) revert BiasValueOutOfRange(d.params[1], d.out.width);
            // INVARIANT: Query positions are non-negative int32s and the row count g * nq is positive.
            if (d.params[2] < 0 || d.params[2] > INT32_MAX || d.params[3] < 1 || d.params[4] < 1) {
                revert BiasQueryOutOfRange(d.params[2], d.params[3], d.params[4]);
            }
        } else if (d.op == ALIGN_END) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 1) revert BadNode("params");
            _checkPad(d.params[0]);
        } else {
            revert UnsupportedOp(d.op);
        }
    }

    function _checkPad(int256 pad) internal pure {
        // INVARIANT: The pad id is an int32, so comparing it with the sign-extended ids is Python's `==`.
        if (pad < INT32_MIN || pad > INT32_MAX) revert PadIdOutOfRange(pad);
    }
}
