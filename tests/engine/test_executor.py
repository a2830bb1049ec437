"""Executor determinism, model file round trip, roots, and named errors for bad inputs/files."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from offchain.engine import roots
from offchain.engine.errors import (
    InputCountError,
    InputDtypeError,
    InputNaNError,
    InputRangeError,
    InputShapeError,
    ModelFileError,
)
from offchain.engine.executor import run
from offchain.engine.modelfile import MAGIC, load_model, save_model
from offchain.models import digits

REPO = Path(__file__).resolve().parents[2]


def _summary(model, pixels) -> list[str]:
    trace = run(model, [pixels])
    return [roots.model_id(model).hex(), roots.input_root(model.graph, trace.inputs).hex(),
            roots.trace_root(model.graph, trace).hex()]


def test_same_roots_in_two_processes_and_after_reload(digits_case, digits_data, tmp_path):
    name, model, _ = digits_case
    pixels = digits_data.test_pixels[:1]
    first = _summary(model, pixels)
    assert first == _summary(model, pixels)
    path = save_model(model, tmp_path / f"{name}.model")
    reloaded = load_model(path)
    assert _summary(reloaded, pixels) == first
    assert reloaded.meta["name"] == name
    code = ("import sys, numpy as np; from offchain.engine.modelfile import load_model; "
            "from offchain.engine.executor import run; from offchain.engine import roots; "
            "m = load_model(sys.argv[1]); px = np.array([int(v) for v in sys.argv[2].split(',')], np.int8)[None]; "
            "t = run(m, [px]); print(roots.model_id(m).hex(), roots.input_root(m.graph, t.inputs).hex(), "
            "roots.trace_root(m.graph, t).hex())")
    out = subprocess.run([sys.executable, "-c", code, str(path), ",".join(str(int(v)) for v in pixels[0])],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.split() == first


def test_trace_last_leaf_is_output_root(digits_case, digits_data):
    _, model, _ = digits_case
    trace = run(model, [digits_data.test_pixels[:1]])
    leaves = roots.trace_leaves(model.graph, trace)
    assert len(leaves) == len(model.graph.nodes)
    assert leaves[-1] == roots.spec_tensor_root(trace.output, model.graph.output)


def test_load_path_does_not_import_torch(digits_case, tmp_path):
    _, model, _ = digits_case
    path = save_model(model, tmp_path / "m.model")
    code = ("import sys; from offchain.engine.modelfile import load_model; load_model(sys.argv[1]); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "False"


def test_int8_weights_are_mapped_not_copied(digits_case, tmp_path):
    """A loaded model's int8 weights are read-only views of the file mapping (no private copy); wider weights
    are native-endian copies; both equal what was saved."""
    _, model, _ = digits_case
    path = save_model(model, tmp_path / "m.model")
    loaded = load_model(path)
    kinds = set()
    for saved, got, spec in zip(model.weights, loaded.weights, loaded.graph.weights):
        assert np.array_equal(saved, got) and got.dtype == spec.dtype.numpy
        owner = got
        while isinstance(owner, np.ndarray):
            owner = owner.base
        mapped = isinstance(owner, memoryview) and isinstance(owner.obj, mmap.mmap)
        if got.dtype == np.int8:
            assert mapped and not got.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                got.flat[0] = 1
        else:
            assert not mapped and got.flags.writeable
        kinds.add(got.dtype.name)
    assert "int8" in kinds


def test_weight_change_changes_model_id(digits_case):
    _, model, _ = digits_case
    before = roots.model_id(model)
    model.weights[0] = model.weights[0].copy()
    model.weights[0].flat[0] ^= 1
    try:
        assert roots.model_id(model) != before
    finally:
        model.weights[0].flat[0] ^= 1
    assert roots.model_id(model) == before


def test_bad_inputs_raise_named_errors(digits_case):
    _, model, _ = digits_case
    good = np.zeros((1, 64), np.int8)
    with pytest.raises(InputCountError, match="declares 1"):
        run(model, [good, good])
    with pytest.raises(InputShapeError, match=r"\(1, 63\)"):
        run(model, [np.zeros((1, 63), np.int8)])
    with pytest.raises(InputRangeError, match="INT8"):
        run(model, [np.full((1, 64), 300, np.int32)])
    with pytest.raises(InputRangeError, match="outside the range"):
        run(model, [np.full((1, 64), 9.0)])
    with pytest.raises(InputNaNError, match="NaN"):
        run(model, [np.full((1, 64), np.nan)])
    with pytest.raises(InputDtypeError):
        run(model, [np.full((1, 64), "a")])
    real = run(model, [good.astype(np.float64) / 16 + 0.0])
    assert np.array_equal(real.output, run(model, [good]).output)


def test_bad_model_files(digits_case, tmp_path):
    _, model, _ = digits_case
    path = save_model(model, tmp_path / "m.model")
    data = path.read_bytes()
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"NOTAMODL" + data[8:])
    with pytest.raises(ModelFileError, match="magic"):
        load_model(bad)
    bad.write_bytes(MAGIC + (99).to_bytes(4, "big") + data[12:])
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(bad)
    bad.write_bytes(data[:len(data) - 200])
    with pytest.raises(ModelFileError, match="needs"):
        load_model(bad)
    with pytest.raises(ModelFileError, match="cannot open"):
        load_model(tmp_path / "missing.model")


def test_digits_integer_accuracy_within_one_point(digits_case, digits_data):
    name, model, module = digits_case
    float_acc = digits.float_accuracy(module, digits_data.test_pixels, digits_data.test_labels)
    int_acc = digits.integer_accuracy(model, digits_data.test_pixels, digits_data.test_labels)
    assert float_acc > 0.95, (name, float_acc)
    assert abs(int_acc - float_acc) <= 0.01, (name, float_acc, int_acc)
