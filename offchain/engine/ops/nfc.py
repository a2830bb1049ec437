"""Unicode NFC (canonical composition) as graph operators, for tokenizers with an ``NFC`` normalizer (Qwen2;
issue 14). The tokenizer graph (offchain/models/bpe.py) runs, after UTF8_CHARS and the added-token match:

  CHAR_MAP(chars, NFD table, K = 4) -> nfd [N, 4] -> NFC_COMPOSE(nfd, chars, added, comps) -> [N, 4]
  -> NFC_COMPACT(mode 0) -> chars' [N]   and   NFC_COMPACT(mode 1) -> added' [N]

so the rest of the graph reads the normalized text with the added-token matches moved along. The tables are
committed weights built by offchain/models/nfc_tables.py from the ``tokenizers`` library's own normalizers.

Entry values (CHAR_MAP's output with the NFD table): v = 4 * X + 1, X = (rank << 21) | cp, one per code point of
the char's full canonical decomposition (slots after it 0). ``rank`` numbers the distinct canonical combining
classes in increasing order (rank 0 = ccc 0, a starter), so comparing ranks compares ccc. Any v <= 0 is an empty
slot; for v > 0 the op reads cp = (v >> 2) & 0x1FFFFF and rank = v >> 23.

NFC_COMPOSE (59)
    inputs: nfd [N, K] (entry values), chars [N], added [N] (ADDED_TOKENS' format: id / -2 / -1),
    comps [M, 3] (rows (first, second, composite), empty rows -1; open-addressed as PAIR_RANK's merges: the pair
    (a, b) lives in rows h .. h + W - 1, h = bpe.pair_hash(a, b, salt) % (M - W + 1)).
    params: (W, salt, C). out [N, K]: the normalized code points at the positions of the entries, -1 elsewhere.
    Entries, in flat order: for a row i with added[i] != -1 (a char of an added token, which tokenizers matches
    on the raw text and does not normalize) one opaque entry chars[i] at (i, 0) if chars[i] >= 0; for every
    other row the non-empty nfd[i, k]. Opaque entries cut the entries into segments (tokenizers normalizes the
    text between added tokens piece by piece), and so does a gap of more than MAX_LINK = 16 flat slots between two
    entries (never inside an honest text: UTF8_CHARS leaves at most 3 hole rows after a char; it keeps every step's
    scans short over the zero padding); each segment is normalized on its own:
    1. Canonical reordering: the first C entries of every maximal run of non-starters (rank > 0) are sorted by
       rank, stably; the entries of a run from index C on keep their place and cp (never composed either).
    2. Canonical composition (UAX #15), bounded: for the element at entry q (a non-starter at run index >= C,
       or in a run no starter precedes in its segment, keeps its reordered cp), let t be the starter before q's
       run (q itself if a starter). The window runs from b = t moved back over at most LB = 2 starters that
       immediately precede it, through t, over at most F = 2 starters that immediately follow it, then over the
       first C entries of the run of non-starters after the last of them. The standard
       algorithm runs on the window with b as a fresh starter: a char is tried with the current starter S when
       it is unblocked (the last char kept after S is S itself, or, for a non-starter, has a lower rank); a try
       looks the pair (value of S, cp) up:
       Hangul L + V -> LV and LV + T -> LVT algorithmically, else the table's first row holding the pair in its
       window; found: S takes the composite and the char is removed, else the char is kept (a kept starter
       becomes S); it stops once entry q is settled: out = -1 for a removed char, the value of S when the next
       kept starter replaces it (or at the window's end) for a kept starter, the cp for a kept non-starter.
    Equal to NFC (tokenizers' NFC normalizer) whenever no run has more than C non-starters (alone, a longer run's
    entries from index C on are neither reordered nor composed; the tokenizer graph therefore runs it after
    NFC_REORDER and before NFC_STAGE nodes, offchain/engine/ops/nfc_runs.py, which make runs of any length
    exact), given the table
    properties nfc_tables checks: no composite whose second char is a starter has a first char made with a
    non-starter, and no chain of more than 2 such starter compositions (so LB = F = 2 windows see everything).
    Element reads nfd, chars, added whole, then P = LB + F + C probe windows of 3W elements, one per try made
    until q is settled, in try order (a Hangul try and the ranges past the last try are empty). Data-dependent.
    Caps (check refuses larger nodes with ParamError): N <= MAX_POSITIONS = 256, 1 <= K <= MAX_K = 4,
    1 <= C <= MAX_RUN_TRIES = 4, W <= MAX_COMP_WINDOW = 8, M <= MAX_COMP_ROWS = 4096: the worst step (each of the 8
    probe ranges re-runs the window; bench_ops_gas ``nfc_cases``) costs 1.45M gas as ``recompute``, 1.63M as the
    game's step; C = 5 / 6 measured 1.62M / 1.87M as ``recompute``.

NFC_COMPACT (60)
    inputs: x [N, K], added [N]. params: (mode,). out [N]: the entries of x that are >= 0, in flat order: mode 0
    gives the j-th such value at j, mode 1 gives added[row of the j-th such entry]; -1 after the last one (and
    entries past N are dropped: NFC never yields more code points than its text has UTF-8 bytes, checked by
    brute force in tests/engine/test_nfc_ops.py, so no text loses one). Element reads x and added whole.
    Cap: N <= 256, K <= 4 (worst step 0.76M gas as ``recompute``, 0.94M as the game's step).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.bpe import MAX_POSITIONS, pair_hash
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.text import HASH_MASK, _int32

COMP_ROW = 3
MAX_K = 4
MAX_RUN_TRIES = 4
MAX_COMP_WINDOW = 8
MAX_COMP_ROWS = 1 << 12
#: Starters the window reaches back (LB) and forward (F) from the element's starter.
LOOK_BACK = 2
LOOK_FORWARD = 2
CP_MASK = 0x1FFFFF
NONE = -1
#: Entries more than this many flat slots apart are in different segments (an honest CHAR_MAP of UTF8_CHARS'
#: output has at most 4K - 1 <= 15 empty slots between two entries of the text; only the padding has more).
MAX_LINK = 16
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT


def entry_value(cp: int, rank: int) -> int:
    """CHAR_MAP output value of one decomposition code point (see the module docstring)."""
    return 4 * ((rank << 21) | cp) + 1


def hangul(s: int, c: int) -> int:
    """The Hangul composite of (s, c), -1 if the pair is not L + V or LV + T."""
    if L_BASE <= s < L_BASE + L_COUNT and V_BASE <= c < V_BASE + V_COUNT:
        return S_BASE + ((s - L_BASE) * V_COUNT + (c - V_BASE)) * T_COUNT
    if S_BASE <= s < S_BASE + S_COUNT and (s - S_BASE) % T_COUNT == 0 and T_BASE < c < T_BASE + T_COUNT:
        return s + (c - T_BASE)
    return NONE


def find_pair(window: Sequence[int], a: int, b: int) -> int:
    """Composite of the first row of ``window`` (flat rows of 3) holding (a, b); -1 if none."""
    for r in range(0, len(window) - COMP_ROW + 1, COMP_ROW):
        if window[r] == a and window[r + 1] == b:
            return int(window[r + 2])
    return NONE


def check_entries(node: Node, names: Sequence[str]) -> tuple[int, int]:
    """The entry-operand rules NFC_COMPOSE, NFC_COMPACT, NFC_REORDER and NFC_STAGE share (LibNfc.checkEntries):
    every operand (``names``, in order) and the output int32 with frac 0, operand 0 [N, K] with 1 <= K <= MAX_K
    and 1 <= N <= MAX_POSITIONS, operands 1 and 2 (those there are) [N]. Returns (N, K)."""
    for what, spec in zip((*names, "output"), (*node.in_specs, node.output)):
        _int32(what, spec)
    x = node.in_specs[0]
    if len(x.shape) != 2 or not 1 <= x.shape[1] <= MAX_K or x.shape[0] < 1:
        raise ShapeMismatchError(f"{names[0]} must be [N, K] with 1 <= K <= {MAX_K}, got {x.shape}")
    n, k = x.shape
    if n > MAX_POSITIONS:
        raise ParamError(f"N = {n} exceeds MAX_POSITIONS = {MAX_POSITIONS} (one-step gas cap)")
    for i in range(1, min(len(names), 3)):
        expect_shape(names[i], node.in_specs[i].shape, (n,))
    return n, k


def check_table(node: Node) -> None:
    """The composition table's rules NFC_COMPOSE and NFC_STAGE share (LibNfc.checkTable): operand 3 [M, 3] with
    M <= MAX_COMP_ROWS, params (W, salt, ...) with 1 <= W <= min(M, MAX_COMP_WINDOW) and salt a uint32."""
    comps = node.in_specs[3]
    if len(comps.shape) != 2 or comps.shape[1] != COMP_ROW:
        raise ShapeMismatchError(f"comps must be [M, {COMP_ROW}], got {comps.shape}")
    window, salt = node.params[0], node.params[1]
    rows = comps.shape[0]
    if not 1 <= window <= min(rows, MAX_COMP_WINDOW) or rows > MAX_COMP_ROWS:
        raise ParamError(f"window {window} must lie in [1, min(M = {rows}, {MAX_COMP_WINDOW})] and "
                         f"M <= {MAX_COMP_ROWS}")
    if not 0 <= salt <= HASH_MASK:
        raise ParamError(f"salt {salt} must lie in [0, 2^32 - 1]")


def pair_home(node: Node, a: int, c: int) -> int:
    """First probe row of the pair (a, c) in the table (operand 3) of NFC_COMPOSE / NFC_STAGE (LibNfc.home):
    PAIR_RANK's pair hash with params (W, salt, ...) mod (M - W + 1)."""
    window, salt = node.params[0], node.params[1]
    return pair_hash(a, c, salt) % (node.in_specs[3].shape[0] - window + 1)


