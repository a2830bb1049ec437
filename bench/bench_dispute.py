"""Dispute benchmarks: full games on a local anvil against a submitter that corrupts one element deep in the model.

Run: ``python -m bench.bench_dispute [CASE ...]`` (``make bench-dispute`` runs every case); writes bench/results/dispute.json and
bench/results/dispute.png. Starts and stops its own anvil through ape's network context.

Cases: ``digits-mlp``, ``minilm`` (all-MiniLM-L6-v2, 128 tokens, one input tensor) and ``llama-7b``
(32 decoder blocks at Llama-2-7B dims, one token; see bench/_dispute_llama.py for how it is built).
For each case the submitter's trace adds a quarter of the dtype's span to one element of a late LINEAR node
and recomputes every later node (``run_with_fault``); the honest challenger descends the trace, then the node's output tensor, and wins
by a one-step proof. One warm-up game, then RUNS measured games per case, each on a fresh claim; wall times
are medians of the measured games, gas and moves come from the case's first game (identical in every game
but for storage slots that the first game makes non-zero).
``dispute_wall_s`` runs from sending the challenge to the resolving step: both players' off-chain work
(reveals from stored traces, proof building, weight trees built lazily on first use) and every transaction
(ape builds, signs, sends and waits for each receipt; anvil mines on every transaction). It excludes the
forward passes and trace trees both sides hold before the challenge, and no clock is ever waited out.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench._dispute_game import BENCH_PARAMS, GameOutcome, Protocol, deploy, dispute, register, step_cost
from bench._results import RESULTS_DIR, Result, write_results
from offchain.commit import MerkleTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.engine.executor import run
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.roots import spec_tensor_root

RUNS = 3
CASES = ("digits-mlp", "minilm", "llama-7b")
OPML_MNIST_DISPUTE_S = 120.0  # opML paper / README: an MNIST dispute takes about 2 minutes
OPML_LLAMA_ROUNDS = 40  # opml's Llama demo: 40 rounds of bisection
TARGET_WALL_S = 30.0
TARGET_MOVES = 12
TARGET_TX_GAS = 2_000_000

console = Console(width=max(Console().width, 150))  # the results table has six columns


@dataclass
class Case:
    """A model ready to dispute: its honest and faulty executions and where the fault is."""

    name: str
    model: Model
    inputs: list
    parameters: int
    fault_node: int
    fault_element: int
    description: str
    facts: dict = field(default_factory=dict)
    scratch: tempfile.TemporaryDirectory | None = None  # files the model's weights are mapped from


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _last_node(model: Model, op: OpCode, source: str) -> int:
    """Index of the last ``op`` node whose source names ``source``; KeyError when there is none."""
    found = [i for i, n in enumerate(model.graph.nodes) if n.op == op and source in n.source]
    if not found:
        raise KeyError(f"no {op.name} node from {source!r} in the graph")
    return found[-1]


def _first_row_last(model: Model, node: int) -> int:
    """Flat index of the last feature of the first position: a corrupted element that reaches the output."""
    return model.graph.nodes[node].output.shape[-1] - 1


def digits_case() -> Case:
    from offchain.models import digits

    model, module, data = digits.build("digits-mlp")
    node = _last_node(model, OpCode.LINEAR, "fc3")
    params = sum(p.numel() for p in module.parameters())
    return Case("digits-mlp", model, [data.test_pixels[:1]], params, node, _first_row_last(model, node),
                "64-64-32-10 ReLU MLP on 8x8 digits, int8 weights; input: the first test image")


def minilm_case() -> Case:
    from bench._dispute_minilm import build_minilm

    model, inputs, facts = build_minilm()
    node = _last_node(model, OpCode.LINEAR, "layers.5.mlp.output")
    return Case("minilm", model, inputs, facts.pop("parameters"), node, _first_row_last(model, node),
                "all-MiniLM-L6-v2 (packaged checkpoint), 128 tokens, mask derived from the ids in-graph (one input); "
                "compiled by the engine with default CompileConfig", facts)


def llama_case() -> Case:
    from bench._dispute_llama import SpilledWeights, compile_one_block, llama_parameters, replicate_blocks
    from offchain.models import llama

    cfg = llama.preset("7b", max_seq=1)
    one, compile_s = timed("llama-7b: engine compile of embedding + block 0 + head at 7B dims",
                           lambda: compile_one_block(cfg))
    scratch = tempfile.TemporaryDirectory(prefix="bench-dispute-llama-")
    t = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("llama-7b: int8 weights of 32 blocks (llama.int8_weight), memory-mapped",
                                 total=None)

        def advance(_name: str, nbytes: int, total: int) -> None:
            progress.update(task, total=total, advance=nbytes)

        model = replicate_blocks(one, cfg, progress=advance, store=SpilledWeights(Path(scratch.name)))
    generate_s = time.perf_counter() - t
    del one
    gc.collect()
    node = _last_node(model, OpCode.LINEAR, "layers.31.feed_forward.w2")
    tokens = llama.random_prompt(cfg, seed=7).numpy()  # int64 [1, 1]
    return Case("llama-7b", model, [tokens], llama_parameters(cfg), node, _first_row_last(model, node),
                "Llama-2-7B dims (dim 4096, 32 heads, ffn 11008, vocab 32000), 32 blocks, one token: one block "
                "compiled by the engine at these dims, its nodes repeated 32 times, block L reading its own "
                "llama.int8_weight tensors (6.7 GB int8, one copy); graph and weights roots are this model's",
                {"compile_one_block_s": compile_s, "generate_blocks_s": generate_s,
                 "scale_bridges": model.meta["scale_bridges"]}, scratch)


def commit_weights(commitment: ModelCommitment) -> float:
    """Builds the weights tree with a progress bar (what ``ModelCommitment.weights_tree`` computes); seconds."""
    model = commitment.model
    t = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("weights root (tensor roots over the int8 weights)",
                                 total=sum(w.nbytes for w in model.weights))
        leaves = []
        for values, spec in zip(model.weights, model.graph.weights):
            leaves.append(spec_tensor_root(values, spec))
            progress.advance(task, values.nbytes)
    # The cached_property's slot: the same tree the property would build, built once with progress shown.
    commitment.__dict__["weights_tree"] = MerkleTree.from_leaves(leaves)
    return time.perf_counter() - t


def timed(label: str, fn: Callable[[], object]) -> tuple[object, float]:
    """Runs ``fn`` under a spinner; returns its value and its seconds."""
    with _progress() as progress:
        progress.add_task(label, total=None)
        t = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - t


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def fault_delta(model: Model, node: int) -> int:
    """A quarter of the node's output dtype span: large enough that the posted output changes too (a +1 on
    llama-7b's w2 output, 16 frac bits, vanishes in the next requantisation)."""
    dtype = model.graph.nodes[node].output.dtype
    return (dtype.qmax - dtype.qmin + 1) // 4


