"""Groth16 setup, proving and verification for private nodes (groth16py, arkworks), keys cached per circuit.

Keys live in ``build/zk/<descriptor hash>/`` (``circuit.r1cs``, ``pk.bin``,
``vk.bin``, ``vk.json`` in snarkjs' format, ``meta.json``). The circuit's
structure depends only on the descriptor, so setup builds it from zero values.

Setup here is a single-party DEV setup reproducible from a seed
(``dev_setup.py``: groth16py's setup run with its OS randomness replaced by a
ChaCha20 stream keyed by the seed and the circuit; default seed public, set
$ZK_DEV_SEED to change it, ``ZK_DEV_SEED=os`` for OS randomness). Anyone who
knows the seed can forge proofs, so dev keys are for tests and demos only. A
production key comes from a multi-party ceremony instead: run ``snarkjs
powersoftau`` (or reuse a public phase-1 transcript such as the
Hermez/perpetual powers of tau),
``snarkjs groth16 setup build/zk/<h>/circuit.r1cs pot.ptau c0.zkey``, one
``snarkjs zkey contribute`` per participant and a final ``zkey beacon``, then
``groth16py.import_zkey(final.zkey)`` replaces ``pk.bin`` and
``snarkjs zkey export verificationkey`` replaces ``vk.json``; the circuit is
sound if any one participant destroyed their contribution.

Who calls: the submitter (prove), tests and the chain helpers (verify, vk).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import groth16py
import numpy as np

from offchain.zk.circuits import Built, build
from offchain.zk.dev_setup import DevSetupError, dev_seed, save_keys, seeded_setup
from offchain.zk.private import Descriptor, LinearDescriptor, descriptor_hash, io_bits, weight_bits

REPO = Path(__file__).resolve().parents[2]
#: Where keys are cached; override with $ZK_BUILD_DIR.
DEFAULT_KEY_DIR = REPO / "build" / "zk"
SNARKJS = REPO / "node_modules" / ".bin" / "snarkjs"


class ProofError(RuntimeError):
    """Setup or proving failed (e.g. the witness does not satisfy the circuit)."""


class Keys:
    """A circuit's keys: ``vk``, ``pk`` (prover only; loaded from the folder on first use, since loading a large
    proving key takes longer than a proof) and the folder they are cached in."""

    def __init__(self, folder: Path, vk: groth16py.VerifyingKey, n_constraints: int,
                 pk: groth16py.ProvingKey | None = None):
        self.folder, self.vk, self.n_constraints, self._pk = folder, vk, n_constraints, pk

    @property
    def pk(self) -> groth16py.ProvingKey:
        return self.load_pk()

    def load_pk(self) -> groth16py.ProvingKey:
        """The proving key, loaded now if it was not yet (a prover process does this at start)."""
        if self._pk is None:
            self._pk = groth16py.ProvingKey.load(str(self.folder / "pk.bin"))
        return self._pk


@dataclass
class Proof:
    """One private node's proof (256 bytes, Ethereum layout A, B, C) and what its public signal binds."""

    proof: bytes
    signal: int
    in_hash: int
    out_hash: int
    commitment: int
    output: np.ndarray


def key_dir() -> Path:
    return Path(os.environ.get("ZK_BUILD_DIR", DEFAULT_KEY_DIR))


def zero_operands(desc: Descriptor) -> tuple[np.ndarray, list[np.ndarray]]:
    """All-zero input and weights of the descriptor's shapes (the circuit's structure ignores values)."""
    x_bits, _ = io_bits(desc)
    x = np.zeros((desc.rows, desc.k if isinstance(desc, LinearDescriptor) else desc.d), dtype=np.int64)
    if isinstance(desc, LinearDescriptor):
        shapes = [(desc.n, desc.k)] + ([(desc.n,)] if desc.has_bias else [])
    else:
        shapes = [(desc.r, desc.d), (desc.r, desc.d), (desc.r,)]
    np_dt = {8: np.int8, 16: np.int16, 32: np.int32}
    return x.astype(np_dt[x_bits]), [np.zeros(s, dtype=np_dt[b]) for s, b in zip(shapes, weight_bits(desc))]


def setup(desc: Descriptor, folder: Path | None = None, seed: str | None = None) -> Keys:
    """Keys for ``desc``: loaded from the cache, else a dev setup written to it (see module docstring).
    ``seed`` defaults to ``dev_setup.dev_seed()`` (None there: OS randomness). A cached key made with another
    seed is replaced."""
    seed = seed if seed is not None else dev_seed()
    folder = folder or key_dir() / descriptor_hash(desc)
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("seed") == seed:
            return Keys(folder, groth16py.VerifyingKey.load(str(folder / "vk.bin")), meta["constraints"])
    folder.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)     # a partial setup never looks cached
    x, weights = zero_operands(desc)
    built = build(desc, x, weights)
    r1cs = built.cs.write_r1cs(folder / "circuit.r1cs")
    t0 = time.perf_counter()
    pk = None
    try:
        if seed is None:
            pk, vk = groth16py.setup(str(r1cs))
            save_keys(pk, vk, folder)
        else:
            seeded_setup(r1cs, folder, seed)
            vk = groth16py.VerifyingKey.load(str(folder / "vk.bin"))
    except DevSetupError as exc:
        raise ProofError(str(exc)) from exc
    except Exception as exc:  # groth16py raises its own SetupError family
        raise ProofError(f"setup of {desc} failed: {exc}") from exc
    meta = {"descriptor": repr(desc), "constraints": built.cs.n_constraints, "wires": built.cs.n_wires,
            "setup_s": round(time.perf_counter() - t0, 3), "backend": f"groth16py {groth16py.__version__}",
            "seed": seed,
            "ceremony": ("single-party dev setup, toxic waste from the OS RNG" if seed is None else
                         "single-party dev setup, toxic waste derived from the seed (offchain/zk/dev_setup.py)")}
    meta_path.write_text(json.dumps(meta, indent=2))
    return Keys(folder, vk, built.cs.n_constraints, pk)


