"""`make demo` / `ape run demo`: the whole story on a local anvil chain that ape-foundry starts and stops.

1. train and compile `digits-mlp`, and compile all-MiniLM-L6-v2 with its WordPiece tokenizer as graph ops
   (the request is the sentence's UTF-8 bytes), the reference LLM with its BPE tokenizer in the graph, and the
   same LLM as a text-GENERATING model (prompt bytes in, generated text out, every decode step disputable);
2. deploy the protocol, launch both models with their ERC-7641 tokens, deploy two consumer contracts;
3. start an honest submitter node and a challenger node (separate `ape run` processes) serving both models;
4. a user asks for a digit: the honest result is finalized and the callback stores the label; another asks for
   sentence embeddings, which the callback stores, and compares them on-chain by cosine similarity; a third asks
   llama-tiny with a private LoReFT intervention after every layer (opp/ai): the submitter proves both with
   Groth16, the game verifies them in one batch, and the challenger checks the public rest holding only the
   model's public view; a fourth asks an owner's own digits-mlp whose last layer is private; a contract asks the
   LLM a question (TextGeneration, ORA's bytes(prompt) pattern) and stores the generated answer as a string; a
   contract asks the text-to-image model for "a handwritten seven" (ImageGeneration): the prompt and the seed go
   through MiniLM, the seeded noise and 10 DDIM steps in one disputable graph, the 8x8 image is shown and minted
   as an ERC-7007 NFT whose on-chain tokenURI renders it as SVG, and its mint fee goes to the model's token;
5. the honest submitter stops and a faulty one answers the next request: the challenger disputes it, wins
   the bisection game with a one-step proof on-chain, posts the correct result, and that one is delivered; then a
   faulty LLM submitter corrupts one logit in a middle decode step: the challenger wins with a one-step proof
   inside that step and the corrected text is delivered;
6. a summary: latency, gas, moves, bonds;
7. the model's ERC-7641 token, created when the model was launched, received every model fee: a snapshot
   is taken and the holders claim their share; the image model's holders claim its inference fee and the NFT's
   mint fee together.
The challenge window is fast-forwarded on the local chain (a block with a later timestamp) so that the
story takes a minute, not the window's length. Every process the demo starts is stopped before it exits.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from offchain.chain.deployments import deploy_protocol
from offchain.chain.registration import Offering, launch
from offchain.chain.revenue import claim_all, holder_report, report_table, snapshot_if_due
from offchain.chain.params import ProtocolParams
from offchain.engine.executor import run
from offchain.engine.modelfile import save_model
from offchain.engine.roots import graph_root, weights_root
from offchain.nodes.process import NodeProcess
from offchain.dispute.responder import event_logs

console = Console(width=None if sys.stdout.isatty() else 120)
PARAMS = ProtocolParams(challenge_window=20, clock_budget=300, request_timeout=900)
MODEL_FEE = 10**15


def act(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def build_model(path: Path):
    from offchain.models import digits

    model, module, data = digits.build("digits-mlp")
    acc_float = digits.float_accuracy(module, data.test_pixels, data.test_labels)
    acc_int = digits.integer_accuracy(model, data.test_pixels, data.test_labels)
    save_model(model, path)
    console.print(f"digits-mlp: {len(model.graph.nodes)} integer nodes, {len(model.graph.weights)} weight tensors; "
                  f"test accuracy float {acc_float:.2%}, integer {acc_int:.2%} -> {path}")
    return model, data


def compile_owner_module(path: Path):
    """A model owner's own PyTorch module (the zoo's ResNet block: conv, BatchNorm, ReLU, a skip, adaptive average
    pooling) compiled with the one command an owner runs; returns the loaded model."""
    import json
    import subprocess

    from offchain.engine.modelfile import load_model
    from offchain.models.zoo import DIGITS_INPUT_SPEC

    command = [sys.executable, "-m", "offchain", "compile", "--module", "offchain.models.zoo:resnet",
               "--input-spec", DIGITS_INPUT_SPEC, "--calibration", "offchain.models.zoo:digits_calibration",
               "--name", "zoo-resnet", "--out", str(path)]
    console.print("$ python -m offchain compile " + " ".join(command[4:]))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"compiling the owner's module failed:\n{done.stderr[-2000:]}")
    info = json.loads(done.stdout)
    agreement = info["agreement"]
    console.print(f"zoo-resnet: {info['nodes']} integer nodes (BatchNorm folded into the convs), "
                  f"{info['parameters']:,} parameters; integer vs float on the calibration images: argmax agreement "
                  f"{agreement['argmax_agreement']:.3f}, max logit error {agreement['max_abs_logit_error']:.3f} -> {path}")
    return load_model(path)


def compile_text_llm(path: Path, prompt: str = "If the file does not exist, a"):
    """The reference LLM's Hugging Face folder compiled with its own BPE tokenizer inside the graph (one command);
    runs a prompt through it and shows the graph's tokens beside the tokenizers library's and the next token."""
    import json
    import subprocess

    from tokenizers import Tokenizer

    from offchain.engine.modelfile import load_model
    from offchain.models import bpe
    from offchain.models.text_tables import text_input
    from offchain.models.train_llm import SMALL_DIR

    command = [sys.executable, "-m", "offchain", "compile", "--hf", str(SMALL_DIR), "--text-bytes", "48",
               "--seq-len", "56", "--name", "llm-small-text", "--out", str(path)]
    console.print("$ python -m offchain compile " + " ".join(command[4:]))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"compiling the Hugging Face checkpoint failed:\n{done.stderr[-2000:]}")
    info = json.loads(done.stdout)
    model = load_model(path)
    tokenizer_nodes = [n for n in model.graph.nodes if n.source.startswith("bpe.")]
    trace = run(model, [text_input(prompt, 48)])
    ids_node = max(i for i, n in enumerate(model.graph.nodes) if n.source == "bpe.ids")
    graph_ids = [int(v) for v in trace.outputs[ids_node].reshape(-1)]
    hf = Tokenizer.from_file(str(SMALL_DIR / "tokenizer.json"))
    want = bpe.reference_ids(hf, bpe.read_tokenizer(SMALL_DIR), prompt.encode(), 56, model.meta["pad_id"])
    real = len(hf.encode(prompt).ids)
    tokens = [hf.id_to_token(i) for i in graph_ids[:real]]
    logits = trace.output.reshape(56, -1)[real - 1].astype(np.int64)
    top = [hf.decode([int(i)]) for i in np.argsort(-logits)[:3]]
    console.print(f"llm-small-text: {info['nodes']} integer nodes ({len(tokenizer_nodes)} of them the byte-level BPE "
                  f"tokenizer: UTF-8, regex pre-tokenizer, {model.meta['tokenizer']['rounds']} merge rounds), "
                  f"worst dispute move {info['worst_move']['op']} {info['worst_move']['gas']:,} gas -> {path}")
    console.print(f"  prompt {prompt!r} -> {real} tokens in the graph {tokens}; equal to the tokenizers library: "
                  f"{graph_ids == want}; the integer model's next token: {top[0]!r} (then {top[1]!r}, {top[2]!r})")
    return model


GEN_PROMPT = "What does open() return?"
GEN_ARGS = ("--text-bytes", "48", "--seq-len", "32", "--generate", "24", "--weight-dtype", "int16")
IMAGE_PROMPT = "a handwritten seven"
IMAGE_SEED = 7
#: Wei per ERC-7007 mint of the image model's art, paid to its revenue token.
MINT_FEE = 2 * 10**15


def compile_generating_llm(path: Path):
    """The reference LLM compiled as a text-GENERATING model (one command): the request is the prompt's bytes,
    the answer the UTF-8 text of up to 24 new tokens, every decode step in the disputable graph."""
    import json
    import subprocess

    from offchain.engine.modelfile import load_model
    from offchain.models.train_llm import SMALL_DIR

    command = [sys.executable, "-m", "offchain", "compile", "--hf", str(SMALL_DIR), *GEN_ARGS,
               "--prompt", GEN_PROMPT, "--name", "llm-small-gen", "--out", str(path)]
    console.print("$ python -m offchain compile " + " ".join(command[4:]))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"compiling the generating model failed:\n{done.stderr[-2000:]}")
    info = json.loads(done.stdout)
    g = info["generation"]
    steps = sum(1 for n in load_model(path).graph.nodes if n.source.startswith("gen.") and n.source.endswith(".emitted"))
    console.print(f"llm-small-gen: {info['nodes']:,} integer nodes: tokenizer, a {g['prompt_tokens']}-slot prefill, "
                  f"{steps - 1} decode steps reading the KV cache in place, a sampler per token, the detokenizer; "
                  f"worst dispute move {info['worst_move']['op']} {info['worst_move']['gas']:,} gas -> {path}")
    console.print(f"  engine: {g['example_prompt']!r} -> {g['example_text']!r}")
    return load_model(path)


def build_image_model(path: Path):
    """digits-diffusion, the text-to-image model (compiled parts cached under build/digits-diffusion)."""
    from offchain.models import diffusion

    im = diffusion.build_image_model()
    save_model(im.model, path)
    console.print(f"digits-diffusion: {len(im.model.graph.nodes)} integer nodes: the prompt through MiniLM "
                  f"({len(im.text.graph.nodes)} nodes incl. its tokenizer) and a class-description head, the seed "
                  f"through NOISE, "
                  f"{im.config.ddim_steps} x (MLP denoiser, DDIM_STEP), PIXELS -> {path}")
    return im


def build_minilm(path: Path):
    from offchain.models import minilm

    model = minilm.build_text_model()
    save_model(model, path)
    tokenizer_nodes = sum(1 for n in model.graph.nodes if n.source.startswith("tokenizer."))
    console.print(f"minilm: {len(model.graph.nodes)} integer nodes ({tokenizer_nodes} of them the tokenizer: UTF-8 "
                  f"decoding, Unicode normalisation table, vocabulary trie, WordPiece framing), input "
                  f"{minilm.TEXT_BYTES} UTF-8 bytes, {minilm.TEXT_SEQ_LEN} tokens -> {path}")
    return model


def save_private(model, spec, name: str):
    """Dev Groth16 keys for the private nodes (cached under build/zk), the owner's model file and the public view
    (private weights zeroed, committed by root) under build/models/; returns (keys, owner's file, view file)."""
    from offchain.zk.model_proofs import setup_private
    from offchain.zk.public_view import public_view

    with console.status(f"Groth16 dev setup for {name}'s private nodes (cached under build/zk)"):
        keys = setup_private(model, spec)
    full, view = Path(f"build/models/{name}.model"), Path(f"build/models/{name}.public.model")
    save_model(model, full)
    save_model(public_view(model, spec), view)
    return keys, full, view


def build_private_llama():
    """llama-tiny with a private LoReFT intervention after every layer (one key for both)."""
    from offchain.models.llama_loreft import llama_tiny_loreft, private_spec

    model, prompt = llama_tiny_loreft()
    spec = private_spec(model)
    keys, full, view = save_private(model, spec, "llama-tiny-loreft")
    (k,) = keys.values()
    console.print(f"llama-tiny-loreft: {len(model.graph.nodes)} nodes; LoReFT (rank 4) after each of its 2 layers, "
                  f"nodes {list(spec.node_indices)} private, one circuit of {k.n_constraints:,} constraints -> {full}; "
                  f"public view -> {view}")
    return model, spec, keys, full, view, prompt


def build_private_digits():
    """An owner's own digits-mlp (trained with another seed) whose last Linear is private."""
    from offchain.engine.ops import OpCode
    from offchain.models import digits
    from offchain.zk.private import PrivateSpec

    model, _, data = digits.build("digits-mlp", seed=1)
    model.meta["name"] = "digits-mlp-private"
    last = max(i for i, n in enumerate(model.graph.nodes) if n.op == OpCode.LINEAR)
    spec = PrivateSpec((last,))
    keys, full, view = save_private(model, spec, "digits-mlp-private")
    acc = digits.integer_accuracy(model, data.test_pixels, data.test_labels)
    (k,) = keys.values()
    console.print(f"digits-mlp-private: its own training (seed 1, integer test accuracy {acc:.2%}); node {last} (the "
                  f"last Linear, 32 -> 10) private, circuit of {k.n_constraints:,} constraints -> {full}; public view "
                  f"-> {view}")
    return model, spec, keys, full, view


SENTENCES = (
    "A smart contract asked for this embedding.",
    "Contracts on the blockchain can request sentence embeddings.",
    "The cat sat on the mat.",
)


def wait_for(what: str, condition, timeout: float = 180, on_tick=None) -> float:
    """Polls `condition` with a spinner; returns the seconds it took. Raises if it does not happen in time."""
    start = time.time()
    with console.status(what):
        while not condition():
            if time.time() - start > timeout:
                raise click.ClickException(f"timed out after {timeout} s waiting for: {what}")
            if on_tick:
                on_tick()
            time.sleep(0.3)
    return time.time() - start


def fast_forward_when_checked(oracle, request_id: int, challenger: "NodeProcess", challenger_address: str):
    """Skips the challenge window on the local chain once the challenger has checked the posted result (agreed
    with it, or posted it itself) and no game is open: what a real window would wait for."""
    game = project.DisputeGame.at(oracle.game())

    def tick():
        r = oracle.getRequest(request_id)
        if r.status != 2 or game.claimStatus(r.claimId) != 1 or game.getClaim(r.claimId).openGames != 0:
            return
        checked = f"agreed request={request_id} claim={r.claimId}" in challenger.events()
        if checked or r.submitter == challenger_address:
            if not game.canFinalize(r.claimId):
                chain.pending_timestamp += PARAMS.challenge_window
                chain.mine()

    return tick


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    workdir = Path(tempfile.mkdtemp(prefix="voai-demo-"))
    owner, user, honest_key, challenger_key, model_owner, faulty_key = (accounts.test_accounts[i] for i in (0, 1, 2, 3, 4, 6))
    holders = [accounts.test_accounts[7], accounts.test_accounts[8]]
    nodes: list[NodeProcess] = []
    summary: list[dict] = []
    try:
        act("1. An integer model from PyTorch")
        model_file = Path("build/models/digits-mlp.model")
        model_file.parent.mkdir(parents=True, exist_ok=True)
        model, data = build_model(model_file)
        text_file = Path("build/models/minilm.model")
        text_model = build_minilm(text_file)
        private_model, private_spec, private_keys, private_file, view_file, prompt = build_private_llama()
        pdigits_model, pdigits_spec, pdigits_keys, pdigits_file, pdigits_view = build_private_digits()
        owner_file = Path("build/models/zoo-resnet.model")
        owner_model = compile_owner_module(owner_file)
        compile_text_llm(Path("build/models/llm-small-text.model"))
        gen_file = Path("build/models/llm-small-gen.model")
        gen_model = compile_generating_llm(gen_file)
        image_file = Path("build/models/digits-diffusion.model")
        image_model = build_image_model(image_file)

        act("2. Deploy the protocol and register the model")
        console.print(f"anvil at {provider.uri} (chain {provider.chain_id})")
        addresses = deploy_protocol(project, provider, owner, params=PARAMS, log=lambda m: console.print("  " + m))
        oracle = project.AIOracle.at(addresses["AIOracle"])
        game = project.DisputeGame.at(addresses["DisputeGame"])
        launcher = project.ModelLauncher.at(addresses["ModelLauncher"])
        graph = model.graph
        offering = Offering("digits-mlp revenue share", "DIGIT", [model_owner.address] + [h.address for h in holders],
                            [600_000 * 10**18, 300_000 * 10**18, 100_000 * 10**18], snapshot_interval=60)
        model_id, token_address = launch(launcher, model, MODEL_FEE, model_owner.address, offering, owner)
        token = project.ModelRevenueToken.at(token_address)
        console.print(f"launched digits-mlp as model {model_id} (graph root 0x{graph_root(graph).hex()[:16]}…, "
                      f"weights root 0x{weights_root(model).hex()[:16]}…) with its ERC-7641 token DIGIT at "
                      f"{token_address}: 60% model owner, 30% and 10% two early backers")
        classifier = owner.deploy(project.DigitsClassifier, oracle, model_id)
        console.print(f"consumer DigitsClassifier at {classifier.address}; fee per request {classifier.fee()} wei")
        text_offering = Offering("MiniLM revenue share", "MINI", [model_owner.address], [1_000_000 * 10**18],
                                 snapshot_interval=60)
        text_id, text_token = launch(launcher, text_model, MODEL_FEE, model_owner.address, text_offering, owner)
        dims = text_model.graph.output.size
        embedder = owner.deploy(project.SentenceSimilarity, oracle, text_id, dims)
        console.print(f"launched minilm as model {text_id} (graph root 0x{graph_root(text_model.graph).hex()[:16]}…; "
                      f"its token MINI at {text_token}); consumer SentenceSimilarity at {embedder.address}")
        from offchain.zk.submission import launch_private_model

        verifier = project.Groth16Registry.at(addresses["Groth16Registry"])
        private_offering = Offering("llama-tiny-loreft revenue share", "LORFT", [model_owner.address],
                                    [1_000_000 * 10**18], snapshot_interval=60)
        private_id, private_token, records = launch_private_model(
            launcher, verifier, private_model, private_spec, private_keys, MODEL_FEE, model_owner.address,
            private_offering, owner)
        console.print(f"launched llama-tiny-loreft as model {private_id} with private nodes "
                      f"{[r[0] for r in records]} (Groth16 key {records[0][2]}, Poseidon weight commitments "
                      f"{', '.join(hex(r[3])[:14] + '…' for r in records)}); its token LORFT at {private_token}")
        pdigits_offering = Offering("digits-mlp-private revenue share", "PDIGIT", [model_owner.address],
                                    [1_000_000 * 10**18], snapshot_interval=60)
        pdigits_id, pdigits_token, drecords = launch_private_model(
            launcher, verifier, pdigits_model, pdigits_spec, pdigits_keys, MODEL_FEE, model_owner.address,
            pdigits_offering, owner)
        pdigits_classifier = owner.deploy(project.DigitsClassifier, oracle, pdigits_id)
        console.print(f"launched digits-mlp-private as model {pdigits_id} (private node {drecords[0][0]}, Groth16 key "
                      f"{drecords[0][2]}; its token PDIGIT at {pdigits_token}); consumer DigitsClassifier at "
                      f"{pdigits_classifier.address}")

        owner_offering = Offering("zoo-resnet revenue share", "RSNT", [model_owner.address], [1_000_000 * 10**18],
                                  snapshot_interval=60)
        owner_id, owner_token = launch(launcher, owner_model, MODEL_FEE, model_owner.address, owner_offering, owner)
        owner_classifier = owner.deploy(project.DigitsClassifier, oracle, owner_id)
        console.print(f"launched the owner's zoo-resnet as model {owner_id} (its token RSNT at {owner_token}); "
                      f"consumer DigitsClassifier at {owner_classifier.address}")

        gen_offering = Offering("llm-small-gen revenue share", "LLM", [model_owner.address], [1_000_000 * 10**18],
                                snapshot_interval=60)
        gen_id, gen_token = launch(launcher, gen_model, MODEL_FEE, model_owner.address, gen_offering, owner)
        prompt_bytes = gen_model.meta["generation"]["prompt_bytes"]
        asker = owner.deploy(project.TextGeneration, oracle, gen_id, prompt_bytes, 600_000)
        console.print(f"launched the generating llm-small-gen as model {gen_id} (its token LLM at {gen_token}); "
                      f"consumer TextGeneration at {asker.address} (prompts up to {prompt_bytes} bytes)")

        from offchain.image import DIGITS_IMAGE
        from scripts.register import image_callback_gas

        img_offering = Offering("digits-diffusion revenue share", "DDIFF", [model_owner.address, holders[0].address],
                                [700_000 * 10**18, 300_000 * 10**18], snapshot_interval=60)
        img_id, img_token = launch(launcher, image_model.model, MODEL_FEE, model_owner.address, img_offering, owner)
        imager = owner.deploy(project.ImageGeneration, oracle, img_id, DIGITS_IMAGE.prompt_bytes,
                              image_callback_gas(image_model.model.graph.output.nbytes))
        collection = owner.deploy(project.AIGCCollection, "Digits Diffusion Art", "DDART", oracle,
                                  addresses["ModelTokenFactory"], img_id, MINT_FEE, DIGITS_IMAGE.as_tuple())
        console.print(f"launched digits-diffusion as model {img_id} (its token DDIFF at {img_token}: 70% model owner, "
                      f"30% a backer); consumer ImageGeneration at {imager.address}; ERC-7007 collection DDART at "
                      f"{collection.address} (mint fee {MINT_FEE} wei, paid to DDIFF)")

        act("3. Start a submitter node and a challenger node")
        honest = NodeProcess("submitter", "TEST::2", [model_file, text_file, private_file, pdigits_file, owner_file,
                                                      gen_file, image_file], workdir, provider.uri)
        # The challenger holds the private models' public views only: it never sees their private weights.
        challenger = NodeProcess("challenger", "TEST::3", [model_file, text_file, view_file, pdigits_view, owner_file,
                                                           gen_file, image_file], workdir, provider.uri)
        nodes += [honest, challenger]
        for node in nodes:
            node.wait_started()
            console.print(f"{node.role} running (log {node.log_path})")

        def ask(image_index: int) -> tuple[int, float, int]:
            pixels = data.test_pixels[image_index]
            tx = classifier.classify(pixels.astype(np.int8).tobytes(), sender=user, value=classifier.fee())
            request_id = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
            console.print(f"user asks for image #{image_index} (true digit {data.test_labels[image_index]}): "
                          f"request {request_id}, {tx.gas_used} gas")
            mined = time.time()
            wait_for("waiting for a submission", lambda: oracle.getRequest(request_id).status >= 2)
            return request_id, time.time() - mined, int(data.test_labels[image_index])

        act("4. An honest answer")
        request_id, latency, truth = ask(0)
        wait_for("challenge window (fast-forwarded on the local chain), finalization, callback",
                 lambda: classifier.classifications(request_id).done, on_tick=fast_forward_when_checked(oracle, request_id, challenger, challenger_key.address))
        label = classifier.classifications(request_id).label
        console.print(f"[green]delivered[/] label {label} for request {request_id} (true {truth}); "
                      f"submitted {latency:.1f} s after the request")
        summary.append(dict(request=request_id, model="digits-mlp", submitter="honest", claimed=str(label),
                            label=str(label), truth=str(truth), latency=latency, disputed="no"))

        act("4b. A text model: sentence embeddings, tokenised inside the disputable graph")
        from offchain.models import minilm

        tokenizer = minilm.load_tokenizer()
        text_requests = []
        for sentence in SENTENCES:
            tx = embedder.embed(sentence, sender=user, value=embedder.fee())
            rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
            console.print(f"user asks for the embedding of {sentence!r}: request {rid}, {tx.gas_used} gas; "
                          f"the graph's tokenizer turns it into {tokenizer.tokenize(sentence)}")
            text_requests.append((rid, time.time(), sentence))
        for rid, asked, sentence in text_requests:
            wait_for(f"submission of request {rid}", lambda: oracle.getRequest(rid).status >= 2)
            latency = time.time() - asked
            wait_for("challenge window (fast-forwarded), finalization, callback", lambda: embedder.embedding(rid).done,
                     on_tick=fast_forward_when_checked(oracle, rid, challenger, challenger_key.address))
            summary.append(dict(request=rid, model="minilm", submitter="honest", claimed="embedding",
                                label=f"{dims} × int16 stored", truth="—", latency=latency, disputed="no"))
        sims = Table(title="Cosine similarity of the stored embeddings, computed on-chain (SentenceSimilarity.similarity)")
        sims.add_column("")
        for j in range(len(text_requests)):
            sims.add_column(f"#{text_requests[j][0]}", justify="right")
        for rid, _, sentence in text_requests:
            sims.add_row(f"#{rid} {sentence[:40]}",
                         *(f"{embedder.similarity(rid, other) / 1e18:.3f}" for other, _, _ in text_requests))
        console.print(sims)

        act("4c. Private LoReFT interventions (opp/ai): Groth16 proofs verified in one batch on submission")
        tx = oracle.requestCallback(private_id, prompt.astype(">i4").tobytes(), "0x" + "00" * 20, 0, b"",
                                    sender=user, value=oracle.estimateFee(private_id, 0))
        rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
        console.print(f"user asks llama-tiny-loreft for next-token logits of a 16-token prompt: request {rid}")
        asked = time.time()
        wait_for(f"proofs and submission of request {rid}", lambda: oracle.getRequest(rid).status >= 2)
        latency = time.time() - asked
        claim_id = oracle.getRequest(rid).claimId
        published = event_logs(game.PrivateOutputsPublished, 0, claimId=claim_id)[0]
        submitted = [e for e in honest.events() if e.startswith("submitted") and f"request={rid} " in e + " "]
        console.print(f"request {rid}: the submitter proved the LoReFT nodes {list(published.nodes)} with Groth16 "
                      f"and submitted ({submitted[0].split('gas=')[1].split()[0] if submitted else '?'} gas: both proofs "
                      f"verified in one batched pairing check) {latency:.1f} s after the request; it published their "
                      f"outputs ({', '.join(str(len(bytes(o))) for o in published.outputs)} bytes)")
        wait_for("challenge window (fast-forwarded), finalization",
                 lambda: oracle.isFinalized(rid),
                 on_tick=fast_forward_when_checked(oracle, rid, challenger, challenger_key.address))
        posted = event_logs(oracle.ResultSubmitted, 0, requestId=rid)[-1]
        logits = np.frombuffer(bytes(posted.output), dtype=">i2").reshape(16, -1)
        expected = run(private_model, [prompt]).output.reshape(16, -1)
        console.print(f"[green]finalized[/] request {rid}: next token {int(np.argmax(logits[-1]))} (the engine with "
                      f"the private weights says {int(np.argmax(expected[-1]))}); the challenger agreed using only the "
                      f"public view and the published LoReFT outputs")
        summary.append(dict(request=rid, model="llama-tiny-loreft", submitter="honest",
                            claimed=f"token {int(np.argmax(logits[-1]))}", label=f"token {int(np.argmax(logits[-1]))}",
                            truth="—", latency=latency, disputed="no; 2 Groth16 proofs verified in one batch"))

        def classify_and_deliver(consumer, image_index: int, what: str) -> tuple[int, int, float]:
            """Request a label for test image ``image_index`` through ``consumer``; wait for the submission
            (``what`` names it) and, fast-forwarding the window, for the callback. (request, label, latency)."""
            pixels = data.test_pixels[image_index]
            tx = consumer.classify(pixels.astype(np.int8).tobytes(), sender=user, value=consumer.fee())
            rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
            asked = time.time()
            wait_for(f"{what} of request {rid}", lambda: oracle.getRequest(rid).status >= 2)
            latency = time.time() - asked
            wait_for("challenge window (fast-forwarded), finalization, callback",
                     lambda: consumer.classifications(rid).done,
                     on_tick=fast_forward_when_checked(oracle, rid, challenger, challenger_key.address))
            return rid, consumer.classifications(rid).label, latency

        act("4d. digits-mlp with its last layer private")
        rid, label, latency = classify_and_deliver(pdigits_classifier, 2, "proof and submission")
        console.print(f"[green]delivered[/] label {label} for image #2 (true digit {data.test_labels[2]}) by the "
                      f"private digits model, {latency:.1f} s from request to the proven submission")
        summary.append(dict(request=rid, model="digits-mlp-private", submitter="honest", claimed=str(label),
                            label=str(label), truth=str(data.test_labels[2]), latency=latency,
                            disputed="no; Groth16 proof verified on submission"))

        act("4e. The owner's own module (compiled in step 1 with one command), served by the same nodes")
        rid, label, latency = classify_and_deliver(owner_classifier, 3, "submission")
        console.print(f"[green]delivered[/] label {label} for image #3 (true digit {data.test_labels[3]}) by the "
                      f"owner's zoo-resnet, {latency:.1f} s from request to submission")
        summary.append(dict(request=rid, model="zoo-resnet (owner's module)", submitter="honest", claimed=str(label),
                            label=str(label), truth=str(data.test_labels[3]), latency=latency, disputed="no"))

        act("4f. A contract asks the reference LLM a question; the text is generated token by token, disputable")

        def ask_llm(what: str) -> tuple[int, float, float]:
            tx = asker.ask(GEN_PROMPT, sender=user, value=asker.fee())
            rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
            console.print(f"user calls TextGeneration.ask({GEN_PROMPT!r}) (ORA's bytes(prompt) request): request {rid}, "
                          f"{tx.gas_used} gas")
            asked = time.time()
            wait_for(f"{what} of request {rid}", lambda: oracle.getRequest(rid).status >= 2)
            submitted = time.time() - asked
            wait_for("challenge window (fast-forwarded), finalization, callback", lambda: asker.answer(rid).delivered,
                     timeout=300, on_tick=fast_forward_when_checked(oracle, rid, challenger, challenger_key.address))
            return rid, submitted, time.time() - asked

        rid, latency, delivered_s = ask_llm("generation and submission")
        answer = asker.answer(rid)
        progress = [e for e in honest.events() if e.startswith("generate")]
        console.print(f"[green]delivered[/] request {rid}: prompt {answer.prompt!r} -> answer {answer.text!r}")
        console.print(f"  submitted {latency:.1f} s and delivered {delivered_s:.1f} s after the request (window "
                      f"fast-forwarded); the submitter's log: {progress[-1] if progress else 'no progress line'}")
        summary.append(dict(request=rid, model="llm-small-gen", submitter="honest", claimed=repr(answer.text)[:30],
                            label=repr(answer.text)[:30], truth="—", latency=latency, disputed="no"))

        act("4g. Text to image, minted as an ERC-7007 NFT whose fee reaches the model's token holders")
        from offchain.models.diffusion import generate as engine_image
        from scripts.mint import mint_and_render

        tx = imager.generate(IMAGE_PROMPT, IMAGE_SEED, sender=user, value=imager.fee())
        rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
        console.print(f"user calls ImageGeneration.generate({IMAGE_PROMPT!r}, seed {IMAGE_SEED}): request {rid}, "
                      f"{tx.gas_used} gas")
        asked = time.time()
        wait_for(f"sampling and submission of request {rid}", lambda: oracle.getRequest(rid).status >= 2)
        latency = time.time() - asked
        wait_for("challenge window (fast-forwarded), finalization, callback", lambda: imager.request(rid).delivered,
                 on_tick=fast_forward_when_checked(oracle, rid, challenger, challenger_key.address))
        pixels = bytes(imager.images(rid))
        local = engine_image(image_model, IMAGE_PROMPT, IMAGE_SEED).astype(np.uint8).tobytes()
        console.print(f"[green]delivered[/] a 8x8 image for request {rid} {time.time() - asked:.1f} s after the "
                      f"request (the engine here draws the same bytes: {pixels == local})")
        minter = holders[1]
        art_dir = Path("art")
        token_id = mint_and_render(console, collection, oracle, rid, minter.address, minter, 0, art_dir)
        console.print(f"{minter.address} owns token {hex(token_id)[:18]}…; collection.verify accepts only this "
                      f"model's finalized output for exactly these prompt and seed bytes; open "
                      f"{art_dir / f'token-{rid}.svg'} in a browser (the tokenURI's image)")
        summary.append(dict(request=rid, model="digits-diffusion", submitter="honest", claimed="8x8 image",
                            label="image, minted as DDART", truth="—", latency=latency, disputed="no"))

        act("5. A faulty answer, disputed")
        honest.stop()
        nodes.remove(honest)
        last_node = len(graph.nodes) - 1
        # Pick a fault that flips the answer for the next image: raise a wrong class's logit above the best one.
        logits = run(model, [data.test_pixels[1].reshape(1, -1).astype(np.int8)]).output.reshape(-1).astype(int)
        wrong = (int(np.argmax(logits)) + 3) % 10
        delta = min(int(logits.max() - logits[wrong]) + 256, 32767 - int(logits[wrong]))
        fault = f"{last_node}:{wrong}:{delta}"
        faulty = NodeProcess("submitter", "TEST::6", model_file, workdir, provider.uri, "--fault", fault)
        nodes.append(faulty)
        faulty.wait_started()
        console.print(f"a faulty submitter now runs with --fault {fault} (logit {wrong} of the output node "
                      f"+{delta} LSB: it will claim the digit is {wrong})")
        request_id, latency, truth = ask(1)
        wait_for("dispute, corrected result, finalization, callback",
                 lambda: classifier.classifications(request_id).done, timeout=300,
                 on_tick=fast_forward_when_checked(oracle, request_id, challenger, challenger_key.address))
        label = classifier.classifications(request_id).label
        posted = [log for log in event_logs(oracle.ResultSubmitted, 0, requestId=request_id)]
        claimed = [int(np.argmax(np.frombuffer(bytes(log.output), dtype=">i2"))) for log in posted]
        console.print(f"results posted for request {request_id}: labels {claimed} "
                      f"(first by the faulty submitter, then the challenger's correction)")
        game_id = game.gameCount()
        g = game.getGame(game_id)
        moves = [e for e in challenger.events() if e.startswith("move")] + [e for e in faulty.events() if e.startswith("move")]
        console.print(f"[green]delivered[/] label {label} for request {request_id} (true {truth}) after game "
                      f"{game_id} ended with status {g.status} (2 = challenger won) at node {g.nodeIndex}")
        summary.append(dict(request=request_id, model="digits-mlp", submitter="faulty", claimed=str(claimed[0]),
                            label=str(label), truth=str(truth), latency=latency,
                            disputed=f"game {game_id}: {len(moves)} moves, challenger won"))

        table = Table(title="Game moves (from the nodes' logs)")
        for column in ("side", "action", "phase", "gas"):
            table.add_column(column)
        for node, side in ((faulty, "submitter"), (challenger, "challenger")):
            for e in node.events():
                if e.startswith("move"):
                    fields = dict(kv.split("=", 1) for kv in e.split()[1:])
                    table.add_row(side, fields["action"], fields["phase"], fields["gas"])
        console.print(table)

        act("5b. A faulty generation, disputed inside a decode step")
        from offchain.engine.ops import OpCode
        from offchain.models.generate import generated_text

        gen_nodes = gen_model.graph.nodes
        middle = gen_model.meta["generation"]["max_new"] // 2
        fault_node = max(i for i, n in enumerate(gen_nodes)
                         if n.op == OpCode.LINEAR and n.source.startswith(f"step{middle}:"))
        from offchain.chain.encoding import generation_request, input_tensor

        honest_run = run(gen_model, [input_tensor(gen_model.graph, generation_request(GEN_PROMPT, prompt_bytes))])
        step_logits = honest_run.outputs[fault_node].reshape(-1).astype(int)
        wrong = int(np.argsort(step_logits)[-2])              # the runner-up token of that step
        gen_delta = min(int(step_logits.max() - step_logits[wrong]) + 256, 32767 - int(step_logits[wrong]))
        gen_fault = f"{fault_node}:{wrong}:{gen_delta}"
        faulty_llm = NodeProcess("submitter", "TEST::5", gen_file, workdir, provider.uri, "--fault", gen_fault)
        nodes.append(faulty_llm)
        faulty_llm.wait_started()
        console.print(f"a faulty LLM submitter runs with --fault {gen_fault}: in decode step {middle} "
                      f"(node {fault_node}, the LM head) it raises the runner-up token's logit by {gen_delta} LSB, "
                      f"and generates the rest of the text from there")
        games_before = game.gameCount()
        rid, latency, delivered_s = ask_llm("faulty generation, dispute, corrected result")
        posted = [generated_text(np.frombuffer(bytes(log.output), dtype=np.int8))
                  for log in event_logs(oracle.ResultSubmitted, 0, requestId=rid)]
        answer = asker.answer(rid)
        llm_game = game.gameCount()
        lg = game.getGame(llm_game)
        console.print(f"results posted for request {rid}: {posted} (the faulty submitter's, then the challenger's)")
        console.print(f"[green]delivered[/] {answer.text!r} after game {llm_game} (of {llm_game - games_before} new) "
                      f"ended with status {lg.status} (2 = challenger won) by a one-step proof at node {lg.nodeIndex} "
                      f"({gen_nodes[lg.nodeIndex].source.split(':')[0]}, "
                      f"{OpCode(gen_nodes[lg.nodeIndex].op).name})")
        summary.append(dict(request=rid, model="llm-small-gen", submitter="faulty", claimed=repr(posted[0])[:30],
                            label=repr(answer.text)[:30], truth="—", latency=latency,
                            disputed=f"game {llm_game}: challenger won at node {lg.nodeIndex}"))

        act("6. Summary")
        table = Table(title="Requests")
        for column in ("request", "model", "first answer by", "result claimed", "result delivered", "true digit (digits)",
                       "request→submission s", "dispute"):
            table.add_column(column)
        for row in summary:
            table.add_row(str(row["request"]), row["model"], row["submitter"], row["claimed"], row["label"],
                          row["truth"], f"{row['latency']:.1f}", row["disputed"])
        console.print(table)
        bonds = Table(title="Bonds and rewards (credited, withdrawable)")
        bonds.add_column("account")
        bonds.add_column("game credit (wei)", justify="right")
        bonds.add_column("oracle credit (wei)", justify="right")
        for name, acct in (("honest submitter", honest_key), ("challenger", challenger_key), ("faulty submitter", faulty_key)):
            bonds.add_row(name, str(game.credit(acct)), str(oracle.credit(acct)))
        console.print(bonds)
        console.print(f"burned from the loser's bond: {game.totalBurned()} wei")

        act("7. Model revenue reaches the token holders")
        console.print(f"the DIGIT token received {token.totalRevenueReceived()} wei of model fees "
                      f"({MODEL_FEE} wei per finalized request)")
        for symbol, address in (("MINI", text_token), ("LORFT", private_token), ("PDIGIT", pdigits_token),
                                ("RSNT", owner_token), ("LLM", gen_token), ("DDIFF", img_token)):
            console.print(f"the {symbol} token received "
                          f"{project.ModelRevenueToken.at(address).totalRevenueReceived()} wei"
                          + (" (private model: fees of proven inferences flow like any other model's)"
                             if symbol in ("LORFT", "PDIGIT") else ""))
        chain.pending_timestamp = max(chain.pending_timestamp, token.nextSnapshotAt())
        chain.mine()
        snapshot_id = snapshot_if_due(token, owner, chain.blocks.head.timestamp)
        console.print(f"snapshot {snapshot_id} taken: {token.percentClaimable() / 100:.0f}% of the new revenue is "
                      f"claimable pro rata, the rest funds burn redemptions")
        for holder in [model_owner, *holders]:
            console.print(report_table(holder_report(token, holder)))
            result = claim_all(token, holder)
            if result is not None:
                console.print(f"  {holder.address} claimed {result.total} wei")
        ddiff = project.ModelRevenueToken.at(img_token)
        console.print(f"the DDIFF token received {ddiff.totalRevenueReceived()} wei: {MODEL_FEE} wei of inference fee "
                      f"for the image and the NFT's {MINT_FEE} wei mint fee")
        chain.pending_timestamp = max(chain.pending_timestamp, ddiff.nextSnapshotAt())
        chain.mine()
        snapshot_id = snapshot_if_due(ddiff, owner, chain.blocks.head.timestamp)
        for holder in (model_owner, holders[0]):
            console.print(report_table(holder_report(ddiff, holder)))
            result = claim_all(ddiff, holder)
            if result is not None:
                console.print(f"  {holder.address} claimed {result.total} wei of DDIFF's snapshot {snapshot_id}")
    finally:
        for node in nodes:
            node.stop()
    console.print(f"demo finished; node logs and state in {workdir}; anvil stops with this process")