def measure(case: Case, protocol: Protocol, provider, project) -> list[Result]:
    """Commits to the model, runs the honest and the faulty execution, plays 1 + RUNS games; the figures."""
    model = case.model
    delta = fault_delta(model, case.fault_node)
    commitment = ModelCommitment(model)
    weights_root_s = commit_weights(commitment)
    graph_root_s = timed("graph root", lambda: commitment.graph_tree)[1]
    honest_trace, forward_s = timed(f"{case.name}: honest forward", lambda: run(model, case.inputs))
    faulty_trace, faulty_s = timed(
        f"{case.name}: faulty forward (node {case.fault_node}, element {case.fault_element} + {delta})",
        lambda: run_with_fault(model, case.inputs, case.fault_node, case.fault_element, delta=delta))
    honest = ExecutionCommitment(commitment, honest_trace)
    faulty = ExecutionCommitment(commitment, faulty_trace)
    _, trace_s = timed("trace trees (both executions)", lambda: (honest.trace_root, faulty.trace_root))
    output_changed = not np.array_equal(honest_trace.output, faulty_trace.output)

    model_id = register(protocol, commitment)
    outcomes: list[GameOutcome] = []
    for k in range(1 + RUNS):
        outcome = dispute(protocol, model_id, honest, faulty)
        console.print(f"  {case.name} game {k}{' (warm-up)' if k == 0 else ''}: {outcome.wall_s:.2f} s, "
                      f"{outcome.moves_per_side} moves per side, max tx gas {outcome.max_tx_gas:,}")
        outcomes.append(outcome)
    load = os.getloadavg()[0]
    first = outcomes[0]
    wall = statistics.median(o.wall_s for o in outcomes[1:])
    players = statistics.median(o.players_s for o in outcomes[1:])
    cost = step_cost(provider, project, protocol, first.step_tx)
    if first.node_index != case.fault_node:
        raise AssertionError(f"{case.name}: the game ended on node {first.node_index}, the fault is at {case.fault_node}")

    node = model.graph.nodes[case.fault_node]
    step_gas = next(m.gas for m in first.match.moves if m.action == "Step")
    nodes = len(model.graph.nodes)
    chunk_bytes = 1 << node.output.chunk_log2
    chunks = math.ceil(node.output.nbytes / chunk_bytes)
    reduction = node.in_specs[0].shape[-1]
    site = (f"{OpCode(node.op).name} node {case.fault_node} ({node.source.split(',')[0]}), element "
            f"{case.fault_element}, reduction length {reduction}")
    over = cost.total > TARGET_TX_GAS
    c = case.name
    results = [
        Result(c, "dispute_wall_s", wall, "s",
               *(("opML MNIST dispute (published)", OPML_MNIST_DISPUTE_S) if c == "digits-mlp" else (None, None)),
               note=f"median of {RUNS} games after 1 warm-up; challenge tx to resolving step, both players' "
                    f"off-chain work and every tx on anvil included, no clock waited out; 1-min load average "
                    f"{load:.1f} on {os.cpu_count()} cores (other work shared the machine)"),
        Result(c, "dispute_players_s", players, "s",
               note="part of dispute_wall_s inside the players' policies (reveals, proofs); the rest is ape + anvil"),
        Result(c, "dispute_wall_cold_s", first.wall_s, "s", note="the warm-up game: weight trees built on first use"),
        Result(c, "moves_per_side", first.moves_per_side, "moves",
               *(("opml Llama demo, rounds (published)", OPML_LLAMA_ROUNDS) if c == "llama-7b" else (None, None)),
               note=f"submitter {first.match.moves_of('submitter')}, challenger {first.match.moves_of('challenger')} "
                    f"(challenge tx not counted)"),
        Result(c, "max_tx_gas", first.max_tx_gas, "gas", note=f"largest: the one-step proof ({site})"
               if first.max_tx_gas == step_gas else None),
        Result(c, "step_gas", step_gas, "gas", note=site + (
            f"; over the {TARGET_TX_GAS:,} target by {cost.total - TARGET_TX_GAS:,}" if over else "")),
        Result(c, "step_calldata_bytes", cost.calldata_bytes, "B", note="proof: operand rows as whole chunks + Merkle paths"),
        Result(c, "step_intrinsic_gas", cost.intrinsic, "gas", note="21000 + calldata (EIP-2028)"),
        Result(c, "step_prover_gas", cost.prover, "gas",
               note="OneStepProver.recompute: decoding, root and range proofs, operator calls (call trace)"),
        Result(c, "step_operator_element_gas", cost.operator_element, "gas",
               note="the operator's element(): the recomputation itself (call trace)"),
        Result(c, "step_game_gas", cost.game, "gas", note="DisputeGame.step's own execution outside the prover"),
        Result(c, "challenger_gas", first.challenger_gas, "gas", note="challenge + picks + open + step"),
        Result(c, "submitter_gas", first.submitter_gas, "gas", note="reveals + chunk reveal (propose not counted)"),
        Result(c, "propose_gas", first.propose_gas, "gas"),
        Result(c, "parameters", case.parameters, "params", note=case.description),
        Result(c, "nodes", nodes, "nodes"),
        Result(c, "trace_depth", max(1, math.ceil(math.log2(nodes))), "levels",
               note=f"reveal depth j = {BENCH_PARAMS.reveal_depth} (2^j children per reveal)"),
        Result(c, "disputed_tensor_depth", math.ceil(math.log2(chunks)) if chunks > 1 else 0, "levels",
               note=f"{chunks} chunks of {chunk_bytes} B in node {case.fault_node}'s output"),
        Result(c, "fault_reaches_output", float(output_changed), "bool",
               note=f"the faulty trace adds {delta} to the element; 1 when the posted output differs too"),
        Result(c, "weights_root_s", weights_root_s, "s", note=f"{sum(w.nbytes for w in model.weights):,} weight bytes"),
        Result(c, "graph_root_s", graph_root_s, "s"),
        Result(c, "forward_s", forward_s, "s", note="honest execution, integer engine"),
        Result(c, "faulty_forward_s", faulty_s, "s"),
        Result(c, "trace_trees_s", trace_s, "s"),
        Result(c, "peak_rss_gb", peak_rss_gb(), "GiB", note="process peak so far (cases run in order); "
               "llama-7b's block weights are memory-mapped files, so their pages count here but can be paged out"),
    ]
    results += [Result(c, k, v, "s" if k.endswith("_s") else "count") for k, v in case.facts.items()]
    if c == "digits-mlp":
        results.append(Result(c, "dispute_wall_s", wall, "s", "target (issue 4)", TARGET_WALL_S))
    if c == "llama-7b":
        results.append(Result(c, "moves_per_side", first.moves_per_side, "moves", "target (issue 4)", TARGET_MOVES))
        results.append(Result(c, "max_tx_gas", first.max_tx_gas, "gas", "target (issue 4)", TARGET_TX_GAS))
    return results


