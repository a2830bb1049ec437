"""Weight tables of the NFC chain (offchain/engine/ops/nfc.py), built by probing the ``tokenizers`` library's own
normalizers, so the Unicode version is the one tokenizers' NFC uses (its crate predates Python 3.11's Unicode
14.0 data: e.g. U+1DFA, ccc 218 since Unicode 14, is a starter to it).

``nfd_table()``: CHAR_MAP's (stage1, stage2 [R, 4], shift). Each code point's decomposition is
``tokenizers.normalizers.NFD()`` of it alone (one call over all code points joined by '\\n', a starter that
nothing composes or reorders with), except Hangul syllables, which map to themselves (NFC_COMPOSE composes L + V
and LV + T algorithmically; NFD then NFC of a syllable gives it back). Each decomposition char gets its rank:
the index of its ccc among the distinct ccc values, where ccc is Python's unicodedata value only where
tokenizers agrees the char is a non-starter: a char with ccc > 1 must move in front of U+0334 (ccc 1) under
tokenizers' NFD, a char with ccc 1 in front of U+0301 (ccc 230); else tokenizers does not know it (unassigned in
its Unicode version) and it is a starter (ccc 0). ccc values never change once assigned (Unicode stability
policy), so "unicodedata's value or 0" is the only question, and every code point Python calls a starter is
checked to stay in place before U+0345 (ccc 240) under tokenizers' NFD too.

``comp_table()``: NFC_COMPOSE's (rows [M, 3], window, salt): the primary composites, i.e. every char c whose
unicodedata canonical decomposition is a pair (a, b) and for which tokenizers' NFC(a + b) == c (this leaves out
the composition exclusions and what tokenizers does not know), placed as PAIR_RANK's merges are
(bpe.pair_hash windows, earliest-deadline greedy, smallest window and first salt). It asserts the two properties
NFC_COMPOSE's bounded windows rely on (see its docstring).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from offchain.engine.ops.bpe import pair_hash
from offchain.engine.ops.nfc import (
    COMP_ROW, LOOK_BACK, LOOK_FORWARD, MAX_COMP_ROWS, MAX_COMP_WINDOW, MAX_K, S_BASE, S_COUNT, hangul)
from offchain.engine.ops.text import MAX_CODE_POINT
from offchain.models.bpe_merges import place_hashed
from offchain.models.text_tables import TableError, two_stage

NFD_SHIFT = 7
SALTS = 4096


def _cps() -> list[int]:
    return [c for c in range(MAX_CODE_POINT + 1) if not 0xD800 <= c <= 0xDFFF]


@lru_cache(maxsize=1)
def decompositions() -> dict[int, str]:
    """tokenizers' NFD of every code point that changes under it (Hangul syllables left out)."""
    from tokenizers import normalizers

    nfd = normalizers.NFD()
    cps = [c for c in _cps() if c != 0x0A]
    parts = nfd.normalize_str("\n".join(map(chr, cps))).split("\n")
    if len(parts) != len(cps):
        raise TableError("tokenizers' NFD split the probe string unexpectedly")
    return {c: p for c, p in zip(cps, parts) if p != chr(c) and not S_BASE <= c < S_BASE + S_COUNT}


@lru_cache(maxsize=1)
def combining_classes() -> dict[int, int]:
    """ccc of every code point tokenizers treats as a non-starter (checked as the module docstring says)."""
    from tokenizers import normalizers

    nfd = normalizers.NFD()
    out: dict[int, int] = {}
    for c in _cps():
        k = unicodedata.combining(chr(c))
        if k == 0:
            continue
        if k > 1:
            moved = nfd.normalize_str(chr(c) + "\u0334").startswith("\u0334")
        else:
            moved = nfd.normalize_str("\u0301" + chr(c)).endswith("\u0301")
        if moved:
            out[c] = k
    starters = [c for c in _cps() if c not in out and c != 0x0A and c not in decompositions()
                and not S_BASE <= c < S_BASE + S_COUNT]
    probe = "\n".join("\u0345" + chr(c) for c in starters)
    if nfd.normalize_str(probe) != probe:
        got = nfd.normalize_str(probe).split("\n")
        bad = next(c for c, g in zip(starters, got) if g != "\u0345" + chr(c))
        raise TableError(f"tokenizers reorders U+{bad:04X}, which unicodedata calls a starter")
    return out


@lru_cache(maxsize=1)
def ranks() -> dict[int, int]:
    """ccc -> rank (0 for ccc 0, then the distinct non-zero values in increasing order)."""
    values = sorted(set(combining_classes().values()))
    return {0: 0, **{v: r + 1 for r, v in enumerate(values)}}


