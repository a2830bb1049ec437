"""``sd-unet-block``: one Stable-Diffusion-1.5-sized UNet block through the dispute game (issue 16).

The block, random weights (torch's default init, seeded), at SD 1.5's 64x64 latent with 320 channels:

* ResBlock: GroupNorm(32, 320) -> SiLU -> Conv3x3 320->320 -> + Linear(SiLU(temb 1280) -> 320) -> GroupNorm ->
  SiLU -> Conv3x3 -> + skip;
* SpatialTransformer: GroupNorm(32, 320, eps 1e-6) -> 1x1 proj_in -> LayerNorm -> self-attention (8 heads of 40
  over 4,096 tokens) -> LayerNorm -> cross-attention to a 77x768 context -> LayerNorm -> GEGLU FF 320->1280x2 ->
  320 -> 1x1 proj_out -> + residual.

The request carries the latent, the time embedding and the context as one flat input (the protocol registers one
input tensor), sliced in the graph. Compiled by ``compile_module`` under a 2,000,000-gas bound per honest move
(every node's one-step proof must fit: GroupNorm, the 3x3 and 1x1 convs and the 4,096-wide softmax take the split
lowerings of offchain/engine/compiler/split.py), run once honestly and once with one element of the self-attention
probabilities corrupted (the rest of the block recomputed on it), and the game played on anvil to its one-step
proof (bench._dispute_game, as bench_dispute's cases).

``sd_unet_block_figures()`` returns the figures as a dict; ``python -m bench._sd_unet_block`` prints them. Call it
outside an ape network context: it starts its own anvil (``ethereum:local:foundry``) for the game. It is a benchmark,
not a test: 1.5 GB of trace, ~2-7 minutes on the 2 shared cores, ~7 GB peak RSS; run it on a quiet machine
(``tests/dispute/test_sd_block.py`` plays the same block scaled down).
"""

from __future__ import annotations

import gc
import json
import resource
import time

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAX_MOVE_GAS = 2_000_000


@dataclass(frozen=True)
class Dims:
    """Block sizes: SD 1.5's first down block by default; tests use a scaled-down one."""

    c: int = 320          # channels
    hw: int = 64          # latent height = width
    temb: int = 1280      # time-embedding width
    ctx_len: int = 77     # context tokens
    ctx_dim: int = 768    # context width
    heads: int = 8        # attention heads (head dim c / heads = 40)
    groups: int = 32      # GroupNorm groups

    @property
    def latent(self) -> int:
        return self.c * self.hw * self.hw

    @property
    def input_len(self) -> int:
        return self.latent + self.temb + self.ctx_len * self.ctx_dim


SD15 = Dims()
#: opML's published Stable Diffusion claim. ORA's docs (github.com/ora-io/docs, technology/opml.md): "After ORA's
#: release of its Onchain AI Oracle (OAO), opML can run Stable Diffusion and LLaMA 2 directly on Ethereum"
#: (https://www.ora.io/app/opml/sd). The open-source opML (github.com/ora-io/opml, README) lists "DNN for MNIST" and
#: "LLaMA" as supported models, not Stable Diffusion; its game bisects a MIPS VM's execution of the whole inference
#: program and proves one MIPS instruction per step. No moves, step gas or trace sizes for Stable Diffusion are
#: published there.
OPML_SD_NOTE = ("ORA docs (github.com/ora-io/docs technology/opml.md): 'opML can run Stable Diffusion and LLaMA 2 "
                "directly on Ethereum' via OAO; ora-io/opml README supports DNN-for-MNIST and LLaMA only (MIPS-VM "
                "bisection, one instruction per step); no SD moves, gas or trace figures published")


