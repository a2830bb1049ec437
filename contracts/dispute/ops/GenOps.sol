// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {LibDescriptor, NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title GenOps
/// @notice The disputable generation step, mirroring offchain/engine/ops/sample.py (whose docstring is the spec):
///         GEN_PARAMS (the request's max_new, temperature, top_k and seed from its 16 parameter bytes), TOPK (the
///         k largest (value, index) entries of a block of logits, mode 0, or of a group of TOPK rows, mode 1),
///         PRNG (keccak256(uint32 seed, uint32 step)'s first 31 bits), SAMPLE (temperature + top-k sampling with
///         SOFTMAX's integer exp; greedy at temperature 0) and GEN_STOP (-1 after an EOS or past max_new).
///         Total on every int value of the operands: values no honest producer emits still have one result.
contract GenOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant GEN_PARAMS = 52;
    uint256 internal constant TOPK = 53;
    uint256 internal constant PRNG = 54;
    uint256 internal constant SAMPLE = 55;
    uint256 internal constant GEN_STOP = 56;

    /// sample.py's caps: PARAM_BYTES, MAX_NEW_TOKENS, MAX_K, TOPK's gas model (TOPK_*), MAX_FRAC_LOGITS, MAX_EOS.
    uint256 internal constant PARAM_BYTES = 16;
    int256 internal constant MAX_NEW_TOKENS = 255;
    int256 internal constant MAX_K = 256;
    uint256 internal constant TOPK_FIXED_GAS = 100_000;
    uint256 internal constant TOPK_ENTRY_GAS = 400;
    uint256 internal constant TOPK_MERGE_ENTRY_GAS = 200;
    uint256 internal constant TOPK_PROBE_GAS = 105;
    uint256 internal constant TOPK_SLOT_GAS = 3;
    uint256 internal constant TOPK_STEP_GAS_BUDGET = 1_700_000;
    int256 internal constant MAX_FRAC_LOGITS = 32;
    uint256 internal constant MAX_EOS = 4;
    /// Frac bits of SAMPLE's scaled distance (sample.py EXP_FRAC).
    uint256 internal constant EXP_FRAC = 16;
    int256 internal constant INT32_MIN = type(int32).min;
    int256 internal constant INT32_MAX = type(int32).max;
    int256 internal constant PAD_INDEX = -1;
    uint256 internal constant LOW32 = 0xffffffff;

    /// @dev GEN_PARAMS' model limits: N must be 1 .. 255 and K 1 .. MAX_K.
    error ModelLimitsOutOfRange(int256 maxNewTokens, int256 topK);
    /// @dev TOPK's mode is neither 0 (blocks) nor 1 (merge).
    error TopKModeOutOfRange(int256 mode);
    /// @dev A top-k size (TOPK's k, SAMPLE's K) outside 1 .. MAX_K.
    error TopKSizeOutOfRange(int256 k, int256 maxK);
    /// @dev TOPK's block / group is below 1.
    error TopKWidthOutOfRange(int256 width);
    /// @dev TOPK's step over `entries` entries at top-k size k has a modelled gas above TOPK_STEP_GAS_BUDGET.
    error TopKScanTooLarge(uint256 entries, uint256 k, uint256 modelGas, uint256 budget);
    /// @dev SAMPLE's logit frac bits outside 0 .. MAX_FRAC_LOGITS.
    error FracLogitsOutOfRange(int256 fracLogits);
    /// @dev A step (PRNG, GEN_STOP) outside 0 .. 2^31 - 1.
    error StepOutOfRange(int256 step);
    /// @dev GEN_STOP has more than MAX_EOS EOS ids.
    error EosCountOutOfRange(uint256 count);
    /// @dev A GEN_STOP EOS id is not an int32.
    error EosIdOutOfRange(int256 eos);

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        if (d.op == SAMPLE) return 3;
        if (d.op == GEN_STOP) return d.params[0] > 0 ? 3 : 2;
        return 1;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        if (d.op == GEN_PARAMS) {
            if (r != 0) revert BadNode("range index");
            return (0, 0, PARAM_BYTES);
        }
        if (d.op == TOPK) {
            if (r != 0) revert BadNode("range index");
            return _topkWindow(d, e / (2 * uint256(d.params[1])));
        }
        if (d.op == PRNG) {
            if (r != 0) revert BadNode("range index");
            return (0, 3, 1);
        }
        if (d.op == SAMPLE) {
            if (r == 0) return (0, 0, LibDescriptor.numelOf(d.inputs[0]));
            if (r == 1) return (1, 0, 4);
            if (r == 2) return (2, 0, 1);
            revert BadNode("range index");
        }
        // GEN_STOP: tok, max_new (params4[0]), prev.
        if (r > (d.params[0] > 0 ? 2 : 1)) revert BadNode("range index");
        return (r, 0, 1);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        if (d.op == GEN_PARAMS) return _genParams(d, _m(operands[0]), e);
        if (d.op == TOPK) return _topk(d, operands[0], e);
        if (d.op == PRNG) return int256(uint256(prngWord(_m(operands[0]).at(0), uint256(d.params[0]))));
        if (d.op == SAMPLE) {
            return _sample(
                LibOperand.int32View(operands[0]), _m(operands[1]), _m(operands[2]).at(0), uint256(d.params[0])
            );
        }
        return _stop(d, operands);
    }

    /// @notice PRNG's word: the first 4 bytes of keccak256(abi.encodePacked(uint32(seed), uint32(step))),
    ///         big-endian, with the top bit cleared.
    function prngWord(int256 seed, uint256 step) public pure returns (uint32) {
        bytes32 h = keccak256(abi.encodePacked(uint32(uint256(seed)), uint32(step)));
        return uint32(bytes4(h)) & 0x7fffffff;
    }

    // ------------------------------------------------------------------------------------------------ elements

    /// @dev (max_new, temperature, top_k, seed)[e] from the 16 raw int8 bytes (byte = q & 0xFF).
    function _genParams(NodeDesc calldata d, Operand memory raw, uint256 e) internal pure returns (int256) {
        if (e == 0) {
            int256 p0 = raw.at(0) & 0xFF;
            return p0 == 0 ? d.params[0] : _min(p0, d.params[0]);
        }
        if (e == 1) return _byte(raw, 1) << 8 | _byte(raw, 2);
        if (e == 2) {
            int256 t = _byte(raw, 3) << 8 | _byte(raw, 4);
            return t == 0 ? d.params[1] : _min(t, d.params[1]);
        }
        uint256 seed = uint256(_byte(raw, 5) << 24 | _byte(raw, 6) << 16 | _byte(raw, 7) << 8 | _byte(raw, 8));
        return int256(int32(uint32(seed)));
    }

    /// @dev Entry (i, f) of TOPK row r: one pass over the window keeping its i + 1 largest keys (_kthLargestKey);
    ///      the smallest of them at the end is the (i + 1)-th largest key, entry i. Keys are unique and order entries
    ///      as sample.py's topk_order (a larger key comes first); key 0 marks "none" (mode 1's index -1 entries, and
    ///      the kept array's initial slots), so a result of 0 means fewer than i + 1 real entries: entry i is
    ///      PAD = (INT32_MIN, -1).
    ///      mode 0: key = (v + 2^31) << 32 | (2^32 - 1 - j), j the position in the block (>= 1: j < 2^32 - 1).
    ///      mode 1: key = 1 << 128 | (v + 2^31) << 96 | (2^32 - 1 - (idx + 2^31)) << 32 | (2^32 - 1 - pos).
    function _topk(NodeDesc calldata d, Operand calldata o, uint256 e) internal pure returns (int256) {
        uint256 k = uint256(d.params[1]);
        bool merge = d.params[0] == 1;
        if (o.width != d.inputs[0].width) revert BadWidth(o.width);
        bytes calldata data = o.data;
        if ((o.skip + o.len) * o.width > data.length) revert OperandIndexOutOfRange(o.skip + o.len, data.length);
        uint256 src;
        assembly ("memory-safe") {
            src := data.offset
        }
        uint256 best = _kthLargestKey(src + o.skip * o.width, o.width, merge ? o.len / 2 : o.len, merge, (e / 2) % k + 1);
        if (best == 0) return e % 2 == 0 ? INT32_MIN : PAD_INDEX;
        if (!merge) {
            if (e % 2 == 0) return int256(best >> 32) + INT32_MIN;
            return int256(e / (2 * k) * uint256(d.params[2]) + (LOW32 - (best & LOW32)));
        }
        if (e % 2 == 0) return int256((best >> 96) & LOW32) + INT32_MIN;
        return int256(LOW32 - ((best >> 32) & LOW32)) + INT32_MIN;
    }

    /// @dev The m-th largest key of the n entries at calldata address `src` (element width w; mode 1 reads int32
    ///      (value, index) pairs), 0 if fewer than m keys are > 0. An ascending array a[0..m) (all 0 at first) holds
    ///      the m largest keys seen, a[0] the smallest of them: a key above a[0] finds by binary search the number p
    ///      of entries below it, the entries a[1..p) move down one slot (one MCOPY, which drops a[0]) and the key
    ///      takes slot p - 1; any other key costs one comparison. An insertion costs ~log2(m) probes and a copy of
    ///      <= m words: 0.89 M gas for 1,024 ascending keys at m = 40, where a binary min-heap's sift-down took
    ///      1.05 M and i + 1 selection passes 4.1 M (measured). In assembly, the insertion written out in both
    ///      loops: as a Yul function it cost ~100 gas more per insertion. The loop runs up to ~4,000 times per step.
    function _kthLargestKey(uint256 src, uint256 w, uint256 n, bool merge, uint256 m)
        internal
        pure
        returns (uint256 low)
    {
        uint256[] memory top = new uint256[](m);
        assembly ("memory-safe") {
            let a := add(top, 0x20)
            // Safe without overflow checks: v + 2^31 and the complemented fields are < 2^32, j < n < 2^32 (the gas
            // model bounds n); lo - 1 >= 0 and slot - a <= 32 (m - 1) inside the array.
            switch merge
            case 0 {
                let shift := sub(256, shl(3, w))
                let ext := sub(w, 1)
                let p := src
                for { let j := 0 } lt(j, n) { j := add(j, 1) } {
                    let key := or(shl(32, add(signextend(ext, shr(shift, calldataload(p))), 0x80000000)), sub(0xffffffff, j))
                    p := add(p, w)
                    if gt(key, low) {
                        // Binary search for p: a[0..p) < key <= a[p..m) (keys unique, a[0] < key), then drop a[0].
                        let lo := 1
                        for { let hi := m } lt(lo, hi) {} {
                            let mid := shr(1, add(lo, hi))
                            if lt(mload(add(a, shl(5, mid))), key) {
                                lo := add(mid, 1)
                                continue
                            }
                            hi := mid
                        }
                        let slot := add(a, shl(5, sub(lo, 1)))
                        mcopy(a, add(a, 0x20), sub(slot, a))
                        mstore(slot, key)
                        low := mload(a)
                    }
                }
            }
            default {
                let p := src
                for { let j := 0 } lt(j, n) { j := add(j, 1) } {
                    let word := calldataload(p)
                    p := add(p, 8)
                    let idx := and(shr(192, word), 0xffffffff)
                    // Real iff idx != 0xffffffff (-1); v and idx biased by 2^31 = flipping their sign bits.
                    let key := mul(
                        or(
                            or(shl(128, 1), shl(96, xor(shr(224, word), 0x80000000))),
                            or(shl(32, sub(0xffffffff, xor(idx, 0x80000000))), sub(0xffffffff, j))
                        ),
                        iszero(eq(idx, 0xffffffff))
                    )
                    if gt(key, low) {
                        // Binary search for p: a[0..p) < key <= a[p..m) (keys unique, a[0] < key), then drop a[0].
                        let lo := 1
                        for { let hi := m } lt(lo, hi) {} {
                            let mid := shr(1, add(lo, hi))
                            if lt(mload(add(a, shl(5, mid))), key) {
                                lo := add(mid, 1)
                                continue
                            }
                            hi := mid
                        }
                        let slot := add(a, shl(5, sub(lo, 1)))
                        mcopy(a, add(a, 0x20), sub(slot, a))
                        mstore(slot, key)
                        low := mload(a)
                    }
                }
            }
        }
    }

    /// @dev SAMPLE's token (sample.py sample_token): greedy unless t > 0 and kk >= 2, else the first j whose
    ///      running weight sum exceeds u = ((rnd mod 2^31) * total) >> 31.
    function _sample(Int32View memory cand, Operand memory params4, int256 rnd, uint256 fracLogits)
        internal
        pure
        returns (int256)
    {
        uint256 k = cand.len / 2;
        int256 temperature = params4.at(1);
        int256 kk = params4.at(2);
        uint256 real;
        for (uint256 j; j < k; ++j) {
            if (LibOperand.at(cand, 2 * j + 1) != PAD_INDEX) ++real;
        }
        if (int256(real) < kk) kk = int256(real);
        if (temperature <= 0 || kk <= 1) return LibOperand.at(cand, 1);
        (int256[] memory weights, int256 total) = _weights(cand, uint256(kk), temperature, fracLogits);
        int256 u = (int256(uint256(rnd) & 0x7fffffff) * total) >> 31;
        int256 acc;
        for (uint256 j; j < uint256(kk); ++j) {
            acc += weights[j];
            if (acc > u) return LibOperand.at(cand, 2 * j + 1);
        }
        // Unreachable: u <= (2^31 - 1) * total >> 31 < total = acc after the last j.
        revert BadNode("sample");
    }

    /// @dev SAMPLE's weights w_j = expNegQ30(min(floor(d_j * 100 * 2^16 / (t * 2^frac)), 64 << 16), 16) for
    ///      j < kk, d_j = max(v_0 - v_j, 0), and their sum.
    function _weights(Int32View memory cand, uint256 kk, int256 temperature, uint256 fracLogits)
        internal
        pure
        returns (int256[] memory weights, int256 total)
    {
        weights = new int256[](kk);
        int256 v0 = LibOperand.at(cand, 0);
        // No overflow: d < 2^32, d * 100 << 16 < 2^55; den = t << frac < 2^63 (t < 2^31, frac <= 32);
        // total <= MAX_K * 2^30.
        int256 den = temperature << fracLogits;
        int256 top = LibIntMath.EXP_CLAMP << EXP_FRAC;
        for (uint256 j; j < kk; ++j) {
            int256 d = v0 - LibOperand.at(cand, 2 * j);
            if (d < 0) d = 0;
            int256 s = ((d * 100) << EXP_FRAC) / den;
            weights[j] = LibIntMath.expNegQ30(s > top ? top : s, EXP_FRAC);
            total += weights[j];
        }
    }

    /// @dev GEN_STOP: -1 if step >= max_new or (step > 0 and (prev == -1 or prev is an EOS)), else tok.
    function _stop(NodeDesc calldata d, Operand[] calldata operands) internal pure returns (int256) {
        int256 step = d.params[0];
        if (step >= _m(operands[1]).at(0)) return -1;
        if (step > 0) {
            int256 prev = _m(operands[2]).at(0);
            if (prev == -1) return -1;
            for (uint256 j = 1; j < d.params.length; ++j) {
                if (prev == d.params[j]) return -1;
            }
        }
        return _m(operands[0]).at(0);
    }

    // ----------------------------------------------------------------------------------------------- helpers

    /// @dev (0, start, len) of TOPK row r's block (mode 0) or group of rows (mode 1).
    function _topkWindow(NodeDesc calldata d, uint256 r) internal pure returns (uint256, uint256, uint256) {
        uint256 width = uint256(d.params[2]);
        TensorDesc calldata x = d.inputs[0];
        if (d.params[0] == 0) {
            uint256 n = LibDescriptor.numelOf(x);
            uint256 start = r * width;
            return (0, start, _minU(width, n - start));
        }
        uint256 kin = x.shape[1];
        return (0, r * width * kin * 2, _minU(width, x.shape[0] - r * width) * kin * 2);
    }

    function _byte(Operand memory raw, uint256 i) internal pure returns (int256) {
        return raw.at(i) & 0xFF;
    }

    function _min(int256 a, int256 b) internal pure returns (int256) {
        return a < b ? a : b;
    }

    function _minU(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _int32Scalar(TensorDesc calldata t, uint256 numel) internal pure {
        if (t.width != 4 || t.frac != 0 || LibDescriptor.numelOf(t) != numel) revert BadNode("int32 operand");
    }

    function _checkK(int256 k) internal pure {
        // INVARIANT: A top-k size is 1 .. MAX_K (sample.py MAX_K).
        if (k < 1 || k > MAX_K) revert TopKSizeOutOfRange(k, MAX_K);
    }

    function _checkStep(int256 step) internal pure {
        // INVARIANT: A step is hashed as a uint32 and compared as an int32: 0 .. 2^31 - 1.
        if (step < 0 || step > INT32_MAX) revert StepOutOfRange(step);
    }

    function _check(NodeDesc calldata d) internal pure {
        uint256 op = d.op;
        if (op == GEN_PARAMS) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 2) revert BadNode("params");
            TensorDesc calldata raw = d.inputs[0];
            if (raw.width != 1 || raw.frac != 0 || LibDescriptor.numelOf(raw) != PARAM_BYTES) revert BadNode("raw");
            // INVARIANT: The model's N is 1 .. 255 (p[0] is one byte) and K is 1 .. MAX_K.
            if (d.params[0] < 1 || d.params[0] > MAX_NEW_TOKENS || d.params[1] < 1 || d.params[1] > MAX_K) {
                revert ModelLimitsOutOfRange(d.params[0], d.params[1]);
            }
            _int32Scalar(d.out, 4);
        } else if (op == TOPK) {
            _checkTopK(d);
        } else if (op == PRNG) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 1) revert BadNode("params");
            _int32Scalar(d.inputs[0], 4);
            _checkStep(d.params[0]);
            _int32Scalar(d.out, 1);
        } else if (op == SAMPLE) {
            _expectInputs(d, 3, 3);
            if (d.params.length != 1) revert BadNode("params");
            TensorDesc calldata cand = d.inputs[0];
            if (cand.width != 4 || cand.frac != 0 || cand.shape.length != 3 || cand.shape[0] != 1 || cand.shape[2] != 2)
            {
                revert BadNode("cand");
            }
            _checkK(int256(cand.shape[1]));
            _int32Scalar(d.inputs[1], 4);
            _int32Scalar(d.inputs[2], 1);
            // INVARIANT: The logits' frac is 0 .. MAX_FRAC_LOGITS, so t << frac stays below 2^63.
            if (d.params[0] < 0 || d.params[0] > MAX_FRAC_LOGITS) revert FracLogitsOutOfRange(d.params[0]);
            _int32Scalar(d.out, 1);
        } else if (op == GEN_STOP) {
            if (d.params.length < 1) revert BadNode("params");
            // INVARIANT: GEN_STOP takes at most MAX_EOS EOS ids.
            if (d.params.length > 1 + MAX_EOS) revert EosCountOutOfRange(d.params.length - 1);
            int256 step = d.params[0];
            _checkStep(step);
            _expectInputs(d, step > 0 ? 3 : 2, step > 0 ? 3 : 2);
            _int32Scalar(d.inputs[0], 1);
            _int32Scalar(d.inputs[1], 4);
            if (step > 0) _int32Scalar(d.inputs[2], 1);
            for (uint256 j = 1; j < d.params.length; ++j) {
                // INVARIANT: An EOS id is an int32 (a token id an operand can hold).
                if (d.params[j] < INT32_MIN || d.params[j] > INT32_MAX) revert EosIdOutOfRange(d.params[j]);
            }
            _int32Scalar(d.out, 1);
        } else {
            revert UnsupportedOp(op);
        }
    }

    function _checkTopK(NodeDesc calldata d) internal pure {
        _expectInputs(d, 1, 1);
        if (d.params.length != 3) revert BadNode("params");
        int256 mode = d.params[0];
        _checkK(d.params[1]);
        // INVARIANT: A block / group holds at least one row.
        if (d.params[2] < 1) revert TopKWidthOutOfRange(d.params[2]);
        uint256 k = uint256(d.params[1]);
        uint256 width = uint256(d.params[2]);
        TensorDesc calldata x = d.inputs[0];
        uint256 rows;
        uint256 entries;
        if (mode == 0) {
            uint256 n = LibDescriptor.numelOf(x);
            if (n == 0) revert BadNode("logits");
            rows = (n + width - 1) / width;
            entries = width;
        } else if (mode == 1) {
            if (x.width != 4 || x.frac != 0 || x.shape.length != 3 || x.shape[0] == 0 || x.shape[1] == 0
                || x.shape[2] != 2) revert BadNode("candidates");
            rows = (x.shape[0] + width - 1) / width;
            entries = width * x.shape[1];
        } else {
            // INVARIANT: TOPK's mode is 0 (blocks) or 1 (merge).
            revert TopKModeOutOfRange(mode);
        }
        // INVARIANT: The step's modelled gas (sample.py topk_step_gas) is within TOPK_STEP_GAS_BUDGET.
        uint256 gas = TOPK_FIXED_GAS + entries * (TOPK_ENTRY_GAS + (mode == 1 ? TOPK_MERGE_ENTRY_GAS : 0)
            + TOPK_PROBE_GAS * LibIntMath.bitLength(k - 1) + TOPK_SLOT_GAS * k);
        if (gas > TOPK_STEP_GAS_BUDGET) revert TopKScanTooLarge(entries, k, gas, TOPK_STEP_GAS_BUDGET);
        TensorDesc calldata out = d.out;
        if (out.width != 4 || out.frac != 0 || out.shape.length != 3 || out.shape[0] != rows || out.shape[1] != k
            || out.shape[2] != 2) revert BadNode("output shape");
    }
}
