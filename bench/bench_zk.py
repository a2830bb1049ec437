"""opp/ai proving and verification: LoReFT on Llama-2-7B shapes, on-chain verifier gas, digits-mlp vs EZKL.

Run: ``python -m bench.bench_zk`` (writes ``bench/results/zk.json``);
``--interventions N`` proves N LoReFT interventions instead of 32, ``--quick``
shrinks d to 512 (smoke run; figures then marked in their notes).

Cases, each measured here in one run:
* ``loreft-7b``: one LoReFT intervention (d = 4096, r = 4, int16 hidden state,
  int8 R/W, weight frac 7) as a Groth16 circuit (groth16py, arkworks, one
  core): ``constraints``; ``prove_s`` = median of the sequential proofs
  (native witness + proof); ``prove_s_total_32`` = their sum over 32
  interventions with distinct weights and hidden states; ``peak_mb`` = peak
  RSS of the prover process (loading the proving key included, setup not:
  setup runs in its own process once and is cached under build/zk/);
  ``prove_s_total_32_all_cores`` = wall time of the same 32 proofs on one
  thread per core sharing the loaded key (``prover.prove_all``), with its
  ``peak_mb_all_cores``.
* ``verify``: gas on anvil for the proofs of ``loreft-7b``: our
  Groth16Registry.verify beside the snarkjs-exported verifier (snarkjs'
  template rendered with the same key) on the same proof, and verifyBatch
  over 32 proofs. ``*_gas`` = gasUsed of a transaction calling the verifier
  directly (21,000 intrinsic + calldata included); ``*_exec_gas``
  subtracts the intrinsic cost and calldata, i.e. what the call costs inside
  a caller such as the oracle.
* ``digits-mlp-private``: the trained digits MLP (64-64-32-10). ``prove_s``:
  all three LINEAR layers private (one proof each, ReLU public), sum of the
  three proofs; ``prove_s_split``: only the last layer private; beside
  ``ezkl_prove_s``: the same float model through EZKL 23 (Halo2/KZG, params
  private but NOT hashed, unlike our Poseidon commitments (hashing needs 2^19
  rows here), input/output public, SRS generated locally and cached).
* ``reveal``: gas of Poseidon-hashing one revealed 4096-value int16 tensor on-chain
  (PrivateNodeHasher.tensorHash, what a dispute on a 4096-wide private node pays
  per tensor) and of one circomlibjs Poseidon6 call.
``--cases`` reruns some cases; the others' results already in zk.json are kept.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from bench._results import RESULTS_DIR, Result, write_results
from offchain.zk.private import LoreftDescriptor, descriptor_hash
from offchain.zk.prover import key_dir, prove, prove_all, setup, verify

SEED = 4096
LOREFT_7B = LoreftDescriptor(rows=1, d=4096, r=4, h_bits=16, shift=7)
LOREFT_QUICK = LoreftDescriptor(rows=1, d=512, r=4, h_bits=16, shift=7)


def loreft_operands(desc: LoreftDescriptor, i: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Intervention i's hidden state and weights (PCG64 seeded by (SEED, i)): ~N(0, 1) at frac 8, R/W ~N(0, 0.2)."""
    rng = np.random.default_rng((SEED, i))
    h = np.clip(np.round(rng.normal(0, 256, (desc.rows, desc.d))), -32768, 32767).astype(np.int16)
    r = np.clip(np.round(rng.normal(0, 25, (desc.r, desc.d))), -128, 127).astype(np.int8)
    w = np.clip(np.round(rng.normal(0, 25, (desc.r, desc.d))), -128, 127).astype(np.int8)
    b = rng.integers(-(1 << 14), 1 << 14, desc.r).astype(np.int32)
    return h, [r, w, b]


