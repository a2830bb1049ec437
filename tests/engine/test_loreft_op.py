"""LOREFT (offchain/engine/ops/intervention.py): forward equals the element rule and satisfies the private-node
circuit's constraints, saturates at the dtype's bounds, tracks the real intervention, and rejects malformed nodes
with named errors."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine.errors import DtypeMismatchError, ShapeMismatchError
from offchain.engine.executor import run
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.ops import get_op
from offchain.models.loreft_block import loreft_block, loreft_input
from offchain.zk.circuits import build
from offchain.zk.loreft import loreft_float
from offchain.zk.private import node_descriptor

from .op_harness import check_elements


@pytest.mark.parametrize("scale", [100, 6000, 32767])   # 32767: saturates at the int16 bounds
def test_forward_equals_elements_and_the_circuit(scale):
    model = loreft_block()
    x = loreft_input(scale=scale)
    out = run(model, [x]).outputs[0]
    node = model.graph.nodes[0]
    assert np.array_equal(check_elements(node, [x] + model.weights, range(node.output.size)), out)
    # The private-node circuit (offchain/zk/circuits.py, its own in-circuit arithmetic) is satisfied by this output.
    built = build(node_descriptor(model, 0), x, model.weights)
    assert not built.cs.unsatisfied() and np.array_equal(built.output.reshape(out.shape), out)
    if scale == 32767:
        assert out.min() == -32768 or out.max() == 32767


def test_integer_tracks_the_real_intervention():
    model = loreft_block(rows=1, d=16, r=2)
    x = loreft_input(rows=1, scale=2000)
    r_mat, w_mat, b = model.weights
    ref = loreft_float(x / 2**8, r_mat / 2**6, w_mat / 2**6, b / 2**14)
    got = run(model, [x]).outputs[0] / 2**8
    inside = np.abs(ref) < 127   # int16 at frac 8 saturates at +-128
    assert inside.sum() >= 8
    # Two roundings: e[k] by 2^-9 (times |R[k, j]| <= 2, rank 2) and the output by 2^-9.
    assert np.max(np.abs(got - ref)[inside]) <= 5 * 2**-9


def test_malformed_nodes_are_rejected():
    model = loreft_block()
    node = model.graph.nodes[0]
    op = get_op(node.op)
    h, r_spec, w_spec, b_spec = node.in_specs
    bad_shape = Node(node.op, node.inputs, (h, r_spec, TensorSpec((3, 16), w_spec.dtype, 6), b_spec), node.output)
    with pytest.raises(ShapeMismatchError, match="must be"):
        op.check(bad_shape)
    bad_frac = Node(node.op, node.inputs, (h, r_spec, w_spec, TensorSpec(b_spec.shape, b_spec.dtype, 10)), node.output)
    with pytest.raises(DtypeMismatchError, match="frac"):
        op.check(bad_frac)
