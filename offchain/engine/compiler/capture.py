"""Capturing a PyTorch module as an ATen-level fx graph with torch.export.

torch.export (default IR, before decompositions) gives one node per ATen op
(aten.linear, aten.layer_norm, aten.softmax, ...) with the module path of
each node in ``meta["nn_module_stack"]``, which error messages quote.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import torch

from offchain.engine.errors import CompileError


def capture(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor]) -> torch.fx.GraphModule:
    """Export ``module`` (eval mode) for inputs shaped like ``example_inputs``; returns a GraphModule.

    The graph is static: shapes are those of the example inputs.
    Raises CompileError (with torch's reason) when torch.export cannot trace the module.
    """
    try:
        module = module.eval()
    except NotImplementedError:   # a loaded torch.export program's module: its train/eval mode was fixed at export
        pass
    try:
        with torch.no_grad():
            program = torch.export.export(module, tuple(example_inputs))
    except Exception as exc:  # torch raises many unrelated types; all mean "cannot capture"
        raise CompileError(f"torch.export could not capture {type(module).__name__}: "
                           f"{type(exc).__name__}: {exc}") from exc
    return program.module()


#: Frames inside these folders are the library's, not the model owner's: torch itself and this compiler.
_LIBRARY_DIRS = (str(Path(torch.__file__).resolve().parent) + os.sep,
                 str(Path(__file__).resolve().parents[1]) + os.sep)
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')


def user_frame(node: torch.fx.Node) -> str:
    """``file:line in func: code`` of the innermost frame of the node's stack trace that lies outside torch and
    outside the compiler (the model owner's own line), or "" when torch recorded none."""
    lines = (node.meta.get("stack_trace") or "").splitlines()
    for k in range(len(lines) - 1, -1, -1):
        m = _FRAME.search(lines[k])
        if m is None or str(Path(m["file"]).resolve()).startswith(_LIBRARY_DIRS):
            continue
        code = lines[k + 1].strip() if k + 1 < len(lines) and not _FRAME.search(lines[k + 1]) else ""
        return f"{m['file']}:{m['line']} in {m['func']}" + (f": {code}" if code else "")
    return ""


def source_of(node: torch.fx.Node) -> str:
    """Human-readable origin of an fx node: its name, module path and class, and the user's own source line."""
    stack = node.meta.get("nn_module_stack") or {}
    parts = []
    if stack:
        path, cls = list(stack.values())[-1]
        cls_name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
        parts.append(f"module '{path or '<root>'}' ({cls_name.rsplit('.', 1)[-1]})")
    frame = user_frame(node)
    if frame:
        parts.append(frame)
    return f"{node.name}: {', '.join(parts)}" if parts else node.name
