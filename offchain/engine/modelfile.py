"""The model file: one file holding a graph and its weights, loadable with numpy only.

Layout (all integers big-endian)::

    offset 0    8 bytes   magic b"VOAIMODL"
    offset 8    uint32    format version (FORMAT_VERSION = 1)
    offset 12   uint32    H = header length in bytes
    offset 16   H bytes   header, UTF-8 JSON (below)
    then zero padding to the next multiple of ALIGN (64) bytes = data start
    data        weight j at data start + header.weights[j].offset, nbytes bytes,
                row-major big-endian two's complement (exactly pack_tensor's
                bytes, so tensor roots hash the file's bytes), each 64-aligned

Header JSON::

    {"format": 1,
     "meta": {...},                                    free-form, not committed
     "inputs":  [SPEC, ...],
     "weights": [SPEC + {"offset": int, "nbytes": int}, ...],
     "nodes":   [{"op": int, "inputs": [[kind, index], ...], "params": [int, ...],
                  "output": SPEC, "source": str}, ...],
     "roots":   {"graph": hex, "weights": hex, "model_id": hex}   (informational)}
    SPEC = {"shape": [int, ...], "dtype": "int8"|"int16"|"int32", "frac": int,
            "chunk_log2": int, "name": str}

Loading never imports torch. The file is memory-mapped read-only: int8 weights (big-endian is native for one
byte) are read-only views of the mapping, never copied, so a model's weights cost page cache, not private
memory, and only the pages a forward touches are read; int16/int32 weights are converted to native byte order
(a copy).
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import EngineError, ModelFileError
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model

MAGIC = b"VOAIMODL"
FORMAT_VERSION = 1
ALIGN = 64
_PREFIX = struct.Struct(">8sII")


def _spec_json(spec: TensorSpec) -> dict:
    return {"shape": list(spec.shape), "dtype": spec.dtype.name.lower(), "frac": spec.frac,
            "chunk_log2": spec.chunk_log2, "name": spec.name}


def _spec_from_json(obj: dict, where: str) -> TensorSpec:
    try:
        return TensorSpec(tuple(int(d) for d in obj["shape"]), DType.parse(obj["dtype"]), int(obj["frac"]),
                          int(obj["chunk_log2"]), str(obj.get("name", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: bad tensor spec {obj!r}: {exc}") from None


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def save_model(model: Model, path: str | Path, roots: dict[str, str] | None = None) -> Path:
    """Write ``model`` to ``path`` (validated first). ``roots`` (hex strings) are stored for humans."""
    model.validate()
    graph = model.graph
    weights_json, offset = [], 0
    for spec in graph.weights:
        weights_json.append({**_spec_json(spec), "offset": offset, "nbytes": spec.nbytes})
        offset = _align(offset + spec.nbytes)
    header = {
        "format": FORMAT_VERSION,
        "meta": model.meta,
        "inputs": [_spec_json(s) for s in graph.inputs],
        "weights": weights_json,
        "nodes": [{"op": int(n.op), "inputs": [[int(r.kind), r.index] for r in n.inputs],
                   "params": list(n.params), "output": _spec_json(n.output), "source": n.source}
                  for n in graph.nodes],
        "roots": roots or {},
    }
    blob = json.dumps(header, separators=(",", ":")).encode()
    path = Path(path)
    with open(path, "wb") as fh:
        fh.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(blob)))
        fh.write(blob)
        fh.write(b"\0" * (_align(_PREFIX.size + len(blob)) - _PREFIX.size - len(blob)))
        for spec, arr, entry in zip(graph.weights, model.weights, weights_json):
            data = np.ascontiguousarray(arr.astype(spec.dtype.big_endian, copy=False)).tobytes()
            fh.write(data)
            fh.write(b"\0" * (_align(len(data)) - len(data)))
    return path


def load_model(path: str | Path) -> Model:
    """Read a model file written by :func:`save_model`; validates the graph and weights.

    Raises :class:`ModelFileError` naming the problem for a wrong magic,
    version, truncated data or malformed header.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ModelFileError(f"cannot open model file {path}: {exc}") from None
    with fh:
        size = path.stat().st_size
        prefix = fh.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise ModelFileError(f"{path}: {size} bytes is too short for a model file")
        magic, version, hlen = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise ModelFileError(f"{path}: magic {magic!r} is not {MAGIC!r}")
        if version != FORMAT_VERSION:
            raise ModelFileError(f"{path}: format version {version}, this engine reads {FORMAT_VERSION}")
        if _PREFIX.size + hlen > size:
            raise ModelFileError(f"{path}: header of {hlen} bytes runs past the end of the file ({size})")
        try:
            header = json.loads(fh.read(hlen))
            model = _model_from_header(path, fh, header, _align(_PREFIX.size + hlen), size)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EngineError):
                raise
            raise ModelFileError(f"{path}: malformed header: {exc!r}") from None
    model.validate()
    return model


def _model_from_header(path: Path, fh, header: dict, data_start: int, size: int) -> Model:
    inputs = [_spec_from_json(s, f"input[{j}]") for j, s in enumerate(header["inputs"])]
    wspecs, weights = [], []
    # The mapping outlives fh (mmap keeps its own descriptor) and lives as long as any weight view of it.
    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if header["weights"] else None
    for j, entry in enumerate(header["weights"]):
        spec = _spec_from_json(entry, f"weight[{j}]")
        start, nbytes = data_start + int(entry["offset"]), int(entry["nbytes"])
        if nbytes != spec.nbytes or start + nbytes > size:
            raise ModelFileError(f"{path}: weight[{j}] ({spec.name}) needs {spec.nbytes} bytes "
                                 f"at {start}, file has {size}")
        raw = np.frombuffer(mapped, dtype=spec.dtype.big_endian, count=spec.size, offset=start)
        if spec.dtype == DType.INT8:
            weights.append(raw.view(spec.dtype.numpy).reshape(spec.shape))
        else:
            weights.append(raw.astype(spec.dtype.numpy).reshape(spec.shape))
        wspecs.append(spec)
    graph = Graph(inputs=inputs, weights=wspecs)
    for i, obj in enumerate(header["nodes"]):
        refs = tuple(TensorRef(TensorKind(int(k)), int(ix)) for k, ix in obj["inputs"])
        for ref in refs:
            if ref.kind == TensorKind.ACTIVATION and not 0 <= ref.index < i:
                raise ModelFileError(f"{path}: node {i} reads {ref}, which is not an earlier node")
        graph.nodes.append(Node(int(obj["op"]), refs, tuple(graph.spec(r) for r in refs),
                                _spec_from_json(obj["output"], f"node {i}"),
                                tuple(int(p) for p in obj["params"]), str(obj.get("source", ""))))
    return Model(graph, weights, dict(header.get("meta", {})))
