// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {LibNfc} from "../lib/LibNfc.sol";
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
    uint256 internal constant ROW = LibNfc.ROW;
    uint256 internal constant MAX_TRIES = 4;
    uint256 internal constant LOOK_BACK = 2;
    uint256 internal constant LOOK_FORWARD = LibNfc.LOOK_FORWARD;
    uint256 internal constant MAX_LINK = LibNfc.MAX_LINK;
    int256 internal constant NONE = LibNfc.NONE;
    int256 internal constant CP_MASK = LibNfc.CP_MASK;

    /// @dev NFC_COMPOSE's operands nfd [N*K], chars [N], added [N] read in place.
    struct V {
        Int32View nfd;
        Int32View chars;
        Int32View added;
        uint256 k;
    }

    /// @dev The composition window of the element: entries (cp, rank) in order, b first; q's place in it.
    struct Win {
        int256[] cp;
        uint256[] rank;
        uint256 len;
        uint256 qAt;
        uint256 marksFrom;
        uint256 status;
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
        Run memory run = Run(0, r - 3, false, 0, 0, uint256(d.params[2]));
        _settle(_views(loaded, n, k), e, run, loaded);
        if (!run.stopped) return (3, 0, 0);
        return LibNfc.probe(d, run.a, run.c);
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
        Run memory run = Run(0, type(uint256).max, false, 0, 0, uint256(d.params[2]));
        return _settle(_views(operands, n, k), e, run, operands);
    }

    // ------------------------------------------------------------------------------------------- compose

    function _views(Operand[] calldata ops, uint256 n, uint256 k) internal pure returns (V memory v) {
        v = V(LibOperand.int32View(ops[0]), LibOperand.int32View(ops[1]), LibOperand.int32View(ops[2]), k);
        if (v.nfd.len != n * k) revert OperandIndexOutOfRange(n * k, v.nfd.len);
        if (v.chars.len != n || v.added.len != n) revert OperandIndexOutOfRange(n, v.chars.len);
    }

    /// @dev The entry at flat slot f < N*K: (exists, cp, rank, opaque). A row with added != -1 has one opaque
    ///      entry, its char, at slot 0 (when >= 0); any other row has the nfd values > 0, decoded.
    function _entry(V memory v, uint256 f) internal pure returns (bool, int256, uint256, bool) {
        uint256 i = f / v.k;
        (uint256 nb, uint256 cb, uint256 ab) = (v.nfd.base, v.chars.base, v.added.base);
        int256 a;
        int256 x;
        // Safe: f < N*K and i < N (callers walk within the views _views checked), so every load lies in a view.
        assembly ("memory-safe") {
            a := signextend(3, shr(224, calldataload(add(ab, mul(i, 4)))))
            x := signextend(3, shr(224, calldataload(add(nb, mul(f, 4)))))
        }
        if (a != NONE) {
            int256 c;
            // Safe: i < N, within chars.
            assembly ("memory-safe") {
                c := signextend(3, shr(224, calldataload(add(cb, mul(i, 4)))))
            }
            return (f % v.k == 0 && c >= 0, c, 0, true);
        }
        if (x <= 0) return (false, 0, 0, false);
        return (true, (x >> 2) & CP_MASK, uint256(x >> 23), false);
    }

    /// @dev The entry next to flat slot f (before it when down) within MAX_LINK slots (LibNfc.adjacent): its kind,
    ///      1 for a starter, 2 for a non-starter, 0 for none (a segment boundary) / opaque, and its slot.
    function _adj(V memory v, uint256 f, bool down) internal pure returns (uint256 kind, uint256 g) {
        (kind, g,) = LibNfc.adjacent(v.k, v.nfd.base, v.chars.base, v.added.base, v.nfd.len, f, down);
        if (kind == LibNfc.OPAQUE) kind = 0;
    }

    /// @dev Element e's output (NONE when it holds no entry or its char is absorbed); stops (run.stopped, with the
    ///      pair) at try run.stopAt instead of reading that try's window.
    function _settle(V memory v, uint256 e, Run memory run, Operand[] calldata ops) internal pure returns (int256) {
        (bool ok, int256 cp, uint256 rank, bool opaque) = _entry(v, e);
        if (!ok) return NONE;
        if (opaque) return cp;
        Win memory w = _locate(v, e, rank, run.maxTries);
        if (w.status == 0) return cp;
        if (w.status == 2) return w.cp[w.qAt];
        return _compose(w, run, ops);
    }

    /// @dev The element's window, reordered, with q's place and the status of _runStart (0: q keeps its cp).
    function _locate(V memory v, uint256 e, uint256 rank, uint256 maxTries) internal pure returns (Win memory w) {
        (uint256 t, uint256 idx, uint256 status) = rank > 0 ? _runStart(v, e, maxTries) : (e, 0, 1);
        if (status == 0) return w;
        w = _window(v, e, t, status == 1, maxTries);
        w.status = status;
        _sortMarks(w, w.marksFrom);
        if (rank > 0) w.qAt = w.marksFrom + idx;
    }

    /// @dev For a non-starter at e: its index idx in its run and status 0 when idx >= C (it keeps its cp); else
    ///      t = the starter before the run (status 1) or the run's first entry when no starter precedes it in its
    ///      segment (status 2).
    function _runStart(V memory v, uint256 e, uint256 maxTries)
        internal
        pure
        returns (uint256 t, uint256 idx, uint256 status)
    {
        t = e;
        while (true) {
            (uint256 kind, uint256 g) = _adj(v, t, true);
            if (kind == 2) {
                if (++idx >= maxTries) return (t, idx, 0);
                t = g;
            } else {
                return kind == 1 ? (g, idx, 1) : (t, idx, 2);
            }
        }
    }

    /// @dev The window of the element at e: with a starter t, up to LOOK_BACK starters before it, t, up to
    ///      LOOK_FORWARD starters after it and the first C non-starters after those; without (t the first entry of
    ///      a run), the run's first C entries; marksFrom: where the non-starters begin.
    function _window(V memory v, uint256 e, uint256 t, bool hasT, uint256 maxTries)
        internal
        pure
        returns (Win memory w)
    {
        w = Win(new int256[](LOOK_BACK + 1 + LOOK_FORWARD + maxTries),
            new uint256[](LOOK_BACK + 1 + LOOK_FORWARD + maxTries), 0, 0, 0, 0);
        if (!hasT) {
            _push(v, w, t, e);
            _collectMarks(v, w, t, maxTries - 1);
            return w;
        }
        uint256 f = t;
        for (uint256 j; j < LOOK_BACK; ++j) {
            (uint256 kind, uint256 g) = _adj(v, f, true);
            if (kind != 1) break;
            f = g;
        }
        while (true) {
            _push(v, w, f, e);
            if (f == t) break;
            (, f) = _adj(v, f, false);
        }
        for (uint256 j; j < LOOK_FORWARD; ++j) {
            (uint256 kind, uint256 g) = _adj(v, f, false);
            if (kind != 1) break;
            f = g;
            _push(v, w, f, e);
        }
        w.marksFrom = w.len;
        _collectMarks(v, w, f, maxTries);
    }

    /// @dev Appends the entry at flat slot f to the window (noting q's place when f is the element's slot).
    function _push(V memory v, Win memory w, uint256 f, uint256 e) internal pure {
        if (f == e) w.qAt = w.len;
        (, w.cp[w.len], w.rank[w.len],) = _entry(v, f);
        ++w.len;
    }

    /// @dev Appends the non-starters after flat slot f (at most `count`, stopping at a starter / opaque / end).
    function _collectMarks(V memory v, Win memory w, uint256 f, uint256 count) internal pure {
        for (uint256 j; j < count; ++j) {
            (uint256 kind, uint256 g) = _adj(v, f, false);
            if (kind != 2) return;
            (, w.cp[w.len], w.rank[w.len],) = _entry(v, g);
            ++w.len;
            f = g;
        }
    }

    /// @dev Stable insertion sort of the window's entries from `from` on by rank.
    function _sortMarks(Win memory w, uint256 from) internal pure {
        for (uint256 i = from + 1; i < w.len; ++i) {
            (int256 c, uint256 r) = (w.cp[i], w.rank[i]);
            uint256 j = i;
            while (j > from && w.rank[j - 1] > r) {
                (w.cp[j], w.rank[j]) = (w.cp[j - 1], w.rank[j - 1]);
                --j;
            }
            (w.cp[j], w.rank[j]) = (c, r);
        }
    }

    /// @dev The state of the composition: the current starter (window index, value), the rank of the last kept
    ///      char.
    struct St {
        uint256 sIdx;
        int256 sVal;
        uint256 lastRank;
    }

    /// @dev The standard composition on the window with its first entry a fresh starter; returns the output of
    ///      the window's entry qAt.
    function _compose(Win memory w, Run memory run, Operand[] calldata ops) internal pure returns (int256) {
        St memory st = St(0, w.cp[0], 0);
        uint256 q = w.qAt;
        for (uint256 u = 1; u < w.len; ++u) {
            int256 cp = w.cp[u];
            uint256 rank = w.rank[u];
            if (st.lastRank == 0 || (rank > 0 && st.lastRank < rank)) {
                if (run.tries == run.stopAt) {
                    run.stopped = true;
                    run.a = st.sVal;
                    run.c = cp;
                    return NONE;
                }
                int256 comp = LibNfc.hangul(st.sVal, cp);
                if (comp == NONE) comp = LibNfc.find(LibOperand.int32View(ops[3 + run.tries]), st.sVal, cp);
                ++run.tries;
                if (comp != NONE) {
                    st.sVal = comp;
                    if (u == q) return NONE;
                    continue;
                }
            }
            if (rank == 0) {
                if (st.sIdx == q) return st.sVal;
                (st.sIdx, st.sVal) = (u, cp);
            } else if (u == q) {
                return cp;
            }
            st.lastRank = rank;
        }
        return st.sVal;
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
        (n, k) = LibNfc.checkEntries(d, inputs);
        if (d.op == NFC_COMPACT) {
            // INVARIANT: NFC_COMPACT takes one param, mode 0 or 1, and gives [N].
            if (d.params.length != 1 || d.params[0] < 0 || d.params[0] > 1) revert BadNode("params");
            if (d.out.shape.length != 1 || d.out.shape[0] != n) revert BadNode("output shape");
            return (n, k);
        }
        // INVARIANT: the output is [N, K] like nfd.
        if (d.out.shape.length != 2 || d.out.shape[0] != n || d.out.shape[1] != k) revert BadNode("output shape");
        LibNfc.checkTable(d, 3);
        // INVARIANT: the third param C lies in [1, MAX_TRIES].
        if (d.params[2] < 1 || d.params[2] > int256(MAX_TRIES)) revert BadNode("params");
    }
}
