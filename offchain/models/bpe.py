"""A Hugging Face ``tokenizer.json`` (BPE) as a disputable graph: UTF-8 bytes in, token ids out, and back.

Who may call: ``offchain.models.hf_llama`` (text-in language models), the CLI (``compile --hf DIR --text-bytes``),
tests and benchmarks.

``read_tokenizer(path)`` reads a ``tokenizer.json`` (or the folder holding one) into a ``BpeTokenizerSpec``: which
of the supported families it is and every parameter the operators need. Anything outside what the operators
define exactly raises ``UnsupportedTokenizerError`` naming the field and its value, at compile time, so a model is
never registered with a tokenizer the graph would not reproduce.

Supported (each checked against the ``tokenizers`` library's own ``encode``/``decode`` in tests):

- model ``BPE`` without dropout, continuing-subword prefix or end-of-word suffix, whose merges have the rank-order
  property (offchain/models/bpe_merges.py: ``check_rank_order``); ``ignore_merges`` (Llama-3: a pre-token found
  whole in the vocabulary is that token) for byte-level models only (the WORD_VOCAB node,
  offchain/engine/ops/wordvocab.py), refused for SentencePiece-style ones;
- byte-level BPE (GPT-2 / Llama-3 / Qwen2 style): normalizer none or ``NFC`` (Qwen2; the NFC chain
  CHAR_MAP(NFD) -> NFC_REORDER -> NFC_COMPOSE -> NFC_STAGE x ceil((N - 4) / 2) -> NFC_COMPACT,
  offchain/engine/ops/nfc.py and nfc_runs.py, equal to tokenizers' NFC for every text of N bytes, runs of
  combining marks of any length included);
  pre-tokenizer ``ByteLevel`` with its GPT-2 regex, or
  ``Sequence[Split(<Llama-3 or Qwen2 regex>, Isolated), ByteLevel(use_regex=false)]``; ``add_prefix_space``
  either way; decoder ``ByteLevel``;
- SentencePiece-style BPE with byte fallback (Llama-2 / TinyLlama style): normalizer ``Prepend("▁")`` +
  ``Replace(" ", "▁")`` (either or both, optionally after ``NFC``, or none with a ``Metaspace`` pre-tokenizer doing the replacement),
  pre-tokenizer none or ``Metaspace`` (split or not, any prepend scheme), ``byte_fallback: true`` with all 256
  ``<0xNN>`` pieces in the vocabulary;
- added tokens (BOS, EOS, chat-template markers) matched in the text as ``tokenizers`` does (leftmost longest),
  with ``lstrip``, ``rstrip`` and ``single_word`` false (ADDED_TOKENS for a few; for many, e.g. Llama-3's 256
  reserved specials, the hashed ADDED_MATCH chain + ADDED_RESOLVE: contents of at most 64 chars); a
  post-processor ``TemplateProcessing`` (single sequence ``[specials] $A [specials]``), ``ByteLevel`` or a
  ``Sequence`` of those.

Text rules (the defined result of every byte string the oracle accepts): trailing zero bytes are padding, the rest
is decoded as Python's ``bytes.decode('utf-8', 'replace')`` does (one U+FFFD per maximal ill-formed subpart) and
encoded; the ids are ``template-before + pieces[:T - F] + template-after`` padded with ``pad_id`` to ``T``.
``reference_ids`` computes exactly that with the ``tokenizers`` library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from offchain.models.bpe_errors import UnsupportedTokenizerError

#: SentencePiece's space marker.
META = "\u2581"

#: PRETOKENIZE kinds (offchain/engine/ops/pretok.py).
KIND_GPT2, KIND_LLAMA3, KIND_QWEN2, KIND_METASPACE, KIND_NONE = 1, 2, 3, 4, 5
#: Prefix rules: never, always (Prepend normalizer), unless the segment starts with the prefix char.
PREFIX_NEVER, PREFIX_ALWAYS, PREFIX_UNLESS_PRESENT = 0, 1, 2
#: BPE_SYMBOLS modes.
MODE_BYTE_LEVEL, MODE_SENTENCEPIECE = 0, 1

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
SPLIT_PATTERNS = {LLAMA3_PATTERN: KIND_LLAMA3, QWEN2_PATTERN: KIND_QWEN2, GPT2_PATTERN: KIND_GPT2}


@dataclass(frozen=True)
class AddedToken:
    id: int
    content: str
    special: bool


@dataclass
class BpeTokenizerSpec:
    """Everything the tokenizer graph needs from a ``tokenizer.json`` (see the module docstring)."""

    raw: dict[str, Any]
    mode: int                       # MODE_BYTE_LEVEL or MODE_SENTENCEPIECE
    kind: int                       # PRETOKENIZE kind
    prefix_rule: int                # PREFIX_*
    first_only: int                 # 1: the prefix only for a segment starting at char 0
    added: list[AddedToken] = field(default_factory=list)
    before: list[int] = field(default_factory=list)   # post-processor ids before the pieces
    after: list[int] = field(default_factory=list)    # ... and after them
    vocab: dict[str, int] = field(default_factory=dict)
    ignore_merges: bool = False     # byte-level only: WORD_VOCAB before the merges
    nfc: bool = False               # an NFC normalizer (first): the NFC chain after the added-token match

    @property
    def json_text(self) -> str:
        return json.dumps(self.raw)

    @property
    def vocab_size(self) -> int:
        ids = list(self.vocab.values()) + [t.id for t in self.added]
        return max(ids) + 1

    def token_id(self, token: str) -> int:
        for t in self.added:
            if t.content == token:
                return t.id
        if token not in self.vocab:
            raise UnsupportedTokenizerError(f"token {token!r} is not in the vocabulary")
        return self.vocab[token]


def _load_json(path: str | Path | dict) -> dict[str, Any]:
    if isinstance(path, dict):
        return path
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise UnsupportedTokenizerError(f"no tokenizer.json at {p}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnsupportedTokenizerError(f"{p} is not valid JSON: {exc}") from None


def _typ(obj: dict | None) -> str | None:
    return None if obj is None else obj.get("type")


def _pattern(split: dict) -> str:
    pat = split.get("pattern", {})
    if "Regex" in pat:
        return pat["Regex"]
    if "String" in pat:
        return pat["String"]
    raise UnsupportedTokenizerError(f"pre_tokenizer Split pattern {pat!r} is neither Regex nor String")


def _check_model(model: dict) -> None:
    if _typ(model) != "BPE":
        raise UnsupportedTokenizerError(f"model.type {_typ(model)!r}: only BPE tokenizers compile to the BPE graph "
                                        "(WordPiece models use the project's WordPiece operators)")
    if model.get("dropout") not in (None, 0, 0.0):
        raise UnsupportedTokenizerError(f"model.dropout {model.get('dropout')!r}: BPE dropout is random")
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise UnsupportedTokenizerError(f"model.{key} {model.get(key)!r} is not supported")


def _added(raw: dict, has_normalizer: bool) -> list[AddedToken]:
    out = []
    for t in raw.get("added_tokens") or []:
        for key in ("lstrip", "rstrip", "single_word"):
            if t.get(key):
                raise UnsupportedTokenizerError(f"added token {t.get('content')!r} has {key} true; only tokens "
                                                "matched literally are supported")
        if t.get("normalized") and has_normalizer and not t.get("special"):
            raise UnsupportedTokenizerError(f"added token {t.get('content')!r} is normalized: true under a "
                                            "normalizer; only tokens matched on the raw text are supported")
        if not t.get("content"):
            raise UnsupportedTokenizerError(f"added token id {t.get('id')} has empty content")
        out.append(AddedToken(int(t["id"]), t["content"], bool(t.get("special"))))
    return out


def _frame(raw: dict, spec_tokens: dict[str, int]) -> tuple[list[int], list[int]]:
    post = raw.get("post_processor")
    procs = [post] if _typ(post) != "Sequence" else list(post.get("processors") or [])
    before: list[int] = []
    after: list[int] = []
    for p in procs:
        t = _typ(p)
        if p is None or t == "ByteLevel":
            continue
        if t != "TemplateProcessing":
            raise UnsupportedTokenizerError(f"post_processor.type {t!r} is not supported (TemplateProcessing, "
                                            "ByteLevel or a Sequence of them)")
        seen_a = False
        for piece in p.get("single") or []:
            if "Sequence" in piece:
                if piece["Sequence"].get("id") != "A" or seen_a:
                    raise UnsupportedTokenizerError(f"post_processor single template {p.get('single')!r}: expected "
                                                    "one $A")
                seen_a = True
            elif "SpecialToken" in piece:
                name = piece["SpecialToken"]["id"]
                ids = (p.get("special_tokens") or {}).get(name, {}).get("ids")
                if ids is None:
                    if name not in spec_tokens:
                        raise UnsupportedTokenizerError(f"post_processor special token {name!r} has no id")
                    ids = [spec_tokens[name]]
                (after if seen_a else before).extend(int(i) for i in ids)
            else:
                raise UnsupportedTokenizerError(f"post_processor template piece {piece!r} is not supported")
        if not seen_a:
            raise UnsupportedTokenizerError("post_processor single template has no $A")
    return before, after


def read_tokenizer(path: str | Path | dict) -> BpeTokenizerSpec:
    """Parse and check ``tokenizer.json`` (a path, the folder holding it, or the parsed dict)."""
    raw = _load_json(path)
    model = raw.get("model") or {}
    _check_model(model)
    norm = raw.get("normalizer")
    norms = [] if norm is None else (list(norm.get("normalizers") or []) if _typ(norm) == "Sequence" else [norm])
    prepend = replace = False
    # ---- tokenizer: nfc (issue 14): NFC alone or first (NFC_COMPOSE / NFC_COMPACT after the added-token match)
    nfc = bool(norms) and _typ(norms[0]) == "NFC"
    if nfc:
        norms = norms[1:]
    for n in norms:
        t = _typ(n)
        if t == "Prepend" and n.get("prepend") == META:
            prepend = True
        elif t == "Replace" and n.get("pattern") == {"String": " "} and n.get("content") == META:
            replace = True
        else:
            raise UnsupportedTokenizerError(
                f"normalizer {t!r} ({json.dumps(n, ensure_ascii=False)[:80]}) is not supported: only Prepend('▁') and "
                "Replace(' ', '▁') (SentencePiece style) are, after an optional NFC; the other Unicode normalization "
                "forms (NFD, NFKC, NFKD) and NFC after another normalizer are not")
    pre = raw.get("pre_tokenizer")
    pres = [] if pre is None else (list(pre.get("pretokenizers") or []) if _typ(pre) == "Sequence" else [pre])
    types = [_typ(p) for p in pres]
    vocab = {str(k): int(v) for k, v in (model.get("vocab") or {}).items()}
    byte_fallback = bool(model.get("byte_fallback"))
    spec_tokens = {t["content"]: int(t["id"]) for t in raw.get("added_tokens") or []}

    if "ByteLevel" in types:
        if norms:
            raise UnsupportedTokenizerError(f"a byte-level tokenizer with normalizer {_typ(norm)!r} is not supported")
        bl = pres[types.index("ByteLevel")]
        if types == ["ByteLevel"]:
            if not bl.get("use_regex", True):
                kind = KIND_NONE
            else:
                kind = KIND_GPT2
        elif types == ["Split", "ByteLevel"]:
            split = pres[0]
            if bl.get("use_regex", True):
                raise UnsupportedTokenizerError("pre_tokenizer Split followed by ByteLevel(use_regex=true) is not "
                                                "supported")
            if split.get("behavior") != "Isolated" or split.get("invert"):
                raise UnsupportedTokenizerError(f"pre_tokenizer Split behavior {split.get('behavior')!r} invert "
                                                f"{split.get('invert')!r}: only Isolated, not inverted")
            pattern = _pattern(split)
            if pattern not in SPLIT_PATTERNS:
                raise UnsupportedTokenizerError(f"pre_tokenizer Split regex {pattern!r} is not one of the supported "
                                                "patterns (GPT-2, Llama-3, Qwen2)")
            kind = SPLIT_PATTERNS[pattern]
        else:
            raise UnsupportedTokenizerError(f"pre_tokenizer sequence {types} is not supported")
        mode = MODE_BYTE_LEVEL
        prefix_rule = PREFIX_UNLESS_PRESENT if bl.get("add_prefix_space") else PREFIX_NEVER
        first_only = 0
        if byte_fallback:
            raise UnsupportedTokenizerError("model.byte_fallback with a ByteLevel pre-tokenizer is not supported")
        dec = _typ(raw.get("decoder"))
        if dec != "ByteLevel":
            raise UnsupportedTokenizerError(f"decoder.type {dec!r} with a byte-level tokenizer: expected ByteLevel")
    elif types in ([], ["Metaspace"]):
        mode = MODE_SENTENCEPIECE
        if not byte_fallback:
            raise UnsupportedTokenizerError("model.byte_fallback false: a SentencePiece-style BPE needs byte fallback "
                                            "(characters outside the vocabulary would become <unk>)")
        kind, prefix_rule, first_only = KIND_NONE, PREFIX_ALWAYS if prepend else PREFIX_NEVER, 0
        if types == ["Metaspace"]:
            ms = pres[0]
            if ms.get("replacement", META) != META:
                raise UnsupportedTokenizerError(f"pre_tokenizer Metaspace replacement {ms.get('replacement')!r}: "
                                                "only '▁'")
            scheme = ms.get("prepend_scheme", "always" if ms.get("add_prefix_space", True) else "never")
            if scheme not in ("always", "first", "never"):
                raise UnsupportedTokenizerError(f"pre_tokenizer Metaspace prepend_scheme {scheme!r}")
            if scheme != "never":
                if prepend:
                    raise UnsupportedTokenizerError("both a Prepend normalizer and a Metaspace prepend scheme")
                prefix_rule, first_only = PREFIX_UNLESS_PRESENT, int(scheme == "first")
            kind = KIND_METASPACE if ms.get("split", True) else KIND_NONE
        if model.get("ignore_merges"):
            raise UnsupportedTokenizerError(
                "model.ignore_merges true with a SentencePiece-style BPE is not supported (only byte-level models "
                "look a whole pre-token up in the vocabulary as the WORD_VOCAB operator does)")
        if types != ["Metaspace"] and not replace:
            raise UnsupportedTokenizerError("a SentencePiece-style BPE without a Replace(' ', '▁') normalizer or a "
                                            "Metaspace pre-tokenizer is not supported")
    else:
        raise UnsupportedTokenizerError(f"pre_tokenizer {types if len(types) != 1 else types[0]!r} is not supported "
                                        "(ByteLevel, Split+ByteLevel, Metaspace or none)")
    added = _added(raw, bool(norms) or nfc)
    before, after = _frame(raw, spec_tokens)
    spec = BpeTokenizerSpec(raw, mode, kind, prefix_rule, first_only, added, before, after, vocab,
                            bool(model.get("ignore_merges")), nfc)
    return spec


# ------------------------------------------------------------------------------------------- the graph


def _tables(spec: BpeTokenizerSpec):
    """Every weight tensor the encoder graph reads, each refusal re-raised as UnsupportedTokenizerError."""
    from offchain.models import bpe_merges, bpe_tables
    from offchain.models.text_tables import TableError

    try:
        cls1, cls2, cls_shift = bpe_tables.class_table()
        added = bpe_tables.added_table(spec.raw)
        merges, window, salt = bpe_merges.merges_table(spec.raw)
        byte_ids = bpe_merges.byte_ids(spec.raw)
        chars = bpe_merges.char_vocab_table(spec.raw) if spec.mode == MODE_SENTENCEPIECE else None
        words = bpe_merges.word_vocab_table(spec.raw) if spec.ignore_merges else None
    except (TableError, bpe_tables.TokenizerTableError) as exc:
        raise UnsupportedTokenizerError(str(exc)) from None
    return cls1, cls2, cls_shift, added, merges, window, salt, byte_ids, chars, words


def prefix_id(spec: BpeTokenizerSpec, byte_ids: np.ndarray) -> int:
    """The token of the virtual prefix char: byte-level ' ' (its byte token), SentencePiece '▁' (its piece)."""
    if spec.mode == MODE_BYTE_LEVEL:
        return int(byte_ids[0x20])
    if META not in spec.vocab:
        if spec.prefix_rule == PREFIX_NEVER:
            return -1
        raise UnsupportedTokenizerError("the vocabulary has no '▁' piece for the prepended space marker")
    return spec.vocab[META]


def tokenizer_graph_model(spec: BpeTokenizerSpec, max_bytes: int, seq_len: int, pad_id: int | None = None):
    """The encoder as a model: input INT8 [max_bytes] (UTF-8, zero-padded), output INT32 [1, seq_len] ids.

    Nodes: UTF8_CHARS -> CHAR_MAP (classes) -> ADDED_TOKENS (or, with more added-token work than its cap, a chain
    of ADDED_MATCH then ADDED_RESOLVE) -> PRETOKENIZE -> CHAR_MAP (SentencePiece pieces;
    byte-level reads a zero weight instead) -> BPE_SYMBOLS -> (WORD_VOCAB, with ignore_merges) ->
    R x (PAIR_RANK, BPE_MERGE) -> BPE_IDS, with R = ``rounds_needed(max_bytes)``. Raises
    UnsupportedTokenizerError for what the ops cannot reproduce and ``ParamError`` (through the graph check) for sizes over the ops' caps."""
    from offchain.engine.dtypes import DType
    from offchain.engine.graph import DEFAULT_CHUNK_LOG2, Graph, Node, TensorKind, TensorRef, TensorSpec
    from offchain.engine.model import Model
    from offchain.engine.ops import OpCode
    from offchain.engine.ops.bpe import MAX_POSITIONS, SLOTS
    from offchain.models import bpe_merges
    from offchain.models.text_tables import SHIFT, TABLE_CHUNK_LOG2

    if not 1 <= max_bytes <= MAX_POSITIONS:
        raise UnsupportedTokenizerError(f"max_bytes {max_bytes}: the BPE operators take 1 to {MAX_POSITIONS} bytes")
    frame = spec.before + spec.after
    if seq_len < len(frame) + 1:
        raise UnsupportedTokenizerError(f"seq_len {seq_len} leaves no room for a piece beside the template's "
                                        f"{len(frame)} tokens")
    cls1, cls2, cls_shift, added, merges, window, salt, byte_ids, chars_tab, words_tab = _tables(spec)
    pad = (spec.after[-1] if spec.after else 0) if pad_id is None else int(pad_id)
    pid = prefix_id(spec, byte_ids)
    n = max_bytes
    i32 = DType.INT32
    c = DEFAULT_CHUNK_LOG2[TensorKind.ACTIVATION]
    t = TABLE_CHUNK_LOG2

    weights: list[tuple[np.ndarray, TensorSpec]] = []

    def weight(array: np.ndarray, name: str) -> TensorRef:
        arr = np.ascontiguousarray(array, dtype=np.int32)
        weights.append((arr, TensorSpec(tuple(arr.shape), i32, 0, t, name)))
        return TensorRef(TensorKind.WEIGHT, len(weights) - 1)

    from offchain.engine.ops.pretok import MAX_ADDED_WORK, added_work

    rows, longest = added.shape[0], added.shape[1] - 1
    # ---- tokenizer: added (issue 14)
    # ADDED_TOKENS while its one-step check fits (N * A * (ceil(L / 8) + 2) <= MAX_ADDED_WORK: today's graphs and
    # roots unchanged); past it, the hashed lookup: a chain of ADDED_MATCH nodes (<= MAX_ADDED_LENGTHS token
    # lengths each, longest first) then ADDED_RESOLVE, equal to ADDED_TOKENS on every text (ops/added.py).
    hashed = None
    if rows and added_work(n, rows, longest) > MAX_ADDED_WORK:
        from offchain.models.text_tables import TableError

        try:
            hashed = bpe_merges.added_match_table(added)
        except TableError as exc:
            raise UnsupportedTokenizerError(
                f"{rows} added tokens of up to {longest} characters exceed ADDED_TOKENS' cap "
                f"(N * A * (ceil(L / 8) + 2) <= {MAX_ADDED_WORK}) at N = {n}, and ADDED_MATCH's table refuses them: "
                f"{exc}") from None
    if added.shape[0] == 0:   # no added tokens: one row that never matches (id -1)
        added = np.full((1, 2), -1, dtype=np.int32)
    w_cls1, w_cls2 = weight(cls1, "bpe.class_stage1"), weight(cls2, "bpe.class_stage2")
    if hashed is None:
        w_added = weight(added, "bpe.added_tokens")
    else:
        w_added = weight(hashed[0], "bpe.added_hashed")
    if chars_tab is not None:
        w_voc1, w_voc2 = weight(chars_tab[0], "bpe.piece_stage1"), weight(chars_tab[1], "bpe.piece_stage2")
    else:
        w_zero = weight(np.zeros((n, 1), dtype=np.int32), "bpe.no_pieces")
    w_bytes = weight(byte_ids, "bpe.byte_ids")
    w_merges = weight(merges, "bpe.merges")
    w_words = weight(words_tab[0], "bpe.word_vocab") if words_tab is not None else None
    w_frame = weight(np.array(frame, dtype=np.int32), "bpe.template") if frame else None
    if spec.nfc:   # ---- tokenizer: nfc (issue 14)
        from offchain.models import nfc_tables

        nfd1, nfd2, nfd_shift = nfc_tables.nfd_table()
        comp_rows, comp_window, comp_salt = nfc_tables.comp_table()
        w_nfd1, w_nfd2 = weight(nfd1, "bpe.nfd_stage1"), weight(nfd2, "bpe.nfd_stage2")
        w_comp = weight(comp_rows, "bpe.nfc_pairs")

    nodes: list[Node] = []

    def add(op: int, inputs: tuple[TensorRef, ...], out: TensorSpec, params: tuple[int, ...] = (),
            name: str = "") -> TensorRef:
        specs = tuple(_spec_of(r) for r in inputs)
        nodes.append(Node(int(op), inputs, specs, out, tuple(int(p) for p in params), name))
        return TensorRef(TensorKind.ACTIVATION, len(nodes) - 1)

    byte_spec = TensorSpec((n,), DType.INT8, 0, DEFAULT_CHUNK_LOG2[TensorKind.INPUT], "utf8")

    def _spec_of(ref: TensorRef) -> TensorSpec:
        if ref.kind == TensorKind.INPUT:
            return byte_spec
        if ref.kind == TensorKind.WEIGHT:
            return weights[ref.index][1]
        return nodes[ref.index].output

    def act(shape: tuple[int, ...], name: str) -> TensorSpec:
        return TensorSpec(shape, i32, 0, c, name)

    chars = add(OpCode.UTF8_CHARS, (TensorRef(TensorKind.INPUT, 0),), act((n,), "chars"), (), "bpe.utf8")
    if not spec.nfc:   # (with NFC the classes follow the normalized chars, below)
        stream = add(OpCode.CHAR_MAP, (chars, w_cls1, w_cls2), act((n, 1), "classes"), (cls_shift,), "bpe.classes")
    if hashed is None:
        matches = add(OpCode.ADDED_TOKENS, (chars, w_added), act((n,), "added"), (), "bpe.added")
    else:   # ---- tokenizer: added (issue 14)
        from offchain.engine.ops.added import length_groups

        _, a_window, a_salt, a_lengths = hashed
        cand = None
        for k, group in enumerate(length_groups(a_lengths)):
            ins = (chars, w_added) if cand is None else (chars, w_added, cand)
            cand = add(OpCode.ADDED_MATCH, ins, act((n, 2), f"added_cand_{k}"), (a_window, a_salt, *group),
                       f"bpe.added_match_{k}")
        matches = add(OpCode.ADDED_RESOLVE, (cand, chars), act((n,), "added"), (), "bpe.added")
    if spec.nfc:   # ---- tokenizer: nfc (issue 14)
        # tokenizers matches non-normalized added tokens on the raw text and normalizes the pieces between them:
        # the matches above read the raw chars; NFC_COMPOSE keeps matched chars raw and cuts the text at them;
        # the two NFC_COMPACT nodes move the chars and the matches to the normalized positions.
        from offchain.engine.ops.nfc import MAX_K, MAX_RUN_TRIES
        from offchain.engine.ops.nfc_runs import MAX_STAGE_TRIES, stages_for

        nfd = add(OpCode.CHAR_MAP, (chars, w_nfd1, w_nfd2), act((n, MAX_K), "nfd"), (nfd_shift,), "bpe.nfd")
        # ---- tokenizer: nfc runs (issue 14): every run reordered in full, NFC_COMPOSE settles run indices < C,
        # then NFC_STAGE nodes D at a time up to n (a text of n bytes has no longer run): NFC exact for any text
        nfd = add(OpCode.NFC_REORDER, (nfd, chars, matches), act((n, MAX_K), "nfd_sorted"), (), "bpe.nfc_reorder")
        composed = add(OpCode.NFC_COMPOSE, (nfd, chars, matches, w_comp), act((n, MAX_K), "nfc"),
                       (comp_window, comp_salt, MAX_RUN_TRIES), "bpe.nfc_compose")
        for stage in range(stages_for(n, MAX_STAGE_TRIES, MAX_RUN_TRIES)):
            start = MAX_RUN_TRIES + stage * MAX_STAGE_TRIES
            composed = add(OpCode.NFC_STAGE, (nfd, chars, matches, w_comp, composed),
                           act((n, MAX_K), f"nfc_{stage}"), (comp_window, comp_salt, start, MAX_STAGE_TRIES),
                           f"bpe.nfc_stage_{stage}")
        chars = add(OpCode.NFC_COMPACT, (composed, matches), act((n,), "nfc_chars"), (0,), "bpe.nfc_chars")
        matches = add(OpCode.NFC_COMPACT, (composed, matches), act((n,), "nfc_added"), (1,), "bpe.nfc_added")
        stream = add(OpCode.CHAR_MAP, (chars, w_cls1, w_cls2), act((n, 1), "classes"), (cls_shift,), "bpe.classes")
    pretok = add(OpCode.PRETOKENIZE, (stream, matches), act((n, 2), "words"),
                 (spec.kind, spec.prefix_rule, spec.first_only), "bpe.pretokenize")
    if chars_tab is not None:
        pieces = add(OpCode.CHAR_MAP, (chars, w_voc1, w_voc2), act((n, 1), "pieces"), (SHIFT,), "bpe.pieces")
    else:
        pieces = w_zero
    symbols = add(OpCode.BPE_SYMBOLS, (chars, pretok, matches, pieces, w_bytes), act((n, SLOTS), "symbols_0"),
                  (spec.mode, pid, 0x2581), "bpe.symbols")
    if w_words is not None:   # ignore_merges: a word that is a whole vocabulary token becomes that token
        symbols = add(OpCode.WORD_VOCAB, (symbols, pretok, w_words), act((n, SLOTS), "symbols_words"),
                      (words_tab[1], words_tab[2]), "bpe.word_vocab")
    rounds = bpe_merges.rounds_needed(n, spec.mode)
    for r in range(rounds):
        ranks = add(OpCode.PAIR_RANK, (symbols, pretok, w_merges), act((SLOTS * n, 2), f"ranks_{r}"),
                    (window, salt), f"bpe.rank_{r}")
        symbols = add(OpCode.BPE_MERGE, (symbols, ranks, pretok), act((n, SLOTS), f"symbols_{r + 1}"), (),
                      f"bpe.merge_{r}")
    ids_inputs = (symbols,) if w_frame is None else (symbols, w_frame)
    add(OpCode.BPE_IDS, ids_inputs, act((1, seq_len), "input_ids"), (len(spec.before), pad), "bpe.ids")
    graph = Graph([byte_spec], [s for _, s in weights], nodes)
    graph.validate()
    family = "byte-level" if spec.mode == MODE_BYTE_LEVEL else "sentencepiece"
    meta = {"name": "bpe-tokenizer", "input_encoding": "utf-8", "max_bytes": n, "seq_len": seq_len, "pad_id": pad,
            "tokenizer": {"family": family, "kind": spec.kind, "rounds": rounds, "merges": int((merges[:, 0] >= 0).sum()),
                          "template": frame}}
    if words_tab is not None:
        meta["tokenizer"]["ignore_merges"] = True
    if spec.nfc:   # ---- tokenizer: nfc (issue 14)
        meta["tokenizer"]["normalizer"] = "NFC"
    if hashed is not None:   # ---- tokenizer: added (issue 14)
        meta["tokenizer"]["added_hashed"] = {"tokens": rows, "lengths": len(hashed[3]), "window": hashed[1]}
    model = Model(graph, [a for a, _ in weights], meta)
    model.validate()
    return model


