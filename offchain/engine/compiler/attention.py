"""Attention in the captured graph, rewritten before calibration into ops the lowerer already has.

``aten.scaled_dot_product_attention`` (``F.scaled_dot_product_attention``, and ``nn.MultiheadAttention`` with
``need_weights=False``) becomes

    scores = matmul(q, k^T) * scale          (scale: the call's, or 1/sqrt(E))
    scores = scores + additive_mask(mask)    (only when attn_mask is given)
    p      = softmax(scores, -1)             (causal_softmax when is_causal: SOFTMAX's causal flag)
    out    = matmul(p, v)

and ``aten.baddbmm`` (``nn.MultiheadAttention`` with ``need_weights=True`` and a mask) becomes
``bmm(b1, b2) * alpha + additive_mask(input) * beta``. Rewriting before calibration gives every intermediate
(scores, masked scores) its own calibrated range, as a hand-written attention has.

Masks: a boolean attn_mask keeps True entries (SDPA's convention; nn.MultiheadAttention has already turned its
own masks into -inf additive ones); ``additive_mask`` maps False and -inf to -MASK_PENALTY, the finite penalty the
integer graph carries in INT32 (see lower.MASK_FRAC). exp(-MASK_PENALTY) is 0 in float32, so only a row whose
every key is masked differs: torch gives NaN there, the integer graph a uniform row.
The pass then drops nodes nothing reads (``need_weights=True``'s averaged attention weights when the module
returns only the output).
"""

from __future__ import annotations

import math

import torch

from offchain.engine.compiler.capture import source_of
from offchain.engine.errors import UnsupportedOpError
from offchain.models._masking import MASK_PENALTY

aten = torch.ops.aten

_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_SDPA_DEFAULTS = {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False}


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """float32 additive mask: a bool mask gives 0 where True and -MASK_PENALTY where False; a float mask is
    clamped from below at -MASK_PENALTY (its -inf entries become the penalty)."""
    if mask.dtype == torch.bool:
        return torch.where(mask, 0.0, -MASK_PENALTY).float()
    return mask.clamp(min=-MASK_PENALTY)


def causal_softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where row i of the second-to-last axis sees keys j <= i (top-left aligned, as
    SDPA's is_causal and the SOFTMAX op's causal flag); masked weights are 0."""
    rows, keys = x.shape[-2], x.shape[-1]
    keep = torch.ones(rows, keys, dtype=torch.bool, device=x.device).tril()
    return x.masked_fill(~keep, float("-inf")).softmax(-1)


def decompose_attention(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Rewrite every SDPA and baddbmm node of ``gm`` in place (see the module docstring); returns ``gm``.

    Raises UnsupportedOpError naming the node and its source for dropout_p != 0 or grouped-query attention.
    """
    graph = gm.graph
    for n in list(graph.nodes):
        if n.op != "call_function":
            continue
        if n.target is aten.scaled_dot_product_attention.default:
            _replace(graph, n, _sdpa)
        elif n.target is aten.baddbmm.default:
            _replace(graph, n, _baddbmm)
    graph.eliminate_dead_code()
    graph.lint()
    gm.recompile()
    return gm


def _replace(graph: torch.fx.Graph, n: torch.fx.Node, rewrite) -> None:
    before = set(graph.nodes)
    with graph.inserting_before(n):
        out = rewrite(graph, n)
    for new in graph.nodes:
        if new not in before:  # errors and sources quote the user's line, as for the original node
            new.meta.update({k: n.meta[k] for k in ("stack_trace", "nn_module_stack") if k in n.meta})
    n.replace_all_uses_with(out)
    graph.erase_node(n)


def _sdpa(graph: torch.fx.Graph, n: torch.fx.Node) -> torch.fx.Node:
    args = dict(_SDPA_DEFAULTS)
    args.update(zip(_SDPA_ARGS, n.args))
    args.update(n.kwargs)
    q, k, v, mask = args["query"], args["key"], args["value"], args["attn_mask"]
    if args["dropout_p"] != 0:
        raise UnsupportedOpError(f"{source_of(n)}: scaled_dot_product_attention with dropout_p="
                                 f"{args['dropout_p']}; only 0 compiles (inference has no dropout)")
    q_shape, k_shape = tuple(q.meta["val"].shape), tuple(k.meta["val"].shape)
    if args["enable_gqa"] and q_shape[:-2] != k_shape[:-2]:
        raise UnsupportedOpError(f"{source_of(n)}: grouped-query scaled_dot_product_attention "
                                 f"(query {q_shape}, key {k_shape}); repeat the key/value heads first")
    scale = args["scale"] if args["scale"] is not None else 1.0 / math.sqrt(q_shape[-1])
    kt = graph.call_function(aten.transpose.int, (k, -2, -1))
    scores = graph.call_function(aten.matmul.default, (q, kt))
    scores = graph.call_function(aten.mul.Tensor, (scores, float(scale)))
    if mask is not None:
        scores = graph.call_function(aten.add.Tensor, (scores, graph.call_function(additive_mask, (mask,))))
    if args["is_causal"]:
        weights = graph.call_function(causal_softmax, (scores,))
    else:
        weights = graph.call_function(aten.softmax.int, (scores, -1))
    return graph.call_function(aten.matmul.default, (weights, v))


def _baddbmm(graph: torch.fx.Graph, n: torch.fx.Node) -> torch.fx.Node:
    bias, b1, b2 = n.args[:3]
    beta, alpha = n.kwargs.get("beta", 1), n.kwargs.get("alpha", 1)
    product = graph.call_function(aten.bmm.default, (b1, b2))
    if alpha != 1:
        product = graph.call_function(aten.mul.Tensor, (product, alpha))
    bias = graph.call_function(additive_mask, (bias,))
    if beta != 1:
        bias = graph.call_function(aten.mul.Tensor, (bias, beta))
    return graph.call_function(aten.add.Tensor, (product, bias))
