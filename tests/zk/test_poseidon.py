"""Python Poseidon against circomlibjs (known vectors and a live run), and the chain hash's shape."""

import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from offchain.zk.field import P, FieldRangeError
from offchain.zk.poseidon import PoseidonWidthError, chain_blocks, poseidon, poseidon_chain
from offchain.zk.prover import REPO

# Printed by circomlibjs 0.1.7 buildPoseidonReference() on this machine.
KNOWN = [
    ([1, 2], 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([1, 2, 3], 6542985608222806190361240322586112750744169038454362455181422643027100751666),
    (list(range(1, 17)), 9989051620750914585850546081941653841776809718687451684622678807385399211877),
    ([0, 0], 14744269619966411208579211824598458697587494354926760081771325075741142829156),
]


@pytest.mark.parametrize("inputs,expected", KNOWN)
def test_known_vectors(inputs, expected):
    assert poseidon(inputs) == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_live_circomlibjs_agrees_on_all_shipped_widths():
    cases = [[P - 1, 5], [7, 8, 9], list(range(100, 106)), [3 ** 100 % P] * 16]
    script = ("import {buildPoseidonReference} from 'circomlibjs';"
              "const p = await buildPoseidonReference();"
              "const cases = JSON.parse(process.argv[1]).map(c => c.map(BigInt));"
              "console.log(JSON.stringify(cases.map(c => p.F.toString(p(c)))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps([[str(v) for v in c] for c in cases])],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert [int(v) for v in json.loads(out)] == [poseidon(c) for c in cases]


def test_rejects_non_field_input_and_unshipped_width():
    with pytest.raises(FieldRangeError, match=r"inputs\[1\]"):
        poseidon([1, P])
    with pytest.raises(PoseidonWidthError, match="n_inputs = 4"):
        poseidon([1, 2, 3, 4])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, P - 1), min_size=0, max_size=12))
def test_chain_is_iterated_poseidon(elements):
    h = 0
    for b in range(chain_blocks(len(elements), 5)):
        blk = elements[5 * b:5 * b + 5]
        h = poseidon([h, *blk, *[0] * (5 - len(blk))])
    assert poseidon_chain(elements, 5) == h