def load_keys(desc: Descriptor, root: Path) -> Keys:
    """Keys for ``desc`` made elsewhere (a multi-party ceremony, see the module docstring), in the cache's layout:
    ``root/<descriptor hash>/`` holding ``vk.bin`` and ``pk.bin``. Nothing is set up. A folder whose
    ``meta.json`` records a dev setup (what ``setup`` writes) is refused: those keys are not from a ceremony."""
    folder = Path(root) / descriptor_hash(desc)
    missing = [name for name in ("vk.bin", "pk.bin") if not (folder / name).is_file()]
    if missing:
        raise ProofError(f"no keys for {desc} in {folder}: {', '.join(missing)} missing (a keys folder holds "
                         f"<descriptor hash>/vk.bin and pk.bin per circuit, the layout of build/zk)")
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if "dev setup" in str(meta.get("ceremony", "")):
        raise ProofError(f"{folder} holds a {meta['ceremony']} (seed {meta.get('seed')!r}), not keys from a "
                         f"ceremony: whoever knows its toxic waste can forge proofs")
    try:
        vk = groth16py.VerifyingKey.load(str(folder / "vk.bin"))
    except Exception as exc:  # groth16py raises its own error family
        raise ProofError(f"{folder / 'vk.bin'} is not a groth16py verifying key: {exc}") from exc
    return Keys(folder, vk, int(meta.get("constraints", 0)))


def prove_built(keys: Keys, built: Built) -> bytes:
    """Prove a built witness with ``keys``; raises ProofError if groth16py refuses it."""
    with tempfile.TemporaryDirectory() as tmp:
        wtns = built.cs.write_wtns(Path(tmp) / "w.wtns")
        try:
            return bytes(groth16py.prove_wtns(keys.pk, str(wtns)))
        except Exception as exc:
            raise ProofError(f"proving failed: {exc}") from exc


def prove(keys: Keys, desc: Descriptor, inputs: np.ndarray, weights: Sequence[np.ndarray]) -> Proof:
    """The submitter's call: witness from the engine's values (native, constraints skipped), then Groth16."""
    built = build(desc, inputs, weights, witness_only=True)
    return Proof(prove_built(keys, built), built.signal, built.in_hash, built.out_hash, built.commitment,
                 built.output)


def prove_all(jobs: Sequence[tuple[Keys, Descriptor, np.ndarray, Sequence[np.ndarray]]],
              workers: int | None = None) -> list[Proof]:
    """Prove many private nodes, ``workers`` at a time (default: one per core), in the order given.

    groth16py releases the GIL while proving and proves on one core, so threads sharing the loaded proving keys
    use every core without a second copy of a key in memory (the witness, built in Python, is the serial part)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [prove(*job) for job in jobs]
    for keys, *_ in jobs:
        keys.load_pk()                 # once, before the threads race to load it
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: prove(*job), jobs))


def verify(vk: groth16py.VerifyingKey, proof: bytes, signals: Sequence[int]) -> bool:
    """Off-chain verification (a few ms); False for any invalid proof or public signal."""
    try:
        return bool(groth16py.Verifier(vk).verify(proof, list(signals)))
    except Exception:
        return False


def proof_words(proof: bytes) -> list[int]:
    """The 8 uint256 words of a proof: A.x, A.y, B.x (imag, real), B.y (imag, real), C.x, C.y."""
    return [int.from_bytes(proof[i:i + 32], "big") for i in range(0, 256, 32)]


def to_snarkjs_proof(proof: bytes) -> dict:
    """snarkjs ``proof.json`` for an Ethereum-layout proof (snarkjs writes G2 coordinates real part first)."""
    w = [str(v) for v in proof_words(proof)]
    return {"pi_a": [w[0], w[1], "1"], "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
            "pi_c": [w[6], w[7], "1"], "protocol": "groth16", "curve": "bn128"}


def from_snarkjs_proof(proof: dict) -> bytes:
    """Ethereum-layout bytes of a snarkjs ``proof.json`` dict."""
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    words = [a[0], a[1], b[0][1], b[0][0], b[1][1], b[1][0], c[0], c[1]]
    return b"".join(int(v).to_bytes(32, "big") for v in words)


def snarkjs_verify(vk_json: str, proof: bytes, signals: Sequence[int]) -> bool:
    """Cross-check with ``snarkjs groth16 verify`` (Node; ~0.5 s)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "vk.json").write_text(vk_json)
        (t / "proof.json").write_text(json.dumps(to_snarkjs_proof(proof)))
        (t / "public.json").write_text(json.dumps([str(s) for s in signals]))
        res = subprocess.run([str(SNARKJS), "groth16", "verify", "vk.json", "public.json", "proof.json"],
                             cwd=t, capture_output=True, text=True)
        return res.returncode == 0 and "OK" in res.stdout