def table_lookup(node: Node, comps) -> Callable[[int, int, int], int]:
    """``lookup(a, c, n)`` over the whole table ``comps``: the composite in the pair's W-row probe window."""
    window = node.params[0]
    comps = np.asarray(comps)

    def lookup(a: int, c: int, _n: int) -> int:
        h = pair_home(node, a, c)
        return find_pair(comps[h:h + window].reshape(-1).tolist(), a, c)
    return lookup


def window_lookup(windows: Sequence[Sequence[int]]) -> Callable[[int, int, int], int]:
    """``lookup(a, c, n)`` over a one-step's proven probe windows: the n-th try reads the n-th window."""
    def lookup(a: int, c: int, n: int) -> int:
        return find_pair(windows[n], a, c)
    return lookup


def probe_ranges(node: Node, tried: Sequence[tuple[int, int]], count: int) -> list[Range]:
    """Operand 3's ranges of the tried pairs (empty for a Hangul pair, else the pair's W-row window; LibNfc.probe),
    padded with empty ranges to ``count``."""
    window = node.params[0]
    probes: list[Range] = [(3, 0, 0) if hangul(a, c) != NONE else (3, pair_home(node, a, c) * COMP_ROW,
                                                                    window * COMP_ROW) for a, c in tried]
    return probes + [(3, 0, 0)] * (count - len(probes))


