"""The detokenizer's byte table from a Hugging Face ``tokenizer.json``, and the graph that decodes ids to bytes.

``detok_table(tokenizer_json) -> (table [V, L + 1] int32, strip)`` is what DETOK_LEN / DETOK_BYTES
(``offchain/engine/ops/detok.py``) read: row v = (byte length of token v's text, its bytes, 0-padded); special
tokens and ids without a token have length 0 (``decode(ids, skip_special_tokens=True)`` skips them).

Decoders reproduced (anything else raises :class:`UnsupportedTokenizerError` naming it):

* ``ByteLevel``: each token's chars map back through GPT-2's ``bytes_to_unicode`` inverse; a token with a char
  outside that alphabet (an added token's content) gives its own UTF-8 bytes, as tokenizers does. strip 0.
* ``Sequence`` of ``Replace(U+2581 -> ' ')``, ``ByteFallback``, ``Metaspace``, ``Fuse`` and, after ``Fuse``,
  ``Strip(' ', 1, 0)`` (the Llama-2 legacy decoder is ``[Replace, ByteFallback, Fuse, Strip]``): a byte token
  ``<0xNN>`` (exactly as tokenizers parses it) is byte NN, other tokens are their UTF-8 bytes with U+2581 as a
  space. ``Strip`` after ``Fuse`` drops one leading space of the whole text: strip mode 1.
* ``Metaspace`` (alone or in such a sequence; ``prepend_scheme`` first / always / never, or the older
  ``add_prefix_space``): U+2581 becomes a space, except that with first / always tokenizers' decoder removes
  every U+2581 of the first token it sees (of the whole text when ``Fuse`` comes before it). Before ``Fuse`` the
  table marks those spaces (entry 0x120: byte 0x20 plus ``MARK``) and DETOK_BYTES drops the first token's marked
  entries (strip mode 2); after ``Fuse`` the table simply has no bytes for U+2581.

Where the bytes differ from ``tokenizer.decode(ids, skip_special_tokens=True)`` (tests/engine/test_detok_ops.py
asserts each rule):

* ByteFallback: a maximal run of consecutive byte tokens that is not valid UTF-8 as a whole becomes one U+FFFD
  per byte token in tokenizers (even for its valid bytes); we deliver the raw bytes, which
  ``decode('utf-8', 'replace')`` turns into one U+FFFD per maximal ill-formed subpart (keeping valid chars). With
  the run replaced by as many ``<0xEF><0xBF><0xBD>`` (U+FFFD) byte-token triples, both agree.
* ``Metaspace`` after ``ByteFallback``: a byte run that spells U+2581 is turned into a space (or removed) by
  tokenizers; we deliver U+2581.
* The text is delivered zero-padded, so trailing NUL characters of a text cannot be told from padding, and a
  text longer than B bytes is cut at B bytes (maybe inside a character).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.detok import (
    MARK,
    MAX_TOKEN_BYTES,
    SPACE,
    STRIP_FIRST_SPACE,
    STRIP_FIRST_TOKEN_MARKS,
    STRIP_NONE,
)
from offchain.models.bpe_errors import UnsupportedTokenizerError
from offchain.models.bpe_merges import bytes_to_unicode  # the one GPT-2 byte map (re-exported)

#: SentencePiece's space replacement char.
METASPACE = "\u2581"
#: The sequence steps reproduced (see the module docstring).
SEQUENCE_STEPS = ("Replace", "ByteFallback", "Metaspace", "Fuse", "Strip")


def load_tokenizer_json(tokenizer_json: Any) -> dict:
    """A tokenizer.json as a dict: given a dict, a path, or the JSON text."""
    if isinstance(tokenizer_json, dict):
        return tokenizer_json
    if isinstance(tokenizer_json, Path) or (isinstance(tokenizer_json, str) and not tokenizer_json.lstrip().startswith("{")):
        return json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    return json.loads(tokenizer_json)


def id_tokens(spec: dict) -> tuple[dict[int, str], set[int]]:
    """(id -> token string, the special tokens' ids): the model's vocabulary overlaid by the added tokens, as
    tokenizers' ``id_to_token`` resolves an id (added vocabulary first)."""
    model = spec.get("model") or {}
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise UnsupportedTokenizerError(f"model type {model.get('type')!r}: only a token -> id vocabulary "
                                        f"(BPE, WordLevel) is supported by the detokenizer")
    tokens = {int(i): str(t) for t, i in vocab.items()}
    special: set[int] = set()
    for added in spec.get("added_tokens") or []:
        tokens[int(added["id"])] = str(added["content"])
        if added.get("special"):
            special.add(int(added["id"]))
    return tokens, special


def _byte_token(token: str) -> int | None:
    """The byte of a ``<0xNN>`` token as tokenizers' ByteFallback parses it (6 UTF-8 bytes, ``u8::from_str_radix``
    of the two chars, which allows a leading '+'), else None."""
    if len(token.encode("utf-8")) != 6 or not token.startswith("<0x") or not token.endswith(">"):
        return None
    digits = token[3:5]
    hexd = "0123456789abcdefABCDEF"
    if digits[0] == "+" and digits[1] in hexd:
        return int(digits[1], 16)
    if digits[0] in hexd and digits[1] in hexd:
        return int(digits, 16)
    return None


def _prepends(step: dict) -> bool:
    """Whether a Metaspace decoder removes U+2581 from its first token (prepend_scheme first / always)."""
    if "prepend_scheme" in step:
        scheme = step["prepend_scheme"]
        if scheme not in ("first", "always", "never"):
            raise UnsupportedTokenizerError(f"Metaspace decoder prepend_scheme {scheme!r}")
        return scheme != "never"
    return bool(step.get("add_prefix_space", True))


def _steps(decoder: dict | None) -> list[dict]:
    if decoder is None:
        raise UnsupportedTokenizerError("decoder None (tokens joined by spaces) is not supported")
    kind = decoder.get("type")
    if kind == "Sequence":
        steps = list(decoder.get("decoders") or [])
        if any(s.get("type") == "Sequence" for s in steps):
            raise UnsupportedTokenizerError("decoder Sequence nested in a Sequence")
        return steps
    return [decoder]


class _Plan:
    """How each token string becomes table entries, and the strip mode, from the decoder steps."""

    def __init__(self, decoder: dict | None):
        steps = _steps(decoder)
        self.byte_level = False
        self.strip = STRIP_NONE
        self.byte_fallback = False
        #: Entries of U+2581: None = its own UTF-8 bytes (no step touches it).
        self.metaspace: list[int] | None = None
        if len(steps) == 1 and steps[0].get("type") == "ByteLevel":
            self.byte_level = True
            return
        fused = False
        in_sequence = decoder is not None and decoder.get("type") == "Sequence"
        for step in steps:
            kind = step.get("type")
            if kind not in SEQUENCE_STEPS:
                raise UnsupportedTokenizerError(f"decoder {kind!r}" + (" inside a Sequence" if in_sequence else ""))
            if kind == "Replace":
                pattern = step.get("pattern") or {}
                if pattern.get("String") != METASPACE or step.get("content") != " ":
                    raise UnsupportedTokenizerError(f"decoder Replace {pattern} -> {step.get('content')!r} (only "
                                                    f"U+2581 -> ' ')")
                if self.metaspace is None:
                    self.metaspace = [SPACE]
            elif kind == "ByteFallback":
                if fused:
                    raise UnsupportedTokenizerError("decoder ByteFallback after Fuse")
                self.byte_fallback = True
            elif kind == "Metaspace":
                if step.get("replacement", METASPACE) != METASPACE:
                    raise UnsupportedTokenizerError(f"Metaspace decoder replacement {step.get('replacement')!r}")
                if self.metaspace is None:
                    if not _prepends(step):
                        self.metaspace = [SPACE]
                    elif fused:
                        self.metaspace = []            # the whole text is its first token: every U+2581 goes
                    else:
                        self.metaspace = [SPACE | MARK]
                        self.strip = STRIP_FIRST_TOKEN_MARKS
            elif kind == "Fuse":
                fused = True
            else:  # Strip
                if (step.get("content"), step.get("start"), step.get("stop")) != (" ", 1, 0):
                    raise UnsupportedTokenizerError(f"decoder Strip({step.get('content')!r}, {step.get('start')}, "
                                                    f"{step.get('stop')}) (only Strip(' ', 1, 0))")
                if not fused:
                    raise UnsupportedTokenizerError("decoder Strip before Fuse (it would strip every token)")
                if self.strip != STRIP_NONE:
                    raise UnsupportedTokenizerError("decoder Strip together with a Metaspace that strips or a "
                                                    "second Strip")
                self.strip = STRIP_FIRST_SPACE

    def entries(self, token: str, byte_map: dict[str, int]) -> list[int]:
        """Table entries of one token's text."""
        if self.byte_level:
            if all(c in byte_map for c in token):
                return [byte_map[c] for c in token]
            return list(token.encode("utf-8"))
        if self.byte_fallback:
            b = _byte_token(token)
            if b is not None:
                return [b]
        out: list[int] = []
        for c in token:
            if c == METASPACE and self.metaspace is not None:
                out.extend(self.metaspace)
            else:
                out.extend(c.encode("utf-8"))
        return out


def detok_table(tokenizer_json: Any) -> tuple[np.ndarray, int]:
    """(table [V, L + 1] int32, strip mode) for DETOK_LEN / DETOK_BYTES (see the module docstring).
    ``tokenizer_json``: a path, the JSON text or the parsed dict. Raises UnsupportedTokenizerError naming an
    unsupported decoder or model, or a token longer than the op's cap."""
    spec = load_tokenizer_json(tokenizer_json)
    plan = _Plan(spec.get("decoder"))
    tokens, special = id_tokens(spec)
    byte_map = {c: b for b, c in bytes_to_unicode().items()}
    rows: dict[int, list[int]] = {}
    for i, token in tokens.items():
        if i in special:
            continue
        entries = plan.entries(token, byte_map)
        if not entries and plan.strip == STRIP_FIRST_TOKEN_MARKS:
            # tokenizers' Metaspace would count it as the first token and strip nothing after it.
            raise UnsupportedTokenizerError(f"token {i} ({token!r}) decodes to no bytes under a Metaspace decoder")
        if len(entries) > MAX_TOKEN_BYTES:
            raise UnsupportedTokenizerError(f"token {i} decodes to {len(entries)} bytes, over the detokenizer's "
                                            f"cap of {MAX_TOKEN_BYTES}")
        rows[i] = entries
    vocab = max(tokens) + 1 if tokens else 1
    width = max([len(r) for r in rows.values()] + [1]) + 1
    table = np.zeros((vocab, width), dtype=np.int32)
    for i, entries in rows.items():
        table[i, 0] = len(entries)
        table[i, 1:1 + len(entries)] = entries
    return table, plan.strip


def detok_nodes(ids: TensorRef, ids_spec: TensorSpec, table: TensorRef, table_spec: TensorSpec, first_node: int,
                strip: int, out_bytes: int, chunk_log2: int = 5) -> list[Node]:
    """The two nodes that decode ``ids`` (an INT32 tensor of T ids) into ``out_bytes`` text bytes through the
    byte table ``table``, numbered from ``first_node`` (DETOK_LEN, then DETOK_BYTES, whose output is the text)."""
    lens = TensorSpec(ids_spec.shape, DType.INT32, 0, ids_spec.chunk_log2, "detok.lens")
    text = TensorSpec((out_bytes,), DType.INT8, 0, chunk_log2, "detok.text")
    return [
        Node(int(OpCode.DETOK_LEN), (ids, table), (ids_spec, table_spec), lens, (), "detok.len"),
        Node(int(OpCode.DETOK_BYTES), (ids, TensorRef(TensorKind.ACTIVATION, first_node), table),
             (ids_spec, lens, table_spec), text, (strip,), "detok.bytes"),
    ]


def detok_model(tokenizer_json: Any, tokens: int, out_bytes: int, ids_spec: TensorSpec | None = None) -> Model:
    """The detokenizer alone as a model: ids INT32 [tokens] in (or ``ids_spec``, any shape of INT32 frac 0), text
    INT8 [out_bytes] out. ``detok_graph`` splices it behind a model whose output is the ids."""
    table, strip = detok_table(tokenizer_json)
    ids_spec = ids_spec or TensorSpec((tokens,), DType.INT32, 0, 5, "ids")
    table_spec = TensorSpec(table.shape, DType.INT32, 0, 5, "detok.table")  # 32-byte chunks: steps read single entries
    nodes = detok_nodes(TensorRef(TensorKind.INPUT, 0), ids_spec, TensorRef(TensorKind.WEIGHT, 0), table_spec, 0,
                        strip, out_bytes)
    model = Model(Graph([ids_spec], [table_spec], nodes), [table], {"name": "detok", "output_encoding": "utf-8"})
    model.validate()
    return model


def detok_graph(front: Model, tokenizer_json: Any, out_bytes: int) -> Model:
    """``front`` (a model whose output is INT32 token ids, e.g. the BPE encoder's BPE_IDS or a generator's ids)
    followed by DETOK_LEN and DETOK_BYTES: its output becomes the ids' text, INT8 [out_bytes]. Raises
    UnsupportedTokenizerError for an unsupported decoder, GraphError for ids that are not INT32 frac 0."""
    from offchain.models.text_tables import splice

    out = front.graph.output
    ids_spec = TensorSpec(out.shape, out.dtype, out.frac, out.chunk_log2, out.name)
    back = detok_model(tokenizer_json, out.size, out_bytes, ids_spec)
    model = splice(front, back)
    model.meta = {**front.meta, "output_encoding": "utf-8", "detok_bytes": out_bytes}
    return model


#: The committed SentencePiece-style tokenizer (Llama-2 legacy decoder: strip mode 1).
TINY_SP_TOKENIZER = Path(__file__).parent / "llm_tiny_sp" / "tokenizer.json"


def detok_fixture(tokens: int = 16, out_bytes: int = 48) -> tuple[Model, np.ndarray]:
    """A small detokenizer model and an input for tests and the game fuzzer: llm_tiny_sp's table, the ids of a
    text with a multi-byte character (byte-fallback tokens) and special tokens, padded with <|bos|>."""
    from tokenizers import Tokenizer

    ids = Tokenizer.from_file(str(TINY_SP_TOKENIZER)).encode(" ids \u2192 text").ids[:tokens]
    model = detok_model(TINY_SP_TOKENIZER, tokens, out_bytes)
    return model, np.array(ids + [1] * (tokens - len(ids)), dtype=np.int32)


def text_of(output: np.ndarray) -> str:
    """The text a consumer reads from DETOK_BYTES' output: its bytes without the zero padding, decoded with
    U+FFFD for ill-formed UTF-8."""
    return bytes(int(v) & 0xFF for v in np.asarray(output).reshape(-1)).rstrip(b"\0").decode("utf-8", "replace")


__all__ = ["UnsupportedTokenizerError", "bytes_to_unicode", "detok_fixture", "detok_graph", "detok_model", "detok_nodes", "detok_table", "text_of"]
