"""Capturing a PyTorch module as an ATen-level fx graph with torch.export.

torch.export (default IR, before decompositions) gives one node per ATen op
(aten.linear, aten.layer_norm, aten.softmax, ...) with the module path of
each node in ``meta["nn_module_stack"]``, which error messages quote.
"""

from __future__ import annotations

from typing import Sequence

import torch

from offchain.engine.errors import CompileError


def capture(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor]) -> torch.fx.GraphModule:
    """Export ``module`` (eval mode) for inputs shaped like ``example_inputs``; returns a GraphModule.

    The graph is static: shapes are those of the example inputs.
    Raises CompileError (with torch's reason) when torch.export cannot trace the module.
    """
    module = module.eval()
    try:
        with torch.no_grad():
            program = torch.export.export(module, tuple(example_inputs))
    except Exception as exc:  # torch raises many unrelated types; all mean "cannot capture"
        raise CompileError(f"torch.export could not capture {type(module).__name__}: "
                           f"{type(exc).__name__}: {exc}") from exc
    return program.module()


def source_of(node: torch.fx.Node) -> str:
    """Human-readable origin of an fx node: module path and class, plus the user source line."""
    stack = node.meta.get("nn_module_stack") or {}
    where = ""
    if stack:
        path, cls = list(stack.values())[-1]
        cls_name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
        where = f"module '{path or '<root>'}' ({cls_name.rsplit('.', 1)[-1]})"
    trace = (node.meta.get("stack_trace") or "").strip().splitlines()
    lines = [ln.strip() for ln in trace if ln.strip().startswith("File ")]
    if lines:
        where = f"{where}, {lines[-1]}" if where else lines[-1]
    return f"{node.name}: {where}" if where else node.name
