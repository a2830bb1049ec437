// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title NfcRunOps
/// @notice NFC for runs of non-starters of any length (issue 14), mirroring offchain/engine/ops/nfc_runs.py (whose
///         docstring is the spec). NFC_REORDER (68): every run of non-starters of CHAR_MAP's NFD entries
///         (4 * ((rank << 21) | cp) + 1) stably sorted by rank, raw values moved, every other slot kept;
///         NFC_STAGE (69): the composition of run indices [from, from + D) of every run given the previous stage's
///         output (S at the run's owner starter, kept marks = cells != -1), pairs looked up in NFC_COMPOSE's
///         hashed table, Hangul algorithmic. Entries, runs and segments are NfcOps' (added-token rows opaque, at
///         most MAX_LINK flat slots between linked entries). Operands are int32, read in place; every input has
///         one result.
contract NfcRunOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant NFC_REORDER = 68;
    uint256 internal constant NFC_STAGE = 69;
    uint256 internal constant ROW = 3;
    uint256 internal constant MAX_K = 4;
    uint256 internal constant MAX_POSITIONS = 256;
    uint256 internal constant MAX_STAGE_TRIES = 4;
    uint256 internal constant MAX_WINDOW = 8;
    uint256 internal constant MAX_ROWS = 1 << 12;
    uint256 internal constant LOOK_FORWARD = 2;
    uint256 internal constant MAX_LINK = 16;
    uint256 internal constant RANKS = 256;
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
    uint256 internal constant NO_SLOT = type(uint256).max;

    /// @dev x [N*K], chars [N], added [N], prev [N*K] (NFC_STAGE only) read in place.
    struct V {
        uint256 xb;
        uint256 cb;
        uint256 ab;
        uint256 pb;
        uint256 k;
        uint256 len;
    }

    /// @dev One NFC_STAGE evaluation: its params, the tries made, at a stop (range calls) the stopped pair, and the
    ///      run's first slot and owner's slot.
    struct Run {
        uint256 from;
        uint256 width;
        uint256 tries;
        uint256 stopAt;
        bool stopped;
        int256 a;
        int256 c;
        uint256 r0;
        uint256 owner;
    }

    /// @inheritdoc OperatorBase
    function dataDependent(uint256 op) external pure override returns (bool) {
        return op == NFC_STAGE;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return d.op == NFC_STAGE ? 4 + uint256(d.params[3]) : 3;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata loaded)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        (uint256 n, uint256 k) = _check(d);
        if (e >= n * k) revert BadNode("element");
        if (d.op == NFC_REORDER) {
            if (r >= 3) revert BadNode("range index");
            return (r, 0, r == 0 ? n * k : n);
        }
        if (r >= 4 + uint256(d.params[3])) revert BadNode("range index");
        if (r < 4) return r == 3 ? (4, 0, n * k) : (r, 0, r == 0 ? n * k : n);
        if (loaded.length != r) revert BadNode("loaded ranges");
        Run memory run = Run(uint256(d.params[2]), uint256(d.params[3]), 0, r - 4, false, 0, 0, 0, 0);
        _stage(_views(loaded, n, k, true), e, run, loaded);
        if (!run.stopped || _hangul(run.a, run.c) != NONE) return (3, 0, 0);
        return (3, _home(d, run.a, run.c) * ROW, uint256(d.params[0]) * ROW);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        (uint256 n, uint256 k) = _check(d);
        if (e >= n * k) revert BadNode("element");
        if (d.op == NFC_REORDER) {
            if (operands.length != 3) revert BadNode("operand count");
            return _reorder(_views(operands, n, k, false), e);
        }
        if (operands.length != 4 + uint256(d.params[3])) revert BadNode("operand count");
        Run memory run = Run(uint256(d.params[2]), uint256(d.params[3]), 0, type(uint256).max, false, 0, 0, 0, 0);
        return _stage(_views(operands, n, k, true), e, run, operands);
    }

    // ----------------------------------------------------------------------------------------------- entries

    function _views(Operand[] calldata ops, uint256 n, uint256 k, bool withPrev) internal pure returns (V memory v) {
        Int32View memory x = LibOperand.int32View(ops[0]);
        Int32View memory c = LibOperand.int32View(ops[1]);
        Int32View memory a = LibOperand.int32View(ops[2]);
        if (x.len != n * k) revert OperandIndexOutOfRange(n * k, x.len);
        if (c.len != n || a.len != n) revert OperandIndexOutOfRange(n, c.len);
        v = V(x.base, c.base, a.base, 0, k, n * k);
        if (withPrev) {
            Int32View memory p = LibOperand.int32View(ops[3]);
            if (p.len != n * k) revert OperandIndexOutOfRange(n * k, p.len);
            v.pb = p.base;
        }
    }

    /// @dev The int32 at index i of the packed operand starting at calldata offset base.
    function _ld(uint256 base, uint256 i) internal pure returns (int256 r) {
        // Safe: callers pass i within the view (f < N*K, i < N), checked in _views.
        assembly ("memory-safe") {
            r := signextend(3, shr(224, calldataload(add(base, mul(i, 4)))))
        }
    }

    /// @dev The kind of flat slot f < N*K and its raw x value: a row with added != -1 has one OPAQUE entry, its
    ///      char, at slot 0 when >= 0; any other row has an entry where x > 0 (rank x >> 23 > 0: a MARK).
    function _at(V memory v, uint256 f) internal pure returns (uint256 kind, int256 raw) {
        uint256 i = f / v.k;
        if (_ld(v.ab, i) != NONE) return (f % v.k == 0 && _ld(v.cb, i) >= 0 ? OPAQUE : NO_ENTRY, 0);
        raw = _ld(v.xb, f);
        if (raw <= 0) return (NO_ENTRY, raw);
        return (raw >> 23 > 0 ? MARK : STARTER, raw);
    }

    /// @dev The entry next to flat slot f (before it when down) within MAX_LINK slots: its kind (NO_ENTRY when
    ///      none: a segment boundary), slot and raw x value.
    function _adj(V memory v, uint256 f, bool down) internal pure returns (uint256 kind, uint256 g, int256 raw) {
        uint256 last;
        if (down) {
            last = f > MAX_LINK ? f - MAX_LINK : 0;
        } else {
            last = f + MAX_LINK < v.len ? f + MAX_LINK : v.len - 1;
        }
        (uint256 k, uint256 xb, uint256 cb, uint256 ab) = (v.k, v.xb, v.cb, v.ab);
        // Safe: every slot visited lies in [0, N*K) (last is clamped above) and its row in [0, N), all within the
        // views _views checked.
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

    /// @dev The first slot of the run holding the mark at f and f's index in it.
    function _runStart(V memory v, uint256 f) internal pure returns (uint256 r0, uint256 idx) {
        r0 = f;
        while (true) {
            (uint256 kind, uint256 g,) = _adj(v, r0, true);
            if (kind != MARK) return (r0, idx);
            (r0, idx) = (g, idx + 1);
        }
    }

    // ----------------------------------------------------------------------------------------------- reorder

    /// @dev NFC_REORDER's output at slot e: for a mark at run index j the raw value of the run entry with place j
    ///      (stable sort by rank: a histogram of the run's ranks, then the j-th in sorted order); else x[e].
    function _reorder(V memory v, uint256 e) internal pure returns (int256) {
        (uint256 kind, int256 raw) = _at(v, e);
        if (kind != MARK) return _ld(v.xb, e);
        (uint256 r0, uint256 j) = _runStart(v, e);
        uint256[] memory counts = new uint256[](RANKS);
        (uint256 g, int256 x) = (r0, _ld(v.xb, r0));
        while (true) {
            ++counts[uint256(x >> 23)];
            (kind, g, x) = _adj(v, g, false);
            if (kind != MARK) break;
        }
        uint256 rank;
        while (j >= counts[rank]) {
            j -= counts[rank];
            ++rank;
        }
        (g, x) = (r0, _ld(v.xb, r0));
        while (true) {
            if (uint256(x >> 23) == rank) {
                if (j == 0) return x;
                --j;
            }
            (, g, x) = _adj(v, g, false);
        }
        return raw; // unreachable: the run holds counts[rank] > j entries of that rank
    }

    // ------------------------------------------------------------------------------------------------- stage

    /// @dev The owner of the run whose first mark is at r0 (see NFC_STAGE): found = false when it has none.
    function _owner(V memory v, uint256 r0) internal pure returns (bool, uint256) {
        (uint256 kind, uint256 t,) = _adj(v, r0, true);
        if (kind != STARTER) return (false, 0);
        for (uint256 steps; _ld(v.pb, t) == NONE; ++steps) {
            if (steps == LOOK_FORWARD) return (false, 0);
            (kind, t,) = _adj(v, t, true);
            if (kind != STARTER) return (false, 0);
        }
        return (true, t);
    }

    /// @dev NFC_STAGE's output at slot e (stops with the pair at try run.stopAt in range calls).
    function _stage(V memory v, uint256 e, Run memory run, Operand[] calldata ops) internal pure returns (int256) {
        (bool ok, uint256 r0, uint256 o) = _locate(v, e, run);
        if (!ok) return _ld(v.pb, e);
        (run.r0, run.owner) = (r0, o);
        return _compose(v, e, run, ops);
    }

    /// @dev Whether slot e is settled by this stage: a mark at run index in [from, from + D) of a run with an
    ///      owner, or that owner; the run's first slot r0 and its owner o.
    function _locate(V memory v, uint256 e, Run memory run) internal pure returns (bool ok, uint256 r0, uint256 o) {
        (uint256 kind,) = _at(v, e);
        if (kind == MARK) {
            uint256 j;
            (r0, j) = _runStart(v, e);
            ok = j >= run.from && j < run.from + run.width;
        } else if (kind == STARTER) {
            (ok, r0) = _runAfter(v, e);
        }
        if (!ok) return (false, 0, 0);
        (ok, o) = _owner(v, r0);
        if (kind == STARTER && o != e) ok = false;
    }

    /// @dev The first mark of the run after the starter at e and at most LOOK_FORWARD starters with prev = -1
    ///      (found = false when another entry, a cut or a kept starter comes first).
    function _runAfter(V memory v, uint256 e) internal pure returns (bool, uint256) {
        uint256 t = e;
        for (uint256 steps;; ++steps) {
            (uint256 kind, uint256 g,) = _adj(v, t, false);
            if (kind == MARK) return (true, g);
            if (kind != STARTER || steps == LOOK_FORWARD || _ld(v.pb, g) != NONE) return (false, 0);
            t = g;
        }
        return (false, 0); // unreachable: the loop returns
    }

    /// @dev The composition state: S's value and the rank of the last kept mark (0: none).
    struct St {
        int256 s;
        uint256 last;
    }

    /// @dev Walks the run from r0: the rank of the last kept mark before index `from`, then the tries of indices
    ///      [from, from + D) with S starting at prev[owner]. Returns the mark at `target`'s output, or for the owner
    ///      S at the end (prev[target] when the run does not reach index `from`).
    function _compose(V memory v, uint256 target, Run memory run, Operand[] calldata ops)
        internal
        pure
        returns (int256)
    {
        St memory st = St(_ld(v.pb, run.owner), 0);
        uint256 g = _skip(v, run.r0, run.from, st);
        if (g == NO_SLOT) return _ld(v.pb, target);
        for (uint256 u; u < run.width; ++u) {
            (bool stop, int256 val) = _markStep(v, g, target, run, ops, st);
            if (stop) return val;
            g = _nextMark(v, g);
            if (g == NO_SLOT) break;
        }
        return st.s;
    }

    /// @dev The slot of the run's next mark after g, NO_SLOT at the run's end.
    function _nextMark(V memory v, uint256 g) internal pure returns (uint256) {
        (uint256 kind, uint256 h,) = _adj(v, g, false);
        return kind == MARK ? h : NO_SLOT;
    }

    /// @dev The mark at g in the stage window: tried with S unless blocked (st.last >= its rank); stop = true with
    ///      its output when g is the target (or at a range call's stop).
    function _markStep(V memory v, uint256 g, uint256 target, Run memory run, Operand[] calldata ops, St memory st)
        internal
        pure
        returns (bool, int256)
    {
        int256 x = _ld(v.xb, g);
        (uint256 rank, int256 cp) = (uint256(x >> 23), (x >> 2) & CP_MASK);
        bool kept = st.last >= rank || !_try(run, ops, st, cp);
        if (run.stopped) return (true, NONE);
        if (g == target) return (true, kept ? cp : NONE);
        if (kept) st.last = rank;
        return (false, 0);
    }

    /// @dev One try of (S, cp): true (S takes the composite) when Hangul or the try's probe window composes the
    ///      pair; at try run.stopAt it stops instead, recording the pair.
    function _try(Run memory run, Operand[] calldata ops, St memory st, int256 cp) internal pure returns (bool) {
        if (run.tries == run.stopAt) {
            (run.stopped, run.a, run.c) = (true, st.s, cp);
            return false;
        }
        int256 comp = _hangul(st.s, cp);
        if (comp == NONE) comp = _find(LibOperand.int32View(ops[4 + run.tries]), st.s, cp);
        ++run.tries;
        if (comp == NONE) return false;
        st.s = comp;
        return true;
    }

    /// @dev Walks run indices [0, from) from r0 noting in st.last the rank of the last kept one (prev != -1);
    ///      returns the slot of run index `from`, NO_SLOT if the run is shorter.
    function _skip(V memory v, uint256 r0, uint256 from, St memory st) internal pure returns (uint256 g) {
        g = r0;
        for (uint256 u; u < from && g != NO_SLOT; ++u) {
            if (_ld(v.pb, g) != NONE) st.last = uint256(_ld(v.xb, g) >> 23);
            g = _nextMark(v, g);
        }
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
    function _find(Int32View memory w, int256 a, int256 c) internal pure returns (int256 comp) {
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

    /// @dev First probe row of the pair (a, c): PAIR_RANK's pair hash mod (M - W + 1).
    function _home(NodeDesc calldata d, int256 a, int256 c) internal pure returns (uint256) {
        int256 h;
        // Cannot overflow: a and c are int32 (operand values) or Hangul composites, 0 <= salt < 2^32 (_check).
        unchecked {
            h = ((a * HASH_NODE + c * HASH_CHAR + d.params[1]) & HASH_MASK) >> 1;
        }
        return uint256(h) % (d.inputs[3].shape[0] - uint256(d.params[0]) + 1);
    }

    // ------------------------------------------------------------------------------------------------- check

    /// @dev Reverts unless the node is NFC_REORDER or NFC_STAGE with its inputs, params and shapes (all int32);
    ///      returns (N, K).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n, uint256 k) {
        if (d.op != NFC_REORDER && d.op != NFC_STAGE) revert UnsupportedOp(d.op);
        uint256 inputs = d.op == NFC_REORDER ? 3 : 5;
        _expectInputs(d, inputs, inputs);
        for (uint256 i; i < inputs; ++i) {
            // INVARIANT: every operand is int32 with frac 0.
            if (d.inputs[i].width != 4 || d.inputs[i].frac != 0) revert BadNode("dtype");
        }
        // INVARIANT: the output is int32 with frac 0.
        if (d.out.width != 4 || d.out.frac != 0) revert BadNode("dtype");
        TensorDesc calldata x = d.inputs[0];
        // INVARIANT: x is [N, K] with 1 <= N <= MAX_POSITIONS and 1 <= K <= MAX_K.
        if (x.shape.length != 2 || x.shape[0] == 0 || x.shape[0] > MAX_POSITIONS || x.shape[1] == 0 || x.shape[1] > MAX_K)
        {
            revert BadNode("x shape");
        }
        (n, k) = (x.shape[0], x.shape[1]);
        for (uint256 i = 1; i < 3; ++i) {
            // INVARIANT: chars and added are [N].
            if (d.inputs[i].shape.length != 1 || d.inputs[i].shape[0] != n) revert BadNode("chars/added shape");
        }
        // INVARIANT: the output is [N, K] like x.
        if (d.out.shape.length != 2 || d.out.shape[0] != n || d.out.shape[1] != k) revert BadNode("output shape");
        if (d.op == NFC_REORDER) {
            // INVARIANT: NFC_REORDER takes no params.
            if (d.params.length != 0) revert BadNode("params");
            return (n, k);
        }
        TensorDesc calldata prev = d.inputs[4];
        // INVARIANT: prev is [N, K] like x.
        if (prev.shape.length != 2 || prev.shape[0] != n || prev.shape[1] != k) revert BadNode("prev shape");
        TensorDesc calldata comps = d.inputs[3];
        // INVARIANT: the composition table is [M, 3] with M <= MAX_ROWS.
        if (comps.shape.length != 2 || comps.shape[1] != ROW || comps.shape[0] > MAX_ROWS) {
            revert BadNode("comps shape");
        }
        int256[] calldata p = d.params;
        // INVARIANT: params (W, salt, from, D): 1 <= W <= min(M, MAX_WINDOW), salt a uint32, 1 <= from <= N * K,
        // 1 <= D <= MAX_STAGE_TRIES.
        if (
            p.length != 4 || p[0] < 1 || uint256(p[0]) > comps.shape[0] || p[0] > int256(MAX_WINDOW) || p[1] < 0
                || p[1] > HASH_MASK || p[2] < 1 || uint256(p[2]) > n * k || p[3] < 1 || p[3] > int256(MAX_STAGE_TRIES)
        ) revert BadNode("params");
    }
}