class ResBlock(nn.Module):
    """SD's ResnetBlock2D with in == out channels (identity skip)."""

    def __init__(self, d: Dims):
        super().__init__()
        self.norm1 = nn.GroupNorm(d.groups, d.c)
        self.conv1 = nn.Conv2d(d.c, d.c, 3, padding=1)
        self.time_emb_proj = nn.Linear(d.temb, d.c)
        self.norm2 = nn.GroupNorm(d.groups, d.c)
        self.conv2 = nn.Conv2d(d.c, d.c, 3, padding=1)

    def forward(self, x, temb):                                   # x [1, C, 64, 64], temb [1, 1280]
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class Attention(nn.Module):
    def __init__(self, d: Dims, context_dim: int | None = None):
        super().__init__()
        kv = context_dim or d.c
        self.heads, self.c = d.heads, d.c
        self.to_q = nn.Linear(d.c, d.c, bias=False)
        self.to_k = nn.Linear(kv, d.c, bias=False)
        self.to_v = nn.Linear(kv, d.c, bias=False)
        self.to_out = nn.Linear(d.c, d.c)

    def forward(self, x, context=None):                           # x [1, T, C], context [1, L, kv]
        ctx = x if context is None else context
        b, t, _ = x.shape
        hd = self.c // self.heads
        q = (self.to_q(x) * hd ** -0.5).reshape(b, t, self.heads, hd).transpose(1, 2)   # scale q, not the scores
        k = self.to_k(ctx).reshape(b, ctx.shape[1], self.heads, hd).transpose(1, 2)
        v = self.to_v(ctx).reshape(b, ctx.shape[1], self.heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)                           # [1, 8, T, L]
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, self.c)
        return self.to_out(out)


