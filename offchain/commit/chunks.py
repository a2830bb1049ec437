"""Cutting packed tensor bytes into fixed-size chunks and hashing them into Merkle leaves.

Rule (DESIGN.md section 3): the packed bytes are cut into chunks of
``chunk_bytes`` (a power of two, >= 32); the last chunk is zero-padded to full
length; leaf ``i`` = ``keccak256(chunk i)``. Zero bytes give zero chunks.

Large inputs with large chunks are hashed on several threads: the keccak
backend releases the GIL while it hashes an input of >= 2048 bytes, so two
cores hash two halves at once. Smaller chunks stay on one thread, where the
per-call Python overhead (which holds the GIL) would dominate.
"""

from __future__ import annotations

import operator
import os
from concurrent.futures import ThreadPoolExecutor

from offchain.commit.errors import ChunkSizeError
from offchain.commit.keccak import keccak256, keccak256_pieces

MIN_CHUNK_BYTES = 32

#: Recommended chunk size for weight tensors. Measured (bench/bench_commit.py,
#: 2 cores shared with other work): from 2 KiB up, committing runs at 0.7-1.2x
#: the speed of one raw keccak call over the same bytes (Llama-2-7B int8
#: weights, whole tree: 0.83-0.85x in three runs), while a one-step proof
#: reveals a 4096-int8 weight row as exactly one chunk and an 11008-int8 row
#: in at most 16 KiB of calldata (64 KiB chunks: 64 KiB and 128 KiB).
WEIGHT_CHUNK_BYTES = 4096

#: Recommended chunk size for activations (trace tensors). 32-byte chunks
#: commit at 0.03-0.07x raw keccak (one Python-level hash per 32 bytes plus as
#: many inner nodes), 256-byte chunks at 0.33-0.55x, 7-8x faster, while the one-step
#: proof grows by little: one 256-byte output chunk, and at most 2 * 255 bytes
#: of overhang per activation operand range; the tensor descent is also 3
#: levels shorter.
ACTIVATION_CHUNK_BYTES = 256

#: Below this many bytes, thread start-up costs more than it saves.
PARALLEL_MIN_BYTES = 1 << 22

#: Smallest chunk hashed on worker threads: the backend (hashlib-derived C code)
#: releases the GIL only for inputs of at least 2048 bytes.
PARALLEL_MIN_CHUNK_BYTES = 2048


def check_chunk_bytes(chunk_bytes: int) -> int:
    """Return ``chunk_bytes`` if it is a power of two >= 32, else raise :class:`ChunkSizeError`."""
    try:
        value = operator.index(chunk_bytes)  # ints and numpy integers; rejects floats and str
    except TypeError:
        value = -1
    if isinstance(chunk_bytes, bool) or value < MIN_CHUNK_BYTES or value & (value - 1):
        raise ChunkSizeError(
            f"chunk_bytes must be a power of two >= {MIN_CHUNK_BYTES}, got {chunk_bytes!r}"
        )
    return value


def chunk_count(num_bytes: int, chunk_bytes: int) -> int:
    """Number of chunks (= leaves) for ``num_bytes`` packed bytes: ``ceil(num_bytes / chunk_bytes)``."""
    check_chunk_bytes(chunk_bytes)
    return -(-num_bytes // chunk_bytes)


def chunk(data: bytes | memoryview, index: int, chunk_bytes: int) -> bytes:
    """Chunk ``index`` of ``data``, zero-padded to ``chunk_bytes``."""
    piece = bytes(data[index * chunk_bytes:(index + 1) * chunk_bytes])
    return piece + bytes(chunk_bytes - len(piece))


def leaf_hashes(data: bytes | bytearray | memoryview, chunk_bytes: int,
                workers: int | None = None) -> bytes:
    """Concatenated 32-byte leaf hashes of ``data`` cut into ``chunk_bytes`` chunks.

    ``workers`` threads share the full chunks (default: CPU count, used only
    for inputs of at least :data:`PARALLEL_MIN_BYTES` and chunks of at least
    :data:`PARALLEL_MIN_CHUNK_BYTES`). Returns
    ``32 * chunk_count(len(data), chunk_bytes)`` bytes.
    """
    check_chunk_bytes(chunk_bytes)
    view = memoryview(data).cast("B")
    full = len(view) // chunk_bytes
    if workers is None:
        workers = os.cpu_count() or 1
    workers = max(1, min(workers, full))
    if chunk_bytes < PARALLEL_MIN_CHUNK_BYTES:
        # per-call overhead dominates small chunks; the backend is fastest on bytes slices,
        # and the copy costs far less than hashing 32..1024-byte pieces one call each
        head = keccak256_pieces(view.tobytes(), chunk_bytes, 0, full)
    elif workers == 1 or len(view) < PARALLEL_MIN_BYTES:
        head = keccak256_pieces(view, chunk_bytes, 0, full)
    else:
        bounds = [full * k // workers for k in range(workers + 1)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(lambda k: keccak256_pieces(view, chunk_bytes, bounds[k], bounds[k + 1]),
                             range(workers))
            head = b"".join(parts)
    if len(view) % chunk_bytes:
        head += keccak256(chunk(view, full, chunk_bytes))
    return head
