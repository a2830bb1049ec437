"""Tensor roots, chunking and element-range proofs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offchain.commit import (
    EMPTY_ROOT,
    ChunkSizeError,
    ElementProof,
    IndexOutOfRangeError,
    UnsupportedDtypeError,
    check_chunk_bytes,
    chunk_count,
    decode_elements,
    element_chunk_span,
    leaf_hashes,
    pack_tensor,
    tensor_root,
    tensor_tree,
    verify_elements,
)
from offchain.commit import chunks as chunks_module

from .naive import keccak_ref, naive_tensor_root

INT_DTYPES = [np.int8, np.int16, np.int32]


def random_tensor(dtype, shape, seed=0):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("chunk_bytes", [32, 64, 256])
@pytest.mark.parametrize("shape", [(1,), (7,), (32,), (3, 11), (4, 8, 8), (100,)])
def test_tensor_root_matches_naive(dtype, chunk_bytes, shape):
    arr = random_tensor(dtype, shape)
    assert tensor_root(arr, chunk_bytes) == naive_tensor_root(pack_tensor(arr), chunk_bytes)


def test_zero_size_tensor_root_is_empty_root():
    for shape in [(0,), (5, 0)]:
        for dtype in INT_DTYPES:
            assert tensor_root(np.zeros(shape, dtype), 32) == EMPTY_ROOT
    assert tensor_tree(np.zeros((0,), np.int8), 64).root == EMPTY_ROOT


def test_last_chunk_is_zero_padded():
    arr = np.array([1, 2, 3], dtype=np.int8)
    assert tensor_root(arr, 32) == keccak_ref(b"\x01\x02\x03" + bytes(29))


def test_chunk_size_validation():
    for bad in [0, 16, 31, 48, 100, 3 * 1024, -32, 32.0]:
        with pytest.raises(ChunkSizeError, match="power of two >= 32"):
            check_chunk_bytes(bad)
    assert check_chunk_bytes(32) == 32 and check_chunk_bytes(np.int64(1 << 16)) == 1 << 16
    with pytest.raises(ChunkSizeError):
        check_chunk_bytes(True)
    with pytest.raises(ChunkSizeError):
        tensor_root(np.zeros(4, np.int8), 48)
    assert chunk_count(0, 32) == 0 and chunk_count(1, 32) == 1 and chunk_count(64, 32) == 2


def test_unsupported_dtype_rejected_by_tensor_root():
    with pytest.raises(UnsupportedDtypeError):
        tensor_root(np.zeros(4, np.float32), 32)


def test_threaded_leaf_hashing_matches_single_thread(monkeypatch):
    data = random_tensor(np.int8, (3 * 4096 + 100,)).tobytes()
    single = leaf_hashes(data, 2048, workers=1)
    monkeypatch.setattr(chunks_module, "PARALLEL_MIN_BYTES", 1)
    assert leaf_hashes(data, 2048, workers=2) == single
    assert leaf_hashes(data, 2048, workers=3) == single
    assert single[-32:] == keccak_ref(data[6 * 2048:] + bytes(2048 - 100))


@pytest.mark.parametrize(
    ("start", "count", "width", "chunk_bytes", "span"),
    [
        (0, 1, 1, 32, (0, 1)),
        (31, 2, 1, 32, (0, 2)),
        (32, 32, 1, 32, (1, 2)),
        (15, 2, 2, 32, (0, 2)),
        (16, 1, 2, 32, (1, 2)),
        (7, 1, 4, 32, (0, 1)),
        (8, 9, 4, 32, (1, 3)),
        (100, 4096, 1, 4096, (0, 2)),
    ],
)
def test_element_chunk_span(start, count, width, chunk_bytes, span):
    assert element_chunk_span(start, count, width, chunk_bytes) == span


def test_element_chunk_span_rejects_empty_ranges():
    with pytest.raises(IndexOutOfRangeError):
        element_chunk_span(0, 0, 1, 32)
    with pytest.raises(IndexOutOfRangeError):
        element_chunk_span(-1, 1, 1, 32)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_every_element_range_round_trips(dtype):
    arr = random_tensor(dtype, (5, 9), seed=3)
    flat = arr.reshape(-1)
    t = tensor_tree(arr, 32)
    for start in range(flat.size):
        for count in range(1, min(20, flat.size - start) + 1):
            proof = t.prove_elements(start, count)
            assert verify_elements(t.root, dtype, flat.size, 32, proof)
            assert np.array_equal(decode_elements(proof, dtype, 32), flat[start:start + count])


def test_element_proof_tampering_rejected():
    arr = random_tensor(np.int16, (300,), seed=5)
    t = tensor_tree(arr, 64)
    numel = arr.size
    proof = t.prove_elements(40, 50)  # bytes 80..180: chunks 1..2
    assert proof.first_chunk == 1 and len(proof.chunks) == 2
    assert verify_elements(t.root, np.int16, numel, 64, proof)

    def with_(**kw):
        fields = dict(start=proof.start, count=proof.count, first_chunk=proof.first_chunk,
                      chunks=proof.chunks, siblings=proof.siblings)
        fields.update(kw)
        return ElementProof(**fields)

    bad_chunk = bytearray(proof.chunks[1])
    bad_chunk[5] ^= 1
    cases = [
        with_(chunks=(proof.chunks[0], bytes(bad_chunk))),
        with_(chunks=proof.chunks[:1]),
        with_(chunks=proof.chunks + (t.chunk(3),)),
        with_(chunks=(proof.chunks[0], proof.chunks[1][:-1])),
        with_(first_chunk=2),
        with_(start=0),          # claims other elements: span differs
        with_(start=80),
        with_(count=numel),      # range past the end
        with_(siblings=proof.siblings[:-1]),
        with_(siblings=(bytes(32),) + proof.siblings[1:]),
    ]
    for bad in cases:
        assert not verify_elements(t.root, np.int16, numel, 64, bad), bad
    # same chunks, decoded at a shifted start inside the same span: still verifies, but other values
    shifted = with_(start=41, count=49)
    assert verify_elements(t.root, np.int16, numel, 64, shifted)
    assert np.array_equal(decode_elements(shifted, np.int16, 64), arr[41:90])
    assert not verify_elements(t.root, np.int16, numel + 400, 64, proof), "wrong tensor size"
    assert not verify_elements(t.root, np.int8, numel, 64, proof), "wrong dtype"


def test_prove_elements_rejects_out_of_range():
    t = tensor_tree(np.arange(10, dtype=np.int8), 32)
    for start, count in [(0, 0), (-1, 2), (5, 6), (10, 1)]:
        with pytest.raises(IndexOutOfRangeError):
            t.prove_elements(start, count)
    with pytest.raises(IndexOutOfRangeError):
        t.chunk(1)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(dtype=st.sampled_from(INT_DTYPES), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=12)),
    st.sampled_from([32, 64, 128]),
    st.data(),
)
def test_element_proof_property(arr, chunk_bytes, data):
    flat = arr.reshape(-1)
    t = tensor_tree(arr, chunk_bytes)
    assert t.root == naive_tensor_root(pack_tensor(arr), chunk_bytes)
    start = data.draw(st.integers(0, flat.size - 1))
    count = data.draw(st.integers(1, flat.size - start))
    proof = t.prove_elements(start, count)
    assert verify_elements(t.root, arr.dtype, flat.size, chunk_bytes, proof)
    assert np.array_equal(decode_elements(proof, arr.dtype, chunk_bytes), flat[start:start + count])
