"""Where a model owner's own model comes from, for `python -m offchain compile --module/--exported`.

- ``load_factory("path/to/file.py:factory")`` or ``("package.module:factory")``: the factory returns an
  ``nn.Module`` or ``(module, example_inputs)``.
- ``load_exported("model.pt2")``: a program saved with ``torch.export.save``.
- ``parse_input_spec("1x1x8x8:float:f6")`` (offchain.input_spec): one input's shape and number format.
- ``load_calibration(".npy/.npz file" or "file.py:fn" / "pkg.mod:fn", example_inputs)``: sample input tuples.

Every refusal is a :class:`ModelSourceError` naming the option and what was wrong with it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from offchain.input_spec import INPUT_SPEC_HELP, InputSpec, ModelSourceError, parse_input_spec

def _example(spec: InputSpec) -> torch.Tensor:
    """A deterministic example input of ``spec``'s shape (zeros for ids, a seeded normal draw for reals)."""
    if spec.token_ids:
        return torch.zeros(spec.shape, dtype=torch.long)
    return torch.randn(spec.shape, generator=torch.Generator().manual_seed(0))


def _load_callable(ref: str, option: str) -> Callable[..., Any]:
    """``path/to/file.py:name`` or ``package.module:name`` -> the named attribute, which must be callable."""
    where, sep, attr = ref.rpartition(":")
    if not sep or not where or not attr:
        raise ModelSourceError(option, f"{ref!r} is not FILE.py:NAME or package.module:NAME")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise ModelSourceError(option, f"no such file: {where}")
        name = f"_owner_model_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModelSourceError(option, f"{where} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module   # dataclasses and pickling look classes up by module name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise ModelSourceError(option, f"importing {where} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ModelSourceError(option, f"cannot import {where}: {exc}") from exc
    if not hasattr(module, attr):
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == module.__name__)
        raise ModelSourceError(option, f"{where} has no {attr!r} (it defines: {', '.join(defined) or 'nothing'})")
    fn = getattr(module, attr)
    if not callable(fn):
        raise ModelSourceError(option, f"{where}:{attr} is a {type(fn).__name__}, not a function")
    return fn


def _as_inputs(value: Any, option: str, what: str) -> tuple[torch.Tensor, ...]:
    items = (value,) if isinstance(value, (torch.Tensor, np.ndarray)) else value
    if not isinstance(items, (tuple, list)) or not items:
        raise ModelSourceError(option, f"{what} must be a tensor or a tuple of tensors, got {type(value).__name__}")
    out = []
    for t in items:
        if isinstance(t, np.ndarray):
            t = torch.from_numpy(t)
        if not isinstance(t, torch.Tensor):
            raise ModelSourceError(option, f"{what} holds a {type(t).__name__}, not a tensor")
        out.append(t)
    return tuple(out)


def load_factory(ref: str) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...] | None]:
    """Call the factory ``ref``; returns (module in eval mode, its example inputs or None)."""
    factory = _load_callable(ref, "--module")
    try:
        made = factory()
    except Exception as exc:
        raise ModelSourceError("--module", f"{ref}() raised {type(exc).__name__}: {exc}") from exc
    example = None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module):
        made, example = made[0], _as_inputs(made[1], "--module", f"the example inputs {ref}() returned")
    if not isinstance(made, torch.nn.Module):
        raise ModelSourceError("--module", f"{ref}() returned a {type(made).__name__}; expected an nn.Module or "
                                           f"(nn.Module, example_inputs)")
    return made.eval(), example


def load_exported(path: str) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...] | None]:
    """A ``torch.export.save``d program: (its module, the example inputs saved with it, if any)."""
    try:
        program = torch.export.load(path)
    except Exception as exc:
        raise ModelSourceError("--exported", f"{path} is not a saved torch.export program: "
                                             f"{type(exc).__name__}: {exc}") from exc
    saved = getattr(program, "example_inputs", None)
    example = tuple(saved[0]) if saved and not saved[1] and saved[0] else None
    return program.module(), example


