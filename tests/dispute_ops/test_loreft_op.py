"""InterventionOps.sol (LOREFT's one-step check) equals offchain/engine/ops/intervention.py element for element,
including saturated outputs, at a small size and at Llama-2-7B's width (d = 4096, rank 4)."""

from __future__ import annotations


from offchain.engine.executor import run
from offchain.models.loreft_block import loreft_block, loreft_input

from ._harness import check_against_contract, element_gas


def test_loreft_matches_python_including_saturation(deploy):
    contract = deploy("InterventionOps")
    model = loreft_block()
    for scale in (300, 32767):
        x = loreft_input(scale=scale)
        node = model.graph.nodes[0]
        out = run(model, [x]).outputs[0]
        if scale == 32767:
            assert out.min() == -32768 or out.max() == 32767
        check_against_contract(contract, node, [x] + model.weights, range(0, node.output.size, 3))


def test_loreft_one_step_gas_by_width(deploy, owner):
    """A public LOREFT's one step reads all of R and W: it fits 2 M gas up to d = 1024 at rank 4. Llama-2-7B's
    d = 4096 does not (about 3 M): there LOREFT is meant to be private, and a game that lands on a private node
    ends with a reveal, not a one step (contracts/zk/PrivateNodeJudge.sol)."""
    contract = deploy("InterventionOps")
    for d, fits in ((1024, True), (4096, False)):
        model = loreft_block(rows=1, d=d, r=4)
        x = loreft_input(rows=1, d=d, scale=3000)
        node = model.graph.nodes[0]
        check_against_contract(contract, node, [x] + model.weights, [0, d - 1])
        _, execution = element_gas(contract, node, [x] + model.weights, d - 1, owner)
        assert (execution < 2_000_000) == fits, (d, execution)
