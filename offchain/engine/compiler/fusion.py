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


@dataclass
class RopeMatch:
    """One matched rotary embedding ``x * cos + rotate_half(x) * sin``."""

    x: torch.fx.Node
    cos: torch.fx.Node
    sin: torch.fx.Node
    out: torch.fx.Node
    absorbed: tuple[torch.fx.Node, ...]


def _split_mul(node, is_const) -> tuple[torch.fx.Node, torch.fx.Node] | None:
    """(dynamic operand, constant operand) of a two-tensor mul, or None."""
    if not isinstance(node, torch.fx.Node) or node.target != aten.mul.Tensor or len(node.args) != 2:
        return None
    a, b = node.args
    if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
        return None
    if is_const(b) and not is_const(a):
        return a, b
    if is_const(a) and not is_const(b):
        return b, a
    return None


def _last_dim_slice(node, x, start: int, end: int) -> bool:
    if not isinstance(node, torch.fx.Node) or node.target != aten.slice.Tensor or node.args[0] is not x:
        return False
    rank = len(x.meta["val"].shape)
    args = list(node.args) + [None] * (5 - len(node.args))
    dim, lo, hi, step = args[1] if args[1] is not None else 0, args[2] or 0, args[3], args[4] or 1
    size = int(x.meta["val"].shape[-1])
    hi = size if hi is None else min(hi, size)
    return dim % rank == rank - 1 and lo == start and hi == end and step == 1


def find_ropes(gm: torch.fx.GraphModule, is_const) -> dict[str, RopeMatch]:
    """Map from each matched ``add`` node's name to its rotary-embedding match."""
    matches: dict[str, RopeMatch] = {}
    for add in gm.graph.nodes:
        if add.op != "call_function" or add.target != aten.add.Tensor or len(add.args) != 2:
            continue
        for first, second in (add.args, add.args[::-1]):
            direct, rotated = _split_mul(first, is_const), _split_mul(second, is_const)
            if direct is None or rotated is None:
                continue
            x, cos = direct
            cat, sin = rotated
            if cat.target != aten.cat.default or len(cat.args[0]) != 2:
                continue
            rank = len(x.meta["val"].shape)
            dim = cat.args[1] if len(cat.args) > 1 else 0
            d = int(x.meta["val"].shape[-1])
            neg, low = cat.args[0]
            if dim % rank != rank - 1 or d % 2 or neg.target != aten.neg.default:
                continue
            high = neg.args[0]
            if not (_last_dim_slice(high, x, d // 2, d) and _last_dim_slice(low, x, 0, d // 2)):
                continue
            table = tuple(x.meta["val"].shape[-2:])
            if any(tuple(t.meta["val"].shape[-2:]) != table or t.meta["val"].numel() != table[0] * table[1]
                   for t in (cos, sin)):
                continue
            chain = (first, second, cat, neg, high, low)
            if any(len(c.users) != 1 for c in chain):
                continue
            matches[add.name] = RopeMatch(x, cos, sin, add, chain)
            break
    return matches
