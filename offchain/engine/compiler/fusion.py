"""Pattern matching of multi-op PyTorch idioms that the engine runs as one op.

RMS normalisation arrives from torch.export as
``mul(x, rsqrt(add(mean(mul(x, x), [-1], keepdim), eps)))`` optionally
followed by ``mul(., weight)`` (Llama's RMSNorm); the L2 normalisation at the
end of MiniLM is the same with ``sum`` for ``mean`` (then gamma carries
1/sqrt(n) and eps/n). ``pow(x, 2)`` is accepted for ``mul(x, x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

aten = torch.ops.aten


@dataclass
class RmsMatch:
    """One matched normalisation: its input node, output node and constants."""

    x: torch.fx.Node
    out: torch.fx.Node
    weight: torch.fx.Node | None  # node holding the gamma vector, or None (gamma = 1)
    eps_mean: float  # eps added to mean(x^2), in real units
    gamma_scale: float  # 1 for mean form, 1/sqrt(n) for sum form
    absorbed: tuple[torch.fx.Node, ...]  # intermediate nodes not emitted


def _only_user(node: torch.fx.Node) -> torch.fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _is_square_of(node: torch.fx.Node) -> torch.fx.Node | None:
    if node.op != "call_function":
        return None
    if node.target == aten.mul.Tensor and len(node.args) == 2 and node.args[0] is node.args[1]:
        return node.args[0]
    if node.target == aten.pow.Tensor_Scalar and node.args[1] == 2:
        return node.args[0]
    return None


def find_rms_norms(gm: torch.fx.GraphModule, is_const) -> dict[str, RmsMatch]:
    """Map from the name of each matched output node to its match. ``is_const(node)`` says if a node is constant."""
    matches: dict[str, RmsMatch] = {}
    for rs in gm.graph.nodes:
        if rs.op != "call_function" or rs.target != aten.rsqrt.default:
            continue
        arg, eps, chain = rs.args[0], 0.0, [rs]
        if arg.op == "call_function" and arg.target == aten.add.Tensor and not isinstance(arg.args[1], torch.fx.Node):
            eps, chain = float(arg.args[1]), chain + [arg]
            arg = arg.args[0]
        if arg.op != "call_function" or arg.target not in (aten.mean.dim, aten.sum.dim_IntList):
            continue
        red = arg
        sq = red.args[0]
        x = _is_square_of(sq)
        dims = list(red.args[1]) if len(red.args) > 1 else []
        keep = red.args[2] if len(red.args) > 2 else red.kwargs.get("keepdim", False)
        if x is None or not keep or len(dims) != 1:
            continue
        rank = len(x.meta["val"].shape)
        if dims[0] % rank != rank - 1:
            continue
        n = int(x.meta["val"].shape[-1])
        mul = _only_user(rs)
        if mul is None or mul.target != aten.mul.Tensor or x not in mul.args:
            continue
        chain += [red, sq]
        if any(len(c.users) != 1 for c in chain):
            continue
        out, weight = mul, None
        nxt = _only_user(mul)
        if nxt is not None and nxt.target == aten.mul.Tensor:
            other = nxt.args[1] if nxt.args[0] is mul else nxt.args[0]
            if isinstance(other, torch.fx.Node) and is_const(other) and tuple(other.meta["val"].shape) == (n,):
                out, weight = nxt, other
                chain.append(mul)
        is_sum = red.target == aten.sum.dim_IntList
        matches[out.name] = RmsMatch(x=x, out=out, weight=weight,
                                     eps_mean=eps / n if is_sum else eps,
                                     gamma_scale=n ** -0.5 if is_sum else 1.0,
                                     absorbed=tuple(chain))
    return matches
