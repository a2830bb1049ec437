"""Compiled models give byte-identical traces and roots with the C kernel and with the numpy path it replaced.

The numpy path (kernels.reference_matmul) is the engine's matmul before the C kernel existed, so equal roots
here mean the kernel changes no model root, trace root or dispute. Each test also checks that the kernel really
ran (a counting spy), so the comparison cannot pass by both sides taking the numpy path. forced_fallback() also
turns off the C row kernels (SOFTMAX / LAYERNORM / RMSNORM), so their nodes are compared the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine import kernels, roots
from offchain.engine.errors import InputError
from offchain.engine.executor import run

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="C kernel not built or CPU without AVX2")


def _kernel_calls(monkeypatch) -> list[tuple]:
    calls = []
    real = kernels._c_matmul

    def spy(a, b_t, bias, shift, out_dtype):
        calls.append((a.dtype.name, b_t.dtype.name, a.shape, b_t.shape, shift, np.dtype(out_dtype).name))
        return real(a, b_t, bias, shift, out_dtype)

    monkeypatch.setattr(kernels, "_c_matmul", spy)
    return calls


def _row_calls(monkeypatch) -> list[str]:
    """Spies on the C row kernels (SOFTMAX / LAYERNORM / RMSNORM rows, offchain/engine/_rowops.c) where built."""
    calls: list[str] = []
    real = kernels._r
    if real is None:
        return calls

    class Spy:
        def __getattr__(self, name):
            fn = getattr(real, name)

            def call(*args):
                calls.append(name)
                return fn(*args)

            return call

    monkeypatch.setattr(kernels, "_r", Spy())
    return calls


def _assert_same_run(model, inputs, monkeypatch) -> int:
    calls = _kernel_calls(monkeypatch)
    rows = _row_calls(monkeypatch)
    fast = run(model, inputs)
    used, rows_used = len(calls), len(rows)
    with kernels.forced_fallback():
        slow = run(model, inputs)
    assert len(calls) == used and len(rows) == rows_used, "the forced fallback still called the kernel"
    assert used > 0, "the kernel never ran: nothing was compared"
    for i, (x, y) in enumerate(zip(fast.outputs, slow.outputs)):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), f"node {i} differs"
    assert roots.trace_root(model.graph, fast) == roots.trace_root(model.graph, slow)
    return used


def _rows_seen(model, inputs, monkeypatch) -> set[str]:
    """The C row-kernel functions one run calls."""
    rows = _row_calls(monkeypatch)
    run(model, inputs)
    return set(rows)


def test_digits_models_same_trace(digits_case, digits_data, monkeypatch):
    """digits-mlp (LINEAR) and digits-cnn (CONV2D through im2col, then LINEAR)."""
    _, model, _ = digits_case
    for j in range(4):
        _assert_same_run(model, [digits_data.test_pixels[j:j + 1]], monkeypatch)


def test_llama_tiny_same_trace(monkeypatch):
    """A tiny Llama: int16 x int8 projections and int16 x int16 attention products, all on the kernel."""
    from offchain.engine.compiler import compile_module
    from offchain.models import llama

    cfg = llama.preset("tiny")
    module = llama.build_llama(cfg, seed=1)
    prompts = [llama.random_prompt(cfg, s) for s in range(2)]
    model = compile_module(module, (prompts[0],), [(p,) for p in prompts])
    for prompt in prompts:
        _assert_same_run(model, [prompt.numpy()], monkeypatch)
    if kernels._r is not None:  # its RMSNORM and causal SOFTMAX nodes were compared on the C row kernels
        assert _rows_seen(model, [prompts[0].numpy()], monkeypatch) == {"norm_rows", "softmax_rows"}


def test_extreme_activations_same_trace(digits_case, monkeypatch):
    """Inputs at the dtype's limits drive intermediate activations towards saturation on both paths."""
    _, model, _ = digits_case
    spec = model.graph.inputs[0]
    info = np.iinfo(spec.dtype.numpy)
    compared = 0
    for value in (info.min, info.max, 0, -1):
        try:
            _assert_same_run(model, [np.full(spec.shape, value, spec.dtype.numpy)], monkeypatch)
            compared += 1
        except InputError:  # refused before any node runs (the model's input domain): the same on both paths
            pass
    assert compared >= 2