class SpatialTransformer(nn.Module):
    def __init__(self, d: Dims):
        super().__init__()
        c = d.c
        self.norm = nn.GroupNorm(d.groups, c, eps=1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(c), nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn1 = Attention(d)
        self.attn2 = Attention(d, d.ctx_dim)
        self.ff_proj = nn.Linear(c, 2 * 4 * c)                   # GEGLU
        self.ff_out = nn.Linear(4 * c, c)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        t = self.proj_in(self.norm(x)).reshape(b, c, h * w).transpose(1, 2)   # [1, 4096, C]
        t = t + self.attn1(self.norm1(t))
        t = t + self.attn2(self.norm2(t), context)
        a, gate = self.ff_proj(self.norm3(t)).chunk(2, dim=-1)
        t = t + self.ff_out(a * F.gelu(gate))
        return self.proj_out(t.transpose(1, 2).reshape(b, c, h, w)) + x


class SdUnetBlock(nn.Module):
    """ResBlock + SpatialTransformer on one flat input [1, latent + temb + context]."""

    def __init__(self, d: Dims = SD15):
        super().__init__()
        torch.manual_seed(16)
        self.d = d
        self.res = ResBlock(d)
        self.st = SpatialTransformer(d)

    def forward(self, inp):
        d = self.d
        x = inp[:, :d.latent].reshape(1, d.c, d.hw, d.hw)
        temb = inp[:, d.latent:d.latent + d.temb]
        context = inp[:, d.latent + d.temb:].reshape(1, d.ctx_len, d.ctx_dim)
        return self.st(self.res(x, temb), context)


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def compile_block(d: Dims = SD15, bound: int = MAX_MOVE_GAS):
    """(model, module, float sample, integer input): the block compiled under ``bound`` gas per honest move."""
    from offchain.engine.compiler import CompileConfig, compile_module

    module = SdUnetBlock(d).eval()
    g = torch.Generator().manual_seed(1)
    sample = torch.randn(1, d.input_len, generator=g)
    with torch.no_grad():
        model = compile_module(module, (sample,), [(sample,)], CompileConfig(max_move_gas=bound),
                               name="sd-unet-block")
    spec = model.graph.inputs[0]
    x = np.clip(np.round(sample.numpy() * 2.0 ** spec.frac), spec.dtype.qmin, spec.dtype.qmax).astype(spec.dtype.numpy)
    return model, module, sample, x


def _fault_site(model) -> tuple[int, int]:
    """The self-attention probabilities (the first EXP with a row max and a row sum) and an element in its middle."""
    from offchain.engine.ops import OpCode

    node = next(i for i, n in enumerate(model.graph.nodes) if n.op == OpCode.EXP and len(n.inputs) == 3)
    return node, model.graph.nodes[node].output.size // 2 + 17


def sd_unet_block_figures(play: bool = True, d: Dims = SD15, bound: int = MAX_MOVE_GAS) -> dict:
    """Compile, run, commit and (``play``) dispute the block; the figures as a dict (see the module docstring):
    moves_per_side, max_tx_gas (the game's costliest transaction), max_step_gas_estimate (the costliest one-step
    proof of any node, move_gas's upper bound), nodes, trace_bytes, run_s, peak_rss_gb and more."""
    from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
    from offchain.dispute.faults import run_with_fault
    from offchain.engine.executor import run
    from offchain.engine.move_gas import check_move_gas, model_moves
    from offchain.engine.ops import OpCode

    figures: dict = {"case": "sd-unet-block", "opml_stable_diffusion": OPML_SD_NOTE}
    t = time.perf_counter()
    model, module, sample, x = compile_block(d, bound)
    figures["compile_s"] = round(time.perf_counter() - t, 1)
    figures["nodes"] = len(model.graph.nodes)
    figures["weights_bytes"] = int(sum(w.nbytes for w in model.weights))
    costliest = check_move_gas(model, bound=bound)
    steps = [m for m in model_moves(model) if m.move == "step"]
    worst = max(steps, key=lambda m: m.gas)
    figures["max_step_gas_estimate"] = worst.gas
    figures["max_step_gas_estimate_node"] = f"{worst.node} ({worst.op})"
    figures["max_move_gas_estimate"] = costliest.gas
    by_op: dict[str, int] = {}
    for m in steps:
        by_op[m.op] = max(by_op.get(m.op, 0), m.gas)
    figures["step_gas_estimate_by_op"] = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))

    t = time.perf_counter()
    honest_trace = run(model, [x])
    figures["run_s"] = round(time.perf_counter() - t, 1)
    figures["trace_bytes"] = int(sum(o.nbytes for o in honest_trace.outputs))
    out = honest_trace.output / 2.0 ** model.graph.output.frac
    with torch.no_grad():
        want = module(sample).numpy()
    figures["max_abs_error_vs_float"] = float(np.abs(out - want).max())
    figures["output_range_float"] = float(np.abs(want).max())
    figures["rel_rms_error_vs_float"] = float(np.sqrt(np.mean((out - want) ** 2)) / np.sqrt(np.mean(want ** 2)))
    del want, out, module, sample
    gc.collect()
    figures["peak_rss_gb_after_run"] = round(_rss_gb(), 2)
    if not play:
        figures["peak_rss_gb"] = round(_rss_gb(), 2)
        return figures

    node, element = _fault_site(model)
    figures["fault"] = f"node {node} ({OpCode(model.graph.nodes[node].op).name}, {model.graph.nodes[node].source}), " \
                       f"element {element}"
    commitment = ModelCommitment(model)
    t = time.perf_counter()
    honest = ExecutionCommitment(commitment, honest_trace)
    honest.trace_root
    faulty = ExecutionCommitment(commitment, run_with_fault(model, [x], node, element, delta=3))
    faulty.trace_root
    figures["faulty_run_and_trace_trees_s"] = round(time.perf_counter() - t, 1)
    from ape import accounts, networks, project

    from bench._dispute_game import deploy, dispute, register

    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        protocol = deploy(project, provider, accounts)
        model_id = register(protocol, commitment)
        outcome = dispute(protocol, model_id, honest, faulty)
    if outcome.node_index != node:
        raise AssertionError(f"the game ended on node {outcome.node_index}, the fault is at node {node}")
    figures["moves_per_side"] = outcome.moves_per_side
    figures["max_tx_gas"] = outcome.max_tx_gas
    figures["step_tx_gas"] = next(m.gas for m in outcome.match.moves if m.action == "Step")
    figures["dispute_wall_s"] = round(outcome.wall_s, 1)
    figures["peak_rss_gb"] = round(_rss_gb(), 2)
    return figures


if __name__ == "__main__":
    import sys

    print(json.dumps(sd_unet_block_figures(play="--no-dispute" not in sys.argv), indent=2))
