"""Private nodes of an engine model: descriptors, commitments and proofs from an executor trace."""

import numpy as np
import pytest

from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.zk.model_proofs import commitments, descriptors, prove_private
from offchain.zk.private import PrivateNodeError, PrivateSpec, public_signal, tensor_hash
from offchain.zk.prover import setup, verify


def tiny_mlp() -> Model:
    """8 -> 6 -> ReLU -> 3, shaped like digits-mlp's layers (first shift -2, last +9)."""
    rng = np.random.default_rng(0)
    x = TensorSpec((1, 8), DType.INT8, 4)
    w0, b0 = TensorSpec((6, 8), DType.INT8, 6), TensorSpec((6,), DType.INT32, 10)
    h = TensorSpec((1, 6), DType.INT16, 12)
    w1, b1 = TensorSpec((3, 6), DType.INT8, 7), TensorSpec((3,), DType.INT32, 19)
    y = TensorSpec((1, 3), DType.INT16, 10)
    act = lambda i: TensorRef(TensorKind.ACTIVATION, i)
    wt = lambda i: TensorRef(TensorKind.WEIGHT, i)
    nodes = [
        Node(OpCode.LINEAR, (TensorRef(TensorKind.INPUT, 0), wt(0), wt(1)), (x, w0, b0), h),
        Node(OpCode.RELU, (act(0),), (h,), h),
        Node(OpCode.LINEAR, (act(1), wt(2), wt(3)), (h, w1, b1), y),
    ]
    weights = [rng.integers(-128, 128, s.shape).astype(s.dtype.numpy) for s in (w0,)]
    weights.append(rng.integers(-3000, 3000, 6).astype(np.int32))
    weights.append(rng.integers(-128, 128, w1.shape).astype(np.int8))
    weights.append(rng.integers(-(1 << 20), 1 << 20, 3).astype(np.int32))
    model = Model(Graph(inputs=[x], weights=[w0, b0, w1, b1], nodes=nodes), weights)
    model.validate()
    return model


def test_every_private_node_proves_the_trace(tmp_path, monkeypatch):
    monkeypatch.setenv("ZK_BUILD_DIR", str(tmp_path))
    model = tiny_mlp()
    spec = PrivateSpec((0, 2))
    descs = descriptors(model, spec)
    assert descs[0].shift == -2 and descs[2].shift == 9
    keys = {d: setup(d) for d in descs.values()}
    trace = run(model, [np.arange(-4, 4, dtype=np.int8).reshape(1, 8) * 30])
    proofs = prove_private(model, spec, trace, keys)
    com = commitments(model, spec)
    for p in proofs:
        x = trace.operands(model, p.node)[0]
        bits_in = model.graph.nodes[p.node].in_specs[0].dtype.bits
        signal = public_signal(tensor_hash(x, bits_in), tensor_hash(trace.outputs[p.node], 16), com[p.node])
        assert p.signal == signal
        assert verify(keys[p.descriptor].vk, p.proof, [signal])


def test_only_linear_weight_nodes_can_be_private():
    model = tiny_mlp()
    with pytest.raises(PrivateNodeError, match="node 1 is op"):
        descriptors(model, PrivateSpec((1,)))
    with pytest.raises(PrivateNodeError, match="outside"):
        descriptors(model, PrivateSpec((5,)))
    with pytest.raises(PrivateNodeError, match="repeat"):
        PrivateSpec((0, 0))


def test_a_private_loreft_node_of_an_engine_model_is_proven(tmp_path, monkeypatch):
    """LOREFT is an engine op; marked private, its circuit proves exactly the engine's output."""
    from offchain.models.loreft_block import loreft_block, loreft_input
    from offchain.zk.private import LoreftDescriptor

    monkeypatch.setenv("ZK_BUILD_DIR", str(tmp_path))
    model = loreft_block(rows=1, d=16, r=2)
    spec = PrivateSpec((0,))
    desc = descriptors(model, spec)[0]
    assert desc == LoreftDescriptor(rows=1, d=16, r=2, h_bits=16, shift=6)
    keys = {desc: setup(desc)}
    trace = run(model, [loreft_input(rows=1, scale=3000)])
    (proof,) = prove_private(model, spec, trace, keys)
    signal = public_signal(tensor_hash(trace.inputs[0], 16), tensor_hash(trace.outputs[0], 16),
                           commitments(model, spec)[0])
    assert proof.signal == signal and verify(keys[desc].vk, proof.proof, [signal])