def entries(nfd: Sequence[int], chars: Sequence[int], added: Sequence[int], k: int,
            tries: int) -> list[tuple[int, int, int, bool]]:
    """(flat index, cp, rank, opaque) of every entry in flat order, the first ``tries`` entries of each run of
    non-starters already reordered."""
    out: list[tuple[int, int, int, bool]] = []
    for i in range(len(chars)):
        if added[i] != NONE:
            if chars[i] >= 0:
                out.append((i * k, int(chars[i]), 0, True))
            continue
        for j in range(k):
            v = int(nfd[i * k + j])
            if v > 0:
                out.append((i * k + j, (v >> 2) & CP_MASK, v >> 23, False))
    # canonical reordering: the first C entries of each maximal run of non-starters sorted by rank, stably
    q = 0
    while q < len(out):
        if not _mark(out, q):
            q += 1
            continue
        r = q + 1
        while r < len(out) and _mark(out, r) and linked(out, r):
            r += 1
        head = min(r, q + tries)
        ordered = sorted(out[q:head], key=lambda e: e[2])
        out[q:head] = [(out[q + m][0], ordered[m][1], ordered[m][2], False) for m in range(head - q)]
        q = r
    return out


def linked(seq, q: int) -> bool:
    """Entry q continues the segment of entry q - 1: both exist and lie at most MAX_LINK flat slots apart."""
    return 0 < q < len(seq) and seq[q][0] - seq[q - 1][0] <= MAX_LINK


def _mark(seq, q: int) -> bool:
    return not seq[q][3] and seq[q][2] > 0


def _starter(seq, q: int) -> bool:
    return 0 <= q < len(seq) and not seq[q][3] and seq[q][2] == 0


def window_of(seq, q: int, tries: int) -> tuple[int, int] | None:
    """[b, e] of the composition window of entry q (None when q is a non-starter at run index >= C or no starter
    precedes its run in its segment: then it keeps its (reordered) cp)."""
    t = q
    while _mark(seq, t):
        if not linked(seq, t) or seq[t - 1][3]:
            return None
        if seq[t - 1][2] == 0:
            t -= 1
            break
        if q - (t - 1) >= tries:
            return None
        t -= 1
    b = t
    while t - b < LOOK_BACK and linked(seq, b) and _starter(seq, b - 1):
        b -= 1
    e = t
    while e - t < LOOK_FORWARD and linked(seq, e + 1) and _starter(seq, e + 1):
        e += 1
    last = e
    while linked(seq, e + 1) and _mark(seq, e + 1) and e - last < tries:
        e += 1
    return b, e


