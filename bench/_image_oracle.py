"""digits-diffusion on the oracle and in the dispute game (issue 16), for bench/bench_image.py.

* ``oracle_figures``: on anvil, ImageGeneration.generate(prompt, seed) through a real submitter node (an ``ape run``
  process): request -> submission and -> delivery (the challenge window fast-forwarded), the request's gas, the
  ERC-7007 mint's gas and its tokenURI's gas (eth_call), and that the mint fee reached the model's token.
* ``dispute_figures``: one full game over a fault in the middle denoising step (the DDIM update of step K/2),
  through bench/bench_dispute.py's measure (moves per side, the largest transaction, wall time, step gas).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from rich.console import Console

from bench._results import Result

CASE = "digits-diffusion"
RUNS = 3
PROMPTS = (("a handwritten seven", 7), ("the digit three", 3), ("2", 11))
MINT_FEE = 2 * 10**15


def oracle_figures(console: Console, im) -> list[Result]:
    from ape import accounts, chain, networks, project

    from offchain.chain.art import finalized_request, mint
    from offchain.chain.deployments import deploy_protocol
    from offchain.chain.params import ProtocolParams
    from offchain.chain.registration import Offering, launch
    from offchain.engine.modelfile import save_model
    from offchain.image import DIGITS_IMAGE
    from bench._oracle_timing import time_delivery
    from offchain.nodes.process import NodeProcess
    from scripts.register import image_callback_gas

    params = ProtocolParams(challenge_window=30, request_timeout=3600)
    workdir = Path(tempfile.mkdtemp(prefix="voai-bench-image-"))
    model_file = workdir / "digits-diffusion.model"
    save_model(im.model, model_file)
    submitted, delivered, gas, mint_gas, uri_gas = [], [], [], [], []
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        owner, user, model_owner = accounts.test_accounts[0], accounts.test_accounts[1], accounts.test_accounts[4]
        addresses = deploy_protocol(project, provider, owner, directory=workdir, params=params)
        oracle = project.AIOracle.at(addresses["AIOracle"])
        launcher = project.ModelLauncher.at(addresses["ModelLauncher"])
        offering = Offering("digits-diffusion", "DDIFF", [model_owner.address], [10**24])
        model_id, token_address = launch(launcher, im.model, 10**15, model_owner.address, offering, owner)
        token = project.ModelRevenueToken.at(token_address)
        imager = owner.deploy(project.ImageGeneration, oracle, model_id, DIGITS_IMAGE.prompt_bytes,
                              image_callback_gas(im.model.graph.output.nbytes))
        collection = owner.deploy(project.AIGCCollection, "Digits Diffusion Art", "DDART", oracle,
                                  addresses["ModelTokenFactory"], model_id, MINT_FEE, DIGITS_IMAGE.as_tuple())
        Path("deployments").mkdir(exist_ok=True)
        Path(f"deployments/{provider.chain_id}.json").write_text((workdir / f"{provider.chain_id}.json").read_text())
        node = NodeProcess("submitter", "TEST::2", model_file, workdir, provider.uri, "--interval", "0.05")
        try:
            node.wait_started()
            for prompt, seed in PROMPTS[:RUNS]:
                receipt = imager.generate(prompt, seed, sender=user, value=imager.fee())
                gas.append(receipt.gas_used)
                rid = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
                s_, d_ = time_delivery(chain, oracle, rid, lambda: imager.request(rid).delivered,
                                       params.challenge_window)
                submitted.append(s_)
                delivered.append(d_)
                before = token.totalRevenueReceived()
                token_id, minted = mint(collection, finalized_request(oracle, rid), user.address, user)
                mint_gas.append(minted.gas_used)
                if token.totalRevenueReceived() - before != MINT_FEE:
                    raise AssertionError("the mint fee did not reach the model's revenue token")
                uri_gas.append(int(collection.tokenURI.estimate_gas_cost(token_id, sender=user)))
                console.print(f"  request {rid} {prompt!r} seed {seed}: submitted {submitted[-1]:.2f} s, delivered "
                              f"{delivered[-1]:.2f} s; minted, {minted.gas_used:,} gas; tokenURI {uri_gas[-1]:,} gas")
        finally:
            node.stop()
    med = statistics.median
    return [
        Result(CASE, "request_to_submission_s", round(med(submitted), 3), "s", None, None,
               f"median of {RUNS}: ImageGeneration.generate mined -> a submitter node's result on anvil"),
        Result(CASE, "request_to_delivery_s", round(med(delivered), 3), "s", None, None,
               f"median of {RUNS}: to the stored image, the {params.challenge_window} s challenge window "
               f"fast-forwarded (on a real chain add the window)"),
        Result(CASE, "generate_gas", int(med(gas)), "gas", None, None, "ImageGeneration.generate (the request)"),
        Result(CASE, "mint_gas", int(med(mint_gas)), "gas", None, None,
               "AIGCCollection.mint of a finalized image (verify + store prompt and pixels + fee to the token)"),
        Result(CASE, "token_uri_gas", int(med(uri_gas)), "gas", None, None,
               "tokenURI as eth_estimateGas: on-chain JSON + SVG of the 8x8 image, base64 twice"),
    ]


def dispute_figures(console: Console, im) -> list[Result]:
    from ape import accounts, networks, project

    from bench import bench_dispute
    from bench._dispute_game import deploy
    from offchain.models import diffusion

    step = im.config.ddim_steps // 2
    fault_node = im.nodes[f"ddim{step}"]
    x = diffusion.request_tensor(diffusion.image_request("a handwritten seven", 7))
    params = sum(int(w.size) for w in im.model.weights)
    case = bench_dispute.Case(
        CASE, im.model, [x], params, fault_node, 36,
        f"one element of the DDIM update of step {step} of {im.config.ddim_steps} corrupted (the rest of the graph "
        f"run on it); {len(im.model.graph.nodes)} graph nodes", {}, None)
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        protocol = deploy(project, provider, accounts)
        measured = bench_dispute.measure(case, protocol, provider, project)
    keep = {"dispute_wall_s", "step_gas", "nodes", "forward_s"}
    results = [r for r in measured if r.metric in keep and not (r.compared_with or "").startswith("target (issue 4)")]
    value = {r.metric: r.value for r in measured}
    results.append(Result(CASE, "moves_per_side", value["moves_per_side"], "moves", None, None,
                          f"a fault in the middle step's DDIM_STEP (node {fault_node})"))
    results.append(Result(CASE, "max_tx_gas", value["max_tx_gas"], "gas", "target (issue 16)", 2_000_000))
    return results
