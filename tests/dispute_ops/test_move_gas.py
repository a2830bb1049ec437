"""The move-gas estimates (offchain/engine/move_gas.py) are upper bounds of what honest moves cost on anvil, and
not absurdly loose: measured <= estimate <= 1.5 x measured + 100k (and likewise for the step's calldata bytes).

Each case plays a real game (DisputeGame, OneStepProver, every operator family) to the challenger's step at a
corrupted element and prices the step with eth_estimateGas, the gas limit the challenger must give it; the
submitter's revealChunk and the challenger's openNode are the receipts' gas. Cases: one-node models at several
sizes per op, including sizes the fit never saw (marked *), the largest each built-in model uses (llama-7b-layer:
linear 11008, rmsnorm 4096; minilm: linear 1536, layernorm 384, the tokenizer at 256 bytes; digits-cnn: its
convs), and games on whole built-in models at the node and element the estimate finds costliest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from ape import chain
from ape.contracts import ContractContainer

from bench.bench_move_gas import PARAMS, _ints, _spec, all_cases, play_to_step
from bench.bench_ops_gas import Case
from offchain.chain.deployments import deploy_protocol
from offchain.chain.registration import register
from offchain.engine.dtypes import DType
from offchain.engine.graph import TensorSpec
from offchain.engine.move_gas import (
    MAX_MOVE_GAS,
    MoveGasError,
    open_node_gas,
    reveal_chunk_gas,
    step_calldata,
    step_gas,
    step_shape,
    tensor_hash_gas,
)
from offchain.engine.ops import OpCode

LOOSENESS, SLACK = 1.5, 100_000


def _unseen() -> list[Case]:
    """Sizes the fit never measured (marked * in their names)."""
    rng = np.random.default_rng(11)
    out = []
    for n in (3000, 600):
        x = _ints(rng, (2, n), -(8 << 12), 8 << 12, DType.INT32)
        out.append(Case(f"*softmax n={n}", OpCode.SOFTMAX, x, _spec((2, n), DType.INT32, 12), [],
                        _spec((2, n), DType.INT16, 14), (0,)))
    for k in (1536, 2000):   # MiniLM's FFN down projection; an odd width
        x = _ints(rng, (1, k), -(1 << 12), 1 << 12, DType.INT16)
        w = (_ints(rng, (4, k), -128, 128, DType.INT8), _spec((4, k), DType.INT8, 6, 12))
        out.append(Case(f"*linear k={k} (int16 x)", OpCode.LINEAR, x, _spec((1, k), DType.INT16, 8), [w],
                        _spec((1, 4), DType.INT16, 8)))
    for c, hw in ((24, 16), (48, 6)):
        x = _ints(rng, (1, c, hw, hw), -128, 128, DType.INT8)
        w = (_ints(rng, (4, c, 3, 3), -128, 128, DType.INT8), _spec((4, c, 3, 3), DType.INT8, 6, 12))
        out.append(Case(f"*conv2d 3x3x{c} on {hw}x{hw}", OpCode.CONV2D, x, _spec((1, c, hw, hw), DType.INT8, 4), [w],
                        _spec((1, 4, hw, hw), DType.INT8, 4), (1, 1, 1, 1), element=4 * hw * hw - hw * (hw // 2) - 3))
    x = _ints(rng, (1, 768), -(4 << 16), 4 << 16, DType.INT32)
    g = (_ints(rng, (768,), 8000, 24000, DType.INT16), _spec((768,), DType.INT16, 14))
    out.append(Case("*rmsnorm n=768", OpCode.RMSNORM, x, _spec((1, 768), DType.INT32, 16), [g],
                    _spec((1, 768), DType.INT16, 10), (round(1e-5 * 4**16),)))
    return out


CHOSEN = ("softmax n=4096", "softmax causal n=128", "layernorm n=384", "rmsnorm n=4096", "linear k=768",
          "linear k=11008", "conv2d 3x3x4 pad", "conv2d 3x3x64", "conv2d 1x1x64", "conv2d 5x5x8", "mean n=4096",
          "embedding V=32000 d=4096", "gelu erf", "silu n=16384", "rope", "add, broadcast", "permute", "concat",
          "matmul k=4096", "loreft d=1024", "utf8_decode", "char_map", "trie_match", "wordpiece",
          # activations (issue 13)
          "tanh n=4096", "sigmoid n=64", "softplus n=16384", "clamp relu6 n=4096", "leaky_relu 0.01 n=16384",
          "hardswish n=4096", "hardsigmoid n=64")
CASES = [c for c in all_cases() if c.name.startswith(CHOSEN)] + _unseen()


# ---------------------------------------------------------------- pooling and reductions (issue 13)
def _unseen_pool() -> list[Case]:
    """Pooling sizes the fit never measured: an int8 4x4/2 average with a fixed divisor, a 3000-wide amax."""
    rng = np.random.default_rng(13)
    x = _ints(rng, (1, 8, 12, 12), -128, 128, DType.INT8)
    out = [Case("*avgpool2d 4x4/2 pad 1 on 8x12x12 (int8)", OpCode.AVGPOOL2D, x, _spec((1, 8, 12, 12), DType.INT8, 4),
                [], _spec((1, 8, 6, 6), DType.INT8, 4), (4, 4, 2, 2, 1, 1, 16), element=8 * 36 - 9)]
    x = _ints(rng, (1, 3000), -(1 << 15), 1 << 15, DType.INT16)
    out.append(Case("*amax n=3000", OpCode.AMAX, x, _spec((1, 3000), DType.INT16, 8), [], _spec((1,), DType.INT16, 8),
                    element=0))
    return out


POOL_CHOSEN = ("maxpool2d 7x7 on", "avgpool2d 3x3 on", "amax n=1024", "maxpool2d 3x3/2 pad 1 over 64x112x112",
               "avgpool2d 7x7 pad 3 over 2048x7x7")
CASES += [c for c in all_cases() if c.name.startswith(POOL_CHOSEN)] + _unseen_pool()

# ---- tokenizer: bpe (issue 14)
# The BPE ops' worst inputs at their cap N = 256 (fitted) and at N = 200 (unseen).
from bench.bench_ops_gas import bpe_worst  # noqa: E402

BPE_OPS = (OpCode.BPE_SYMBOLS, OpCode.PAIR_RANK, OpCode.BPE_MERGE, OpCode.BPE_IDS)
CASES += [c for c in all_cases() if c.name.endswith("N=256 worst")]
CASES += [bpe_worst(op, 200, f"*{OpCode(op).name.lower()} N=200") for op in BPE_OPS]
# WORD_VOCAB (ignore_merges): its worst input at the cap N = 256 (above, with the BPE ops') and at N = 16 and 96.
from bench.bench_ops_gas import word_vocab_worst  # noqa: E402

CASES += [word_vocab_worst(n, f"*word_vocab N={n}") for n in (16, 96)]


# ---- tokenizer: detok (issue 14)
def _unseen_detok() -> list[Case]:
    """Detokenizer sizes the fit never measured, each at its costliest element (bench_ops_gas.detok_case)."""
    from bench.bench_ops_gas import detok_case

    out = []
    for tokens, max_len, strip, out_bytes in ((300, 40, 0, 2000), (700, 100, 2, 9000), (900, 600, 1, 30000)):
        case = detok_case(tokens, max_len, strip, out_bytes, seed=14)[1]
        case.name = "*" + case.name
        out.append(case)
    return out


DETOK_CHOSEN = ("detok_len T=1024", "detok_bytes strip 0 T=1024 L=1024", "detok_bytes strip 2 T=1024 L=1024")
CASES += [c for c in all_cases() if c.name.startswith(DETOK_CHOSEN)] + _unseen_detok()


# ---- generation: sample (issue 15)
def _unseen_sample() -> list[Case]:
    """Generation sizes the fit never measured: small and mid TOPK blocks / groups at other k (ascending keys, the
    last entry of the second row), and SAMPLE at K = 40 and K = 2."""
    from bench.bench_ops_gas import sample_cases

    out = [c for c in sample_cases([(0, 8, 64, 0), (0, 100, 500, 0), (1, 16, 8, 16), (1, 40, 600, 1)]) if c.op == OpCode.TOPK]
    for k in (40, 2):
        cand = np.zeros((1, k, 2), dtype=np.int32)
        cand[0, :, 0] = -np.arange(k, dtype=np.int32)
        cand[0, :, 1] = np.arange(k, dtype=np.int32)
        i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
        out.append(Case(f"sample K={k}", OpCode.SAMPLE, cand, i32((1, k, 2)),
                        [(np.array([8, 100, k, 1], np.int32), i32((4,))), (np.array([2**31 - 1], np.int32), i32((1,)))],
                        i32((1,)), (0,)))
    for c in out:
        c.name = "*" + c.name
    return out


SAMPLE_CHOSEN = ("gen_params", "topk ", "prng", "sample K=", "gen_stop")
CASES += [c for c in all_cases() if c.name.startswith(SAMPLE_CHOSEN)] + _unseen_sample()
# ---- generation: cache (issue 15)
def _unseen_cache() -> list[Case]:
    """KV-cache sizes the fit never measured: CAT_MATMUL axis 1 at 6 blocks of head_dim 96 over 16 heads after a
    100-position prefill block, axis 0 at 10 blocks of head_dim 80; ATTN_BIAS over 1,000 ids, ALIGN_END over 300."""
    from bench.bench_ops_gas import cat_matmul_case, mask_cases

    out = [cat_matmul_case(1, 6, 16, 96, 100), cat_matmul_case(0, 10, 16, 80, 30)] + mask_cases(1000, 300)
    for case in out:
        case.name = "*" + case.name
    return out


CACHE_CHOSEN = ("cat_matmul axis 1 m=1 H=32 d=128", "cat_matmul axis 1 m=15 H=32 d=128 T=242",
                "cat_matmul axis 0 m=15 H=32 d=256", "attn_bias nk=4096", "align_end T=64")
CASES += [c for c in all_cases() if c.name.startswith(CACHE_CHOSEN)] + _unseen_cache()
# ---- tokenizer: added (issue 14)
# ADDED_MATCH / ADDED_RESOLVE at their caps (fitted) and at sizes the fit never saw.
from bench.bench_ops_gas import added_cases  # noqa: E402

CASES += added_cases()
CASES += [c for c in added_cases(200, 2048, 12)]
for _c in CASES[-2:]:
    _c.name = "*" + _c.name
# ---- tokenizer: nfc (issue 14)
# NFC_COMPOSE / NFC_COMPACT at their caps (fitted) and at a size the fit never saw.
from bench.bench_ops_gas import nfc_cases  # noqa: E402

CASES += nfc_cases()
CASES += nfc_cases(160, 3, 2048, 4)
for _c in CASES[-3:]:
    _c.name = "*" + _c.name
# ---- image: imgops (issue 16)
# NOISE / DDIM_STEP / PIXELS at n = 2^20 (fitted) and at a size the fit never saw.
from bench.bench_ops_gas import image_cases  # noqa: E402

CASES += image_cases()
CASES += image_cases(100_000)
for _c in CASES[-5:]:
    _c.name = "*" + _c.name
# ---- tokenizer: nfc runs (issue 14)
# NFC_REORDER / NFC_STAGE at their caps (fitted) and at a size the fit never saw.
from bench.bench_ops_gas import nfc_run_cases  # noqa: E402

CASES += nfc_run_cases()
CASES += nfc_run_cases(160, 1, 2048, 4)
for _c in CASES[-5:]:
    _c.name = "*" + _c.name


@pytest.fixture(scope="module")
def protocol(project, accounts):
    a = deploy_protocol(project, chain.provider, accounts[0], directory=Path(tempfile.mkdtemp()), params=PARAMS)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])


def _check(model, node_index: int, gas: dict[str, int], name: str) -> None:
    estimate = step_gas(model, node_index)
    print(f"\n{name}: step measured {gas['Step']:,}, estimated {estimate:,} ({estimate / gas['Step']:.2f}x)")
    assert gas["Step"] <= estimate <= LOOSENESS * gas["Step"] + SLACK, (name, gas["Step"], estimate)
    assert gas["StepCalldata"] <= step_calldata(model, node_index) <= LOOSENESS * gas["StepCalldata"] + 2048
    assert gas["RevealChunk"] <= reveal_chunk_gas(model, node_index) <= LOOSENESS * gas["RevealChunk"] + SLACK
    assert gas["OpenNode"] <= open_node_gas(model, node_index) <= LOOSENESS * gas["OpenNode"] + SLACK


def _params(cases: list[Case]) -> list:
    """Every case; those at sizes the fit never saw (``*``) are marked ``long``: `make test` checks the estimate at
    the sizes it was fitted on and at each operator's caps (the worst cases), `make test-long` (part of `make fuzz`)
    also at the unseen sizes, which check that the fit generalises."""
    return [pytest.param(c, marks=pytest.mark.long) if c.name.startswith("*") else c for c in cases]


@pytest.mark.parametrize("case", _params(CASES), ids=lambda c: c.name)
def test_step_estimate_bounds_the_measured_step(protocol, owner, submitter, challenger, case):
    registry, game = protocol
    model = case.model()
    element = case.element % model.graph.nodes[0].output.size
    gas = play_to_step(model, case.x, 0, element, registry, game, owner, submitter, challenger)
    _check(model, 0, gas, case.name)


@pytest.mark.parametrize("name", ["digits-cnn", "digits-mlp", "llama-tiny-loreft"])
def test_the_costliest_step_of_a_built_in_model_is_bounded(protocol, owner, submitter, challenger, name,
                                                           reference_model):
    """The whole model's game (trace descent, then tensor descent) at the node and element the estimate finds
    costliest: operand roots are proven against a real trace and weights tree here."""
    registry, game = protocol
    built = reference_model(name)
    model = built.model
    steps = [(step_gas(model, i), i) for i in range(len(model.graph.nodes))]
    _, node_index = max(steps)
    element = step_shape(model, node_index).element
    gas = play_to_step(model, built.example_inputs[0], node_index, element, registry, game, owner, submitter,
                       challenger)
    _check(model, node_index, gas, f"{name} node {node_index} ({OpCode(model.graph.nodes[node_index].op).name})")


# ---- generation: cache (issue 15)
def test_the_costliest_step_of_the_cache_graph_is_bounded(protocol, owner, submitter, challenger):
    """The KV-cache graph (offchain/models/cache_graph.py) played whole, at the node and element the estimate finds
    costliest: its CAT_MATMUL blocks' roots are proven against a real trace, not the weights."""
    from offchain.models.cache_graph import cache_graph

    registry, game = protocol
    model, x = cache_graph()
    steps = [(step_gas(model, i), i) for i in range(len(model.graph.nodes))]
    _, node_index = max(steps)
    assert model.graph.nodes[node_index].op == OpCode.CAT_MATMUL
    element = step_shape(model, node_index).element
    gas = play_to_step(model, x, node_index, element, registry, game, owner, submitter, challenger)
    _check(model, node_index, gas, f"cache graph node {node_index} (CAT_MATMUL)")


