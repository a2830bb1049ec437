// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibIntMath} from "./LibIntMath.sol";
import {LibOperand, Operand} from "./LibOperand.sol";
import {LibRow} from "./LibRow.sol";

/// @title LibIntMathNorm
/// @notice The row normalisation shared by LayerNorm and RMSNorm, mirroring
///         offchain/engine/intmath_norm.py's `_normalise_row_element`: for c_i = scale x_i - offset (LayerNorm:
///         scale = n, offset = sum x, so c is n times the centred row; RMSNorm: scale = 1, offset = 0)
///         1. k = max(0, bit_length(max |c|) - 22) (max |c| from the row's max and min), c'_i = rshift_round(c_i, k)
///         2. U = sum c'^2 + rshift_round(epsNum, 2k); U = 0 gives z = 0
///         3. G = (62 - bit_length(U)) / 2, s = isqrt((U << 2G) / n), r = div_round(2^60, s)
///         4. z_j = rshift_round(c'_j r, 40 - G): (x_j - mean) / std (or x_j / rms) in Q20.
library LibIntMathNorm {
    /// Significant bits kept of the centred row (intmath_norm.NORM_BITS).
    uint256 internal constant NORM_BITS = 22;
    /// Frac bits of the normalised value z (intmath_norm.Z_FRAC).
    uint256 internal constant Z_FRAC = 20;
    /// Longest row (intmath_norm.MAX_ROW) and the eps term's bound (EPS_TERM_LIMIT).
    uint256 internal constant MAX_ROW = 1 << 16;
    int256 internal constant EPS_TERM_LIMIT = 1 << 61;
    /// Largest frac bits of x, gamma, beta and the output (intmath_norm.FRAC_MAX).
    int256 internal constant FRAC_MAX = 30;

    /// @dev z_j in Q20 for the whole proven row (row.len = n, 1 <= n <= 2^16, int32-range elements);
    ///      `maxAbs` = max_i |c_i| (the caller has it from one pass: LibRow.sumMaxMin).
    function normalised(Operand memory row, uint256 j, int256 scale, int256 offset, uint256 maxAbs, int256 epsNum)
        internal
        pure
        returns (int256)
    {
        uint256 n = row.len;
        uint256 k = LibIntMath.bitLength(maxAbs);
        k = k > NORM_BITS ? k - NORM_BITS : 0;
        int256 u = _sumSquares(row, scale, offset, k) + LibIntMath.roundShift(epsNum, 2 * k);
        if (u == 0) return 0;
        return _divideByStd(LibIntMath.roundShift(scale * LibOperand.at(row, j) - offset, k), uint256(u), n);
    }

    /// @dev Steps 3-4: z = rshift_round(c' r, 40 - G) with r = div_round(2^60, isqrt((U << 2G) / n)).
    function _divideByStd(int256 cj, uint256 u, uint256 n) private pure returns (int256) {
        unchecked {
            // Safe: 0 < U < 2^62 (sum c'^2 <= 2^16 * 2^44, eps term < 2^61), so 0 <= G <= 30, U << 2G < 2^62,
            // s >= 2^22 (U << 2G >= 2^60, n <= 2^16), |c'_j r| <= 2^22 * 2^38.
            uint256 g = (62 - LibIntMath.bitLength(u)) >> 1;
            int256 s = int256(LibIntMath.isqrt((u << (2 * g)) / n));
            int256 r = LibIntMath.divRound(1 << 60, s);
            return LibIntMath.roundShift(cj * r, 40 - g);
        }
    }

    /// @dev sum_i rshift_round(scale x_i - offset, k)^2 over the row.
    function _sumSquares(Operand memory row, int256 scale, int256 offset, uint256 k) private pure returns (int256 u) {
        (uint256 p, uint256 shift, uint256 ext) = LibRow.cursor(row, 0);
        uint256 w = row.width;
        uint256 n = row.len;
        assembly ("memory-safe") {
            // rshift_round(c, k) = (c + 2^(k-1)) >> k; for k = 0 the offset is 0 and sar by 0 is the identity,
            // so folding 2^(k-1) into the offset gives c' = sar(k, scale x - (offset - 2^(k-1))).
            let off := sub(offset, shr(1, shl(k, 1)))
            let w2 := add(w, w)
            let end2 := add(p, mul(and(n, not(1)), w))
            let end := add(p, mul(n, w))
            // Safe without overflow checks: |c'| <= 2^22 after the shift, n <= 2^16 terms: u <= 2^60.
            for {} lt(p, end2) { p := add(p, w2) } {
                let c := sar(k, sub(mul(scale, signextend(ext, shr(shift, mload(p)))), off))
                let d := sar(k, sub(mul(scale, signextend(ext, shr(shift, mload(add(p, w))))), off))
                u := add(u, add(mul(c, c), mul(d, d)))
            }
            if lt(p, end) {
                let c := sar(k, sub(mul(scale, signextend(ext, shr(shift, mload(p)))), off))
                u := add(u, mul(c, c))
            }
        }
    }
}
