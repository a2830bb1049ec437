"""NfcRunOps.sol equals offchain/engine/ops/nfc_runs.py element for element (rangeCount, every range including the
data-dependent probe windows, element) for NFC_REORDER and NFC_STAGE: on real text through the chain (runs of 5,
9 and 40 marks with mixed and equal ranks, Hangul after a run, an added token cutting a run, a Kannada starter
chain owning a long run), on staged runs (starter chains, marks of ranks 1..3 composing in a hand-made table,
any prev), on random int32 tensors (junk entries with any rank / cp, any prev, negative chars, odd
added values, a hand-made table with colliding homes and negative composites, salts 0 and 2^32 - 1) and at the
caps (N = 256, K = 4, one run over the whole input, from near its end); malformed nodes revert with BadNode
naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from engine.op_harness import make_node, spec
from engine.test_nfc_ops import compose_node
from engine.test_nfc_runs import reorder_node, stage_node
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.bpe import MAX_POSITIONS
from offchain.engine.ops.nfc import MAX_K, MAX_RUN_TRIES, entry_value
from offchain.engine.ops.nfc_runs import MAX_STAGE_TRIES
from offchain.models import nfc_tables

from ._harness import check_against_contract, custom_error, revert_data
from .test_nfc_ops import chain_inputs

RNG = np.random.default_rng(68)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
K = 4
D = MAX_STAGE_TRIES


def i32(shape):
    return spec(shape, DType.INT32, 0)


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("NfcRunOps")


def _stages(text: str, n: int, added_at=None):
    """(nfd, chars, added, x, [(stage node, its inputs)]) of the chain on ``text`` with every stage a run needs."""
    nfd, chars, added = chain_inputs(text, n, added_at)
    rows, window, salt = nfc_tables.comp_table()
    x = get_op(OpCode.NFC_REORDER).forward([nfd, chars, added], reorder_node(n))
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows], compose_node(n, rows.shape[0], window, salt))
    stages = []
    for frm in range(MAX_RUN_TRIES, n, D):
        node = stage_node(n, rows.shape[0], window, salt, frm)
        stages.append((node, [x, chars, added, rows, y]))
        y = get_op(OpCode.NFC_STAGE).forward(stages[-1][1], node)
    return nfd, chars, added, x, stages, y


def test_real_text_every_busy_element(contract):
    """Runs past C: reorder elements at every mark, stage elements at every entry of the first two stages and
    at the owners and a sample of marks of the later ones."""
    from tokenizers import normalizers

    text = ("a" + "\u0316\u0301" * 4 + "\u0323" + " \u1100" + "\u0301" * 5 + "\u1161<|>\u0316" * 1 + "\u0301" * 5
            + "\u0cc6\u0cc2" + "\u0316" * 6 + "\u0301")
    pre = text.index("<|>")
    pre_b = len(text[:pre].encode())
    n = len(text.encode()) + 2
    nfd, chars, added, x, stages, y = _stages(text, n, {pre_b: 7, pre_b + 1: -2, pre_b + 2: -2})
    got = "".join(chr(v) for v in y.reshape(-1) if v >= 0)
    nfc = normalizers.NFC().normalize_str
    assert got == nfc(text[:pre]) + "<|>" + nfc(text[pre + 3:])
    busy = [i for i in range(n * K) if nfd.reshape(-1)[i] > 0]
    check_against_contract(contract, reorder_node(n), [nfd, chars, added], busy)
    for s, (node, inputs) in enumerate(stages[:3]):
        check_against_contract(contract, node, inputs, busy if s < 2 else busy[::3])


def test_a_run_of_40_marks(contract):
    text = "e" + "\u0316\u0344" * 20 + "\u0301\u0301"
    n = len(text.encode())
    nfd, chars, added, x, stages, y = _stages(text, n)
    busy = [i for i in range(n * K) if nfd.reshape(-1)[i] > 0]
    check_against_contract(contract, reorder_node(n), [nfd, chars, added], busy[::2] + [busy[-1]])
    for node, inputs in stages[::3]:
        check_against_contract(contract, node, inputs, [0, 1, 4] + busy[-6:])


@pytest.mark.parametrize("n, k, width, salt", [(6, 4, 2, 0), (9, 2, 2, 2**32 - 1), (5, 1, 1, 12345),
                                              (7, 3, 2, 99)])
def test_random_tensors(contract, n, k, width, salt):
    vals = [0, 1, -1, I32_MIN, I32_MAX] + [entry_value(c, r) for c in (0x41, 0x301, 0x1100, 0x1161, 0xAC00,
                                                                        0x11A8, 7) for r in (0, 0, 1, 1, 2, 255)]
    nfd = RNG.choice(vals, size=(n, k)).astype(np.int32)
    chars = RNG.choice([-1, 0, 0x41, 0x1161, I32_MAX, I32_MIN], size=n).astype(np.int32)
    added = RNG.choice([-1, -1, -1, -1, -2, 3, I32_MIN], size=n).astype(np.int32)
    rows = RNG.choice([0x41, 0x301, 7, -1, -5, 0x1100, I32_MAX, I32_MIN], size=(8, 3)).astype(np.int32)
    rows[:2] = [[0x41, 0x301, 0xC1], [0x41, 0x301, -5]]
    prev = RNG.choice([-1, -1, 0x41, 0xC1, 0x1100, 0xAC00, I32_MIN, I32_MAX, 0], size=(n, k)).astype(np.int32)
    window = int(RNG.integers(1, 9))
    check_against_contract(contract, reorder_node(n, k), [nfd, chars, added], range(n * k))
    x = get_op(OpCode.NFC_REORDER).forward([nfd, chars, added], reorder_node(n, k))
    for frm in (1, 2, n * k):
        node = stage_node(n, 8, window, salt, frm, width, k)
        check_against_contract(contract, node, [x, chars, added, rows, prev], range(n * k))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_staged_runs(contract, seed):
    """Starter chains and runs of up to 12 marks of ranks 1..3 composing in a hand-made table (Hangul jamo too),
    an added-token row now and then, prev from NFC_COMPOSE and random (-1 often): every element of the reorder
    and of stages from 1, 3 and 5."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    flat = []
    for _ in range(3):
        flat += [entry_value(int(rng.choice([0x41, 0x1100, 0xAC00, 0x61])), 0) for _ in range(rng.integers(1, 3))]
        flat += [entry_value(int(rng.choice([0x301, 0x316, 0x1161, 0x11A8])), int(rng.integers(1, 4)))
                 for _ in range(rng.integers(3, 12))]
    n = -(-len(flat) // k)
    nfd = np.array(flat + [0] * (n * k - len(flat)), dtype=np.int32).reshape(n, k)
    chars = np.full(n, 0x41, dtype=np.int32)
    added = rng.choice([-1] * 9 + [7], size=n).astype(np.int32)
    rows = np.array([[0x41, 0x301, 0xC1], [0xC1, 0x316, 0x1E00], [0x61, 0x316, 0x1E01], [-1, -1, -1],
                     [0x1100, 0x301, 0x42]], dtype=np.int32)
    check_against_contract(contract, reorder_node(n, k), [nfd, chars, added], range(n * k))
    x = get_op(OpCode.NFC_REORDER).forward([nfd, chars, added], reorder_node(n, k))
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows], compose_node(n, 5, 5, 0, MAX_RUN_TRIES, k))
    prev = rng.choice([-1, -1, 0x41, 0xC1, 0xAC00, 5], size=(n, k)).astype(np.int32)
    for frm, p in ((1, prev), (3, y), (5, y)):
        check_against_contract(contract, stage_node(n, 5, 5, 0, frm, D, k), [x, chars, added, rows, p],
                               range(n * k))


