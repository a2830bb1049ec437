"""Folding eval-mode BatchNorm into the Conv/Linear before it, on the captured fx graph.

``y = (conv(x) - mean) / sqrt(var + eps) * gamma + beta`` is ``conv'(x)`` with every output channel o's weights
scaled by ``s[o] = gamma[o] / sqrt(var[o] + eps)`` and bias ``(b[o] - mean[o]) s[o] + beta[o]``. The fold runs
before calibration, so the folded float weights are what gets quantised and the conv's calibrated range is
the BatchNorm's output range: the integer graph has no node for the BatchNorm at all. It applies when the
BatchNorm's input is a conv (1-d or 2-d) or a rank-2 linear (features on axis 1, BatchNorm1d's channel axis)
whose weight and bias are parameters and whose output nothing else reads. Any other eval-mode BatchNorm stays
in the graph and is lowered as a per-channel affine (``Lowerer.batch_norm``).
"""

from __future__ import annotations

import torch

aten = torch.ops.aten

#: Producers a BatchNorm folds into: weight at args[1], bias at args[2], output channels on axis 1.
FOLDABLE = {aten.conv2d.default, aten.conv2d.padding, aten.conv1d.default, aten.conv1d.padding,
            aten.convolution.default, aten.linear.default}


def _param(gm: torch.fx.GraphModule, node: torch.fx.Node) -> torch.Tensor:
    """The tensor a get_attr node reads."""
    owner, _, leaf = node.target.rpartition(".")
    return getattr(gm.get_submodule(owner) if owner else gm, leaf)


def _foldable(gm: torch.fx.GraphModule, bn: torch.fx.Node) -> bool:
    if bn.target != aten.batch_norm.default or len(bn.args) < 8:
        return False
    x, gamma, beta, mean, var, training = bn.args[:6]
    producer = x if isinstance(x, torch.fx.Node) else None
    if training or mean is None or var is None or producer is None or producer.target not in FOLDABLE:
        return False
    if len(producer.users) != 1:
        return False
    if producer.target == aten.convolution.default and producer.args[6]:  # transposed
        return False
    if producer.target == aten.linear.default and len(producer.meta["val"].shape) != 2:
        return False
    consts = [producer.args[1], producer.args[2] if len(producer.args) > 2 else None, gamma, beta, mean, var]
    return all(a is None or (isinstance(a, torch.fx.Node) and a.op == "get_attr") for a in consts) \
        and consts[0] is not None


def _register(gm: torch.fx.GraphModule, like: str, value: torch.Tensor) -> str:
    """A new buffer beside ``like`` (same owner module), named ``<leaf>_bn_folded[_k]``; returns its target."""
    owner, _, leaf = like.rpartition(".")
    module = gm.get_submodule(owner) if owner else gm
    name, k = f"{leaf}_bn_folded", 0
    while hasattr(module, name):
        k += 1
        name = f"{leaf}_bn_folded_{k}"
    module.register_buffer(name, value)
    return f"{owner}.{name}" if owner else name


def fold_batch_norms(gm: torch.fx.GraphModule) -> list[str]:
    """Fold every foldable BatchNorm of ``gm`` in place; returns the folded BatchNorm nodes' names."""
    folded = []
    for bn in list(gm.graph.nodes):
        if bn.op != "call_function" or not _foldable(gm, bn):
            continue
        producer, gamma_n, beta_n, mean_n, var_n = bn.args[:5]
        eps = float(bn.args[7])
        w = _param(gm, producer.args[1]).detach()
        bias_n = producer.args[2] if len(producer.args) > 2 else None
        out_ch = w.shape[0]
        f64 = torch.float64
        mean = _param(gm, mean_n).detach().to(f64)
        var = _param(gm, var_n).detach().to(f64)
        gamma = _param(gm, gamma_n).detach().to(f64) if gamma_n is not None else torch.ones(out_ch, dtype=f64)
        beta = _param(gm, beta_n).detach().to(f64) if beta_n is not None else torch.zeros(out_ch, dtype=f64)
        bias = _param(gm, bias_n).detach().to(f64) if bias_n is not None else torch.zeros(out_ch, dtype=f64)
        scale = gamma / torch.sqrt(var + eps)
        new_w = (w.to(f64) * scale.reshape((-1,) + (1,) * (w.dim() - 1))).to(w.dtype)
        new_b = ((bias - mean) * scale + beta).to(w.dtype)
        w_target = _register(gm, producer.args[1].target, new_w)
        owner = producer.args[1].target.rpartition(".")[0]
        b_target = _register(gm, bias_n.target if bias_n is not None else (f"{owner}.bias" if owner else "bias"),
                             new_b)
        with gm.graph.inserting_before(producer):
            w_node = gm.graph.get_attr(w_target)
            b_node = gm.graph.get_attr(b_target)
        args = list(producer.args)
        args[1] = w_node
        if len(args) > 2:
            args[2] = b_node
        else:
            args.append(b_node)
        producer.args = tuple(args)
        bn.replace_all_uses_with(producer)
        gm.graph.erase_node(bn)
        folded.append(bn.name)
    if folded:
        gm.graph.lint()
        gm.recompile()
    return folded
