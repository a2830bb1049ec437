"""NFC for runs of non-starters of any length (issue 14): two ops that, with NFC_COMPOSE (59) as stage 0, make the
tokenizer graph's NFC exact for every run a text of N UTF-8 bytes can hold (59 alone reorders and composes only
the first C = 4 marks of a run). The tokenizer graph (offchain/models/bpe.py) runs

  CHAR_MAP(chars, NFD table) -> nfd [N, K] -> NFC_REORDER -> x [N, K] -> NFC_COMPOSE(x, ..) -> y_0
  -> NFC_STAGE(x, .., y_0; from = C) -> y_1 -> NFC_STAGE(x, .., y_1; from = C + D) -> .. -> y_S -> NFC_COMPACT

Entries, segments and runs are NFC_COMPOSE's (offchain/engine/ops/nfc.py): the entries of nfd / x in flat order
(an opaque added-token row gives one entry, its char; any other row its values > 0, cp = (v >> 2) & 0x1FFFFF,
rank = v >> 23), a run is a maximal sequence of consecutive non-opaque entries with rank > 0 each at most
MAX_LINK = 16 flat slots after the one before it.

NFC_REORDER (68)
    inputs: nfd [N, K], chars [N], added [N]. out [N, K]: canonical reordering of every run in full: the value
    (raw int32, unchanged) of the entry at run index j is the value of the run entry whose place is j, where the
    place of an entry is the number of run entries with (rank < its rank) or (rank == its rank and index < its
    index), i.e. a stable sort by rank. A run of more than MAX_RUN_MARKS = 256 entries (none in a text of N <= 256
    bytes) keeps its values, and so does every other slot. Runs keep their slots (only the
    values move), so NFC_COMPOSE on x sees the same runs, already sorted (its own sort of a run's first C
    entries is then the identity). Element reads the three inputs whole: it walks the run around the element (at
    most R = MAX_RUN_MARKS entries each way), counts ranks (a rank is v >> 23 < 256) and picks the j-th entry in
    sorted order.
    Cap: N <= 256, K <= 4 (bench_ops_gas ``nfc_run_cases``: worst step 0.76M gas as ``recompute``, 0.94M as
    the game's step, a 255-mark run one mark per row, its last element).

NFC_STAGE (69)
    inputs: x [N, K] (NFC_REORDER's output), chars [N], added [N], comps [M, 3] (NFC_COMPOSE's table layout),
    prev [N, K] (the previous stage's output: NFC_COMPOSE's or an NFC_STAGE's). params: (W, salt, from, D).
    Stage = the composition of run indices [from, from + D), given prev. out = prev except, for every run R with
    more than ``from`` entries that has an owner o:
      owner: the entry t just before R's first entry must be a starter linked to it; walking back from t over at
      most LOOK_FORWARD = 2 starters with prev = -1 (absorbed by the starter before them, each linked to the
      one before), the first starter with prev != -1 is o; none (a non-starter, opaque entry, segment cut,
      more than 2 absorbed) -> R has no owner and is left as prev has it (NFD's marks stay).
      S = prev[o] (the composite so far), last = the rank of the last entry of R before index ``from`` with
      prev != -1 (a kept mark), 0 if none. For u = from .. min(|R|, from + D) - 1 in order, with (cp, rank) of
      R[u]: if last < rank the pair (S, cp) is tried (Hangul L + V / LV + T algorithmically, else the table's
      first row holding it in its window, as NFC_COMPOSE): found -> S = composite, out[R[u]] = -1; otherwise
      (not tried or not found) out[R[u]] = cp and last = rank. Finally out[o] = S.
    After canonical reordering a run's ranks are non-decreasing, so "last < rank" is UAX #15's "not blocked" for
    a mark, and a starter after a run is blocked (some mark kept) or meets an S made with a non-starter, which
    composes with no starter (the table property nfc_tables checks): runs never interact, and stage s only
    needs S and the kept marks before its window. Element reads x, chars, added, prev whole, then D probe
    windows of 3W elements, one per try made until the element is settled, in try order (a Hangul try and the
    ranges past the last try are empty). Data-dependent.
    Caps: N <= 256, K <= 4, 1 <= D <= MAX_STAGE_TRIES = 2, 1 <= from <= MAX_RUN_MARKS - D (so a one-step walks
    at most R = 256 run entries: back from a mark until index from + D, forward from an owner to it), W <= 8,
    M <= 4096. Worst step (bench_ops_gas ``nfc_run_cases``, marks one per row, the mark at index 254 of a run
    over all 1024 slots, both tries failing after full windows): 1.47M gas as ``recompute``, 1.65M as the game's
    step; D = 3 / 4 measured 1.80M / 2.13M as ``recompute``, hence D <= 2.

Guarantee (with the tables of offchain/models/nfc_tables.py and their checked properties): the chain equals
tokenizers' NFC whenever every run has at most min(C + S * D, MAX_RUN_MARKS) non-starters; a text of N UTF-8
bytes has at most N (tests/engine/test_nfc_runs.py checks that no code point's NFD holds more non-starters than
its UTF-8 bytes), so bpe.py emits S = ceil((N - C) / D) stages and the graph is exact for every text that fits
it (N <= MAX_POSITIONS = MAX_RUN_MARKS).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.nfc import (
    LOOK_FORWARD, NONE, _mark, _starter, check_entries, check_table, entries, hangul, linked, probe_ranges,
    table_lookup, window_lookup)

#: Compositions one NFC_STAGE settles (D): its one-step re-runs the stage once per probe range.
MAX_STAGE_TRIES = 2
#: The longest run the ops handle (R): NFC_REORDER leaves a longer run as it is, NFC_STAGE settles run indices
#: below R only (from + D <= R). A text of N <= MAX_POSITIONS = R UTF-8 bytes has no longer run, and it bounds
#: every walk of a one-step (a run can otherwise fill all N * K = 1024 slots).
MAX_RUN_MARKS = 256
#: Rank values are v >> 23 of a positive int32: below 256.
RANKS = 256


def _seq(x: Sequence[int], chars: Sequence[int], added: Sequence[int]) -> list[tuple[int, int, int, bool]]:
    """NFC_COMPOSE's entries (flat, cp, rank, opaque) of x, in flat order, not reordered."""
    return entries(x, chars, added, len(x) // len(chars), 0)


def run_of(seq, q: int) -> tuple[int, int]:
    """[r0, r1) of the run holding mark entry q."""
    r0 = q
    while r0 > 0 and _mark(seq, r0 - 1) and linked(seq, r0):
        r0 -= 1
    r1 = q + 1
    while r1 < len(seq) and _mark(seq, r1) and linked(seq, r1):
        r1 += 1
    return r0, r1


def runs(seq) -> list[tuple[int, int]]:
    """Every run's [r0, r1), in order."""
    out, q = [], 0
    while q < len(seq):
        if not _mark(seq, q):
            q += 1
            continue
        r0, r1 = run_of(seq, q)
        out.append((r0, r1))
        q = r1
    return out


def reorder_value(x: Sequence[int], seq, q: int) -> int:
    """NFC_REORDER's value at mark entry q: the raw value of the run entry whose place is q's run index (its own
    value in a run of more than MAX_RUN_MARKS)."""
    r0, r1 = run_of(seq, q)
    if r1 - r0 > MAX_RUN_MARKS:
        return int(x[seq[q][0]])
    order = sorted(range(r0, r1), key=lambda m: seq[m][2])
    return int(x[seq[order[q - r0]][0]])


def owner(seq, prev: Sequence[int], r0: int) -> int | None:
    """The entry index of run r0's owner (see NFC_STAGE), None if it has none."""
    t = r0 - 1
    if not (linked(seq, r0) and _starter(seq, t)):
        return None
    steps = 0
    while prev[seq[t][0]] == NONE:
        if steps == LOOK_FORWARD or not (linked(seq, t) and _starter(seq, t - 1)):
            return None
        t -= 1
        steps += 1
    return t


def run_stage(seq, prev: Sequence[int], r0: int, r1: int, o: int, frm: int, width: int, lookup):
    """(S after the stage, {entry index: output} of the stage's marks, pairs tried in order) for run [r0, r1)
    with owner o; ``lookup(a, c, n)`` gives the table's composite for the n-th try (-1 if none)."""
    s_val = int(prev[seq[o][0]])
    last = 0
    for u in range(r0 + frm - 1, r0 - 1, -1):
        if prev[seq[u][0]] != NONE:
            last = seq[u][2]
            break
    outs: dict[int, int] = {}
    tried: list[tuple[int, int]] = []
    for u in range(r0 + frm, min(r1, r0 + frm + width)):
        cp, rank = seq[u][1], seq[u][2]
        if last < rank:
            tried.append((s_val, cp))
            comp = hangul(s_val, cp)
            if comp == NONE:
                comp = lookup(s_val, cp, len(tried) - 1)
            if comp != NONE:
                s_val = comp
                outs[u] = NONE
                continue
        outs[u] = cp
        last = rank
    return s_val, outs, tried


def stage_element(seq, prev: Sequence[int], f: int, frm: int, width: int, lookup) -> tuple[int, list]:
    """(NFC_STAGE's output at flat slot f, the pairs tried for it in order)."""
    q = next((m for m, ent in enumerate(seq) if ent[0] == f), None)
    if q is None or seq[q][3]:
        return int(prev[f]), []
    if _mark(seq, q):
        r0, _ = run_of(seq, q)
        if not frm <= q - r0 < frm + width:
            return int(prev[f]), []
        o = owner(seq, prev, r0)
        if o is None:
            return int(prev[f]), []
        _, outs, tried = run_stage(seq, prev, r0, q + 1, o, frm, width, lookup)
        return outs[q], tried
    # a starter: the owner of the run after at most LOOK_FORWARD absorbed starters?
    t, steps = q, 0
    while True:
        if not linked(seq, t + 1):
            return int(prev[f]), []
        if _mark(seq, t + 1):
            break
        if steps < LOOK_FORWARD and _starter(seq, t + 1) and prev[seq[t + 1][0]] == NONE:
            t += 1
            steps += 1
            continue
        return int(prev[f]), []
    r0 = t + 1
    r1 = r0 + 1
    while r1 < len(seq) and r1 < r0 + frm + width and _mark(seq, r1) and linked(seq, r1):
        r1 += 1
    if r1 - r0 <= frm or owner(seq, prev, r0) != q:
        return int(prev[f]), []
    s_val, _, tried = run_stage(seq, prev, r0, r1, q, frm, width, lookup)
    return s_val, tried


def _flat(a) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


class NfcReorder(Op):
    """Canonical reordering of every run of non-starters, in full (see the module docstring)."""

    code = OpCode.NFC_REORDER
    name = "NFC_REORDER"

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 0)
        n, k = check_entries(node, ("nfd", "chars", "added"))
        expect_shape("output", node.output.shape, (n, k))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x, chars, added = (_flat(a) for a in inputs)
        seq = _seq(x, chars, added)
        out = list(x)
        for r0, r1 in runs(seq):
            if r1 - r0 > MAX_RUN_MARKS:
                continue
            order = sorted(range(r0, r1), key=lambda m: seq[m][2])
            for j, m in enumerate(order):
                out[seq[r0 + j][0]] = x[seq[m][0]]
        return np.array(out, dtype=np.int64).astype(np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n, k = node.in_specs[0].shape
        return [(0, 0, n * k), (1, 0, n), (2, 0, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        x, chars, added = (list(map(int, o)) for o in operands[:3])
        seq = _seq(x, chars, added)
        q = next((m for m, ent in enumerate(seq) if ent[0] == out_index), None)
        if q is None or not _mark(seq, q):
            return x[out_index]
        return reorder_value(x, seq, q)


class NfcStage(Op):
    """Composition of run indices [from, from + D) of every run, given the previous stage (see the docstring)."""

    code = OpCode.NFC_STAGE
    name = "NFC_STAGE"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (5,))
        expect_params(node, 4)
        n, k = check_entries(node, ("x", "chars", "added", "comps", "prev"))
        expect_shape("prev", node.in_specs[4].shape, (n, k))
        check_table(node)
        frm, width = node.params[2], node.params[3]
        if not 1 <= width <= MAX_STAGE_TRIES:
            raise ParamError(f"D = {width} compositions per stage must lie in [1, {MAX_STAGE_TRIES}]")
        if not 1 <= frm <= MAX_RUN_MARKS - width:
            raise ParamError(f"from = {frm} must lie in [1, MAX_RUN_MARKS - D = {MAX_RUN_MARKS - width}]")
        expect_shape("output", node.output.shape, (n, k))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x, chars, added = (_flat(a) for a in inputs[:3])
        prev = _flat(inputs[4])
        seq = _seq(x, chars, added)
        frm, width = node.params[2], node.params[3]
        lookup = table_lookup(node, inputs[3])
        out = list(prev)
        for r0, r1 in runs(seq):
            if r1 - r0 <= frm:
                continue
            o = owner(seq, prev, r0)
            if o is None:
                continue
            s_val, outs, _ = run_stage(seq, prev, r0, r1, o, frm, width, lookup)
            out[seq[o][0]] = s_val
            for u, v in outs.items():
                out[seq[u][0]] = v
        return np.array(out, dtype=np.int64).astype(np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("NFC_STAGE operand ranges need the inputs")
        n, k = node.in_specs[0].shape
        width = node.params[3]
        ranges: list[Range] = [(0, 0, n * k), (1, 0, n), (2, 0, n), (4, 0, n * k)]
        x, chars, added = (_flat(a) for a in inputs[:3])
        seq = _seq(x, chars, added)
        _, tried = stage_element(seq, _flat(inputs[4]), out_index, node.params[2], width,
                                 table_lookup(node, inputs[3]))
        return ranges + probe_ranges(node, tried, width)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        x, chars, added, prev = (list(map(int, o)) for o in operands[:4])
        seq = _seq(x, chars, added)
        return stage_element(seq, prev, out_index, node.params[2], node.params[3], window_lookup(operands[4:]))[0]


def stages_for(n: int, width: int = MAX_STAGE_TRIES, first: int = 4) -> int:
    """NFC_STAGE nodes after NFC_COMPOSE (C = ``first``) so that every run of up to n marks (the most n UTF-8
    bytes hold) is settled: ceil((n - C) / D), at least 0."""
    return max(0, -(-(n - first) // width))