def test_the_caps_match(contract):
    """N = 256, K = 4: one run of 4 * 256 - 1 marks after a starter (too long: NFC_REORDER keeps it, walking R =
    256 entries each way), a run of exactly R marks (reordered), and the last stage (from = R - D) on the long
    run: the owner and the marks at indices R - D .. R - 1 and R (past the window)."""
    from offchain.engine.ops.nfc_runs import MAX_RUN_MARKS

    n = MAX_POSITIONS
    low, acute = nfc_tables.rank_of(0x0316), nfc_tables.rank_of(0x0301)
    nfd = np.full((n, K), entry_value(0x0316, low), dtype=np.int32)
    nfd.reshape(-1)[::5] = entry_value(0x0301, acute)
    nfd[0, 0] = entry_value(0x61, 0)
    chars = np.full(n, 0x61, dtype=np.int32)
    added = np.full(n, -1, dtype=np.int32)
    rows, window, salt = nfc_tables.comp_table()
    check_against_contract(contract, reorder_node(n), [nfd, chars, added], [1, 500, n * K - 1])
    x = get_op(OpCode.NFC_REORDER).forward([nfd, chars, added], reorder_node(n))
    assert (x == nfd).all()
    exact = nfd.copy().reshape(-1)
    exact[MAX_RUN_MARKS + 1] = entry_value(0x61, 0)
    exact = exact.reshape(n, K)
    check_against_contract(contract, reorder_node(n), [exact, chars, added], [1, 7, MAX_RUN_MARKS])
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows], compose_node(n, rows.shape[0], window, salt))
    node = stage_node(n, rows.shape[0], window, salt, MAX_RUN_MARKS - D)
    check_against_contract(contract, node, [x, chars, added, rows, y],
                           [0] + list(range(MAX_RUN_MARKS - D + 1, MAX_RUN_MARKS + 2)))


