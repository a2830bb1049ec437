// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {LibDescriptor, NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ImageOps
/// @notice The diffusion sampler's operators, mirroring offchain/engine/ops/image.py (whose docstring is the spec):
///         NOISE (seeded near-Gaussian INT16 noise: a splitmix64 stream at the 8-byte seed, each word's four 16-bit
///         halves summed and scaled by mul / 2^32), DDIM_STEP (one deterministic DDIM update with x0 clipped to
///         [-lim, lim], Q16 constants) and PIXELS (x in [-1, 1] at frac f to 8-bit pixel bytes). Total on every
///         int value of the operands (saturation, no value reverts); each element reads 1 or 2 ranges.
contract ImageOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant NOISE = 61;
    uint256 internal constant DDIM_STEP = 62;
    uint256 internal constant PIXELS = 63;

    /// image.py's constants: splitmix64's gamma and multipliers, SEED_BYTES, MAX_NOISE_ELEMENTS, MAX_NOISE_MUL,
    /// MAX_NOISE_FRAC, NOISE_OFFSET, MAX_DDIM_CONST, MAX_DDIM_LIM, MAX_DDIM_SHIFT, DDIM_Q, MAX_PIXELS_FRAC.
    uint256 internal constant GAMMA = 0x9E3779B97F4A7C15;
    uint256 internal constant MIX1 = 0xBF58476D1CE4E5B9;
    uint256 internal constant MIX2 = 0x94D049BB133111EB;
    uint256 internal constant MASK64 = 0xFFFFFFFFFFFFFFFF;
    uint256 internal constant SEED_BYTES = 8;
    uint256 internal constant MAX_NOISE_ELEMENTS = 1 << 20;
    int256 internal constant MAX_NOISE_MUL = 1 << 40;
    int256 internal constant MAX_NOISE_FRAC = 13;
    int256 internal constant NOISE_OFFSET = 131070;
    int256 internal constant MAX_DDIM_CONST = 1 << 31;
    int256 internal constant MAX_DDIM_LIM = 32767;
    int256 internal constant MAX_DDIM_SHIFT = 40;
    int256 internal constant DDIM_Q = 16;
    int256 internal constant MAX_PIXELS_FRAC = 14;
    int256 internal constant INT16_MIN = type(int16).min;
    int256 internal constant INT16_MAX = type(int16).max;

    /// @dev NOISE's mul outside 1 .. 2^40 - 1.
    error NoiseMulOutOfRange(int256 mul);
    /// @dev NOISE's output has n elements, outside 1 .. maxElements.
    error NoiseSizeOutOfRange(uint256 n, uint256 maxElements);
    /// @dev An image op's frac outside 0 .. maxFrac (NOISE's output frac, PIXELS' input frac).
    error ImageFracOutOfRange(int256 frac, int256 maxFrac);
    /// @dev DDIM_STEP's constant `index` (0 = a, 1 = b, 2 = c1, 3 = c2) has |value| >= 2^31.
    error DdimConstantOutOfRange(uint256 index, int256 value);
    /// @dev DDIM_STEP's clip bound lim outside 0 .. 32767.
    error DdimLimOutOfRange(int256 lim);
    /// @dev DDIM_STEP's total shift 16 + f - fo outside 0 .. 40.
    error DdimShiftOutOfRange(int256 shift);

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.op == DDIM_STEP ? 2 : 1;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        if (r > (d.op == DDIM_STEP ? 1 : 0)) revert BadNode("range index");
        if (d.op == NOISE) return (0, 0, SEED_BYTES);
        return (r, e, 1);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        _check(d);
        if (e >= LibDescriptor.numelOf(d.out)) revert BadNode("element");
        if (d.op == NOISE) return noiseElement(_seedOf(_m(operands[0])), e, d.params[0]);
        if (d.op == DDIM_STEP) {
            return ddimElement(
                _m(operands[0]).at(0), _m(operands[1]).at(0), d.params, DDIM_Q + d.inputs[0].frac - d.out.frac
            );
        }
        return pixelElement(_m(operands[0]).at(0), d.inputs[0].frac);
    }

    /// @notice splitmix64's output function of the 64-bit state v mod 2^64.
    function splitmix64(uint256 v) public pure returns (uint256) {
        unchecked {
            v &= MASK64;
            v = ((v ^ (v >> 30)) * MIX1) & MASK64;
            v = ((v ^ (v >> 27)) * MIX2) & MASK64;
            return v ^ (v >> 31);
        }
    }

    /// @notice NOISE's element i: z = splitmix64(S + (i + 1) * GAMMA mod 2^64), s = the sum of z's four 16-bit
    ///         halves - 131070, clamp_int16((s * mul + 2^31) >> 32).
    function noiseElement(uint256 seed, uint256 i, int256 mul) public pure returns (int256) {
        uint256 z;
        unchecked {
            // i < 2^20 (checked) keeps seed + (i + 1) * GAMMA below 2^86: no uint256 wrap before splitmix64's mask.
            z = splitmix64(seed + (i + 1) * GAMMA);
        }
        int256 s = int256((z & 0xFFFF) + ((z >> 16) & 0xFFFF) + ((z >> 32) & 0xFFFF) + (z >> 48)) - NOISE_OFFSET;
        // |s| <= 131070 < 2^17 and mul < 2^40: the product is below 2^57.
        return _clamp16((s * mul + (1 << 31)) >> 32);
    }

    /// @notice DDIM_STEP's element: x0 = (a x - b eps + 2^15) >> 16, x0c = clip(x0, -lim, lim),
    ///         clamp_int16((c1 x + c2 x0c + (sh > 0 ? 2^(sh - 1) : 0)) >> sh).
    function ddimElement(int256 x, int256 eps, int256[] calldata p, int256 sh) public pure returns (int256) {
        // |a|, |b|, |c1|, |c2| < 2^31, |x|, |eps| <= 2^15, lim < 2^15: every term is below 2^47.
        int256 x0 = (p[0] * x - p[1] * eps + (1 << 15)) >> uint256(DDIM_Q);
        int256 lim = p[4];
        int256 x0c = x0 < -lim ? -lim : (x0 > lim ? lim : x0);
        int256 acc = p[2] * x + p[3] * x0c + (sh > 0 ? int256(1) << uint256(sh - 1) : int256(0));
        return _clamp16(acc >> uint256(sh));
    }

    /// @notice PIXELS' element: v = clip(((x + 2^f) * 255 + 2^f) >> (f + 1), 0, 255) as its int8 q.
    function pixelElement(int256 x, int256 f) public pure returns (int256) {
        int256 one = int256(1) << uint256(f);
        int256 v = ((x + one) * 255 + one) >> uint256(f + 1);
        v = v < 0 ? int256(0) : (v > 255 ? int256(255) : v);
        return v > 127 ? v - 256 : v;
    }

    // ------------------------------------------------------------------------------------------------ internals

    /// @dev S: the big-endian uint64 of the 8 seed values read as bytes (q & 0xFF).
    function _seedOf(Operand memory seed) internal pure returns (uint256 s) {
        for (uint256 k; k < SEED_BYTES; ++k) {
            s = (s << 8) | (uint256(seed.at(k)) & 0xFF);
        }
    }

    function _clamp16(int256 v) internal pure returns (int256) {
        return v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v);
    }

    function _sameShape(TensorDesc calldata a, TensorDesc calldata b) internal pure returns (bool) {
        if (a.shape.length != b.shape.length) return false;
        for (uint256 j; j < a.shape.length; ++j) {
            if (a.shape[j] != b.shape[j]) return false;
        }
        return true;
    }

    /// @dev The node as image.py's `check` accepts it.
    function _check(NodeDesc calldata d) internal pure {
        uint256 op = d.op;
        if (op == NOISE) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 1) revert BadNode("params");
            TensorDesc calldata seed = d.inputs[0];
            if (seed.width != 1 || seed.frac != 0 || LibDescriptor.numelOf(seed) != SEED_BYTES) revert BadNode("seed");
            int256 mul = d.params[0];
            // INVARIANT: NOISE's mul is 1 .. 2^40 - 1, so s * mul stays below 2^57.
            if (mul < 1 || mul >= MAX_NOISE_MUL) revert NoiseMulOutOfRange(mul);
            if (d.out.width != 2) revert BadNode("output dtype");
            // INVARIANT: NOISE's output frac is 0 .. 13 (|out| <= 3.47 * 2^frac fits int16 at the builder's mul).
            if (d.out.frac < 0 || d.out.frac > MAX_NOISE_FRAC) revert ImageFracOutOfRange(d.out.frac, MAX_NOISE_FRAC);
            uint256 n = LibDescriptor.numelOf(d.out);
            // INVARIANT: NOISE's output has 1 .. 2^20 elements (the counter (i + 1) * GAMMA stays below 2^85).
            if (n < 1 || n > MAX_NOISE_ELEMENTS) revert NoiseSizeOutOfRange(n, MAX_NOISE_ELEMENTS);
        } else if (op == DDIM_STEP) {
            _expectInputs(d, 2, 2);
            if (d.params.length != 5) revert BadNode("params");
            TensorDesc calldata x = d.inputs[0];
            TensorDesc calldata eps = d.inputs[1];
            if (x.width != 2 || eps.width != 2 || eps.frac != x.frac || !_sameShape(x, eps)) revert BadNode("eps");
            if (d.out.width != 2 || !_sameShape(x, d.out)) revert BadNode("output");
            for (uint256 j; j < 4; ++j) {
                int256 c = d.params[j];
                // INVARIANT: DDIM_STEP's a, b, c1, c2 have |c| < 2^31 (every product below 2^47).
                if (c <= -MAX_DDIM_CONST || c >= MAX_DDIM_CONST) revert DdimConstantOutOfRange(j, c);
            }
            // INVARIANT: DDIM_STEP's clip bound lim is 0 .. 32767.
            if (d.params[4] < 0 || d.params[4] > MAX_DDIM_LIM) revert DdimLimOutOfRange(d.params[4]);
            int256 sh = DDIM_Q + x.frac - d.out.frac;
            // INVARIANT: DDIM_STEP's total shift 16 + f - fo is 0 .. 40.
            if (sh < 0 || sh > MAX_DDIM_SHIFT) revert DdimShiftOutOfRange(sh);
        } else if (op == PIXELS) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 0) revert BadNode("params");
            TensorDesc calldata x = d.inputs[0];
            if (x.width != 2) revert BadNode("x");
            // INVARIANT: PIXELS' input frac is 0 .. 14 ((x + 2^f) * 255 stays below 2^24).
            if (x.frac < 0 || x.frac > MAX_PIXELS_FRAC) revert ImageFracOutOfRange(x.frac, MAX_PIXELS_FRAC);
            if (d.out.width != 1 || d.out.frac != 0 || !_sameShape(x, d.out)) revert BadNode("output");
        } else {
            revert UnsupportedOp(op);
        }
    }
}