def tokenizer_model(spec: BpeTokenizerSpec | str | Path | dict, max_bytes: int, seq_len: int,
                    pad_id: int | None = None):
    """``tokenizer_graph_model`` for a spec or anything ``read_tokenizer`` takes."""
    if not isinstance(spec, BpeTokenizerSpec):
        spec = read_tokenizer(spec)
    return tokenizer_graph_model(spec, max_bytes, seq_len, pad_id)


# ------------------------------------------------------------------------------------------- the reference


def text_of(data: bytes) -> str:
    """The text a request's bytes stand for: trailing zero bytes are padding; ill-formed UTF-8 is replaced."""
    return bytes(data).rstrip(b"\0").decode("utf-8", "replace")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes at a character boundary."""
    data = text.encode("utf-8")[:max_bytes]
    return data.decode("utf-8", "ignore")


def reference_ids(tokenizer, spec: BpeTokenizerSpec, data: bytes, length: int, pad_id: int) -> list[int]:
    """What the tokenizer graph must output for request bytes ``data``, computed with the ``tokenizers`` library
    (``tokenizer`` a ``tokenizers.Tokenizer``): template + pieces[:length - F] + template, padded."""
    pieces = tokenizer.encode(text_of(data), add_special_tokens=False).ids
    room = length - len(spec.before) - len(spec.after)
    ids = spec.before + pieces[:room] + spec.after
    return ids + [pad_id] * (length - len(ids))


__all__ = ["AddedToken", "BpeTokenizerSpec", "tokenizer_model", "tokenizer_graph_model", "GPT2_PATTERN", "LLAMA3_PATTERN", "META", "QWEN2_PATTERN",
           "UnsupportedTokenizerError", "read_tokenizer", "reference_ids", "text_of", "truncate_utf8"]