def plot(results: list[Result]) -> None:
    """bench/results/dispute.png: moves per side and max transaction gas against parameters (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(metric: str) -> dict[str, float]:
        first: dict[str, float] = {}
        for r in results:
            if r.metric == metric:
                first.setdefault(r.case, r.value)  # the case's own figure comes before its target rows
        return first

    params, moves, gas = series("parameters"), series("moves_per_side"), series("max_tx_gas")
    cases = [c for c in CASES if c in params]
    x = [params[c] for c in cases]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(x, [moves[c] for c in cases], "o-", label="this protocol (j = %d)" % BENCH_PARAMS.reveal_depth)
    ax1.axhline(OPML_LLAMA_ROUNDS, color="grey", ls="--", label="opml Llama demo: 40 rounds")
    ax1.axhline(TARGET_MOVES, color="green", ls=":", label="target: 12")
    ax1.set_ylabel("moves per side")
    ax2.plot(x, [gas[c] for c in cases], "s-", color="tab:red", label="largest transaction")
    ax2.axhline(TARGET_TX_GAS, color="green", ls=":", label="target: 2M gas")
    ax2.set_ylabel("gas")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("model parameters")
        for c, xv in zip(cases, x):
            ax.annotate(c, (xv, (moves if ax is ax1 else gas)[c]), textcoords="offset points", xytext=(4, 6))
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    ax1.set_ylim(0, OPML_LLAMA_ROUNDS + 5)
    ax2.set_ylim(0, max(max(gas.values()), TARGET_TX_GAS) * 1.2)
    fig.suptitle("Dispute cost against model size (full games on anvil)")
    fig.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS_DIR / "dispute.png", dpi=120)


def main(names: list[str]) -> None:
    """Runs the named cases (all of CASES when none is named) and writes the results and the plot."""
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown cases {unknown}; known: {list(CASES)}")
    from ape import accounts, networks, project
    from ape.logging import logger

    logger.set_level(logging.WARNING)
    torch.set_num_threads(2)
    builders = {"digits-mlp": digits_case, "minilm": minilm_case, "llama-7b": llama_case}
    results: list[Result] = []
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        protocol = deploy(project, provider, accounts)
        console.print(f"anvil at {provider.uri}, block gas limit {provider.get_block('latest').gas_limit:,}")
        for name in [c for c in CASES if c in names or not names]:
            console.rule(f"[bold cyan]{name}")
            t = time.perf_counter()
            case = builders[name]()
            try:
                results += measure(case, protocol, provider, project)
            finally:
                if case.scratch is not None:
                    case.model.weights.clear()  # drop the memory maps before their files go
                    case.scratch.cleanup()
            console.print(f"{name}: {time.perf_counter() - t:.0f} s in all")
            del case
            gc.collect()
    write_results("dispute", results, console)
    plot(results)
    console.print(f"wrote {RESULTS_DIR / 'dispute.json'} and {RESULTS_DIR / 'dispute.png'}")


if __name__ == "__main__":
    main(sys.argv[1:])
