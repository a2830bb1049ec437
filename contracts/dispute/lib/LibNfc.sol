// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "./LibDescriptor.sol";
import {Int32View} from "./LibOperand.sol";
import {IStepErrors} from "../interfaces/IStepErrors.sol";

/// @title LibNfc
/// @notice What the NFC families NfcOps (NFC_COMPOSE 59, NFC_COMPACT 60) and NfcRunOps (NFC_REORDER 68,
///         NFC_STAGE 69) share, mirroring offchain/engine/ops/nfc.py: the entry encoding's constants, the node
///         checks of the entry operands (x/nfd [N, K], chars [N], added [N]) and of the composition table with its
///         (W, salt) params, Hangul composition, and the hashed pair probe (home row, window scan). Internal
///         functions only: compiled into each family, no deployment of its own.
library LibNfc {
    uint256 internal constant ROW = 3;
    uint256 internal constant MAX_K = 4;
    uint256 internal constant MAX_POSITIONS = 256;
    uint256 internal constant MAX_WINDOW = 8;
    uint256 internal constant MAX_ROWS = 1 << 12;
    uint256 internal constant LOOK_FORWARD = 2;
    uint256 internal constant MAX_LINK = 16;
    int256 internal constant NONE = -1;
    int256 internal constant CP_MASK = 0x1FFFFF;
    int256 internal constant HASH_NODE = 2654435761;
    int256 internal constant HASH_CHAR = 2246822519;
    int256 internal constant HASH_MASK = 0xFFFFFFFF;
    int256 internal constant S_BASE = 0xAC00;
    int256 internal constant L_BASE = 0x1100;
    int256 internal constant V_BASE = 0x1161;
    int256 internal constant T_BASE = 0x11A7;
    int256 internal constant S_COUNT = 11172;
    /// @dev Entry kinds of a flat slot.
    uint256 internal constant NO_ENTRY = 0;
    uint256 internal constant STARTER = 1;
    uint256 internal constant MARK = 2;
    uint256 internal constant OPAQUE = 3;

    /// @dev Reverts BadNode unless the node's `inputs` operands and its output are int32 with frac 0, input 0 is
    ///      [N, K] with 1 <= N <= MAX_POSITIONS and 1 <= K <= MAX_K, and inputs 1 and 2 (those below `inputs`) are
    ///      [N]; returns (N, K). The caller has checked the input count.
    function checkEntries(NodeDesc calldata d, uint256 inputs) internal pure returns (uint256 n, uint256 k) {
        for (uint256 i; i < inputs; ++i) {
            // INVARIANT: every operand is int32 with frac 0.
            if (d.inputs[i].width != 4 || d.inputs[i].frac != 0) revert IStepErrors.BadNode("dtype");
        }
        // INVARIANT: the output is int32 with frac 0.
        if (d.out.width != 4 || d.out.frac != 0) revert IStepErrors.BadNode("dtype");
        TensorDesc calldata x = d.inputs[0];
        // INVARIANT: the first operand is [N, K] with 1 <= N <= MAX_POSITIONS and 1 <= K <= MAX_K.
        if (
            x.shape.length != 2 || x.shape[0] == 0 || x.shape[0] > MAX_POSITIONS || x.shape[1] == 0
                || x.shape[1] > MAX_K
        ) {
            revert IStepErrors.BadNode("x shape");
        }
        (n, k) = (x.shape[0], x.shape[1]);
        for (uint256 i = 1; i < inputs && i < 3; ++i) {
            // INVARIANT: chars and added are [N].
            if (d.inputs[i].shape.length != 1 || d.inputs[i].shape[0] != n) {
                revert IStepErrors.BadNode("chars/added shape");
            }
        }
    }

    /// @dev Reverts BadNode unless input 3 (the composition table) is [M, ROW] with M <= MAX_ROWS and the node has
    ///      `count` params, the first two (W, salt) with 1 <= W <= min(M, MAX_WINDOW) and salt a uint32. The
    ///      caller checks its own params after these.
    function checkTable(NodeDesc calldata d, uint256 count) internal pure {
        TensorDesc calldata comps = d.inputs[3];
        // INVARIANT: the composition table is [M, 3] with M <= MAX_ROWS.
        if (comps.shape.length != 2 || comps.shape[1] != ROW || comps.shape[0] > MAX_ROWS) {
            revert IStepErrors.BadNode("comps shape");
        }
        int256[] calldata p = d.params;
        // INVARIANT: params (W, salt, ...): 1 <= W <= min(M, MAX_WINDOW), salt a uint32.
        if (
            p.length != count || p[0] < 1 || uint256(p[0]) > comps.shape[0] || p[0] > int256(MAX_WINDOW) || p[1] < 0
                || p[1] > HASH_MASK
        ) revert IStepErrors.BadNode("params");
    }

    /// @dev The entry next to flat slot f (before it when down) within MAX_LINK slots, over the in-place int32
    ///      operands x [N*K] at calldata offset xb, chars [N] at cb and added [N] at ab (len = N*K): its kind
    ///      (NO_ENTRY when none: a segment boundary), slot and raw x value (0 for an OPAQUE one). A row with
    ///      added != -1 has one OPAQUE entry, its char, at slot 0 when >= 0; any other row has an entry where x > 0
    ///      (a MARK when its rank x >> 23 > 0, else a STARTER).
    function adjacent(uint256 k, uint256 xb, uint256 cb, uint256 ab, uint256 len, uint256 f, bool down)
        internal
        pure
        returns (uint256 kind, uint256 g, int256 raw)
    {
        uint256 last;
        if (down) {
            last = f > MAX_LINK ? f - MAX_LINK : 0;
        } else {
            last = f + MAX_LINK < len ? f + MAX_LINK : len - 1;
        }
        // Safe: every slot visited lies in [0, N*K) (last is clamped above) and its row in [0, N), all within the
        // views the caller checked.
        assembly ("memory-safe") {
            for {} iszero(eq(f, last)) {} {
                switch down
                case 1 { f := sub(f, 1) }
                default { f := add(f, 1) }
                let i := div(f, k)
                switch eq(signextend(3, shr(224, calldataload(add(ab, mul(i, 4))))), not(0))
                case 1 {
                    let x := signextend(3, shr(224, calldataload(add(xb, mul(f, 4)))))
                    if sgt(x, 0) {
                        g := f
                        raw := x
                        kind := add(1, gt(shr(23, x), 0))
                        break
                    }
                }
                default {
                    if and(iszero(mod(f, k)), iszero(slt(signextend(3, shr(224, calldataload(add(cb, mul(i, 4))))), 0)))
                    {
                        g := f
                        kind := 3
                        break
                    }
                }
            }
        }
    }

    /// @dev Hangul L + V -> LV and LV + T -> LVT; NONE for any other pair.
    function hangul(int256 a, int256 c) internal pure returns (int256) {
        if (a >= L_BASE && a < L_BASE + 19 && c >= V_BASE && c < V_BASE + 21) {
            return S_BASE + ((a - L_BASE) * 21 + (c - V_BASE)) * 28;
        }
        if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % 28 == 0 && c > T_BASE && c < T_BASE + 28) {
            return a + (c - T_BASE);
        }
        return NONE;
    }

    /// @dev The composite of the first window row holding (a, c); NONE if none.
    function find(Int32View memory w, int256 a, int256 c) internal pure returns (int256 comp) {
        uint256 rows = w.len / ROW;
        uint256 base = w.base;
        comp = NONE;
        // Safe: row < len / 3, each row's 12 bytes lie within the proven window.
        assembly ("memory-safe") {
            for { let row := 0 } lt(row, rows) { row := add(row, 1) } {
                let at := add(base, mul(row, 12))
                if and(eq(signextend(3, shr(224, calldataload(at))), a),
                       eq(signextend(3, shr(224, calldataload(add(at, 4)))), c)) {
                    comp := signextend(3, shr(224, calldataload(add(at, 8))))
                    break
                }
            }
        }
    }

    /// @dev First probe row of the pair (a, c): PAIR_RANK's pair hash mod (M - W + 1), with (W, salt) = params
    ///      0 and 1 and M the table's (input 3's) rows.
    function home(NodeDesc calldata d, int256 a, int256 c) internal pure returns (uint256) {
        int256 h;
        // Cannot overflow: a and c are int32 (operand values) or Hangul composites, 0 <= salt < 2^32 (checkTable).
        unchecked {
            h = ((a * HASH_NODE + c * HASH_CHAR + d.params[1]) & HASH_MASK) >> 1;
        }
        return uint256(h) % (d.inputs[3].shape[0] - uint256(d.params[0]) + 1);
    }

    /// @dev The probe range of a stopped try (a, c) on input 3: empty for a Hangul pair, else the W rows from
    ///      the pair's home row.
    function probe(NodeDesc calldata d, int256 a, int256 c) internal pure returns (uint256, uint256, uint256) {
        if (hangul(a, c) != NONE) return (3, 0, 0);
        return (3, home(d, a, c) * ROW, uint256(d.params[0]) * ROW);
    }
}