@pytest.mark.parametrize("n", [1024, 4096])
def test_tensor_hash_estimate_bounds_the_on_chain_poseidon(project, owner, n):
    """revealPrivate Poseidon-hashes the private node's input and output: the hasher's execution gas (the
    transaction's, less its base and calldata) stays under the estimate for int16 tensors of llama-tiny-loreft's
    private LoReFT size (1,024 values) and a 4,096-wide hidden state."""
    from offchain.zk.evm_artifacts import contract_type, poseidon_artifact

    p6 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(6))))
    p3 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(3))))
    hasher = owner.deploy(project.PrivateNodeHasher, p6, p3)
    values = np.random.default_rng(n).integers(-(1 << 15), 1 << 15, n).tolist()
    total = hasher.tensorHash.estimate_gas_cost(values, 16, sender=owner)
    data = bytes(hasher.tensorHash.as_transaction(values, 16, sender=owner).data)
    zeros = data.count(0)
    execution = total - 21_000 - 4 * zeros - 16 * (len(data) - zeros)
    estimate = tensor_hash_gas(TensorSpec((n,), DType.INT16, 8, 5))
    print(f"\ntensorHash of {n} int16: execution {execution:,} gas, estimate {estimate:,}")
    assert execution <= estimate <= LOOSENESS * execution + SLACK


def test_registration_refuses_an_over_bound_model_before_any_transaction(protocol, owner):
    """registration.register checks the moves first: a conv 3x3x128 node (~18 M gas per step) is refused naming
    node 0, and the registry records nothing."""
    registry, _ = protocol
    rng = np.random.default_rng(3)
    x = _ints(rng, (1, 128, 8, 8), -128, 128, DType.INT8)
    w = (_ints(rng, (4, 128, 3, 3), -128, 128, DType.INT8), _spec((4, 128, 3, 3), DType.INT8, 6, 12))
    model = Case("conv 3x3x128", OpCode.CONV2D, x, _spec((1, 128, 8, 8), DType.INT8, 4), [w],
                 _spec((1, 4, 8, 8), DType.INT8, 4), (1, 1, 1, 1)).model()
    assert step_gas(model, 0) > MAX_MOVE_GAS
    before = registry.modelCount()
    nonce = owner.nonce
    with pytest.raises(MoveGasError, match=r"node 0 \(CONV2D\) step: [\d,]+ gas"):
        register({"ModelRegistry": registry}, model, 10**15, owner.address, owner)
    assert registry.modelCount() == before and owner.nonce == nonce