def example_inputs(specs: list[InputSpec], given: tuple[torch.Tensor, ...] | None) -> tuple[torch.Tensor, ...]:
    """The example inputs: the module's own when it gave them (shapes checked against the specs), else built from
    the specs."""
    if given is None:
        if not specs:
            raise ModelSourceError("--input-spec", "the model came without example inputs: give one --input-spec "
                                                   "per input. " + INPUT_SPEC_HELP)
        return tuple(_example(s) for s in specs)
    if specs and len(specs) != len(given):
        raise ModelSourceError("--input-spec", f"{len(specs)} input specs for a model of {len(given)} inputs")
    for k, (s, t) in enumerate(zip(specs, given)):
        if tuple(t.shape) != s.shape:
            raise ModelSourceError("--input-spec", f"input {k}: spec shape {s.shape} != example input shape "
                                                   f"{tuple(t.shape)}")
    return given


def _samples_from_arrays(arrays: list[np.ndarray], example: tuple[torch.Tensor, ...],
                         source: str) -> list[tuple[torch.Tensor, ...]]:
    """One array per input holding N samples: [N, *shape], or [N, *shape[1:]] when the input's batch is 1."""
    if len(arrays) != len(example):
        raise ModelSourceError("--calibration", f"{source} holds {len(arrays)} arrays for a model of "
                                                f"{len(example)} inputs")
    per_input = []
    for k, (arr, ex) in enumerate(zip(arrays, example)):
        shape = tuple(ex.shape)
        if arr.shape[1:] == shape:
            rows = [arr[i] for i in range(arr.shape[0])]
        elif shape[0] == 1 and arr.shape[1:] == shape[1:]:
            rows = [arr[i:i + 1] for i in range(arr.shape[0])]
        else:
            raise ModelSourceError("--calibration", f"{source}: array {k} has shape {arr.shape}; input {k} is "
                                                    f"{shape}, so expected [N, *{shape}] or [N, *{shape[1:]}]")
        per_input.append([torch.from_numpy(np.ascontiguousarray(r)).to(ex.dtype) for r in rows])
    counts = {len(rows) for rows in per_input}
    if len(counts) != 1 or 0 in counts:
        raise ModelSourceError("--calibration", f"{source}: arrays hold different or zero sample counts {counts}")
    return [tuple(rows[i] for rows in per_input) for i in range(counts.pop())]


def load_calibration(ref: str, example: tuple[torch.Tensor, ...]) -> list[tuple[torch.Tensor, ...]]:
    """Calibration samples (tuples shaped like ``example``) from a .npy (one input), an .npz (arrays in order, one
    per input) or a callable ``file.py:fn`` / ``pkg.mod:fn`` returning a list of input tuples (or tensors)."""
    if ref.endswith((".npy", ".npz")):
        if not Path(ref).is_file():
            raise ModelSourceError("--calibration", f"no such file: {ref}")
        try:
            if ref.endswith(".npy"):
                arrays = [np.load(ref, allow_pickle=False)]
            else:
                with np.load(ref, allow_pickle=False) as data:
                    arrays = [data[k] for k in data.files]
        except Exception as exc:
            raise ModelSourceError("--calibration", f"cannot read {ref}: {type(exc).__name__}: {exc}") from exc
        return _samples_from_arrays(arrays, example, ref)
    fn = _load_callable(ref, "--calibration")
    try:
        made = fn()
    except Exception as exc:
        raise ModelSourceError("--calibration", f"{ref}() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(made, (list, tuple)) or not made:
        raise ModelSourceError("--calibration", f"{ref}() must return a non-empty list of input tuples, "
                                                f"got {type(made).__name__}")
    samples = [_as_inputs(s, "--calibration", f"sample {i} of {ref}()") for i, s in enumerate(made)]
    for i, s in enumerate(samples):
        shapes = [tuple(t.shape) for t in s]
        if shapes != [tuple(t.shape) for t in example]:
            raise ModelSourceError("--calibration", f"sample {i} of {ref}() has shapes {shapes}; the model's "
                                                    f"inputs are {[tuple(t.shape) for t in example]}")
    return samples


__all__ = ["INPUT_SPEC_HELP", "InputSpec", "ModelSourceError", "example_inputs", "load_calibration", "load_exported",
           "load_factory", "parse_input_spec"]