def compose_value(seq, q: int, b: int, e: int, lookup) -> tuple[int, list[tuple[int, int]]]:
    """Run the composition on entries b..e (b a fresh starter) until entry q's output is settled: (that output,
    the pairs tried so far in order). ``lookup(a, c, n)`` gives the table's composite for the n-th try (-1 if
    none); a Hangul pair is composed without it."""
    tried: list[tuple[int, int]] = []
    s_idx, s_val, last = b, seq[b][1], 0
    for u in range(b + 1, e + 1):
        cp, rank = seq[u][1], seq[u][2]
        if last == 0 or (rank > 0 and last < rank):
            tried.append((s_val, cp))
            comp = hangul(s_val, cp)
            if comp == NONE:
                comp = lookup(s_val, cp, len(tried) - 1)
            if comp != NONE:
                s_val = comp
                if u == q:
                    return NONE, tried
                continue
        if rank == 0:
            if s_idx == q:
                return s_val, tried
            s_idx, s_val = u, cp
        elif u == q:
            return cp, tried
        last = rank
    return s_val, tried


def settle(seq, q: int, tries: int, lookup) -> tuple[int, list[tuple[int, int]]]:
    """(output, pairs tried) of entry q (see NFC_COMPOSE)."""
    if seq[q][3]:
        return seq[q][1], []
    win = window_of(seq, q, tries)
    if win is None:
        return seq[q][1], []
    return compose_value(seq, q, win[0], win[1], lookup)


def element_value(seq, pos: int, tries: int, lookup) -> int:
    """Output of flat position ``pos`` given the reordered entries (see NFC_COMPOSE)."""
    q = next((m for m, ent in enumerate(seq) if ent[0] == pos), None)
    return NONE if q is None else settle(seq, q, tries, lookup)[0]


class NfcCompose(Op):
    """Canonical reordering + composition of decomposed chars (see the module docstring)."""

    code = OpCode.NFC_COMPOSE
    name = "NFC_COMPOSE"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (4,))
        expect_params(node, 3)
        n, k = check_entries(node, ("nfd", "chars", "added", "comps"))
        check_table(node)
        tries = node.params[2]
        if not 1 <= tries <= MAX_RUN_TRIES:
            raise ParamError(f"C = {tries} non-starter tries per run must lie in [1, {MAX_RUN_TRIES}]")
        expect_shape("output", node.output.shape, (n, k))

    @staticmethod
    def probes(node: Node) -> int:
        return LOOK_BACK + LOOK_FORWARD + node.params[2]

    @staticmethod
    def _seq(inputs, node: Node) -> list:
        nfd, chars, added = (np.asarray(a).reshape(-1).tolist() for a in inputs[:3])
        return entries(nfd, chars, added, len(nfd) // len(chars), node.params[2])

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        seq = self._seq(inputs, node)
        tries = node.params[2]
        lookup = table_lookup(node, inputs[3])
        out = np.full(node.output.size, NONE, dtype=np.int64)
        for q, ent in enumerate(seq):
            out[ent[0]] = settle(seq, q, tries, lookup)[0]
        return out.astype(np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("NFC_COMPOSE operand ranges need the inputs")
        n, k = node.in_specs[0].shape
        ranges: list[Range] = [(0, 0, n * k), (1, 0, n), (2, 0, n)]
        seq = self._seq(inputs, node)
        q = next((m for m, ent in enumerate(seq) if ent[0] == out_index), None)
        tried = [] if q is None else settle(seq, q, node.params[2], table_lookup(node, inputs[3]))[1]
        return ranges + probe_ranges(node, tried, self.probes(node))

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        nfd, chars, added = (list(map(int, o)) for o in operands[:3])
        seq = entries(nfd, chars, added, len(nfd) // len(chars), node.params[2])
        return element_value(seq, out_index, node.params[2], window_lookup(operands[3:]))


def compact(x: Sequence[int], added: Sequence[int], mode: int, stop: int) -> list[int]:
    """NFC_COMPACT's first ``stop`` outputs."""
    k = len(x) // len(added)
    out: list[int] = []
    for f, v in enumerate(x):
        if len(out) >= stop:
            break
        if v >= 0:
            out.append(int(v) if mode == 0 else int(added[f // k]))
    return out + [NONE] * (stop - len(out))


class NfcCompact(Op):
    """The non-negative entries of [N, K] (or their rows' added values) packed to the front of [N]."""

    code = OpCode.NFC_COMPACT
    name = "NFC_COMPACT"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 1)
        n, _ = check_entries(node, ("x", "added"))
        if node.params[0] not in (0, 1):
            raise ParamError(f"mode {node.params[0]} must be 0 (code points) or 1 (added matches)")
        expect_shape("output", node.output.shape, (n,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x, added = (np.asarray(a).reshape(-1).tolist() for a in inputs)
        return np.array(compact(x, added, node.params[0], len(added)), dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n, k = node.in_specs[0].shape
        return [(0, 0, n * k), (1, 0, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return compact(operands[0], operands[1], node.params[0], out_index + 1)[out_index]