def _child(mode: str, desc: LoreftDescriptor, n: int, out: Path) -> dict:
    """Run this module's ``_worker`` in a fresh process (so its peak RSS is the prover's alone)."""
    cmd = [sys.executable, "-m", "bench.bench_zk", "--worker", mode, "--d", str(desc.d),
           "--interventions", str(n), "--out", str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def worker(mode: str, desc: LoreftDescriptor, n: int, out: Path) -> None:
    """Child process: ``setup`` (cache the keys), ``prove`` (n sequential interventions) or ``prove-cores``
    (the same n on one thread per core)."""
    if mode == "setup":
        t0 = time.perf_counter()
        keys = setup(desc)
        out.write_text(json.dumps({"constraints": keys.n_constraints, "setup_or_load_s": time.perf_counter() - t0,
                                   "meta": json.loads((keys.folder / "meta.json").read_text())}))
        return
    t0 = time.perf_counter()
    keys = setup(desc)
    keys.load_pk()                  # now (lazy otherwise), so its time is not counted in the first proof
    load_s = time.perf_counter() - t0
    if mode == "prove-cores":
        jobs = [(keys, desc, *loreft_operands(desc, i)) for i in range(n)]
        t = time.perf_counter()
        done = prove_all(jobs)        # one thread per core, sharing the loaded key
        wall = time.perf_counter() - t
        assert all(verify(keys.vk, p.proof, [p.signal]) for p in done), "a parallel proof does not verify"
        out.write_text(json.dumps({"wall_s": wall, "workers": os.cpu_count(), "load_s": load_s,
                                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    times, proofs = [], []
    for i in range(n):
        h, weights = loreft_operands(desc, i)
        t = time.perf_counter()
        p = prove(keys, desc, h, weights)
        times.append(time.perf_counter() - t)
        assert verify(keys.vk, p.proof, [p.signal]), f"intervention {i}: proof does not verify"
        proofs.append({"proof": p.proof.hex(), "signal": str(p.signal)})
        print(f"  intervention {i}: {times[-1]:.1f} s", flush=True)
    out.write_text(json.dumps({"times": times, "load_s": load_s, "proofs": proofs, "vk": keys.vk.to_json(),
                               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def bench_loreft(desc: LoreftDescriptor, n: int, tmp: Path, note: str) -> tuple[list[Result], dict]:
    s = _child("setup", desc, 0, tmp / "setup.json")
    print(f"loreft: {s['constraints']} constraints, keys in {key_dir() / descriptor_hash(desc)}", flush=True)
    p = _child("prove", desc, n, tmp / "prove.json")
    c = _child("prove-cores", desc, n, tmp / "prove-cores.json")
    times = p["times"]
    total = sum(times) if n == 32 else statistics.median(times) * 32
    total_note = (f"sum of 32 sequential proofs; key load {p['load_s']:.1f} s not included" if n == 32 else
                  f"32 x median of {n} proofs (only {n} run)")
    case = "loreft-7b" + ("" if desc.d == 4096 else f" (quick, d={desc.d})")
    res = [
        Result(case, "constraints", s["constraints"], "constraints", note=note),
        Result(case, "setup_s", s["meta"]["setup_s"], "s", note="single-party dev setup, once per shape (cached)"),
        Result(case, "prove_s", statistics.median(times), "s", note=f"median of {n}: native witness + groth16py proof, 1 core"),
        Result(case, "prove_s_total_32", total, "s", compared_with="target", baseline=60.0, note=total_note),
        Result(case, "peak_mb", p["peak_mb"], "MB", compared_with="target", baseline=3000.0,
               note="peak RSS of the prover process (proving key loaded, witness built natively)"),
        Result(case, f"prove_s_total_{n}_all_cores", c["wall_s"], "s", compared_with=f"{n} sequential proofs",
               baseline=sum(times),
               note=f"wall time of the same {n} proofs on {c['workers']} threads sharing one loaded key "
                    "(prover.prove_all, as the submitter proves a request's private nodes)"),
        Result(case, "peak_mb_all_cores", c["peak_mb"], "MB", compared_with="target", baseline=3000.0,
               note=f"peak RSS of the {c['workers']}-thread prover process"),
    ]
    return res, p


def _calldata_gas(data: bytes) -> int:
    return sum(4 if b == 0 else 16 for b in data)


def bench_verify(p: dict) -> list[Result]:
    """Gas of our registry (single, batch of all proofs) beside snarkjs' verifier, on anvil."""
    import ape
    from ape.contracts import ContractContainer

    from offchain.zk.chain import encode_vk
    from offchain.zk.evm_artifacts import contract_type, snarkjs_verifier
    from offchain.zk.prover import proof_words

    proofs = [bytes.fromhex(x["proof"]) for x in p["proofs"]]
    signals = [int(x["signal"]) for x in p["proofs"]]
    with ape.networks.parse_network_choice("ethereum:local:foundry"):
        owner = ape.accounts.test_accounts[0]
        reg = owner.deploy(ape.project.Groth16Registry, owner)
        reg.registerKey(encode_vk(p["vk"]), sender=owner)
        snark = owner.deploy(ContractContainer(contract_type(snarkjs_verifier(p["vk"]))))
        w = proof_words(proofs[0])
        args_snark = (w[0:2], [w[2:4], w[4:6]], w[6:8], [signals[0]])
        assert reg.verify(1, [signals[0]], proofs[0]) and snark.verifyProof(*args_snark)
        n = len(proofs)
        assert reg.verifyBatch(1, [[s] for s in signals], proofs)

        def measured(method, *args) -> tuple[int, int]:
            # A transaction with ample gas, not eth_estimateGas: the verifiers return false (they do
            # not revert) when a precompile runs out of gas, so estimateGas's search finds a gas
            # limit at which verification fails instead of its cost.
            data = bytes(method.as_transaction(*args, sender=owner).data)
            web3 = ape.chain.provider.web3
            tx = web3.eth.send_transaction({"from": owner.address, "to": method.contract.address,
                                            "data": data, "gas": 10_000_000})
            gas = web3.eth.wait_for_transaction_receipt(tx)["gasUsed"]
            return gas, gas - 21000 - _calldata_gas(data)

        ours, ours_exec = measured(reg.verify, 1, [signals[0]], proofs[0])
        theirs, theirs_exec = measured(snark.verifyProof, *args_snark)
        batch, batch_exec = measured(reg.verifyBatch, 1, [[s] for s in signals], proofs)
    side = "snarkjs-exported verifier, same proof"
    return [
        Result("verify", "verify_gas_single", ours, "gas", compared_with=side, baseline=theirs,
               note="gasUsed of a transaction calling verify directly (21000 + calldata included); target 210,000"),
        Result("verify", "snarkjs_verify_gas", theirs, "gas", note="snarkjs 0.7.6 template, same key and proof"),
        Result("verify", "verify_gas_single_exec", ours_exec, "gas", compared_with=side, baseline=theirs_exec,
               note="minus intrinsic 21000 and calldata: cost inside a caller"),
        Result("verify", f"verify_gas_batch{n}", batch, "gas", compared_with=f"{n} x single", baseline=n * ours,
               note=f"{n} loreft proofs, one key; target 1,500,000 for 32"),
        Result("verify", f"verify_gas_batch{n}_exec", batch_exec, "gas", compared_with=f"{n} x single exec",
               baseline=n * ours_exec),
    ]


def bench_reveal() -> list[Result]:
    """What a dispute on a 4096-wide private node pays to Poseidon-hash one revealed int16 tensor on-chain
    (PrivateNodeHasher.tensorHash), and one circomlibjs Poseidon6 call, as transactions on anvil."""
    import ape
    from ape.contracts import ContractContainer

    from offchain.zk.evm_artifacts import contract_type, poseidon_artifact
    from offchain.zk.gadgets import per_element
    from offchain.zk.poseidon import TENSOR_RATE, chain_blocks
    from offchain.zk.private import tensor_hash

    values = np.random.default_rng(SEED).integers(-(1 << 15), 1 << 15, 4096)
    with ape.networks.parse_network_choice("ethereum:local:foundry"):
        owner = ape.accounts.test_accounts[0]
        p6 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(6))))
        p3 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(3))))
        hasher = owner.deploy(ape.project.PrivateNodeHasher, p6, p3)
        assert hasher.tensorHash(values.tolist(), 16) == tensor_hash(values, 16)
        web3 = ape.chain.provider.web3

        def tx_gas(method, *args) -> tuple[int, int]:
            data = bytes(method.as_transaction(*args, sender=owner).data)
            tx = web3.eth.send_transaction({"from": owner.address, "to": method.contract.address, "data": data,
                                            "gas": 30_000_000})
            gas = web3.eth.wait_for_transaction_receipt(tx)["gasUsed"]
            return gas, gas - 21000 - _calldata_gas(data)

        tensor, tensor_exec = tx_gas(hasher.tensorHash, values.tolist(), 16)
        single, single_exec = tx_gas(p6.poseidon, [1, 2, 3, 4, 5, 6])
    calls = chain_blocks(-(-values.size // per_element(16)), TENSOR_RATE)
    return [
        Result("reveal", "tensor_hash_gas_4096_int16", tensor, "gas", compared_with="block gas limit",
               baseline=30_000_000, note=f"tx; {tensor_exec} without intrinsic and calldata; {calls} Poseidon6 calls"),
        Result("reveal", "poseidon6_call_gas", single_exec, "gas",
               note=f"circomlibjs Poseidon6, inside a caller ({single} as a tx)"),
    ]


def bench_digits(tmp: Path) -> list[Result]:
    """digits-mlp: all LINEARs private vs only the last; EZKL on the same float model."""
    from offchain.engine.executor import run
    from offchain.models import digits
    from offchain.zk.model_proofs import descriptors, prove_private
    from offchain.zk.private import PrivateSpec

    data = digits.load_split()
    module = digits.train("digits-mlp", data)
    model = digits.compile_digits(module, data, "digits-mlp")
    linears = tuple(i for i, node in enumerate(model.graph.nodes) if node.op == 1)
    pixels = data.test_pixels[:1]
    trace = run(model, [pixels.astype(np.int8)])
    results = []
    spec_all, spec_last = PrivateSpec(linears), PrivateSpec(linears[-1:])
    descs = descriptors(model, spec_all)
    keys = {d: setup(d) for d in descs.values()}
    constraints = sum(keys[d].n_constraints for d in descs.values())
    timings = {}
    for name, spec in (("all", spec_all), ("split", spec_last)):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            prove_private(model, spec, trace, keys)
            runs.append(time.perf_counter() - t)
        timings[name] = statistics.median(runs)
    ezkl_s, ezkl_note = ezkl_prove(module, pixels, tmp)
    results.append(Result("digits-mlp-private", "prove_s", timings["all"], "s", compared_with="EZKL 23.0.5 (whole model)",
                          baseline=ezkl_s, note=f"3 private LINEARs, {constraints} constraints, median of 3; {ezkl_note}"))
    results.append(Result("digits-mlp-private", "ezkl_prove_s", ezkl_s, "s", note=ezkl_note))
    results.append(Result("digits-mlp-private", "prove_s_split", timings["split"], "s",
                          compared_with="all layers private", baseline=timings["all"],
                          note=f"only node {linears[-1]} private; median of 3"))
    return results


def ezkl_prove(module, pixels: np.ndarray, tmp: Path) -> tuple[float, str]:
    """Seconds for one EZKL proof of ``module`` on one image (setup excluded), and a note on the settings."""
    import ezkl
    import torch

    from offchain.models.digits import to_real

    x = to_real(pixels)
    onnx_path, data_path = tmp / "mlp.onnx", tmp / "input.json"
    torch.onnx.export(module, (x,), str(onnx_path), input_names=["x"], output_names=["y"], dynamo=False)
    data_path.write_text(json.dumps({"input_data": [x.reshape(-1).tolist()]}))
    args = ezkl.PyRunArgs()
    # Params "private" (a witness, not hashed): "hashed" needs 269k rows (2^19) for this MLP, whose SRS
    # and setup do not fit this machine's time budget (ZK-FACTS: 64->64 hashed alone proves in 59 s, 5.4 GB).
    args.input_visibility, args.output_visibility, args.param_visibility = "public", "public", "private"
    settings, compiled = tmp / "settings.json", tmp / "mlp.ezkl"
    ezkl.gen_settings(str(onnx_path), str(settings), py_run_args=args)
    ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings))
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    srs = key_dir() / "ezkl" / f"kzg{logrows}.srs"  # a local dev SRS, generated once (~3 min at 2^17)
    if not srs.exists():
        srs.parent.mkdir(parents=True, exist_ok=True)
        ezkl.gen_srs(str(srs), logrows)
    vk, pk, wit, proof = (tmp / n for n in ("vk.key", "pk.key", "wit.json", "proof.json"))
    ezkl.setup(str(compiled), str(vk), str(pk), str(srs))
    ezkl.gen_witness(str(data_path), str(compiled), str(wit))
    t = time.perf_counter()
    ezkl.prove(str(wit), str(compiled), str(pk), str(proof), str(srs))
    took = time.perf_counter() - t
    assert ezkl.verify(str(proof), str(settings), str(vk), str(srs))
    return took, f"EZKL 23.0.5 logrows={logrows}, params private (not hashed), local SRS, one proof"


@click.command()
@click.option("--interventions", default=32, show_default=True, help="LoReFT interventions to prove sequentially.")
@click.option("--quick", is_flag=True, help="d = 512 instead of 4096 (smoke run).")
@click.option("--cases", default="loreft,digits,reveal", show_default=True,
              help="Comma list of loreft (loreft-7b + verify), digits and reveal; other cases in zk.json are kept.")
@click.option("--worker", type=click.Choice(["setup", "prove", "prove-cores"]), default=None, hidden=True)
@click.option("--d", default=4096, hidden=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, hidden=True)
def cli(interventions: int, quick: bool, cases: str, worker: str | None, d: int, out: Path | None) -> None:
    if worker:
        desc = LOREFT_7B if d == 4096 else LoreftDescriptor(rows=1, d=d, r=4, h_bits=16, shift=7)
        globals()["worker"](worker, desc, interventions, out)
        return
    desc = LOREFT_QUICK if quick else LOREFT_7B
    chosen = set(cases.split(","))
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        if "loreft" in chosen:
            loreft, proofs = bench_loreft(desc, interventions, tmp, note="quick run" if quick else "Llama-2-7B shape")
            results += loreft + bench_verify(proofs)
        if "digits" in chosen:
            results += bench_digits(tmp)
        if "reveal" in chosen:
            results += bench_reveal()
    write_results("zk", _kept(results) + results)


def _kept(new: list[Result]) -> list[Result]:
    """Results of cases not rerun now, from an earlier zk.json (so a partial rerun updates only its cases)."""
    path = RESULTS_DIR / "zk.json"
    if not path.exists():
        return []
    rerun = {r.case for r in new}
    return [Result(**r) for r in json.loads(path.read_text())["results"] if r["case"] not in rerun]


if __name__ == "__main__":
    cli()
