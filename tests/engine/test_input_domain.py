"""Input domains of the shipped models, and why no other operator refusal is reachable from their inputs.

The registered domain is derived from the graph (offchain/engine/domain.py); the README's table lists every operator
refusal. These tests check the two facts that table relies on for the shipped models: llama-tiny's ids are bounded by
its vocabulary (and the executor applies that bound), and the text model's tables leave no refusal reachable from any
UTF-8 input (every stage-1 block lies in stage 2; every id WORDPIECE can emit has an embedding row).
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine.domain import InputDomain, input_domain
from offchain.engine.errors import InputOutOfDomainError
from offchain.engine.executor import prepare_inputs
from offchain.engine.graph import TensorKind
from offchain.engine.ops import OpCode
from offchain.models.tiny import tiny_mlp


def test_llama_tiny_takes_ids_of_its_vocabulary_only(reference_model):
    built = reference_model("llama-tiny")
    model = built.model
    vocab = next(n.in_specs[1].shape[0] for n in model.graph.nodes if n.op == OpCode.EMBEDDING)
    assert input_domain(model.graph) == InputDomain(4, 0, vocab - 1)
    ids = np.asarray(built.example_inputs[0]).copy()
    ids.reshape(-1)[-1] = vocab - 1
    prepare_inputs(model, [ids])                       # the boundary id is accepted
    ids.reshape(-1)[3] = vocab
    with pytest.raises(InputOutOfDomainError) as info:
        prepare_inputs(model, [ids])
    assert (info.value.index, info.value.value) == (3, vocab)


def test_an_int8_model_read_by_a_linear_takes_every_value():
    assert input_domain(tiny_mlp().graph) == InputDomain(1, -128, 127)
    assert InputDomain(1, -128, 127).full


def test_the_text_tables_leave_no_refusal_reachable_from_utf8():
    from offchain.models.minilm import MiniLMConfig, load_tokenizer
    from offchain.models.text_tables import tokenizer_model

    model = tokenizer_model(32, 16, load_tokenizer())
    graph = model.graph
    assert input_domain(graph) == InputDomain(1, -128, 127)   # UTF8_DECODE maps every byte string to code points
    char_map = next(n for n in graph.nodes if n.op == OpCode.CHAR_MAP)
    trie_match = next(n for n in graph.nodes if n.op == OpCode.TRIE_MATCH)
    wordpiece = next(n for n in graph.nodes if n.op == OpCode.WORDPIECE)
    assert all(ref.kind == TensorKind.WEIGHT for ref in char_map.inputs[1:] + trie_match.inputs[1:])
    # CHAR_MAP refuses (TableOutOfRange) a code point whose stage-1 block is outside stage 2: none is.
    stage1, stage2 = (model.weights[ref.index] for ref in char_map.inputs[1:])
    blocks = stage2.shape[0] >> char_map.params[0]
    assert stage1.min() >= 0 and stage1.max() < blocks
    # EMBEDDING refuses (TokenOutOfVocabulary) ids outside the vocabulary: WORDPIECE emits only its [CLS], [SEP],
    # [PAD], [UNK] params and trie tokens, all rows of MiniLM's embedding table.
    trie = model.weights[trie_match.inputs[1].index]
    vocab = MiniLMConfig().vocab_size
    assert trie[:, 2].min() >= -1 and trie[:, 2].max() < vocab
    assert all(0 <= wordpiece.params[k] < vocab for k in range(4))


def test_a_loreft_whose_accumulators_could_leave_int62_is_not_a_valid_graph():
    """LOREFT shifts h left by fw before the rescale: with an int32 h and fw = 31 the accumulator reaches 2^62, which
    both engines refuse (AccumulatorOutOfRange) for some honest h; the graph check rejects such a node up front."""
    from offchain.engine.dtypes import DType
    from offchain.engine.errors import DtypeMismatchError
    from offchain.engine.graph import Node, TensorRef, TensorSpec
    from offchain.engine.ops import get_op

    def node(h_dtype: DType, fw: int) -> Node:
        h = TensorSpec((1, 8), h_dtype, 4, 5, "h")
        specs = (h, TensorSpec((2, 8), DType.INT8, fw, 5, "R"), TensorSpec((2, 8), DType.INT8, fw, 5, "W"),
                 TensorSpec((2,), DType.INT32, 4 + fw, 5, "b"))
        refs = (TensorRef(TensorKind.INPUT, 0),) + tuple(TensorRef(TensorKind.WEIGHT, k) for k in range(3))
        return Node(OpCode.LOREFT, refs, specs, h, (), "loreft")

    get_op(OpCode.LOREFT).check(node(DType.INT32, 30))        # 2^61 + r * 2^38: fits
    with pytest.raises(DtypeMismatchError, match="62"):
        get_op(OpCode.LOREFT).check(node(DType.INT32, 31))
