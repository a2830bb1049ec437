"""Measures the gas of honest dispute moves on anvil and fits the move-gas model of offchain/engine/move_gas.py.

Run: ``python -m bench.bench_move_gas`` (starts its own anvil; writes ``bench/results/move_gas.json``);
``python -m bench.bench_move_gas --ops CONV2D,AMAX`` measures only those ops' cases and fits each OpCost against the shared constants.

Each case is a one-node model (bench/bench_ops_gas.py's cases plus more sizes per op). A submitter corrupts the
case's element, an honest challenger plays the whole game through the real DisputeGame and OneStepProver, and
the gas of its ``openNode``, the submitter's ``revealChunk`` and the challenger's ``step`` transactions are
recorded next to the step's structure at that element (ranges, chunk bytes, siblings, descriptor bytes, operand
elements). The fit: non-negative least squares over all steps for the shared constants and each op's
per-element cost, then each op's fixed cost lifted by its largest residual so no measured step exceeds the
model. It prints the constants to paste into move_gas.py and each case's measured gas beside the estimate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console

from bench._results import Result, write_results
from bench.bench_ops_gas import ACT_OPS, Case, _ints, _spec, cases as op_cases
# ---- tokenizer: bpe (issue 14)
from bench.bench_ops_gas import bpe_extra_cases
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec, registered_id
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.solver import Step
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.model import Model
from offchain.engine.move_gas import OpCost, depth, range_cost
from offchain.engine.ops import OpCode, get_op
from offchain.engine.descriptor import encode_node

SEED = 7
PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
MARGIN = 15_000  # gas added to each op's fixed cost above its largest residual
CHUNK_BYTE_FLOOR = 17  # gas per chunk byte the fit may not go below (see fit)
DESCRIPTOR_BYTE_FLOOR = 4
#: Ops whose cost has a per-range term besides the per-element one (OpCost.per_range).
PER_RANGE_OPS = {"CONV2D"}
# ---- generation: cache (issue 15): CAT_MATMUL axis 1 reads one range per cache block, and each of the prover's
# range calls re-sends a descriptor that grows with the blocks
PER_RANGE_OPS |= {"CAT_MATMUL"}
# ---- tokenizer: nfc (issue 14): each of NFC_COMPOSE's probe ranges re-runs the composition up to that try
PER_RANGE_OPS |= {"NFC_COMPOSE"}
# ---- tokenizer: nfc runs (issue 14): each of NFC_STAGE's probe ranges re-walks the run up to that try
PER_RANGE_OPS |= {"NFC_STAGE"}


def extra_cases() -> list[Case]:
    """More sizes per op, so each op's per-element slope and the shared per-range cost are fitted."""
    rng = np.random.default_rng(SEED)
    out: list[Case] = []
    for k in (64, 768, 4096, 11008):
        x = _ints(rng, (1, k), -128, 128, DType.INT8)
        w = (_ints(rng, (8, k), -128, 128, DType.INT8), _spec((8, k), DType.INT8, 6, 12))
        b = (_ints(rng, (8,), -5000, 5000, DType.INT32), _spec((8,), DType.INT32, 10))
        out.append(Case(f"linear k={k} (int8)", OpCode.LINEAR, x, _spec((1, k), DType.INT8, 4), [w, b],
                        _spec((1, 8), DType.INT16, 8)))
    for c in (1, 8, 16, 32):
        x = _ints(rng, (1, c, 8, 8), -128, 128, DType.INT8)
        w = (_ints(rng, (8, c, 3, 3), -128, 128, DType.INT8), _spec((8, c, 3, 3), DType.INT8, 6, 12))
        b = (_ints(rng, (8,), -5000, 5000, DType.INT32), _spec((8,), DType.INT32, 10))
        out.append(Case(f"conv2d 3x3x{c} pad 1 (int8)", OpCode.CONV2D, x, _spec((1, c, 8, 8), DType.INT8, 4), [w, b],
                        _spec((1, 8, 8, 8), DType.INT8, 4), (1, 1, 1, 1), element=8 * 64 - 1 - 8 * 4 - 4))
    for n in (16, 128):
        x = _ints(rng, (4, n), -(8 << 12), 8 << 12, DType.INT32)
        out.append(Case(f"softmax causal n={n}", OpCode.SOFTMAX, x, _spec((4, n), DType.INT32, 12), [],
                        _spec((4, n), DType.INT16, 14), (1,)))
    for n in (16, 1024):
        x = _ints(rng, (1, n), -(4 << 16), 4 << 16, DType.INT32)
        gamma = (_ints(rng, (n,), 8000, 24000, DType.INT16), _spec((n,), DType.INT16, 14))
        beta = (_ints(rng, (n,), -4000, 4000, DType.INT16), _spec((n,), DType.INT16, 14))
        eps = (round(1e-5 * 4**16),)
        out.append(Case(f"layernorm n={n}", OpCode.LAYERNORM, x, _spec((1, n), DType.INT32, 16), [gamma, beta],
                        _spec((1, n), DType.INT16, 10), eps))
        out.append(Case(f"rmsnorm n={n}", OpCode.RMSNORM, x, _spec((1, n), DType.INT32, 16), [gamma],
                        _spec((1, n), DType.INT16, 10), eps))
        x16 = _ints(rng, (1, n), -(1 << 15), 1 << 15, DType.INT16)
        out.append(Case(f"mean n={n}", OpCode.MEAN, x16, _spec((1, n), DType.INT16, 8), [], _spec((1,), DType.INT16, 8),
                        (round((1 << 24) / n), 24), element=0))
    for size in (64, 16384):
        x = _ints(rng, (1, size), -(4 << 10), 4 << 10, DType.INT16)
        other = (_ints(rng, (1, size), -(4 << 10), 4 << 10, DType.INT16), _spec((1, size), DType.INT16, 10))
        for name, op in (("sub", OpCode.SUB), ("mul", OpCode.MUL)):
            out.append(Case(f"{name} n={size}", op, x, _spec((1, size), DType.INT16, 10), [other],
                            _spec((1, size), DType.INT16, 10 if op == OpCode.SUB else 20 - 10)))
        for name, op in (("relu", OpCode.RELU), ("neg", OpCode.NEG)):
            out.append(Case(f"{name} n={size}", op, x, _spec((1, size), DType.INT16, 10), [],
                            _spec((1, size), DType.INT16, 10)))
        out.append(Case(f"silu n={size}", OpCode.SILU, x, _spec((1, size), DType.INT16, 10), [],
                        _spec((1, size), DType.INT16, 10)))
    for v, d in ((1000, 384), (32000, 4096)):
        ids = _ints(rng, (1, 8), 0, v, DType.INT32)
        table = (_ints(rng, (v, d), -128, 128, DType.INT8), _spec((v, d), DType.INT8, 6, 12))
        out.append(Case(f"embedding V={v} d={d}", OpCode.EMBEDDING, ids, _spec((1, 8), DType.INT32, 0), [table],
                        _spec((1, 8, d), DType.INT16, 6)))
    for c, k in ((16, 1), (64, 1), (4, 5), (8, 5), (80, 3)):
        x = _ints(rng, (1, c, 8, 8), -128, 128, DType.INT8)
        w = (_ints(rng, (8, c, k, k), -128, 128, DType.INT8), _spec((8, c, k, k), DType.INT8, 6, 12))
        b = (_ints(rng, (8,), -5000, 5000, DType.INT32), _spec((8,), DType.INT32, 10))
        out.append(Case(f"conv2d {k}x{k}x{c} pad {k // 2} (int8)", OpCode.CONV2D, x, _spec((1, c, 8, 8), DType.INT8, 4),
                        [w, b], _spec((1, 8, 8, 8), DType.INT8, 4), (1, 1, k // 2, k // 2),
                        element=8 * 64 - 1 - 8 * 4 - 4))
    for k in (64, 4096):
        a = _ints(rng, (1, 4, k), -(1 << 12), 1 << 12, DType.INT16)
        bt = (_ints(rng, (1, 4, k), -(1 << 12), 1 << 12, DType.INT16), _spec((1, 4, k), DType.INT16, 8))
        out.append(Case(f"matmul k={k} (int16)", OpCode.MATMUL, a, _spec((1, 4, k), DType.INT16, 8), [bt],
                        _spec((1, 4, 4), DType.INT32, 8)))
    for d in (64, 1024):
        h = _ints(rng, (1, 4, d), -(1 << 12), 1 << 12, DType.INT16)
        r_mat = (_ints(rng, (4, d), -128, 128, DType.INT8), _spec((4, d), DType.INT8, 6, 12))
        w_mat = (_ints(rng, (4, d), -128, 128, DType.INT8), _spec((4, d), DType.INT8, 6, 12))
        bias = (_ints(rng, (4,), -5000, 5000, DType.INT32), _spec((4,), DType.INT32, 14))
        out.append(Case(f"loreft d={d} r=4", OpCode.LOREFT, h, _spec((1, 4, d), DType.INT16, 8), [r_mat, w_mat, bias],
                        _spec((1, 4, d), DType.INT16, 8)))
    # ---------------------------------------------------------------- conv long form (issue 13)
    for c, k, params in ((64, 3, (1, 1, 1, 1, 1, 1, 1, 1, 64)), (256, 3, (1, 1, 2, 2, 2, 2, 2, 2, 256)),
                         (8, 4, (1, 1, 1, 1, 2, 2, 1, 1, 1)), (16, 2, (1, 1, 1, 2, 2, 0, 3, 2, 1)),
                         (32, 3, (1, 1, 2, 2, 2, 2, 2, 2, 4))):
        groups = params[-1]
        x = _ints(rng, (1, c, 8, 8), -128, 128, DType.INT8)
        w = (_ints(rng, (8 if groups == 1 else c, c // groups, k, k), -128, 128, DType.INT8),
             _spec((8 if groups == 1 else c, c // groups, k, k), DType.INT8, 6, 12))
        o = w[0].shape[0]
        out.append(Case(f"conv2d {k}x{k}x{c} long form {params[2:]} (int8)", OpCode.CONV2D, x,
                        _spec((1, c, 8, 8), DType.INT8, 4), [w], _spec((1, o, 8, 8), DType.INT8, 4), params,
                        element=o * 64 - 1 - 8 * 4 - 4))
    q = _ints(rng, (1, 16, 64), -(1 << 15), 1 << 15, DType.INT16)
    qs = _spec((1, 16, 64), DType.INT16, 8)
    out.append(Case("reshape", OpCode.RESHAPE, q, qs, [], _spec((16, 64), DType.INT16, 8)))
    out.append(Case("slice", OpCode.SLICE, q, qs, [], _spec((1, 16, 32), DType.INT16, 8), (2, 1, 2)))
    out.append(Case("concat", OpCode.CONCAT, q, qs, [(q.copy(), qs)], _spec((1, 16, 128), DType.INT16, 8), (2,)))
    out.append(Case("rescale", OpCode.RESCALE, q, qs, [], _spec((1, 16, 64), DType.INT8, 4)))
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    for k, c, hw in ((2, 8, 8), (3, 8, 8), (5, 4, 16), (7, 16, 7)):
        x = _ints(rng, (1, c, hw, hw), -(1 << 15), 1 << 15, DType.INT16)
        pad, oh = k // 2, hw if k > 2 else hw // 2
        params = (k, k, 1, 1, pad, pad) if k > 2 else (2, 2, 2, 2, 0, 0)
        centre = c * oh * oh - oh * (oh // 2) - oh // 2 - 1  # last channel, a window wholly inside the image
        out.append(Case(f"maxpool2d {k}x{k} on {c}x{hw}x{hw}", OpCode.MAXPOOL2D, x, _spec((1, c, hw, hw), DType.INT16, 8),
                        [], _spec((1, c, oh, oh), DType.INT16, 8), params, element=centre))
        out.append(Case(f"avgpool2d {k}x{k} on {c}x{hw}x{hw}", OpCode.AVGPOOL2D, x, _spec((1, c, hw, hw), DType.INT16, 8),
                        [], _spec((1, c, oh, oh), DType.INT16, 8), params + (0,), element=centre))
    for n in (16, 1024):
        x = _ints(rng, (2, n), -(1 << 15), 1 << 15, DType.INT16)
        out.append(Case(f"amax n={n}", OpCode.AMAX, x, _spec((2, n), DType.INT16, 8), [], _spec((2,), DType.INT16, 8)))
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    out.append(Case("expand", OpCode.EXPAND, q[:, :1], _spec((1, 1, 64), DType.INT16, 8), [],
                    _spec((1, 16, 64), DType.INT16, 8)))
    # WHERE reads cond first, so its one-node model takes the mask as the input and x, y as weights.
    cond = rng.integers(0, 2, size=(1, 16, 64)).astype(np.int8)
    out.append(Case("where", OpCode.WHERE, cond, _spec((1, 16, 64), DType.INT8, 0),
                    [(q.copy(), qs), (q[:, :1].copy(), _spec((1, 1, 64), DType.INT16, 8))],
                    _spec((1, 16, 64), DType.INT16, 8)))
    # ---- tokenizer: bpe (issue 14)
    out += bpe_extra_cases()
    # ---- generation: cache (issue 15)
    from bench.bench_ops_gas import cache_extra_cases

    out += cache_extra_cases()
    return out + act_extra_cases()


def act_extra_cases() -> list[Case]:
    """Issue 13's activations at two more sizes (int16 rows of 64 and 16,384): one element read per step."""
    rng = np.random.default_rng(SEED + 13)
    out: list[Case] = []
    for size in (64, 16384):
        x = _ints(rng, (1, size), -(8 << 10), 8 << 10, DType.INT16)
        for name, op, params, fx, fo in ACT_OPS:
            out.append(Case(f"{name} n={size}", op, x, _spec((1, size), DType.INT16, fx), [],
                            _spec((1, size), DType.INT16, fo), params))
    return out


def all_cases() -> list[Case]:
    from bench.bench_ops_gas import added_fit_cases   # ---- tokenizer: added (issue 14)
    from bench.bench_ops_gas import nfc_fit_cases   # ---- tokenizer: nfc (issue 14)
    from bench.bench_ops_gas import image_fit_cases   # ---- image: imgops (issue 16)
    from bench.bench_ops_gas import nfc_run_fit_cases   # ---- tokenizer: nfc runs (issue 14)

    return ([c for c in op_cases() if c.whole_step] + extra_cases() + added_fit_cases() + nfc_fit_cases()
            + image_fit_cases() + nfc_run_fit_cases())


def element_shape(case: Case, index: int, element: int, inputs, weights: int) -> tuple[int, int, int, int, int]:
    """(R, B, S, D, E) of the step proof of ``element``, exactly as the proof builder lays it out."""
    model = case.model()
    node = model.graph.nodes[index]
    ranges = get_op(node.op).operand_ranges(node, element, inputs)
    r, b, s, e = len(ranges), 0, 0, 0
    for ref in node.inputs:
        s += depth(weights) if ref.kind.name == "WEIGHT" else 0
    for slot, start, length in ranges:
        e += length
        chunk_bytes, siblings = range_cost(node.in_specs[slot], start, length, exact=True)
        b += chunk_bytes
        s += siblings
    return r, b, s, len(encode_node(node, index)), e


def measure(cases: list[Case], console: Console) -> list[dict]:
    """Plays one game per case on a fresh protocol deployment; returns one row per case."""
    from ape import accounts, chain, networks, project

    from offchain.chain.deployments import deploy_protocol

    rows = []
    with networks.parse_network_choice("ethereum:local:foundry"):
        owner, submitter, challenger = accounts.test_accounts[0], accounts.test_accounts[1], accounts.test_accounts[2]
        a = deploy_protocol(project, chain.provider, owner, directory=Path(tempfile.mkdtemp()), params=PARAMS)
        registry, game = project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])
        for case in cases:
            model = case.model()
            gas = play_to_step(model, case.x, 0, case.element % model.graph.nodes[0].output.size, registry, game,
                               owner, submitter, challenger)
            inputs = [case.x] + [w for w, _ in case.weights]
            element = case.element % model.graph.nodes[0].output.size
            rows.append({"name": case.name, "op": OpCode(case.op).name, "step": gas["Step"], "open": gas["OpenNode"],
                         "reveal_chunk": gas["RevealChunk"],
                         "shape": element_shape(case, 0, element, inputs, case.weight_count)})
            console.print(f"{case.name}: step {rows[-1]['step']:,} gas")
    return rows


def play_to_step(model: Model, x: np.ndarray, node_index: int, element: int, registry, game, owner, submitter,
                 challenger) -> dict[str, int]:
    """Registers ``model`` (once), lets a submitter corrupt ``element`` of node ``node_index`` and an honest
    challenger dispute it through the real game; returns each move's gas by action name. The closing step is
    priced with eth_estimateGas (the gas limit the challenger must give it) and not sent: anvil on a busy machine
    may take longer than ape's receipt timeout to execute a multi-million-gas step."""
    commitment = ModelCommitment(model)
    honest = ExecutionCommitment(commitment, run(model, [x]))
    faulty = ExecutionCommitment(commitment, run_with_fault(model, [x], node_index, element, delta=1))
    model_id = registered_id(registry, model)  # two cases may be the same one-node model
    if model_id is None:
        model_id = registry.registerModel(model_spec(model, 0, owner.address), sender=owner).return_value
    claim_id = game.propose(model_id, faulty.input_root, faulty.output_root, faulty.trace_root, faulty.output_proof(),
                            submitter, sender=submitter, value=game.submitterBond()).return_value
    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    steps: list[Step] = []
    challenger_policy = honest_challenger(honest, claimed)

    def hold_step(state):
        action = challenger_policy(state)
        if isinstance(action, Step):
            steps.append(action)
            return None
        return action

    result = play(game, game_id, submitter, challenger, honest_submitter(faulty), hold_step, claimed=claimed)
    if len(steps) != 1 or game.getGame(game_id).nodeIndex != node_index:
        raise AssertionError(f"the game did not reach a step at node {node_index}: {result.moves}")
    step = steps[0]
    if step.element != element % (len(step.chunk) // (model.graph.nodes[node_index].output.dtype.bits // 8)):
        raise AssertionError(f"the step proves element {step.element} of its chunk, not element {element}")
    gas = {m.action: m.gas for m in result.moves}
    args = (game_id, step.chunk, step.element, step.descriptor, step.proof)
    gas["Step"] = game.step.estimate_gas_cost(*args, sender=challenger)
    gas["StepCalldata"] = len(bytes(game.step.as_transaction(*args, sender=challenger).data))
    return gas


def fit(rows: list[dict]) -> tuple[dict[str, float], dict[str, OpCost]]:
    """Shared constants (base, per range, per chunk byte, per sibling, per descriptor byte) and per-op
    (fixed, per element, and for PER_RANGE_OPS per range) such that every measured step is at most the model."""
    from scipy.optimize import nnls

    ops = sorted({r["op"] for r in rows})
    ranged = [op for op in ops if op in PER_RANGE_OPS]
    cols = 5 + len(ops) + len(ranged)
    a = np.zeros((len(rows), cols))
    y = np.array([r["step"] for r in rows], dtype=float)
    for i, r in enumerate(rows):
        rr, b, s, d, e = r["shape"]
        a[i, :5] = (1, rr, b, s, d)
        a[i, 5 + ops.index(r["op"])] = e
        if r["op"] in ranged:
            a[i, 5 + len(ops) + ranged.index(r["op"])] = rr
    # A chunk byte costs at least its calldata as a non-zero byte (16) plus hashing and copying: the fitted cases'
    # chunks are partly zero padding (4 gas a byte), a real model's are not, so the fit gets that floor and may
    # only add to it.
    # Likewise a descriptor byte costs at least a zero calldata byte (4).
    floor = y - CHUNK_BYTE_FLOOR * a[:, 2] - DESCRIPTOR_BYTE_FLOOR * a[:, 4]
    coef, _ = nnls(a / y[:, None], floor / y)  # relative error: small and large steps weigh alike
    coef[2] += CHUNK_BYTE_FLOOR
    coef[4] += DESCRIPTOR_BYTE_FLOOR
    shared = dict(zip(("base", "range", "chunk_byte", "sibling", "descriptor_byte"), coef[:5]))
    per_op: dict[str, OpCost] = {}
    for k, op in enumerate(ops):
        slope = coef[5 + k]
        per_range = coef[5 + len(ops) + ranged.index(op)] if op in ranged else 0.0
        residuals = [y[i] - a[i] @ coef for i, r in enumerate(rows) if r["op"] == op]
        # Lifted by the largest residual plus a margin for what the fitted cases do not vary (calldata zero
        # bytes, operand values, storage warmth): every measured step stays below the model.
        per_op[op] = OpCost(int(np.ceil(max(0.0, max(residuals)) + MARGIN) / 1000) * 1000 + 1000,
                            int(np.ceil(slope)), int(np.ceil(per_range)))
    return {k: float(np.ceil(v)) for k, v in shared.items()}, per_op


def fit_one_op(rows: list[dict], op: str) -> OpCost:
    """One op's cost against move_gas.py's shared constants as they stand, lifted like ``fit``'s: for a change to
    one operator, without re-measuring every other op. Per element and (for PER_RANGE_OPS) per range minimise
    the relative error of the shared-constant residuals, non-negative."""
    from scipy.optimize import nnls

    from offchain.engine import move_gas

    mine = [r for r in rows if r["op"] == op]
    shared = np.array([move_gas.STEP_BASE, move_gas.RANGE, move_gas.CHUNK_BYTE, move_gas.SIBLING,
                       move_gas.DESCRIPTOR_BYTE], dtype=float)
    y = np.array([r["step"] for r in mine], dtype=float)
    shapes = np.array([r["shape"] for r in mine], dtype=float)
    rest = y - np.column_stack([np.ones(len(mine)), shapes[:, :4]]) @ shared
    cols = [np.ones(len(mine)), shapes[:, 4]] + ([shapes[:, 0]] if op in PER_RANGE_OPS else [])
    a = np.column_stack(cols)
    # the constant column only centres the fit: the fixed cost is then the largest residual, as in ``fit``
    lifted = rest - rest.min() + 1.0
    coef, _ = nnls(a / y[:, None], lifted / y)
    slopes = np.append(coef[1:], 0.0) if op not in PER_RANGE_OPS else coef[1:]
    residuals = rest - shapes[:, 4] * slopes[0] - shapes[:, 0] * slopes[1]
    fixed = int(np.ceil(max(0.0, residuals.max()) + MARGIN) / 1000) * 1000 + 1000
    return OpCost(fixed, int(np.ceil(slopes[0])), int(np.ceil(slopes[1])))


def main() -> None:
    import json
    import sys

    console = Console()
    if "--ops" in sys.argv:  # --ops MAXPOOL2D,AMAX: measure only these ops' cases and fit each against the shared constants
        names = sys.argv[sys.argv.index("--ops") + 1].split(",")
        rows = measure([c for c in all_cases() if OpCode(c.op).name in names], console)
        for op in names:
            cost = fit_one_op(rows, op)
            console.print(f"    OpCode.{op}: OpCost({cost.fixed:_}, {cost.per_element}, {cost.per_range}),")
        for r in rows:
            console.print(r["name"], r["shape"], f"step {r['step']:,}")
        return
    saved = Path("bench/results/move_gas_rows.json")
    if "--refit" in sys.argv and saved.exists():
        rows = json.loads(saved.read_text())
    else:
        rows = measure(all_cases(), console)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(rows))
    shared, per_op = fit(rows)
    console.print("shared:", shared)
    for op, cost in per_op.items():
        extra = f", {cost.per_range:_}" if op in PER_RANGE_OPS else ""
        console.print(f"    OpCode.{op}: OpCost({cost.fixed:_}, {cost.per_element}{extra}),")
    results = []
    for r in rows:
        console.print(r["name"], r["shape"], f"step {r['step']:,} open {r['open']:,} reveal_chunk {r['reveal_chunk']:,}")
        results.append(Result(r["name"], "step_gas", r["step"], "gas", "move bound", 10_000_000))
        results.append(Result(r["name"], "reveal_chunk_gas", r["reveal_chunk"], "gas", "move bound", 10_000_000))
        results.append(Result(r["name"], "open_node_gas", r["open"], "gas", "move bound", 10_000_000))
    write_results("move_gas", results, console)


if __name__ == "__main__":
    main()
