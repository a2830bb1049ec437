// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title NfcOps
/// @notice The tokenizer graph's NFC normalizer (issue 14), mirroring offchain/engine/ops/nfc.py (whose docstring
///         is the spec). NFC_COMPOSE (59): canonical reordering and bounded canonical composition of CHAR_MAP's
///         NFD entries (4 * ((rank << 21) | cp) + 1), added-token chars kept raw as segment cuts, composition
///         pairs looked up in PAIR_RANK's open-addressed layout (rows (first, second, composite)), Hangul
///         algorithmic; NFC_COMPACT (60): the entries >= 0 (or their rows' added matches) packed to the front.
///         Operands are int32, read in place; every input has one result.
contract NfcOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant NFC_COMPOSE = 59;
    uint256 internal constant NFC_COMPACT = 60;
    uint256 internal constant ROW = 3;
    uint256 internal constant MAX_K = 4;
    uint256 internal constant MAX_POSITIONS = 256;
    uint256 internal constant MAX_TRIES = 16;
    uint256 internal constant MAX_WINDOW = 16;
    uint256 internal constant MAX_ROWS = 1 << 16;
    uint256 internal constant LOOK_BACK = 2;
    uint256 internal constant LOOK_FORWARD = 2;
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

    /// @dev The entries of NFC_COMPOSE's operands in flat order (see the spec); `q` is the entry at the element.
    struct Seq {
        uint256 len;
        uint256[] flat;
        int256[] cp;
        uint256[] rank;
        bool[] opaque;
        uint256 q;
        bool found;
    }

    /// @dev State of a composition run: the tries made so far and, at a stop, the pair of the stopped try.
    struct Run {
        uint256 tries;
        uint256 stopAt;
        bool stopped;
        int256 a;
        int256 c;
        uint256 maxTries;
    }

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == NFC_COMPOSE;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.op == NFC_COMPOSE ? 3 + LOOK_BACK + LOOK_FORWARD + uint256(d.params[2]) : 2;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        (uint256 n, uint256 k) = _check(d);
        if (e >= (d.op == NFC_COMPOSE ? n * k : n)) revert BadNode("element");
        if (d.op == NFC_COMPACT) {
            if (r >= 2) revert BadNode("range index");
            return r == 0 ? (0, 0, n * k) : (1, 0, n);
        }
        if (r >= 3 + LOOK_BACK + LOOK_FORWARD + uint256(d.params[2])) revert BadNode("range index");
        if (r < 3) return (r, 0, r == 0 ? n * k : n);
        if (loaded.length != r) revert BadNode("loaded ranges");
        return _probe(d, _entries(loaded, n, k, e), r - 3, loaded);
    }

    /// @dev Range of try `at` of the element's composition: its pair's probe window, empty when the element is
    ///      settled before it or the pair is Hangul.
    function _probe(NodeDesc calldata d, Seq memory s, uint256 at, Operand[] calldata loaded)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        Run memory run = Run(0, at, false, 0, 0, uint256(d.params[2]));
        if (s.found && !s.opaque[s.q]) _value(s, run, loaded);
        if (!run.stopped || _hangul(run.a, run.c) != NONE) return (3, 0, 0);
        return (3, _home(d, run.a, run.c) * ROW, uint256(d.params[0]) * ROW);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        (uint256 n, uint256 k) = _check(d);
        if (d.op == NFC_COMPACT) {
            if (e >= n) revert BadNode("element");
            if (operands.length != 2) revert BadNode("operand count");
            return _compact(LibOperand.int32View(operands[0]), LibOperand.int32View(operands[1]), n, k, e,
                uint256(d.params[0]));
        }
        if (e >= n * k) revert BadNode("element");
        if (operands.length != 3 + LOOK_BACK + LOOK_FORWARD + uint256(d.params[2])) revert BadNode("operand count");
        Seq memory s = _entries(operands, n, k, e);
        if (!s.found) return NONE;
        if (s.opaque[s.q]) return s.cp[s.q];
        Run memory run = Run(0, type(uint256).max, false, 0, 0, uint256(d.params[2]));
        return _value(s, run, operands);
    }

    // ------------------------------------------------------------------------------------------- compose

    /// @dev Reads operands 0..2 (nfd [N*K], chars [N], added [N]) into the entry list; notes the entry at e.
    function _entries(Operand[] calldata ops, uint256 n, uint256 k, uint256 e) internal pure returns (Seq memory s) {
        Int32View memory nfd = LibOperand.int32View(ops[0]);
        Int32View memory chars = LibOperand.int32View(ops[1]);
        Int32View memory added = LibOperand.int32View(ops[2]);
        if (nfd.len != n * k) revert OperandIndexOutOfRange(n * k, nfd.len);
        if (chars.len != n || added.len != n) revert OperandIndexOutOfRange(n, chars.len);
        uint256 size = n * k;
        s.flat = new uint256[](size);
        s.cp = new int256[](size);
        s.rank = new uint256[](size);
        s.opaque = new bool[](size);
        uint256 m;
        for (uint256 i; i < n; ++i) {
            if (added.at(i) != NONE) {
                int256 c = chars.at(i);
                if (c >= 0) {
                    if (i * k == e) (s.q, s.found) = (m, true);
                    (s.flat[m], s.cp[m], s.opaque[m]) = (i * k, c, true);
                    ++m;
                }
                continue;
            }
            for (uint256 j; j < k; ++j) {
                int256 v = nfd.at(i * k + j);
                if (v > 0) {
                    if (i * k + j == e) (s.q, s.found) = (m, true);
                    (s.flat[m], s.cp[m], s.rank[m]) = (i * k + j, (v >> 2) & CP_MASK, uint256(v >> 23));
                    ++m;
                }
            }
        }
        s.len = m;
    }

    function _isMark(Seq memory s, uint256 u) internal pure returns (bool) {
        return !s.opaque[u] && s.rank[u] > 0;
    }

    function _isStarter(Seq memory s, uint256 u) internal pure returns (bool) {
        return !s.opaque[u] && s.rank[u] == 0;
    }

    /// @dev Sorts the run of non-starters starting at entry rs by rank, stably (counting sort); returns its end.
    function _sortRun(Seq memory s, uint256 rs) internal pure returns (uint256 re) {
        re = rs;
        while (re < s.len && _isMark(s, re)) ++re;
        if (re - rs < 2) return re;
        uint256[257] memory start;
        for (uint256 u = rs; u < re; ++u) ++start[s.rank[u] + 1];
        for (uint256 r = 1; r < 257; ++r) start[r] += start[r - 1];
        int256[] memory cps = new int256[](re - rs);
        uint256[] memory ranks = new uint256[](re - rs);
        for (uint256 u = rs; u < re; ++u) {
            uint256 at = start[s.rank[u]]++;
            (cps[at], ranks[at]) = (s.cp[u], s.rank[u]);
        }
        for (uint256 u = rs; u < re; ++u) {
            (s.cp[u], s.rank[u]) = (cps[u - rs], ranks[u - rs]);
        }
    }

    /// @dev The element's output (NONE when absorbed), running the window of entry q; stops (run.stopped, with the
    ///      pair) at try run.stopAt instead of reading that try's window.
    function _value(Seq memory s, Run memory run, Operand[] calldata ops) internal pure returns (int256) {
        uint256 q = s.q;
        uint256 t = q;
        while (_isMark(s, t)) {
            if (t == 0) {
                _sortRun(s, 0);
                return s.cp[q];
            }
            --t;
        }
        if (s.opaque[t]) {
            _sortRun(s, t + 1);
            return s.cp[q];
        }
        uint256 b = t;
        while (t - b < LOOK_BACK && b > 0 && _isStarter(s, b - 1)) --b;
        uint256 last = t;
        while (last - t < LOOK_FORWARD && last + 1 < s.len && _isStarter(s, last + 1)) ++last;
        uint256 end = _sortRun(s, last + 1);
        return _compose(s, run, ops, b, end);
    }

    /// @dev The state of the composition: the current starter (entry, value), the rank of the last kept char
    ///      and the first non-starter of the window (type(uint256).max before it).
    struct St {
        uint256 sIdx;
        int256 sVal;
        uint256 lastRank;
        uint256 runStart;
    }

    /// @dev The standard composition on entries [b, end) with b a fresh starter; returns entry q's output.
    function _compose(Seq memory s, Run memory run, Operand[] calldata ops, uint256 b, uint256 end)
        internal
        pure
        returns (int256)
    {
        St memory st = St(b, s.cp[b], 0, type(uint256).max);
        for (uint256 u = b + 1; u < end; ++u) {
            int256 cp = s.cp[u];
            uint256 rank = s.rank[u];
            bool ok;
            if (rank == 0) {
                ok = st.lastRank == 0;
            } else {
                if (st.runStart == type(uint256).max) st.runStart = u;
                ok = (st.lastRank == 0 || st.lastRank < rank) && u - st.runStart < run.maxTries;
            }
            if (ok) {
                if (run.tries == run.stopAt) {
                    run.stopped = true;
                    run.a = st.sVal;
                    run.c = cp;
                    return NONE;
                }
                int256 comp = _hangul(st.sVal, cp);
                if (comp == NONE) comp = _find(LibOperand.int32View(ops[3 + run.tries]), st.sVal, cp);
                ++run.tries;
                if (comp != NONE) {
                    st.sVal = comp;
                    if (u == s.q) return NONE;
                    continue;
                }
            }
            if (rank == 0) {
                if (st.sIdx == s.q) return st.sVal;
                (st.sIdx, st.sVal) = (u, cp);
            } else if (u == s.q) {
                return cp;
            }
            st.lastRank = rank;
        }
        return st.sVal;
    }

    /// @dev Hangul L + V -> LV and LV + T -> LVT; NONE for any other pair.
    function _hangul(int256 a, int256 c) internal pure returns (int256) {
        if (a >= L_BASE && a < L_BASE + 19 && c >= V_BASE && c < V_BASE + 21) {
            return S_BASE + ((a - L_BASE) * 21 + (c - V_BASE)) * 28;
        }
        if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % 28 == 0 && c > T_BASE && c < T_BASE + 28) {
            return a + (c - T_BASE);
        }
        return NONE;
    }

    /// @dev The composite of the first window row holding (a, c); NONE if none.
    function _find(Int32View memory w, int256 a, int256 c) internal pure returns (int256) {
        uint256 rows = w.len / ROW;
        for (uint256 r; r < rows; ++r) {
            if (w.at(r * ROW) == a && w.at(r * ROW + 1) == c) return w.at(r * ROW + 2);
        }
        return NONE;
    }

    /// @dev First probe row of the pair (a, c): PAIR_RANK's pair hash mod (M - W + 1).
    function _home(NodeDesc calldata d, int256 a, int256 c) internal pure returns (uint256) {
        int256 h;
        // Cannot overflow: a and c are int32 (operand values) or Hangul composites, 0 <= salt < 2^32 (_check).
        unchecked {
            h = ((a * HASH_NODE + c * HASH_CHAR + d.params[1]) & HASH_MASK) >> 1;
        }
        return uint256(h) % (d.inputs[3].shape[0] - uint256(d.params[0]) + 1);
    }

    // ------------------------------------------------------------------------------------------- compact

    /// @dev Output j: the j-th entry of x that is >= 0 (mode 0) or its row's added value (mode 1); NONE past them.
    function _compact(Int32View memory x, Int32View memory added, uint256 n, uint256 k, uint256 j, uint256 mode)
        internal
        pure
        returns (int256)
    {
        if (x.len != n * k || added.len != n) revert OperandIndexOutOfRange(n * k, x.len);
        uint256 seen;
        for (uint256 f; f < n * k; ++f) {
            int256 v = x.at(f);
            if (v >= 0) {
                if (seen == j) return mode == 0 ? v : added.at(f / k);
                ++seen;
            }
        }
        return NONE;
    }

    // ---------------------------------------------------------------------------------------------- check

    /// @dev Reverts BadNode unless the node is NFC_COMPOSE or NFC_COMPACT with its inputs, params and shapes (all
    ///      int32); returns (N, K).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n, uint256 k) {
        if (d.op != NFC_COMPOSE && d.op != NFC_COMPACT) revert UnsupportedOp(d.op);
        uint256 inputs = d.op == NFC_COMPOSE ? 4 : 2;
        _expectInputs(d, inputs, inputs);
        for (uint256 i; i < inputs; ++i) {
            // INVARIANT: every operand is int32 with frac 0.
            if (d.inputs[i].width != 4 || d.inputs[i].frac != 0) revert BadNode("dtype");
        }
        // INVARIANT: the output is int32 with frac 0.
        if (d.out.width != 4 || d.out.frac != 0) revert BadNode("dtype");
        TensorDesc calldata x = d.inputs[0];
        // INVARIANT: the first operand is [N, K] with 1 <= N <= MAX_POSITIONS and 1 <= K <= MAX_K.
        if (x.shape.length != 2 || x.shape[0] == 0 || x.shape[0] > MAX_POSITIONS || x.shape[1] == 0 || x.shape[1] > MAX_K)
        {
            revert BadNode("x shape");
        }
        (n, k) = (x.shape[0], x.shape[1]);
        for (uint256 i = 1; i < inputs && i < 3; ++i) {
            // INVARIANT: chars and added are [N].
            if (d.inputs[i].shape.length != 1 || d.inputs[i].shape[0] != n) revert BadNode("chars/added shape");
        }
        if (d.op == NFC_COMPACT) {
            // INVARIANT: NFC_COMPACT takes one param, mode 0 or 1, and gives [N].
            if (d.params.length != 1 || d.params[0] < 0 || d.params[0] > 1) revert BadNode("params");
            if (d.out.shape.length != 1 || d.out.shape[0] != n) revert BadNode("output shape");
            return (n, k);
        }
        // INVARIANT: the output is [N, K] like nfd.
        if (d.out.shape.length != 2 || d.out.shape[0] != n || d.out.shape[1] != k) revert BadNode("output shape");
        TensorDesc calldata comps = d.inputs[3];
        // INVARIANT: the composition table is [M, 3] with M <= MAX_ROWS.
        if (comps.shape.length != 2 || comps.shape[1] != ROW || comps.shape[0] > MAX_ROWS) {
            revert BadNode("comps shape");
        }
        int256[] calldata p = d.params;
        // INVARIANT: params (W, salt, C): 1 <= W <= min(M, MAX_WINDOW), salt a uint32, 1 <= C <= MAX_TRIES.
        if (
            p.length != 3 || p[0] < 1 || uint256(p[0]) > comps.shape[0] || p[0] > int256(MAX_WINDOW) || p[1] < 0
                || p[1] > HASH_MASK || p[2] < 1 || p[2] > int256(MAX_TRIES)
        ) revert BadNode("params");
    }
}
