"""A model owner's whole path on anvil: their own module file compiled with the CLI, the model file registered by
`register` (what `ape run register --model FILE` calls), loaded by the nodes' catalog (what `ape run submitter/
challenger --model FILE` load), requested through a consumer contract and answered with the integer model's label."""

from __future__ import annotations

import json

import numpy as np
from ape import chain
from click.testing import CliRunner

from offchain.chain.encoding import input_tensor
from offchain.chain.registration import register
from offchain.cli import main
from offchain.engine.executor import run
from offchain.engine.modelfile import load_model
from offchain.nodes.catalog import load_catalog
from offchain.nodes.node import Node, Roles
from offchain.nodes.store import NodeStore

from .conftest import MODEL_FEE, PARAMS

OWNER_MODULE = '''
import torch
from torch import nn


class PixelNet(nn.Module):
    """The owner's digits classifier: [B, 64] pixels / 16 -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 24)
        self.out = nn.Linear(24, 10)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def pixel_net():
    torch.manual_seed(7)
    return PixelNet()


def calibration():
    g = torch.Generator().manual_seed(3)
    return [(torch.randint(0, 17, (1, 64), generator=g).float() / 16,) for _ in range(16)]
'''


def test_an_owners_module_compiled_by_the_cli_is_registered_served_and_answered(
        project, protocol, owner, model_owner, user, submitter, challenger, tmp_path):
    source = tmp_path / "pixel_net.py"
    source.write_text(OWNER_MODULE)
    path = tmp_path / "pixel-net.model"
    compiled = CliRunner().invoke(main, ["compile", "--module", f"{source}:pixel_net", "--input-spec", "1x64:int8:f4",
                                         "--calibration", f"{source}:calibration", "--out", str(path)])
    assert compiled.exit_code == 0, compiled.output
    info = json.loads(compiled.stdout)

    model = load_model(path)
    done = register({"ModelRegistry": protocol.registry}, model, MODEL_FEE, model_owner.address, owner)
    registered_root = bytes(protocol.registry.getModel(done.model_id).graphRoot)
    assert done.new and int.from_bytes(registered_root, "big") == int(info["graph_root"], 16)
    served = load_catalog([path], protocol.registry)
    assert list(served) == [done.model_id] and served[done.model_id].name == "pixel_net"

    classifier = owner.deploy(project.DigitsClassifier, protocol.oracle, done.model_id)
    pixels = np.random.default_rng(5).integers(0, 17, size=64).astype(np.int8).tobytes()
    classifier.classify(pixels, sender=user, value=classifier.fee())
    request_id = protocol.oracle.requestCount()

    nodes = [Node(protocol.oracle, protocol.game, account, served, NodeStore(tmp_path / f"{name}.sqlite"), roles,
                  name=name, chain=chain)
             for account, name, roles in ((submitter, "submitter", Roles(submit=True)),
                                          (challenger, "challenger", Roles(challenge=True, correct=True)))]
    for _ in range(6):
        for node in nodes:
            node.poll_once()
        if protocol.oracle.isFinalized(request_id):
            break
        chain.pending_timestamp += PARAMS.challenge_window
        chain.mine()
    assert protocol.oracle.isFinalized(request_id)
    assert protocol.game.gameCount() == 0   # the honest result was not disputed
    expected = run(model, [input_tensor(model.graph, pixels)]).output
    assert classifier.classifications(request_id).label == int(np.argmax(expected.reshape(-1)))
    assert protocol.oracle.getRequest(request_id).submitter == submitter.address
