// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc, TensorDesc} from "../lib/LibDescriptor.sol";
import {Int32View, LibOperand, Operand} from "../lib/LibOperand.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {LibNfc} from "../lib/LibNfc.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title NfcRunOps
/// @notice NFC for runs of non-starters of any length (issue 14), mirroring offchain/engine/ops/nfc_runs.py (whose
///         docstring is the spec). NFC_REORDER (68): every run of non-starters of CHAR_MAP's NFD entries
///         (4 * ((rank << 21) | cp) + 1) stably sorted by rank, raw values moved, every other slot kept;
///         a run of more than MAX_RUN_MARKS = 256 kept as it is (no text of N <= 256 bytes has one);
///         NFC_STAGE (69): the composition of run indices [from, from + D) of every run given the previous stage's
///         output (S at the run's owner starter, kept marks = cells != -1), pairs looked up in NFC_COMPOSE's
///         hashed table, Hangul algorithmic. Entries, runs and segments are NfcOps' (added-token rows opaque, at
///         most MAX_LINK flat slots between linked entries). Operands are int32, read in place; every input has
///         one result.
contract NfcRunOps is OperatorBase {
    using LibOperand for Int32View;

    uint256 internal constant NFC_REORDER = 68;
    uint256 internal constant NFC_STAGE = 69;
    uint256 internal constant MAX_STAGE_TRIES = 2;
    uint256 internal constant LOOK_FORWARD = LibNfc.LOOK_FORWARD;
    uint256 internal constant MAX_LINK = LibNfc.MAX_LINK;
    uint256 internal constant RANKS = 256;
    uint256 internal constant MAX_RUN_MARKS = 256;
    int256 internal constant NONE = LibNfc.NONE;
    int256 internal constant CP_MASK = LibNfc.CP_MASK;
    /// @dev Entry kinds of a flat slot (LibNfc.adjacent's).
    uint256 internal constant NO_ENTRY = LibNfc.NO_ENTRY;
    uint256 internal constant STARTER = LibNfc.STARTER;
    uint256 internal constant MARK = LibNfc.MARK;
    uint256 internal constant OPAQUE = LibNfc.OPAQUE;
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

    /// @dev One NFC_STAGE evaluation: its params, the tries made, at a stop (range calls) the stopped pair, the
    ///      owner's slot and the run's slots by run index (from 0).
    struct Run {
        uint256 from;
        uint256 width;
        uint256 tries;
        uint256 stopAt;
        bool stopped;
        int256 a;
        int256 c;
        uint256 owner;
        uint256[] slots;
        bool rev;
        uint256 count;
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
        Run memory run =
            Run(uint256(d.params[2]), uint256(d.params[3]), 0, r - 4, false, 0, 0, 0, new uint256[](0), false, 0);
        _stage(_views(loaded, n, k, true), e, run, loaded);
        if (!run.stopped) return (3, 0, 0);
        return LibNfc.probe(d, run.a, run.c);
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
        Run memory run = Run(
            uint256(d.params[2]), uint256(d.params[3]), 0, type(uint256).max, false, 0, 0, 0, new uint256[](0), false, 0
        );
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
    function _adj(V memory v, uint256 f, bool down) internal pure returns (uint256, uint256, int256) {
        return LibNfc.adjacent(v.k, v.xb, v.cb, v.ab, v.len, f, down);
    }

    /// @dev The slots of the consecutive marks next to flat slot f (before it, nearest first, when down; after it
    ///      otherwise), at most `cap`: the walk stops at the first entry within MAX_LINK slots that is not a mark,
    ///      or when none is (a cut). With a non-empty `counts` it also counts the marks' ranks into it. One tight
    ///      loop: every slot visited costs two calldata loads.
    function _marks(V memory v, uint256 f, bool down, uint256 cap, uint256[] memory counts)
        internal
        pure
        returns (uint256[] memory out)
    {
        out = new uint256[](cap);
        // Safe: every slot visited lies in [0, N*K) (last is clamped to it) and its row in [0, N), all within the
        // views _views checked (V's words: xb, cb, ab, pb, k, len); out has cap words and count < cap when
        // written; a counted rank is x >> 23 < 256 = counts' length (x a positive int32).
        assembly ("memory-safe") {
            let count := 0
            for {} lt(count, cap) {} {
                let last := sub(mload(add(v, 160)), 1)
                switch down
                case 1 {
                    last := 0
                    if gt(f, 16) { last := sub(f, 16) }
                }
                default { if lt(add(f, 16), last) { last := add(f, 16) } }
                let x := 0
                for {} iszero(eq(f, last)) {} {
                    f := sub(add(f, 1), shl(1, down))
                    let y := signextend(3, shr(224, calldataload(add(mload(v), shl(2, f)))))
                    let r := mod(f, mload(add(v, 128)))
                    // no entry: a slot with x <= 0 other than a row's first (an opaque entry sits at slot 0)
                    if and(iszero(sgt(y, 0)), gt(r, 0)) { continue }
                    let i := div(f, mload(add(v, 128)))
                    if eq(signextend(3, shr(224, calldataload(add(mload(add(v, 64)), shl(2, i))))), not(0)) {
                        if sgt(y, 0) {
                            x := y
                            break
                        }
                        continue
                    }
                    if iszero(r) {
                        if iszero(slt(signextend(3, shr(224, calldataload(add(mload(add(v, 32)), shl(2, i))))), 0)) {
                            break // an opaque entry ends the run (x stays 0)
                        }
                    }
                }
                // a mark: a plain entry (x > 0) with rank x >> 23 > 0
                if or(iszero(sgt(x, 0)), iszero(shr(23, x))) { break }
                count := add(count, 1)
                mstore(add(out, shl(5, count)), f)
                if mload(counts) {
                    let at := add(counts, shl(5, add(shr(23, x), 1)))
                    mstore(at, add(mload(at), 1))
                }
            }
            mstore(out, count)
        }
    }

    // ----------------------------------------------------------------------------------------------- reorder

    /// @dev NFC_REORDER's output at slot e: for a mark at run index j the raw value of the run entry with place j
    ///      (stable sort by rank: a histogram of the run's ranks, then the j-th in sorted order); else, and in a run
    ///      of more than MAX_RUN_MARKS, x[e].
    function _reorder(V memory v, uint256 e) internal pure returns (int256) {
        (uint256 kind,) = _at(v, e);
        if (kind != MARK) return _ld(v.xb, e);
        uint256[] memory counts = new uint256[](RANKS);
        uint256[] memory back = _marks(v, e, true, MAX_RUN_MARKS, counts);
        uint256[] memory fwd = _marks(v, e, false, MAX_RUN_MARKS, counts);
        uint256 j = back.length;
        if (j + 1 + fwd.length > MAX_RUN_MARKS) return _ld(v.xb, e);
        ++counts[_rank(v, e)];
        uint256 rank;
        while (j >= counts[rank]) {
            j -= counts[rank];
            ++rank;
        }
        // the j-th entry of that rank in run order: back (reversed), e, fwd
        uint256 g = _pick(v, back, true, rank, j);
        if (g != NO_SLOT) return _ld(v.xb, g);
        j -= _countRank(v, back, rank);
        if (_rank(v, e) == rank) {
            if (j == 0) return _ld(v.xb, e);
            --j;
        }
        return _ld(v.xb, _pick(v, fwd, false, rank, j)); // found: the run holds counts[rank] > j of that rank
    }

    /// @dev The slot of the j-th entry of rank `rank` in `slots` (walked from its end when rev), NO_SLOT if fewer.
    function _pick(V memory v, uint256[] memory slots, bool rev, uint256 rank, uint256 j)
        internal
        pure
        returns (uint256 g)
    {
        uint256 xb = v.xb;
        g = NO_SLOT;
        // Safe: every index read lies in [0, slots.length), every slot in [0, N*K) (walked by _marks).
        assembly ("memory-safe") {
            let len := mload(slots)
            for { let i := 0 } lt(i, len) { i := add(i, 1) } {
                let idx := i
                if rev { idx := sub(sub(len, 1), i) }
                let f := mload(add(slots, shl(5, add(idx, 1))))
                if eq(shr(23, signextend(3, shr(224, calldataload(add(xb, shl(2, f)))))), rank) {
                    if iszero(j) {
                        g := f
                        break
                    }
                    j := sub(j, 1)
                }
            }
        }
    }

    /// @dev How many entries of `slots` have rank `rank`.
    function _countRank(V memory v, uint256[] memory slots, uint256 rank) internal pure returns (uint256 c) {
        uint256 xb = v.xb;
        // Safe: as _pick.
        assembly ("memory-safe") {
            let len := mload(slots)
            for { let i := 0 } lt(i, len) { i := add(i, 1) } {
                let f := mload(add(slots, shl(5, add(i, 1))))
                c := add(c, eq(shr(23, signextend(3, shr(224, calldataload(add(xb, shl(2, f)))))), rank))
            }
        }
    }

    /// @dev The rank (x >> 23) of the mark at slot f.
    function _rank(V memory v, uint256 f) internal pure returns (uint256) {
        return uint256(_ld(v.xb, f) >> 23);
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
        if (!_locate(v, e, run)) return _ld(v.pb, e);
        return _compose(v, e, run, ops);
    }

    /// @dev Whether slot e is settled by this stage (a mark at run index in [from, from + D) of a run with an owner,
    ///      or that owner); fills run.slots (the run's slots from index 0 up to e, or up to from + D for the owner)
    ///      and run.owner.
    function _locate(V memory v, uint256 e, Run memory run) internal pure returns (bool ok) {
        (uint256 kind,) = _at(v, e);
        if (kind == MARK) {
            run.slots = _marks(v, e, true, run.from + run.width, new uint256[](0));
            uint256 j = run.slots.length;
            if (j < run.from || j >= run.from + run.width) return false;
            (run.rev, run.count) = (true, j + 1);
        } else if (kind == STARTER) {
            uint256 t;
            (ok, t) = _runAfter(v, e);
            if (!ok) return false;
            run.slots = _marks(v, t, false, run.from + run.width, new uint256[](0));
            run.count = run.slots.length;
            if (run.count <= run.from) return false;
        } else {
            return false;
        }
        uint256 o;
        (ok, o) = _owner(v, _slot(run, 0, e));
        if (kind == STARTER && o != e) return false;
        run.owner = o;
    }

    /// @dev The last starter of the chain after the starter at e (at most LOOK_FORWARD starters with prev = -1)
    ///      that a mark follows (found = false when another entry, a cut or a kept starter comes first).
    function _runAfter(V memory v, uint256 e) internal pure returns (bool, uint256) {
        uint256 t = e;
        for (uint256 steps;; ++steps) {
            (uint256 kind, uint256 g,) = _adj(v, t, false);
            if (kind == MARK) return (true, t);
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

    /// @dev The rank of the last kept mark (prev != -1) before run index `from`, then the tries of indices
    ///      [from, from + D) with S starting at prev[owner]. Returns the mark at `target`'s output, or for the
    ///      owner S at the end.
    function _compose(V memory v, uint256 target, Run memory run, Operand[] calldata ops)
        internal
        pure
        returns (int256)
    {
        St memory st = St(_ld(v.pb, run.owner), 0);
        for (uint256 i = run.from; i > 0; --i) {
            uint256 g = _slot(run, i - 1, target);
            if (_ld(v.pb, g) != NONE) {
                st.last = _rank(v, g);
                break;
            }
        }
        for (uint256 i = run.from; i < run.count && i < run.from + run.width; ++i) {
            (bool stop, int256 val) = _markStep(v, _slot(run, i, target), target, run, ops, st);
            if (stop) return val;
        }
        return st.s;
    }

    /// @dev The slot of run index i: run.slots walked back from the mark e (reversed, e last) or forward from the
    ///      run's start.
    function _slot(Run memory run, uint256 i, uint256 e) internal pure returns (uint256) {
        if (!run.rev) return run.slots[i];
        uint256 j = run.count - 1;
        return i == j ? e : run.slots[j - 1 - i];
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
        int256 comp = LibNfc.hangul(st.s, cp);
        if (comp == NONE) comp = LibNfc.find(LibOperand.int32View(ops[4 + run.tries]), st.s, cp);
        ++run.tries;
        if (comp == NONE) return false;
        st.s = comp;
        return true;
    }

    // ------------------------------------------------------------------------------------------------- check

    /// @dev Reverts unless the node is NFC_REORDER or NFC_STAGE with its inputs, params and shapes (all int32);
    ///      returns (N, K).
    function _check(NodeDesc calldata d) internal pure returns (uint256 n, uint256 k) {
        if (d.op != NFC_REORDER && d.op != NFC_STAGE) revert UnsupportedOp(d.op);
        uint256 inputs = d.op == NFC_REORDER ? 3 : 5;
        _expectInputs(d, inputs, inputs);
        (n, k) = LibNfc.checkEntries(d, inputs);
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
        LibNfc.checkTable(d, 4);
        int256[] calldata p = d.params;
        // INVARIANT: params (from, D) after (W, salt): 1 <= D <= MAX_STAGE_TRIES, 1 <= from <= MAX_RUN_MARKS - D.
        if (p[3] < 1 || p[3] > int256(MAX_STAGE_TRIES) || p[2] < 1 || p[2] > int256(MAX_RUN_MARKS) - p[3]) {
            revert BadNode("params");
        }
    }
}
