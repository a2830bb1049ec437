"""Groth16 DEV setups reproducible from a seed.

groth16py's ``setup`` draws the toxic waste (tau, alpha, beta, gamma, delta) from the
OS RNG and offers no seed. We run it in a child process with ``seeded_rng.c``
preloaded: once activated, that library answers the process's ``getrandom`` calls
(libc function and raw syscall) from ChaCha20 keyed by

    key = sha256("voai-groth16-dev-setup" 0x00 seed 0x00 sha256(circuit.r1cs))

so the same seed and circuit give byte-identical ``pk.bin`` / ``vk.bin`` (the
stream depends on nothing else), and distinct circuits never share toxic waste. The library is compiled
on first use with the system C compiler into ``build/zk/`` (keyed by its source
hash).

DEV ONLY: whoever knows the seed can rebuild the toxic waste and forge proofs.
The default seed is public (it is in this file), which is right for tests and
demos and wrong for anything holding value; production keys come from a
multi-party ceremony (see ``prover.py``).

Child process entry: ``python -m offchain.zk.dev_setup <circuit.r1cs> <folder> <key hex>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIM_SOURCE = Path(__file__).with_name("seeded_rng.c")
#: The project's public dev seed (override with $ZK_DEV_SEED; "os" = unseeded OS randomness).
DEFAULT_SEED = "voai-dev-1"


class DevSetupError(RuntimeError):
    """The seeded setup could not run (no C compiler, the child failed)."""


def dev_seed() -> str | None:
    """The seed dev setups use: $ZK_DEV_SEED, else DEFAULT_SEED; None when $ZK_DEV_SEED is "os"."""
    seed = os.environ.get("ZK_DEV_SEED", DEFAULT_SEED)
    return None if seed == "os" else seed


def derive_key(seed: str, r1cs: Path) -> bytes:
    """The ChaCha20 key of a seeded setup of ``r1cs`` (see module docstring)."""
    circuit = hashlib.sha256(Path(r1cs).read_bytes()).digest()
    return hashlib.sha256(b"voai-groth16-dev-setup\x00" + seed.encode() + b"\x00" + circuit).digest()


def shim_path(build_dir: Path | None = None) -> Path:
    """The compiled interposer, built once per source version with ``cc``."""
    src = SHIM_SOURCE.read_bytes()
    out = (build_dir or REPO / "build" / "zk") / f"libseeded_rng-{hashlib.sha256(src).hexdigest()[:12]}.so"
    if out.exists():
        return out
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise DevSetupError("a seeded dev setup needs a C compiler (cc/gcc) to build offchain/zk/seeded_rng.c; "
                            "install one (Debian: gcc) or set ZK_DEV_SEED=os for an unseeded setup")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    res = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(SHIM_SOURCE), "-ldl", "-lpthread"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise DevSetupError(f"compiling {SHIM_SOURCE.name} failed:\n{res.stderr}")
    tmp.replace(out)
    return out


def seeded_setup(r1cs: Path, folder: Path, seed: str) -> None:
    """Writes ``pk.bin``, ``vk.bin``, ``vk.json`` of a setup of ``r1cs`` seeded by ``seed`` into ``folder``."""
    env = dict(os.environ, LD_PRELOAD=str(shim_path()), RAYON_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "offchain.zk.dev_setup", str(r1cs), str(folder),
                          derive_key(seed, r1cs).hex()], env=env, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise DevSetupError(f"seeded setup of {r1cs} failed:\n{res.stderr[-2000:]}")


def _child(r1cs: str, folder: str, key_hex: str) -> None:
    import ctypes

    import groth16py

    shim = next((p for p in os.environ.get("LD_PRELOAD", "").split() if "libseeded_rng" in p), None)
    if shim is None:
        raise SystemExit("the seeded RNG library is not preloaded (LD_PRELOAD)")
    lib = ctypes.CDLL(shim)          # the preloaded instance: the same state the interposed calls use
    key = bytes.fromhex(key_hex)
    lib.voai_seed_activate(ctypes.create_string_buffer(key, 32))
    save_keys(*groth16py.setup(r1cs), Path(folder))


def save_keys(pk, vk, folder: Path) -> None:
    """A key folder's files: ``pk.bin``, ``vk.bin`` and ``vk.json`` (snarkjs' verification_key.json)."""
    pk.save(str(folder / "pk.bin"))
    vk.save(str(folder / "vk.bin"))
    (folder / "vk.json").write_text(vk.to_json())


if __name__ == "__main__":
    _child(*sys.argv[1:4])