def rank_of(cp: int) -> int:
    return ranks()[combining_classes().get(cp, 0)]


@lru_cache(maxsize=1)
def _nfd_table() -> tuple[np.ndarray, np.ndarray, int]:
    cls = np.zeros(MAX_CODE_POINT + 1, dtype=np.int64)
    for c, k in combining_classes().items():
        cls[c] = ranks()[k]
    rows = np.zeros((MAX_CODE_POINT + 1, MAX_K), dtype=np.int64)
    rows[:, 0] = 8 * (cls << 21) + 4 + 1          # relative: itself with its rank
    for c, d in decompositions().items():
        if len(d) > MAX_K:
            raise TableError(f"U+{c:04X} decomposes into {len(d)} > {MAX_K} code points")
        rows[c] = 0
        for j, ch in enumerate(d):
            rows[c, j] = 8 * ((rank_of(ord(ch)) << 21) | ord(ch)) + 1
    if rows.max() >= 2**31:
        raise TableError("an NFD entry does not fit int32")
    stage1, stage2 = two_stage(rows.astype(np.int32), NFD_SHIFT)
    stage1.setflags(write=False)
    stage2.setflags(write=False)
    return stage1, stage2, NFD_SHIFT


def nfd_table() -> tuple[np.ndarray, np.ndarray, int]:
    """(stage1, stage2 [R, 4], shift): CHAR_MAP's tables giving each char's NFD entry values (cached)."""
    return _nfd_table()


@lru_cache(maxsize=1)
def composition_pairs() -> dict[tuple[int, int], int]:
    """(first, second) -> primary composite, as tokenizers' NFC composes them (Hangul left to the op)."""
    from tokenizers import normalizers

    nfc = normalizers.NFC()
    pairs: dict[tuple[int, int], int] = {}
    for c in _cps():
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2 and nfc.normalize_str(chr(parts[0]) + chr(parts[1])) == chr(c):
            pairs[(parts[0], parts[1])] = c
    _check_pairs(pairs)
    return pairs


def _check_pairs(pairs: dict[tuple[int, int], int]) -> None:
    """The properties NFC_COMPOSE's windows rely on (its docstring)."""
    def composes(a: int, b: int) -> int:
        h = hangul(a, b)
        return h if h >= 0 else pairs.get((a, b), -1)

    mark_made = {c for (a, b), c in pairs.items() if rank_of(b) > 0}
    for (a, b), c in pairs.items():
        if rank_of(a) != 0:
            raise TableError(f"composite U+{c:04X} has a non-starter first char U+{a:04X}")
        if rank_of(b) == 0 and a in mark_made:
            raise TableError(f"U+{a:04X}, made with a non-starter, composes with the starter U+{b:04X}")
    starter_second = {b for (_, b) in pairs if rank_of(b) == 0} | set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    firsts = {a for (a, b) in pairs if rank_of(b) == 0} | set(range(0x1100, 0x1113))
    firsts |= {S_BASE + 28 * k for k in range(S_COUNT // 28)}
    # chains of starter compositions: at most LOOK_BACK (= LOOK_FORWARD) absorbed starters in a row
    depth = {a: 0 for a in firsts}
    for _ in range(LOOK_BACK + 1):
        for a in list(depth):
            for b in starter_second:
                c = composes(a, b)
                if c >= 0 and depth.get(c, -1) < depth[a] + 1:
                    depth[c] = depth[a] + 1
    if max(depth.values()) > min(LOOK_BACK, LOOK_FORWARD):
        raise TableError(f"a chain of {max(depth.values())} starter compositions exceeds the op's windows")


@lru_cache(maxsize=1)
def _comp_table() -> tuple[np.ndarray, int, int]:
    pairs = sorted(composition_pairs().items())
    rows_count = 1 << max(4, (2 * len(pairs) - 1).bit_length())
    if rows_count > MAX_COMP_ROWS:
        raise TableError(f"{len(pairs)} composition pairs exceed {MAX_COMP_ROWS} rows")
    items = [(a, b, c) for (a, b), c in pairs]
    placed = place_hashed(items, rows_count, COMP_ROW, lambda p, salt, homes: pair_hash(p[0], p[1], salt) % homes,
                          lambda p: p, MAX_COMP_WINDOW, SALTS, tiebreak=lambda k, p: p)
    if placed is not None:
        placed[0].setflags(write=False)
        return placed
    raise TableError(f"no window <= {MAX_COMP_WINDOW} and salt < {SALTS} places {len(pairs)} pairs")


def comp_table() -> tuple[np.ndarray, int, int]:
    """(rows [M, 3], window W, salt): NFC_COMPOSE's hashed composition pairs (cached)."""
    return _comp_table()