def _bad_node_reverts(chain, contract, node, reason: str) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], [reason])


def test_malformed_nodes_revert_by_name(chain, contract):
    _bad_node_reverts(chain, contract, reorder_node(MAX_POSITIONS + 1), "x shape")
    _bad_node_reverts(chain, contract, reorder_node(4, k=MAX_K + 1), "x shape")
    _bad_node_reverts(chain, contract, stage_node(MAX_POSITIONS + 1, 16, 4, 0, 4), "x shape")
    for params in ((0, 0, 4, 1), (9, 0, 4, 1), (4, -1, 4, 1), (4, 2**32, 4, 1), (4, 0, 0, 1), (4, 0, 256 - D + 1, D),
                   (4, 0, 4, 0), (4, 0, 4, D + 1)):
        node = make_node(OpCode.NFC_STAGE, (i32((4, 4)), i32((4,)), i32((4,)), i32((32, 3)), i32((4, 4))),
                         i32((4, 4)), params)
        _bad_node_reverts(chain, contract, node, "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_REORDER, (i32((4, 4)), i32((4,)), i32((4,))),
                                                 i32((4, 4)), (1,)), "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_STAGE, (i32((4, 4)), i32((4,)), i32((4,)),
                                                                    i32((32, 3)), i32((4, 3))), i32((4, 4)),
                                                 (4, 0, 4, 1)), "prev shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_STAGE, (i32((4, 4)), i32((4,)), i32((4,)),
                                                                    i32((32, 4)), i32((4, 4))), i32((4, 4)),
                                                 (4, 0, 4, 1)), "comps shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_REORDER, (i32((4, 4)), i32((5,)), i32((4,))),
                                                 i32((4, 4))), "chars/added shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_REORDER, (i32((4, 4)), i32((4,)), i32((4,))),
                                                 i32((4, 1))), "output shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_REORDER, (spec((4, 4), DType.INT16, 0), i32((4,)),
                                                                      i32((4,))), i32((4, 4))), "dtype")
    nd = descriptor_tuple(encode_node(make_node(OpCode.NFC_COMPACT, (i32((4, 4)), i32((4,))), i32((4,)), (0,)), 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                          [OpCode.NFC_COMPACT])
