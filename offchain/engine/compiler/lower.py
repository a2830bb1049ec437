"""Lowering: from the calibrated ATen fx graph to integer graph nodes.

Every fx node becomes either a constant (it depends only on parameters and
buffers: folded at compile time from its calibrated value) or an
:class:`Act` in the integer graph. ``HANDLERS`` maps each supported ATen op to
the method that emits its integer nodes; anything else is an
:class:`UnsupportedOpError` naming the op and where it came from.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from offchain.engine.compiler import split
from offchain.engine.compiler.attention import additive_mask, causal_softmax
from offchain.engine.compiler.builder import Act, GraphBuilder
from offchain.engine.compiler.calibrate import Calibration
from offchain.engine.compiler.capture import source_of
from offchain.engine.compiler.config import CompileConfig
from offchain.engine.compiler.fusion import RmsMatch, RopeMatch, find_rms_norms, find_ropes
from offchain.engine.compiler.scales import choose_frac, quantisation_snr_db, worst_channel_snr_db, quantise_array, quantise_const
from offchain.engine.dtypes import DType
from offchain.engine.errors import CompileError, UnsupportedOpError
from offchain.engine.intmath_norm import EPS_TERM_LIMIT
from offchain.engine.ops import OpCode
from offchain.engine.ops.conv import long_conv_params
from offchain.engine.ops.elementwise import MAX_ALIGN_SHIFT
from offchain.engine.ops.fixed import MAX_LEFT_SHIFT, MAX_RIGHT_SHIFT
from offchain.engine.ops.piecewise import HARD_FRAC_IN_MAX, HARD_FRAC_OUT_MAX, LEAKY_MULT_MAX, LEAKY_SHIFT_MAX
from offchain.models._masking import MASK_PENALTY

aten = torch.ops.aten
# Bounds on the frac bits of gamma / beta (intmath norm) and of norm outputs.
NORM_FRAC_MAX = 30
NORM_Z_FRAC = 20
SOFTMAX_IN_FRAC_MAX = 24
# Tensors that carry additive attention-mask penalties are INT32 with at most
# this many frac bits, so the penalty (MASK_PENALTY, about 2^13.3) stays exact
# and the softmax sees it as a huge negative logit instead of a saturated small one.
MASK_FRAC = 16
# softplus: torch returns x itself past the threshold; SOFTPLUS's log(1 + e^x) is within e^-20 of that only
# from 20 on.
SOFTPLUS_THRESHOLD_MIN = 20.0


class _Wrapped:
    """A plain constant passed where an fx arg is expected (division by a constant)."""

    def __init__(self, value: Any):
        self.value = value


class _Tuple(list):
    """Several Acts produced by one fx node (e.g. unbind), taken apart by getitem."""


class _Const:
    """A compile-time value: a float tensor (folded parameters) or a plain Python value."""

    def __init__(self, value: Any, name: str):
        self.value = value
        self.name = name


def _flatten(args: Any) -> list:
    if isinstance(args, (list, tuple)):
        return [x for a in args for x in _flatten(a)]
    if isinstance(args, dict):
        return [x for a in args.values() for x in _flatten(a)]
    return [args]


def _eps_frac_limit(eps: float, multiplier: int) -> int:
    """Largest input frac (<= NORM_FRAC_MAX) whose eps term round(eps * 4^f) * multiplier stays
    below intmath's 2^61 bound (multiplier = n^3 for LayerNorm, n for RMSNorm)."""
    f = NORM_FRAC_MAX
    while f > 0 and round(eps * 4.0 ** f) * multiplier >= EPS_TERM_LIMIT:
        f -= 1
    return f


@dataclass(frozen=True)
class Problem:
    """One reason the model cannot compile: the ATen op, where it came from (fx node, module path and class, the
    user's file:line) and, when the op exists but these arguments or shapes do not fit, why."""

    op: str
    where: str
    reason: str = ""
    unsupported: bool = True

    def __str__(self) -> str:
        return f"{self.op} at {self.where}" + (f": {self.reason}" if self.reason else "")


class Lowerer:
    """Walks the fx graph once, in order, emitting integer nodes into a GraphBuilder."""

    def __init__(self, gm: torch.fx.GraphModule, calibration: Calibration, config: CompileConfig,
                 builder: GraphBuilder, model_name: str = "the model"):
        self.gm = gm
        self.cal = calibration
        self.cfg = config
        self.b = builder
        self.env: dict[str, Act | _Const] = {}
        self.node: torch.fx.Node | None = None
        self.input_count = 0
        self.widened: list[str] = []  # weights stored as int16 because int8 lost too much
        self.rms = find_rms_norms(gm, self._is_const_node)
        self.ropes = find_ropes(gm, self._is_const_node)
        self.absorbed = {n.name for m in (*self.rms.values(), *self.ropes.values()) for n in m.absorbed}
        self.problems: list[Problem] = []  # every node that could not be lowered, in graph order
        self.refused: set[str] = set()  # fx nodes whose value is a stand-in
        self.model_name = model_name

    # ---------------------------------------------------------------- walking

    def _is_const_node(self, n: torch.fx.Node) -> bool:
        if n.op == "get_attr":
            return True
        if n.op == "placeholder":
            return False
        return all(self._is_const_node(a) for a in _flatten((n.args, n.kwargs)) if isinstance(a, torch.fx.Node))

    def run(self) -> Act:
        """Lower every node; raises one error listing every problem found (see ``_refuse``)."""
        result = None
        for n in self.gm.graph.nodes:
            self.node = n
            if n.op == "output":
                if not self.problems:
                    result = self._output(n)
            elif n.name in self.absorbed:
                continue
            else:
                try:
                    self.env[n.name] = self._lower(n)
                except CompileError as exc:
                    if self._reads_refused(n) and not isinstance(exc, UnsupportedOpError):
                        self.env[n.name] = self._stand_in(n)   # a consequence of the stand-in it reads
                    else:
                        self.env[n.name] = self._refuse(n, exc)
                except Exception:
                    if not self._reads_refused(n):
                        raise
                    # A handler fed a stand-in may fail in any way; the refused node upstream is the problem.
                    self.env[n.name] = self._stand_in(n)
        if self.problems:
            unsupported = sum(p.unsupported for p in self.problems)
            kind = UnsupportedOpError if unsupported else CompileError
            what = f"{unsupported} unsupported op(s)" if unsupported else f"{len(self.problems)} problem(s)"
            raise kind(f"cannot compile {self.model_name}: {what}\n"
                       + "\n".join(f"  {k}. {p}" for k, p in enumerate(self.problems, 1)),
                       problems=self.problems)
        if result is None:
            raise CompileError("captured graph has no output")
        return result

    def _refuse(self, n: torch.fx.Node, exc: CompileError) -> Act | _Tuple | _Const:
        """Record why node ``n`` cannot be lowered and return a stand-in, so lowering goes on and every problem
        of the model is reported at once. Nothing built after the first refusal is ever returned."""
        reason = str(exc)
        src = source_of(n)
        if reason.startswith(src):
            reason = reason[len(src):].lstrip(": ")
        if reason.startswith(f"unsupported op {n.target} at"):
            reason = ""
        self.problems.append(Problem(str(n.target), src, reason, isinstance(exc, UnsupportedOpError)))
        return self._stand_in(n)

    def _reads_refused(self, n: torch.fx.Node) -> bool:
        return any(a.name in self.refused for a in _flatten((n.args, n.kwargs)) if isinstance(a, torch.fx.Node))

    def _stand_in(self, n: torch.fx.Node) -> Act | _Tuple | _Const:
        """An extra graph input shaped like ``n``'s calibrated value (a _Tuple of them for several tensors): later
        nodes read it like any activation, so their own problems are found too."""
        self.refused.add(n.name)

        def one(value: Any, k: int) -> Act | _Const:
            if not isinstance(value, torch.Tensor):
                return _Const(value, n.name)
            shape = tuple(int(d) for d in value.shape)
            if not value.is_floating_point():
                return self.b.add_input(shape, DType.INT32, 0, f"{n.name}.{k}.stand-in")
            frac = choose_frac(self.cal.maxabs.get(n.name, 0.0), self.cfg.activation_dtype, self.cfg.headroom,
                               self.cfg.min_activation_frac, self.cfg.max_activation_frac)
            return self.b.add_input(shape, self.cfg.activation_dtype, frac, f"{n.name}.{k}.stand-in")

        value = self.cal.first.get(n.name)
        if isinstance(value, (list, tuple)):
            return _Tuple(one(v, k) for k, v in enumerate(value))
        return one(value, 0)

    def _lower(self, n: torch.fx.Node) -> Act | _Const:
        if n.op == "placeholder":
            return self._placeholder(n)
        if n.op == "get_attr":
            return _Const(self.cal.first[n.name], n.target)
        if n.op == "call_module":  # torch.export's input guard; it computes nothing
            return _Const(None, n.name)
        if n.name in self.rms:
            return self._rms_norm(self.rms[n.name])
        if n.name in self.ropes:
            return self._rope(self.ropes[n.name])
        args = [self.env[a.name] if isinstance(a, torch.fx.Node) else a for a in _flatten((n.args, n.kwargs))]
        if not any(isinstance(a, (Act, _Tuple)) for a in args):
            return _Const(self.cal.first[n.name], n.name)
        if n.target in CHECKS_ONLY:
            return _Const(None, n.name)
        handler = HANDLERS.get(n.target)
        if handler is None:
            raise UnsupportedOpError(f"unsupported op {n.target} at {source_of(n)}")
        return handler(self, *n.args, **n.kwargs)

    def _output(self, n: torch.fx.Node) -> Act:
        outs = [a for a in _flatten(n.args) if isinstance(a, torch.fx.Node)]
        if len(outs) != 1 or not isinstance(self.env[outs[0].name], Act):
            raise CompileError(f"the model must return exactly one input-dependent tensor, got {len(outs)} outputs")
        act = self.env[outs[0].name]
        last = len(self.b.graph.nodes) - 1
        if act.ref.kind.name != "ACTIVATION" or act.ref.index != last:
            act = self._emit(OpCode.RESHAPE, [act], act.spec.shape, act.spec.dtype, act.spec.frac, name="output")
        return act

    # ---------------------------------------------------------------- helpers

    @property
    def src(self) -> str:
        return source_of(self.node) if self.node is not None else ""

    def _val(self, a: Any) -> Any:
        """Resolve an fx arg to an Act, a constant value or a plain value."""
        if isinstance(a, _Wrapped):
            return a.value
        if isinstance(a, torch.fx.Node):
            v = self.env[a.name]
            return v if isinstance(v, (Act, _Tuple)) else v.value
        if isinstance(a, (list, tuple)):
            return type(a)(self._val(x) for x in a)
        return a

    def _act(self, a: Any, what: str) -> Act:
        v = self._val(a)
        if not isinstance(v, Act):
            raise UnsupportedOpError(f"{self.src}: {what} must depend on the input for {self.node.target}")
        return v

    def _shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.cal.first[self.node.name].shape)

    def _masked(self) -> bool:
        return self.node.name in self.cal.masked

    def _dtype(self) -> DType:
        """Dtype of this node's output: the activation dtype, INT32 for attention-mask carriers."""
        return DType.INT32 if self._masked() else self.cfg.activation_dtype

    def _frac(self, dtype: DType | None = None, lo: int | None = None, hi: int | None = None) -> int:
        dtype = dtype or self._dtype()
        lo = self.cfg.min_activation_frac if lo is None else lo
        hi = self.cfg.max_activation_frac if hi is None else hi
        if self._masked():
            hi = min(hi, MASK_FRAC)
        return choose_frac(self.cal.maxabs.get(self.node.name, 0.0), dtype, self.cfg.headroom, lo, hi)

    def _emit(self, op: int, inputs: list[Act], shape, dtype: DType, frac: int, params=(), name: str = "") -> Act:
        return self.b.add_node(op, inputs, tuple(shape), dtype, frac, tuple(params), self.src,
                               name or (self.node.name if self.node is not None else ""))

    def _fit(self, x: Act, lo: int, hi: int) -> Act:
        """x itself if its frac is in [lo, hi], else a RESCALE into that range."""
        f = min(max(x.spec.frac, lo), hi)
        if f == x.spec.frac:
            return x
        return self._emit(OpCode.RESCALE, [x], x.spec.shape, x.spec.dtype, f, name=f"{self.node.name}.rescale")

    def _to(self, x: Act, dtype: DType, frac: int) -> Act:
        if (x.spec.dtype, x.spec.frac) == (dtype, frac):
            return x
        return self._emit(OpCode.RESCALE, [x], x.spec.shape, dtype, frac, name=f"{self.node.name}.rescale")

    def _weight(self, value: Any, dtype: DType, name: str, lo: int = -16, hi: int = 40) -> Act:
        arr = np.asarray(value.detach().double().numpy() if isinstance(value, torch.Tensor) else value,
                         dtype=np.float64)
        q, f = quantise_const(arr, dtype, lo, hi)
        return self.b.add_weight(q, dtype, f, name)

    def _param_name(self, a: Any) -> str:
        return a.target if isinstance(a, torch.fx.Node) and a.op == "get_attr" else getattr(a, "name", str(a))

    def _weight_dtype(self, a: Any) -> DType:
        """The configured dtype of weight ``a``; int8 is widened to int16 when its SNR is too low. A weight that
        absorbed a BatchNorm (``*_bn_folded``, compiler/batchnorm.py) is also judged by its worst output channel:
        folding scales each channel by its own gamma / sqrt(var + eps), so a channel can keep only a few int8 levels under
        the tensor's one scale while the whole-tensor SNR still looks fine (the zoo's MobileNet depthwise conv:
        35.6 dB whole, 21.5 dB in its worst channel); such a weight is widened when that channel's SNR is under
        ``min_folded_channel_snr_db``."""
        name = self._param_name(a)
        if name in self.cfg.weight_dtypes:
            return self.cfg.weight_dtypes[name]
        dtype = self.cfg.weight_dtype
        threshold = self.cfg.min_weight_snr_db
        if dtype == DType.INT8 and threshold is not None:
            value = self._val(a)
            arr = value.detach().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            folded = self.cfg.min_folded_channel_snr_db
            if quantisation_snr_db(arr, DType.INT8) < threshold or (
                    "_bn_folded" in name and folded is not None and worst_channel_snr_db(arr, DType.INT8) < folded):
                self.widened.append(name)
                return DType.INT16
        return dtype

    def _bias_weight_frac_cap(self, b: Any, x_frac: int) -> int:
        """The largest weight frac (<= 40, the _weight default) at which bias ``b`` (None: no bias) still fits int32
        at frac ``x_frac`` + that frac: a widened (int16) weight would otherwise push its bias past int32 (a Linear
        followed by a folded BatchNorm1d). Never lower than a frac at which the bias fits, so models whose biases
        already fit keep their weights' scales."""
        hi = 40
        if b is None:
            return hi
        top = float(np.abs(np.asarray(self._val(b).detach().double().numpy())).max(initial=0.0))
        while hi > -16 and math.floor(top * 2.0 ** (x_frac + hi) + 0.5) > DType.INT32.qmax:
            hi -= 1
        return hi

    def _bias(self, b: Any, frac: int, n: int) -> Act:
        values = np.asarray(self._val(b).detach().double().numpy())
        if values.shape != (n,):
            raise CompileError(f"{self.src}: bias shape {values.shape} != ({n},)")
        q = np.floor(values * 2.0 ** frac + 0.5)
        if np.abs(q).max(initial=0) > DType.INT32.qmax:
            raise CompileError(f"{self.src}: bias {self._param_name(b)} overflows int32 at frac {frac}; "
                               f"lower the activation or weight scale")
        return self.b.add_weight(q.astype(np.int32), DType.INT32, frac, self._param_name(b))

    def _const_operand(self, value: Any, partner: Act, name: str, align: bool) -> Act:
        arr = np.asarray(value.detach().double().numpy() if isinstance(value, torch.Tensor) else value,
                         dtype=np.float64)
        lo, hi = -16, 40
        if align:  # ADD/SUB align fracs by shifting; keep the difference within the op's limit
            lo, hi = partner.spec.frac - MAX_ALIGN_SHIFT, partner.spec.frac + MAX_ALIGN_SHIFT
        q, f = quantise_const(arr, self.cfg.const_dtype, lo, hi)
        return self.b.add_weight(q, self.cfg.const_dtype, f, name)

    def _out(self, op: int, inputs: list[Act], params=(), dtype: DType | None = None,
             frac: int | None = None, lo: int | None = None, hi: int | None = None) -> Act:
        dtype = dtype or self._dtype()
        frac = self._frac(dtype, lo, hi) if frac is None else frac
        return self._emit(op, inputs, self._shape(), dtype, frac, params)

    def _clamp_shift(self, frac: int, base: int) -> int:
        """Keep base - frac >= -MAX_LEFT_SHIFT so the requantisation is a legal shift."""
        return min(frac, base + MAX_LEFT_SHIFT)

    # ---------------------------------------------------------------- inputs

    def _placeholder(self, n: torch.fx.Node) -> Act:
        j = self.input_count
        self.input_count += 1
        value = self.cal.first[n.name]
        shape = tuple(int(d) for d in value.shape)
        if not value.is_floating_point():
            return self.b.add_input(shape, DType.INT32, 0, n.name)
        specs = self.cfg.input_specs or []
        fixed = specs[j] if j < len(specs) else None
        if fixed is not None:
            return self.b.add_input(shape, fixed[0], fixed[1], n.name)
        dtype = self.cfg.activation_dtype
        return self.b.add_input(shape, dtype, self._frac(dtype), n.name)

    # ---------------------------------------------------------------- ops

    def linear(self, x, w, b=None) -> Act:
        xa = self._act(x, "input")
        wv = self._val(w)
        if isinstance(wv, Act):
            raise UnsupportedOpError(f"{self.src}: linear with an input-dependent weight")
        wa = self._weight(wv, self._weight_dtype(w), self._param_name(w), hi=self._bias_weight_frac_cap(b, xa.spec.frac))
        ops = [xa, wa]
        if b is not None:
            ops.append(self._bias(b, xa.spec.frac + wa.spec.frac, wa.spec.shape[0]))
        frac = self._clamp_shift(self._frac(), xa.spec.frac + wa.spec.frac)
        return self._out(OpCode.LINEAR, ops, frac=frac)

    def relu(self, x) -> Act:
        xa = self._act(x, "input")
        return self._emit(OpCode.RELU, [xa], xa.spec.shape, xa.spec.dtype, xa.spec.frac)

    def _intmath_unary(self, op: int, x, params=()) -> Act:
        xa = self._fit(self._act(x, "input"), 0, SOFTMAX_IN_FRAC_MAX)
        return self._out(op, [xa], params=params, lo=0, hi=30)

    def gelu(self, x, approximate: str = "none") -> Act:
        return self._intmath_unary(OpCode.GELU, x, (1 if approximate == "tanh" else 0,))

    def silu(self, x) -> Act:
        return self._intmath_unary(OpCode.SILU, x)

    def _binary(self, op: int, a, b, alpha=1) -> Act:
        if alpha != 1:
            raise UnsupportedOpError(f"{self.src}: {self.node.target} with alpha={alpha}")
        av, bv = self._val(a), self._val(b)
        add = op in (OpCode.ADD, OpCode.SUB)
        if not isinstance(av, Act):
            av = self._const_operand(av, bv, f"{self.node.name}.a", add)
        if not isinstance(bv, Act):
            bv = self._const_operand(bv, av, f"{self.node.name}.b", add)
        if add and abs(av.spec.frac - bv.spec.frac) > MAX_ALIGN_SHIFT:
            target = max(av.spec.frac, bv.spec.frac) - MAX_ALIGN_SHIFT
            av, bv = (self._fit(v, target, 64) for v in (av, bv))
        base = max(av.spec.frac, bv.spec.frac) if add else av.spec.frac + bv.spec.frac
        frac = self._clamp_shift(self._frac(), base)
        return self._out(op, [av, bv], frac=frac)

    def add(self, a, b, alpha=1) -> Act:
        return self._binary(OpCode.ADD, a, b, alpha)

    def sub(self, a, b, alpha=1) -> Act:
        return self._binary(OpCode.SUB, a, b, alpha)

    def mul(self, a, b) -> Act:
        return self._binary(OpCode.MUL, a, b)

    def div(self, a, b) -> Act:
        bv = self._val(b)
        if isinstance(bv, Act):
            raise UnsupportedOpError(f"{self.src}: division by an input-dependent tensor")
        inv = 1.0 / bv if not isinstance(bv, torch.Tensor) else 1.0 / bv.double()
        return self._binary(OpCode.MUL, a, _Wrapped(inv))

    def neg(self, x) -> Act:
        xa = self._act(x, "input")
        return self._emit(OpCode.NEG, [xa], xa.spec.shape, xa.spec.dtype, xa.spec.frac)

    def matmul(self, a, b) -> Act:
        av, bv = self._val(a), self._val(b)
        if not isinstance(av, Act):
            raise UnsupportedOpError(f"{self.src}: matmul with a constant left operand")
        if not isinstance(bv, Act):
            if bv.dim() != 2:
                raise UnsupportedOpError(f"{self.src}: matmul with a constant right operand of rank {bv.dim()}")
            wa = self._weight(bv.T.contiguous(), self._weight_dtype(b), self._param_name(b))
            frac = self._clamp_shift(self._frac(), av.spec.frac + wa.spec.frac)
            return self._out(OpCode.LINEAR, [av, wa], frac=frac)
        if len(av.spec.shape) != len(bv.spec.shape) or av.spec.shape[:-2] != bv.spec.shape[:-2]:
            raise UnsupportedOpError(f"{self.src}: matmul needs equal leading dims, got "
                                     f"{av.spec.shape} @ {bv.spec.shape}")
        rank = len(bv.spec.shape)
        perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
        producer = self.b.producer(bv)
        if producer is not None and producer.op == OpCode.PERMUTE and producer.params == perm:
            # b = x^T (attention's k.transpose(-2, -1)): MATMUL reads x's rows directly.
            bt = Act(producer.inputs[0], producer.in_specs[0])
        else:
            shape = bv.spec.shape[:-2] + (bv.spec.shape[-1], bv.spec.shape[-2])
            bt = self._emit(OpCode.PERMUTE, [bv], shape, bv.spec.dtype, bv.spec.frac, perm,
                            name=f"{self.node.name}.bT")
        frac = self._clamp_shift(self._frac(), av.spec.frac + bv.spec.frac)
        return self._out(OpCode.MATMUL, [av, bt], frac=frac)

    def _last_axis(self, x: Act, dim: int) -> tuple[Act, tuple[int, ...] | None]:
        """Move axis ``dim`` last with a PERMUTE; returns the permuted act and the inverse perm (or None)."""
        rank = len(x.spec.shape)
        dim %= rank
        if dim == rank - 1:
            return x, None
        perm = tuple(i for i in range(rank) if i != dim) + (dim,)
        inv = tuple(perm.index(i) for i in range(rank))
        moved = self._emit(OpCode.PERMUTE, [x], tuple(x.spec.shape[p] for p in perm), x.spec.dtype,
                           x.spec.frac, perm, name=f"{self.node.name}.moveaxis")
        return moved, inv

    def softmax(self, x, dim, half_to_float=False) -> Act:
        xa = self._fit(self._act(x, "input"), 0, SOFTMAX_IN_FRAC_MAX)
        xa, inv = self._last_axis(xa, dim)
        dtype, frac = self.cfg.softmax_out
        # ---- image: sd-unet-block (issue 16): rows too wide for one step take the two-pass form
        if split.over_bound(self, OpCode.SOFTMAX, [xa], xa.spec.shape, dtype, frac, (0,)):
            out = split.two_pass_softmax(self, xa, dtype, frac)
        else:
            out = self._emit(OpCode.SOFTMAX, [xa], xa.spec.shape, dtype, frac, (0,))
        if inv is not None:
            out = self._emit(OpCode.PERMUTE, [out], self._shape(), dtype, frac, inv)
        return out

    def _merge_norm_axes(self, x: Act, normalized_shape) -> Act:
        """``x`` with the trailing axes ``normalized_shape`` names merged into one (a RESHAPE), so a norm over
        several trailing axes (nn.LayerNorm([C, H, W]), nn.RMSNorm([T, D])) is the norm ops' last-axis norm."""
        dims = [int(d) for d in normalized_shape]
        k = len(dims)
        if k == 0 or list(x.spec.shape[-k:]) != dims:
            raise UnsupportedOpError(f"{self.src}: {self.node.target} over {dims} of a tensor shaped {x.spec.shape}; "
                                     f"the normalised axes must be its trailing axes")
        if k == 1:
            return x
        merged = x.spec.shape[:-k] + (int(np.prod(dims)),)
        return self._emit(OpCode.RESHAPE, [x], merged, x.spec.dtype, x.spec.frac, name=f"{self.node.name}.merge")

    def _norm_out(self, op: int, inputs: list[Act], params: tuple[int, ...], gamma_frac: int) -> Act:
        """The norm node over the merged last axis, reshaped back to this node's shape when axes were merged."""
        hi = min(NORM_FRAC_MAX, NORM_Z_FRAC + gamma_frac)
        dtype = self._dtype()
        out = self._emit(op, inputs, inputs[0].spec.shape, dtype, self._frac(dtype, 0, hi), params)
        if out.spec.shape != self._shape():
            out = self._emit(OpCode.RESHAPE, [out], self._shape(), dtype, out.spec.frac,
                             name=f"{self.node.name}.unmerge")
        return out

    def layer_norm(self, x, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True) -> Act:
        """LayerNorm over its trailing axes (one, or several merged by a RESHAPE)."""
        xa = self._merge_norm_axes(self._act(x, "input"), normalized_shape)
        n = xa.spec.shape[-1]
        xa = self._fit(xa, 0, _eps_frac_limit(eps, n ** 3))
        gamma = self._val(weight).reshape(n) if weight is not None else torch.ones(n)
        beta = self._val(bias).reshape(n) if bias is not None else torch.zeros(n)
        ga = self._weight(gamma, self.cfg.norm_param_dtype, self._param_name(weight), 0, NORM_FRAC_MAX)
        ba = self._weight(beta, self.cfg.norm_param_dtype, self._param_name(bias), 0,
                          min(NORM_FRAC_MAX, NORM_Z_FRAC + ga.spec.frac))
        eps_lsb2 = round(eps * 4.0 ** xa.spec.frac)
        return self._norm_out(OpCode.LAYERNORM, [xa, ga, ba], (eps_lsb2,), ga.spec.frac)

    def rms_norm(self, x, normalized_shape, weight=None, eps=None) -> Act:
        """nn.RMSNorm / F.rms_norm (aten.rms_norm): x / sqrt(mean(x^2) + eps) * weight over the trailing axes, the
        RMSNORM op the hand-written pattern (compiler/fusion.py) also becomes; eps None is torch's float32 eps."""
        xa = self._merge_norm_axes(self._act(x, "input"), normalized_shape)
        n = xa.spec.shape[-1]
        eps = float(torch.finfo(torch.float32).eps) if eps is None else float(eps)
        xa = self._fit(xa, 0, _eps_frac_limit(eps, n))
        gamma = (self._val(weight).double().reshape(n) if weight is not None
                 else torch.ones(n, dtype=torch.float64))
        name = self._param_name(weight) if weight is not None else f"{self.node.name}.gamma"
        ga = self._weight(gamma, self.cfg.norm_param_dtype, name, 0, NORM_FRAC_MAX)
        return self._norm_out(OpCode.RMSNORM, [xa, ga], (round(eps * 4.0 ** xa.spec.frac),), ga.spec.frac)

    def _rms_norm(self, m: RmsMatch) -> Act:
        xa = self._act(m.x, "input")
        n = xa.spec.shape[-1]
        xa = self._fit(xa, 0, _eps_frac_limit(m.eps_mean, n))
        gamma = self._val(m.weight).double() if m.weight is not None else torch.ones(n, dtype=torch.float64)
        name = self._param_name(m.weight) if m.weight is not None else f"{self.node.name}.gamma"
        ga = self._weight(gamma * m.gamma_scale, self.cfg.norm_param_dtype, name, 0, NORM_FRAC_MAX)
        eps_lsb2 = round(m.eps_mean * 4.0 ** xa.spec.frac)
        return self._out(OpCode.RMSNORM, [xa, ga], (eps_lsb2,), lo=0,
                         hi=min(NORM_FRAC_MAX, NORM_Z_FRAC + ga.spec.frac))

    def _rope(self, m: RopeMatch) -> Act:
        xa = self._act(m.x, "input")
        table = xa.spec.shape[-2:]
        cos = self._val(m.cos).double().reshape(table).numpy()
        sin = self._val(m.sin).double().reshape(table).numpy()
        dtype = self.cfg.const_dtype
        frac = choose_frac(max(np.abs(cos).max(), np.abs(sin).max()), dtype, 1.0, 0, 30)
        ca = self.b.add_weight(quantise_array(cos, frac, dtype), dtype, frac, self._param_name(m.cos),
                               key=("rope", m.cos.name, frac))
        sa = self.b.add_weight(quantise_array(sin, frac, dtype), dtype, frac, self._param_name(m.sin),
                               key=("rope", m.sin.name, frac))
        out_frac = self._clamp_shift(self._frac(), xa.spec.frac + frac)
        return self._out(OpCode.ROPE, [xa, ca, sa], frac=out_frac)

    def embedding(self, weight, ids, padding_idx=-1, scale_grad=False, sparse=False) -> Act:
        ia = self._act(ids, "ids")
        if ia.ref.kind.name != "INPUT":
            raise UnsupportedOpError(f"{self.src}: embedding ids must be a model input (token ids)")
        wa = self._weight(self._val(weight), self._weight_dtype(weight), self._param_name(weight))
        return self._out(OpCode.EMBEDDING, [ia, wa], frac=self._clamp_shift(self._frac(),
                                                                              wa.spec.frac))

    def _reshape(self, x, *_args, **_kwargs) -> Act:
        xa = self._act(x, "input")
        shape = self._shape()
        if shape == xa.spec.shape:
            return xa
        return self._emit(OpCode.RESHAPE, [xa], shape, xa.spec.dtype, xa.spec.frac)

    def _alias(self, x, *_args, **_kwargs) -> Act:
        return self._act(x, "input")

    def to_dtype(self, x, *args, **kwargs) -> Act:
        """A float-to-float cast is the identity on fixed-point reals; any other cast is not supported."""
        target = kwargs.get("dtype", next((a for a in args if isinstance(a, torch.dtype)), None))
        if target is not None and not target.is_floating_point:
            raise UnsupportedOpError(f"{self.src}: cast of an input-dependent tensor to {target}")
        return self._act(x, "input")

    def permute(self, x, dims) -> Act:
        xa = self._act(x, "input")
        rank = len(xa.spec.shape)
        perm = tuple(int(d) % rank for d in dims)
        if perm == tuple(range(rank)):
            return xa
        return self._emit(OpCode.PERMUTE, [xa], self._shape(), xa.spec.dtype, xa.spec.frac, perm)

    def transpose(self, x, d0, d1) -> Act:
        rank = len(self._act(x, "input").spec.shape)
        perm = list(range(rank))
        perm[d0 % rank], perm[d1 % rank] = perm[d1 % rank], perm[d0 % rank]
        return self.permute(x, perm)

    def t(self, x) -> Act:
        return self.transpose(x, 0, 1)

    def slice(self, x, dim=0, start=None, end=None, step=1) -> Act:
        xa = self._act(x, "input")
        rank = len(xa.spec.shape)
        dim %= rank
        size = xa.spec.shape[dim]
        start = 0 if start is None else (start + size if start < 0 else start)
        start = min(max(start, 0), size)
        shape = self._shape()
        if shape == xa.spec.shape:
            return xa
        return self._emit(OpCode.SLICE, [xa], shape, xa.spec.dtype, xa.spec.frac, (dim, start, step))

    def select(self, x, dim, index) -> Act:
        xa = self._act(x, "input")
        rank = len(xa.spec.shape)
        dim %= rank
        index %= xa.spec.shape[dim]
        one = list(xa.spec.shape)
        one[dim] = 1
        sliced = self._emit(OpCode.SLICE, [xa], tuple(one), xa.spec.dtype, xa.spec.frac, (dim, index, 1),
                            name=f"{self.node.name}.slice")
        return self._emit(OpCode.RESHAPE, [sliced], self._shape(), xa.spec.dtype, xa.spec.frac)

    def cat(self, tensors, dim=0) -> Act:
        vals = [self._val(t) for t in tensors]
        acts = [v for v in vals if isinstance(v, Act)]
        frac = min(a.spec.frac for a in acts)
        dtype = self._dtype()
        parts = []
        for k, v in enumerate(vals):
            if isinstance(v, Act):
                parts.append(self._to(v, dtype, frac))
            else:
                arr = v.detach().double().numpy()
                parts.append(self.b.add_weight(quantise_array(arr, frac, dtype), dtype, frac,
                                               f"{self.node.name}.const{k}"))
        rank = len(parts[0].spec.shape)
        return self._emit(OpCode.CONCAT, parts, self._shape(), dtype, frac, (dim % rank,))

    def _reduce(self, x, dims, keepdim: bool, mean: bool) -> Act:
        moved = self._merge_last(self._act(x, "input"), dims)
        n = moved.spec.shape[-1]
        k = self.cfg.mean_reciprocal_bits if mean else 0
        mult = round((1 << k) / n) if mean else 1
        dtype = self._dtype()
        frac = self._clamp_shift(self._frac(dtype), moved.spec.frac + k)
        out = self._emit(OpCode.MEAN, [moved], moved.spec.shape[:-1], dtype, frac, (mult, k))
        if out.spec.shape != self._shape():
            out = self._emit(OpCode.RESHAPE, [out], self._shape(), dtype, frac, name=f"{self.node.name}.keepdim")
        return out

    def mean(self, x, dims=None, keepdim=False, dtype=None) -> Act:
        return self._reduce(x, dims, keepdim, True)

    def sum(self, x, dims=None, keepdim=False, dtype=None) -> Act:
        return self._reduce(x, dims, keepdim, False)

    def _reduce_all(self, x, mean: bool) -> Act:
        """x.mean() / x.sum() with no axes (aten.mean.default, aten.sum.default): over every axis, as a [1, N] row
        so the reduction's output keeps rank 1; RESHAPE gives torch's rank-0 result."""
        xa = self._act(x, "input")
        row = self._emit(OpCode.RESHAPE, [xa], (1, int(np.prod(xa.spec.shape))), xa.spec.dtype, xa.spec.frac,
                         name=f"{self.node.name}.row")
        return self._reduce(row, [1], False, mean)

    def mean_all(self, x, dtype=None) -> Act:
        return self._reduce_all(x, True)

    def sum_all(self, x, dtype=None) -> Act:
        return self._reduce_all(x, False)

    def getitem(self, x, index) -> Act:
        parts = self._val(x)
        if not isinstance(parts, _Tuple):
            raise UnsupportedOpError(f"{self.src}: getitem on an input-dependent value")
        return parts[index]

    def unbind(self, x, dim=0) -> _Tuple:
        xa = self._act(x, "input")
        rank = len(xa.spec.shape)
        dim %= rank
        one = list(xa.spec.shape)
        one[dim] = 1
        rest = xa.spec.shape[:dim] + xa.spec.shape[dim + 1:]
        parts = _Tuple()
        for i in range(xa.spec.shape[dim]):
            sliced = self._emit(OpCode.SLICE, [xa], tuple(one), xa.spec.dtype, xa.spec.frac, (dim, i, 1),
                                name=f"{self.node.name}.{i}.slice")
            parts.append(self._emit(OpCode.RESHAPE, [sliced], rest, xa.spec.dtype, xa.spec.frac,
                                    name=f"{self.node.name}.{i}"))
        return parts

    # ---------------------------------------------------------------- activations (issue 13)

    def tanh(self, x) -> Act:
        return self._intmath_unary(OpCode.TANH, x)

    def sigmoid(self, x) -> Act:
        return self._intmath_unary(OpCode.SIGMOID, x)

    def softplus(self, x, beta=1.0, threshold=20.0) -> Act:
        """torch's softplus: log(1 + e^x), or x itself past ``threshold``. SOFTPLUS computes log(1 + e^x)
        everywhere, which is within log1p(e^-20) < 2^-28 of torch's only for beta = 1 and threshold >= 20."""
        if beta != 1 or threshold < SOFTPLUS_THRESHOLD_MIN:
            raise UnsupportedOpError(f"{self.src}: softplus supports beta=1 and threshold >= "
                                     f"{SOFTPLUS_THRESHOLD_MIN} (got beta={beta}, threshold={threshold})")
        return self._intmath_unary(OpCode.SOFTPLUS, x)

    def _clamp(self, x, lo: Any, hi: Any) -> Act:
        """CLAMP with constant bounds (None: unbounded) in the input's LSBs, round half up and limited to its
        dtype (which changes nothing: x cannot pass a dtype end); the output keeps the input's scale. torch's
        clamp(x, lo, hi) with lo > hi is hi everywhere, so is CLAMP(hi, hi)."""
        xa = self._act(x, "input")
        d, f = xa.spec.dtype, xa.spec.frac

        def bound(v: Any, default: int) -> int:
            if v is None:
                return default
            if isinstance(v, (torch.Tensor, Act, _Tuple)):
                raise UnsupportedOpError(f"{self.src}: {self.node.target} needs constant scalar bounds")
            return int(min(max(math.floor(float(v) * 2.0 ** f + 0.5), d.qmin), d.qmax))

        lo_q, hi_q = bound(lo, d.qmin), bound(hi, d.qmax)
        return self._emit(OpCode.CLAMP, [xa], xa.spec.shape, d, f, (min(lo_q, hi_q), hi_q))

    def hardtanh(self, x, min_val=-1.0, max_val=1.0) -> Act:
        return self._clamp(x, min_val, max_val)

    def relu6(self, x) -> Act:
        return self._clamp(x, 0.0, 6.0)

    def clamp(self, x, min=None, max=None) -> Act:  # noqa: A002 - ATen's argument names
        return self._clamp(x, min, max)

    def clamp_min(self, x, min) -> Act:  # noqa: A002
        return self._clamp(x, min, None)

    def clamp_max(self, x, max) -> Act:  # noqa: A002
        return self._clamp(x, None, max)

    def leaky_relu(self, x, negative_slope=0.01) -> Act:
        """LEAKY_RELU with the slope as m / 2^k: the largest k <= 24 with |m| = |round(slope 2^k)| <= 2^24, so
        the slope is off by at most 2^-25. The output frac comes from calibration (a slope above 1 widens it)."""
        xa = self._act(x, "input")
        slope = float(negative_slope)
        k = LEAKY_SHIFT_MAX
        while k > 0 and abs(math.floor(slope * 2.0 ** k + 0.5)) > LEAKY_MULT_MAX:
            k -= 1
        m = math.floor(slope * 2.0 ** k + 0.5)
        if abs(m) > LEAKY_MULT_MAX:
            raise UnsupportedOpError(f"{self.src}: leaky_relu slope {slope} is beyond +-{LEAKY_MULT_MAX}")
        base = xa.spec.frac + k
        frac = min(max(self._frac(xa.spec.dtype), base - MAX_RIGHT_SHIFT), base + MAX_LEFT_SHIFT)
        return self._out(OpCode.LEAKY_RELU, [xa], params=(m, k), dtype=xa.spec.dtype, frac=frac)

    def _hard(self, op: int, x) -> Act:
        xa = self._fit(self._act(x, "input"), 0, HARD_FRAC_IN_MAX)
        return self._out(op, [xa], lo=0, hi=HARD_FRAC_OUT_MAX)

    def hardswish(self, x) -> Act:
        return self._hard(OpCode.HARDSWISH, x)

    def hardsigmoid(self, x) -> Act:
        return self._hard(OpCode.HARDSIGMOID, x)
    # ---------------------------------------------------------------- attention and shape functions (issue 13)

    def causal_softmax(self, x) -> Act:
        """SOFTMAX with its causal flag (SDPA's is_causal, rewritten by compiler/attention.py)."""
        xa = self._fit(self._act(x, "input"), 0, SOFTMAX_IN_FRAC_MAX)
        dtype, frac = self.cfg.softmax_out
        return self._emit(OpCode.SOFTMAX, [xa], xa.spec.shape, dtype, frac, (1,))

    def attention_mask(self, mask) -> Act:
        """An input-dependent float attention mask is added as it is (the penalty clamp only moves values no
        fixed-point activation holds); a boolean one has no integer form."""
        arg = self.node.args[0]
        if isinstance(arg, torch.fx.Node) and self.cal.first[arg.name].dtype == torch.bool:
            raise UnsupportedOpError(f"{self.src}: an input-dependent boolean attention mask; give it as a "
                                     f"constant (buffer) or as an additive float mask")
        return self._act(mask, "attention mask")

    def expand(self, x, *_args, **_kwargs) -> Act:
        """expand / expand_as / broadcast_to: EXPAND (nothing when the shape is unchanged)."""
        xa = self._act(x, "input")
        shape = self._shape()
        if shape == xa.spec.shape:
            return xa
        return self._emit(OpCode.EXPAND, [xa], shape, xa.spec.dtype, xa.spec.frac)

    def repeat(self, x, repeats) -> Act:
        """x.repeat(r): x reshaped to [1, s0, 1, s1, ...], EXPANDed to [r0, s0, r1, s1, ...], reshaped to the
        output [r0 * s0, r1 * s1, ...] (row-major order makes that the tiling)."""
        xa = self._act(x, "input")
        repeats = [int(r) for r in repeats]
        dims = [1] * (len(repeats) - len(xa.spec.shape)) + list(xa.spec.shape)
        spread = tuple(v for d in dims for v in (1, d))
        tiled = tuple(v for r, d in zip(repeats, dims) for v in (r, d))
        dtype, frac = xa.spec.dtype, xa.spec.frac
        if spread != xa.spec.shape:
            xa = self._emit(OpCode.RESHAPE, [xa], spread, dtype, frac, name=f"{self.node.name}.spread")
        if tiled != spread:
            xa = self._emit(OpCode.EXPAND, [xa], tiled, dtype, frac, name=f"{self.node.name}.tile")
        return xa if xa.spec.shape == self._shape() else self._emit(OpCode.RESHAPE, [xa], self._shape(), dtype,
                                                                     frac)

    def _common_scale(self, values: list, what: str) -> tuple[list[Act], DType, int]:
        """Acts and constants of one output brought to one dtype and frac: the calibrated output frac, at most
        the finest input's (no input gains bits it does not have); constants are quantised at it, their -inf
        entries first mapped to -MASK_PENALTY (calibration marks such outputs masked: INT32)."""
        acts = [v for v in values if isinstance(v, Act)]
        if not acts:
            raise UnsupportedOpError(f"{self.src}: {what} needs an input-dependent operand")
        dtype = self._dtype()
        frac = min(self._frac(dtype), max(a.spec.frac for a in acts))
        out = []
        for k, v in enumerate(values):
            if isinstance(v, Act):
                out.append(self._to(v, dtype, frac))
                continue
            arr = np.asarray(v.detach().double().numpy() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
            arr = np.maximum(arr, -MASK_PENALTY).reshape(arr.shape or (1,))
            out.append(self.b.add_weight(quantise_array(arr, frac, dtype), dtype, frac, f"{self.node.name}.const{k}"))
        return out, dtype, frac

    def stack(self, tensors, dim=0) -> Act:
        """torch.stack: CONCAT along dim then RESHAPE (row-major makes [.., k * n, ..] the stack [.., k, n, ..]);
        stacking on a new last axis RESHAPEs each input to [.., 1] and CONCATs them."""
        parts, dtype, frac = self._common_scale([self._val(t) for t in tensors], "stack")
        shape = self._shape()
        dim %= len(shape)
        if dim < len(shape) - 1:
            base = parts[0].spec.shape
            joined = base[:dim] + (base[dim] * len(parts),) + base[dim + 1:]
            cat = self._emit(OpCode.CONCAT, parts, joined, dtype, frac, (dim,), name=f"{self.node.name}.concat")
            return self._emit(OpCode.RESHAPE, [cat], shape, dtype, frac)
        ones = [self._emit(OpCode.RESHAPE, [p], p.spec.shape + (1,), dtype, frac, name=f"{self.node.name}.{k}")
                for k, p in enumerate(parts)]
        return self._emit(OpCode.CONCAT, ones, shape, dtype, frac, (dim,))

    def split(self, x, _sizes, dim=0) -> _Tuple:
        """chunk / split / split_with_sizes: one SLICE per part, sizes as torch produced them in calibration."""
        xa = self._act(x, "input")
        dim %= len(xa.spec.shape)
        parts, start = _Tuple(), 0
        for k, value in enumerate(self.cal.first[self.node.name]):
            shape = tuple(int(d) for d in value.shape)
            if shape == xa.spec.shape:
                parts.append(xa)
            else:
                parts.append(self._emit(OpCode.SLICE, [xa], shape, xa.spec.dtype, xa.spec.frac, (dim, start, 1),
                                        name=f"{self.node.name}.{k}"))
            start += shape[dim]
        return parts

    def where(self, cond, x, y) -> Act:
        """torch.where with a constant condition: WHERE(cond as int8 0/1, x, y)."""
        return self._select(cond, self._val(x), self._val(y))

    def masked_fill(self, x, mask, value) -> Act:
        """x.masked_fill(mask, value) with a constant mask: WHERE(mask, value, x)."""
        return self._select(mask, self._val(value), self._val(x))

    def _select(self, cond, x, y) -> Act:
        cv = self._val(cond)
        if isinstance(cv, Act):
            raise UnsupportedOpError(f"{self.src}: {self.node.target} with an input-dependent condition; only a "
                                     f"constant mask compiles")
        (xa, ya), dtype, frac = self._common_scale([x, y], str(self.node.target))
        c = np.asarray(cv.detach().numpy() if isinstance(cv, torch.Tensor) else cv) != 0
        ca = self.b.add_weight(c.reshape(c.shape or (1,)).astype(np.int8), DType.INT8, 0, f"{self.node.name}.cond")
        return self._emit(OpCode.WHERE, [ca, xa, ya], self._shape(), dtype, frac)
    # ---------------------------------------------------------------- pooling and reductions (issue 13)

    def _merge_last(self, x: Act, dims) -> Act:
        """x with the axes ``dims`` (all axes when None or empty) moved last, in order, and merged into one
        (PERMUTE, then RESHAPE): a reduction over them is then one last-axis MEAN or AMAX."""
        rank = len(x.spec.shape)
        axes = sorted({int(d) % rank for d in dims}) if dims else list(range(rank))
        if len(axes) == 1:
            return self._last_axis(x, axes[0])[0]
        kept = [i for i in range(rank) if i not in axes]
        perm = tuple(kept + axes)
        if perm != tuple(range(rank)):
            x = self._emit(OpCode.PERMUTE, [x], tuple(x.spec.shape[p] for p in perm), x.spec.dtype, x.spec.frac,
                           perm, name=f"{self.node.name}.moveaxes")
        merged = tuple(x.spec.shape[:len(kept)]) + (int(np.prod(x.spec.shape[len(kept):], dtype=np.int64)),)
        return self._emit(OpCode.RESHAPE, [x], merged, x.spec.dtype, x.spec.frac, name=f"{self.node.name}.merge")

    def _amax_of(self, x: Act, dims, shape: tuple[int, ...]) -> Act:
        """AMAX over ``dims`` of x (same dtype and frac), reshaped to ``shape`` (keepdim or not)."""
        moved = self._merge_last(x, dims)
        out = self._emit(OpCode.AMAX, [moved], moved.spec.shape[:-1], x.spec.dtype, x.spec.frac)
        if out.spec.shape != shape:
            out = self._emit(OpCode.RESHAPE, [out], shape, x.spec.dtype, x.spec.frac, name=f"{self.node.name}.keepdim")
        return out

    def amax(self, x, dim=(), keepdim=False) -> Act:
        return self._amax_of(self._act(x, "input"), dim, self._shape())

    def max_all(self, x) -> Act:
        return self._amax_of(self._act(x, "input"), None, self._shape())

    def max_dim(self, x, dim, keepdim=False) -> _Tuple:
        """torch.max(x, dim): its values are an AMAX; the indices (an argmax) have no operator, so a graph that
        uses them is refused here."""
        used = [u for u in self.node.users if u.target is operator.getitem and u.args[1] == 1 and u.users]
        if used:
            raise UnsupportedOpError(f"{self.src}: the indices of torch.max(x, dim) (an argmax) are not supported; "
                                     f"only its values are (or use torch.amax)")
        xa = self._act(x, "input")
        rank = len(xa.spec.shape)
        shape = list(xa.spec.shape)
        if keepdim:
            shape[int(dim) % rank] = 1
        else:
            del shape[int(dim) % rank]
        return _Tuple([self._amax_of(xa, [dim], tuple(shape)), _Const(None, f"{self.node.name}.indices")])

    def _pool_input(self, x, what: str) -> tuple[Act, bool]:
        """The pooled act as NCHW (a CHW input gains a batch axis) and whether it did."""
        xa = self._act(x, "input")
        if len(xa.spec.shape) == 3:
            return self._emit(OpCode.RESHAPE, [xa], (1,) + xa.spec.shape, xa.spec.dtype, xa.spec.frac,
                              name=f"{self.node.name}.batch"), True
        if len(xa.spec.shape) != 4:
            raise UnsupportedOpError(f"{self.src}: {what} of a rank-{len(xa.spec.shape)} tensor "
                                     f"{xa.spec.shape}; NCHW or CHW only")
        return xa, False

    def _pool_params(self, xa: Act, kernel_size, stride, padding, ceil_mode: bool, what: str) -> tuple[int, ...]:
        """(kh, kw, sh, sw, ph, pw); ceil_mode only where it gives the floor-mode output size."""
        def pair(v):
            return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in (v if len(v) == 2 else 2 * v))
        kh, kw = pair(kernel_size)
        sh, sw = pair(stride) if stride else (kh, kw)
        ph, pw = pair(padding)
        if ceil_mode:
            h, w = xa.spec.shape[2:]
            floor = ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
            if tuple(self._shape()[-2:]) != floor:
                raise UnsupportedOpError(f"{self.src}: {what} with ceil_mode=True gives {tuple(self._shape()[-2:])} "
                                         f"instead of floor mode's {floor}; only floor-mode windows are supported")
        return kh, kw, sh, sw, ph, pw

    def _pool_out(self, op: int, xa: Act, params: tuple[int, ...], batched: bool) -> Act:
        """The pooling node (same dtype and frac as its input), back to CHW if the input was."""
        kh, kw, sh, sw, ph, pw = params[:6]
        b, c, h, w = xa.spec.shape
        shape = (b, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
        out = self._emit(op, [xa], shape, xa.spec.dtype, xa.spec.frac, params)
        if batched:
            out = self._emit(OpCode.RESHAPE, [out], shape[1:], xa.spec.dtype, xa.spec.frac,
                             name=f"{self.node.name}.unbatch")
        return out

    def max_pool2d(self, x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False) -> Act:
        if (dilation if isinstance(dilation, int) else tuple(dilation)) not in (1, (1,), (1, 1)):
            raise UnsupportedOpError(f"{self.src}: max_pool2d with dilation {dilation}; only 1")
        xa, batched = self._pool_input(x, "max_pool2d")
        return self._pool_out(OpCode.MAXPOOL2D, xa, self._pool_params(xa, kernel_size, stride, padding, ceil_mode,
                                                                       "max_pool2d"), batched)

    def avg_pool2d(self, x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None) -> Act:
        xa, batched = self._pool_input(x, "avg_pool2d")
        params = self._pool_params(xa, kernel_size, stride, padding, ceil_mode, "avg_pool2d")
        divisor = divisor_override or (params[0] * params[1] if count_include_pad else 0)
        return self._pool_out(OpCode.AVGPOOL2D, xa, params + (int(divisor),), batched)

    def adaptive_avg_pool2d(self, x, output_size) -> Act:
        """Evenly dividing sizes: an AVGPOOL2D with kernel = stride = input / output; output (1, 1): a MEAN over
        H * W (global pooling, one row per channel). Other sizes have overlapping uneven windows: refused."""
        xa, batched = self._pool_input(x, "adaptive_avg_pool2d")
        h, w = xa.spec.shape[2:]
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        oh, ow = oh or h, ow or w
        if h % oh or w % ow:
            raise UnsupportedOpError(f"{self.src}: adaptive_avg_pool2d from {h}x{w} to {oh}x{ow}; only output sizes "
                                     f"that divide the input evenly (uneven windows have no pooling operator)")
        if (oh, ow) == (1, 1):
            return self._reduce(xa, [2, 3], True, True)  # reshaped to this node's (N)C11 shape
        kh, kw = h // oh, w // ow
        return self._pool_out(OpCode.AVGPOOL2D, xa, (kh, kw, kh, kw, 0, 0, kh * kw), batched)
    # ---------------------------------------------------------------- conv and batchnorm (issue 13)

    def _conv(self, x, w, b, stride, padding, dilation, groups, rank: int) -> Act:
        """A conv over ``rank`` spatial dims (1 or 2) as one CONV2D node; a 1-d conv runs on [B, C, 1, L]."""
        def dims(v):
            return (v,) * rank if isinstance(v, int) else tuple(v)
        xa = self._act(x, "input")
        wv = self._val(w)
        if isinstance(wv, Act):
            raise UnsupportedOpError(f"{self.src}: conv with an input-dependent weight")
        if len(xa.spec.shape) != rank + 2:
            raise UnsupportedOpError(f"{self.src}: conv{rank}d needs a batched input [B, C, ...] of rank "
                                     f"{rank + 2}, got shape {xa.spec.shape}")
        kernel = tuple(int(k) for k in wv.shape[2:])
        stride, dilation = dims(stride), dims(dilation)
        if padding == "same":
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            before, after = [t // 2 for t in totals], [t - t // 2 for t in totals]
        elif padding == "valid":
            before = after = [0] * rank
        else:
            before = after = list(dims(padding))
        if rank == 1:
            stride, dilation, before, after = (1,) + stride, (1,) + dilation, [0] + before, [0] + after
            b_, c, length = xa.spec.shape
            xa = self._emit(OpCode.RESHAPE, [xa], (b_, c, 1, length), xa.spec.dtype, xa.spec.frac,
                            name=f"{self.node.name}.as2d")
            wv = wv.unsqueeze(2)
        wa = self._weight(wv, self._weight_dtype(w), self._param_name(w), hi=self._bias_weight_frac_cap(b, xa.spec.frac))
        ops = [xa, wa]
        if b is not None:
            ops.append(self._bias(b, xa.spec.frac + wa.spec.frac, wa.spec.shape[0]))
        params = long_conv_params(stride, (before[0], before[1], after[0], after[1]), dilation, groups)
        frac = self._clamp_shift(self._frac(), xa.spec.frac + wa.spec.frac)
        shape = self._shape()
        # ---- image: sd-unet-block (issue 16): a dense conv too costly to prove in one step runs as im2col + LINEAR
        if (rank == 2 and groups == 1
                and split.over_bound(self, OpCode.CONV2D, ops, shape, self._dtype(), frac, params)):
            return split.im2col_conv(self, xa, wa, ops[2] if len(ops) == 3 else None, kernel, stride, before,
                                     after, dilation, shape, self._dtype(), frac)
        out = self._emit(OpCode.CONV2D, ops, shape if rank == 2 else shape[:2] + (1,) + shape[2:], self._dtype(),
                         frac, params)
        if rank == 1:
            out = self._emit(OpCode.RESHAPE, [out], shape, out.spec.dtype, out.spec.frac,
                             name=f"{self.node.name}.as1d")
        return out

    def conv2d(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> Act:
        """aten.conv2d.default and .padding (padding "same" / "valid" / ints), any dilation and groups."""
        return self._conv(x, w, b, stride, padding, dilation, groups, 2)

    def conv1d(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> Act:
        """aten.conv1d.default and .padding: a CONV2D over [B, C, 1, L] with a 1-row kernel."""
        return self._conv(x, w, b, stride, padding, dilation, groups, 1)

    def convolution(self, x, w, b, stride, padding, dilation, transposed, output_padding, groups, *_flags) -> Act:
        """aten.convolution / aten._convolution (what decomposed programs hold): 1-d and 2-d, not transposed."""
        rank = len(self._val(w).shape) - 2
        if transposed or rank not in (1, 2):
            raise UnsupportedOpError(f"{self.src}: {'transposed ' if transposed else ''}conv over {rank} spatial "
                                     f"dims; only Conv1d and Conv2d compile")
        return self._conv(x, w, b, stride, padding, dilation, groups, rank)

    def batch_norm(self, x, weight, bias, running_mean, running_var, training, momentum, eps, *_flags) -> Act:
        """An eval-mode BatchNorm that no conv/linear absorbed (compiler/batchnorm.py): per-channel
        x * scale + shift on axis 1, scale = gamma / sqrt(var + eps), shift = beta - mean * scale, as a MUL and an
        ADD of constants shaped [C, 1, ...] that broadcast over the batch and the spatial axes."""
        if training or running_mean is None or running_var is None:
            raise UnsupportedOpError(f"{self.src}: BatchNorm in training mode (or without running statistics) "
                                     f"normalises by batch statistics; compile it in eval mode with "
                                     f"track_running_stats=True")
        xa = self._act(x, "input")
        def f64(a):
            return self._val(a).detach().double()
        mean = f64(running_mean)
        channels = mean.shape[0]
        gamma = f64(weight) if weight is not None else torch.ones(channels, dtype=torch.float64)
        beta = f64(bias) if bias is not None else torch.zeros(channels, dtype=torch.float64)
        scale = gamma / torch.sqrt(f64(running_var) + eps)
        shift = beta - mean * scale
        axes = (channels,) + (1,) * (len(xa.spec.shape) - 2)
        dtype = self._dtype()
        sa = self._const_operand(scale.reshape(axes), xa, f"{self.node.name}.scale", align=False)
        # |x * scale| <= max|x| max|scale|, and = |y - shift| <= max|y| + max|shift|: the tighter bound.
        out_max = self.cal.maxabs.get(self.node.name, 0.0)
        in_max = self.cal.maxabs.get(x.name, 0.0) if isinstance(x, torch.fx.Node) else out_max
        bound = min(in_max * float(scale.abs().max()), out_max + float(shift.abs().max()))
        mul_frac = choose_frac(bound, dtype, self.cfg.headroom, self.cfg.min_activation_frac,
                               self.cfg.max_activation_frac)
        scaled = self._emit(OpCode.MUL, [xa, sa], xa.spec.shape, dtype,
                            self._clamp_shift(mul_frac, xa.spec.frac + sa.spec.frac), name=f"{self.node.name}.mul")
        ta = self._const_operand(shift.reshape(axes), scaled, f"{self.node.name}.shift", align=True)
        frac = self._clamp_shift(self._frac(), max(scaled.spec.frac, ta.spec.frac))
        return self._out(OpCode.ADD, [scaled, ta], frac=frac)


    def _pool1d(self, op: int, x, kernel_size, stride, padding, ceil_mode: bool, what: str,
                divisor: int | None = None) -> Act:
        """A 1-d pool over [B, C, L] (or [C, L]) as the 2-d pool over [B, C, 1, L] with a 1-row window."""
        xa = self._act(x, "input")
        if len(xa.spec.shape) not in (2, 3):
            raise UnsupportedOpError(f"{self.src}: {what} of a rank-{len(xa.spec.shape)} tensor {xa.spec.shape}; "
                                     f"NCL or CL only")
        k = int(kernel_size[0] if not isinstance(kernel_size, int) else kernel_size)
        st = int((stride[0] if not isinstance(stride, int) else stride) if stride else k)
        pd = int(padding[0] if not isinstance(padding, int) else padding)
        length = xa.spec.shape[-1]
        if ceil_mode and self._shape()[-1] != (length + 2 * pd - k) // st + 1:
            raise UnsupportedOpError(f"{self.src}: {what} with ceil_mode=True gives a longer output than floor mode; "
                                     f"only floor-mode windows are supported")
        lead = xa.spec.shape[:-1] if len(xa.spec.shape) == 3 else (1,) + xa.spec.shape[:-1]
        as2d = self._emit(OpCode.RESHAPE, [xa], lead + (1, length), xa.spec.dtype, xa.spec.frac,
                          name=f"{self.node.name}.as2d")
        params = (1, k, 1, st, 0, pd) + (() if divisor is None else (divisor if divisor >= 0 else k,))
        out = self._pool_out(op, as2d, params, False)
        return self._emit(OpCode.RESHAPE, [out], self._shape(), out.spec.dtype, out.spec.frac,
                          name=f"{self.node.name}.as1d")

    def max_pool1d(self, x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False) -> Act:
        if (dilation if isinstance(dilation, int) else tuple(dilation)) not in (1, (1,)):
            raise UnsupportedOpError(f"{self.src}: max_pool1d with dilation {dilation}; only 1")
        return self._pool1d(OpCode.MAXPOOL2D, x, kernel_size, stride, padding, ceil_mode, "max_pool1d")

    def avg_pool1d(self, x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True) -> Act:
        """count_include_pad: divisor = kernel (-1 here, resolved in _pool1d); else 0: the in-sequence count."""
        return self._pool1d(OpCode.AVGPOOL2D, x, kernel_size, stride, padding, ceil_mode, "avg_pool1d",
                            -1 if count_include_pad else 0)

    def prelu(self, x, weight) -> Act:
        """nn.PReLU with one shared slope (num_parameters=1, the default) is a LEAKY_RELU with that constant slope;
        per-channel slopes have no operator and are refused."""
        slope = self._val(weight)
        if isinstance(slope, Act) or slope.numel() != 1:
            raise UnsupportedOpError(f"{self.src}: PReLU with {getattr(slope, 'numel', lambda: '?')()} slopes; only "
                                     f"one shared slope (num_parameters=1) compiles")
        return self.leaky_relu(x, float(slope.detach().reshape(())))

    # ---- image: sd-unet-block (issue 16)
    def group_norm(self, x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True) -> Act:
        """nn.GroupNorm / F.group_norm: chunked statistics, RSQRT and per-channel affine (compiler/split.py)."""
        return split.lower_group_norm(self, x, int(num_groups), weight, bias, float(eps))


#: Nodes torch.export inserts to assert metadata; they compute nothing.
CHECKS_ONLY = {aten._assert_tensor_metadata.default}

HANDLERS: dict[Any, Callable[..., Act]] = {
    aten.linear.default: Lowerer.linear,
    aten.conv2d.default: Lowerer.conv2d,
    aten.relu.default: Lowerer.relu,
    aten.relu_.default: Lowerer.relu,
    aten.gelu.default: Lowerer.gelu,
    aten.silu.default: Lowerer.silu,
    aten.add.Tensor: Lowerer.add,
    aten.sub.Tensor: Lowerer.sub,
    aten.mul.Tensor: Lowerer.mul,
    aten.div.Tensor: Lowerer.div,
    aten.neg.default: Lowerer.neg,
    aten.matmul.default: Lowerer.matmul,
    aten.bmm.default: Lowerer.matmul,
    aten.mm.default: Lowerer.matmul,
    aten.softmax.int: Lowerer.softmax,
    aten._softmax.default: Lowerer.softmax,
    aten.layer_norm.default: Lowerer.layer_norm,
    aten.rms_norm.default: Lowerer.rms_norm,
    aten.embedding.default: Lowerer.embedding,
    aten.view.default: Lowerer._reshape,
    aten.reshape.default: Lowerer._reshape,
    aten._unsafe_view.default: Lowerer._reshape,
    aten.flatten.using_ints: Lowerer._reshape,
    aten.unsqueeze.default: Lowerer._reshape,
    aten.squeeze.dim: Lowerer._reshape,
    aten.squeeze.dims: Lowerer._reshape,
    aten.squeeze.default: Lowerer._reshape,
    aten.permute.default: Lowerer.permute,
    aten.transpose.int: Lowerer.transpose,
    aten.t.default: Lowerer.t,
    aten.slice.Tensor: Lowerer.slice,
    aten.select.int: Lowerer.select,
    aten.cat.default: Lowerer.cat,
    aten.mean.dim: Lowerer.mean,
    aten.sum.dim_IntList: Lowerer.sum,
    aten.mean.default: Lowerer.mean_all,
    aten.sum.default: Lowerer.sum_all,
    aten._to_copy.default: Lowerer.to_dtype,
    aten.to.dtype: Lowerer.to_dtype,
    aten.contiguous.default: Lowerer._alias,
    aten.clone.default: Lowerer._alias,
    aten.dropout.default: Lowerer._alias,
    aten.alias.default: Lowerer._alias,
    aten.detach.default: Lowerer._alias,
    aten.unbind.int: Lowerer.unbind,
    operator.getitem: Lowerer.getitem,
    # ---------------------------------------------------------------- activations (issue 13)
    aten.tanh.default: Lowerer.tanh,
    aten.tanh_.default: Lowerer.tanh,
    aten.sigmoid.default: Lowerer.sigmoid,
    aten.sigmoid_.default: Lowerer.sigmoid,
    aten.softplus.default: Lowerer.softplus,
    aten.hardtanh.default: Lowerer.hardtanh,
    aten.hardtanh_.default: Lowerer.hardtanh,
    aten.relu6.default: Lowerer.relu6,
    aten.clamp.default: Lowerer.clamp,
    aten.clamp_.default: Lowerer.clamp,
    aten.clamp_min.default: Lowerer.clamp_min,
    aten.clamp_min_.default: Lowerer.clamp_min,
    aten.clamp_max.default: Lowerer.clamp_max,
    aten.clamp_max_.default: Lowerer.clamp_max,
    aten.leaky_relu.default: Lowerer.leaky_relu,
    aten.leaky_relu_.default: Lowerer.leaky_relu,
    aten.hardswish.default: Lowerer.hardswish,
    aten.hardswish_.default: Lowerer.hardswish,
    aten.hardsigmoid.default: Lowerer.hardsigmoid,
    aten.hardsigmoid_.default: Lowerer.hardsigmoid,
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    causal_softmax: Lowerer.causal_softmax,
    additive_mask: Lowerer.attention_mask,
    aten.unflatten.int: Lowerer._reshape,
    aten.expand.default: Lowerer.expand,
    aten.expand_as.default: Lowerer.expand,
    aten.broadcast_to.default: Lowerer.expand,
    aten.repeat.default: Lowerer.repeat,
    aten.stack.default: Lowerer.stack,
    aten.chunk.default: Lowerer.split,
    aten.split.Tensor: Lowerer.split,
    aten.split_with_sizes.default: Lowerer.split,
    aten.where.self: Lowerer.where,
    aten.where.ScalarOther: Lowerer.where,
    aten.where.ScalarSelf: Lowerer.where,
    aten.where.Scalar: Lowerer.where,
    aten.masked_fill.Scalar: Lowerer.masked_fill,
    aten.masked_fill.Tensor: Lowerer.masked_fill,
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    aten.max_pool2d.default: Lowerer.max_pool2d,
    aten.avg_pool2d.default: Lowerer.avg_pool2d,
    aten.adaptive_avg_pool2d.default: Lowerer.adaptive_avg_pool2d,
    aten.amax.default: Lowerer.amax,
    aten.max.dim: Lowerer.max_dim,
    aten.max.default: Lowerer.max_all,
    aten.max_pool1d.default: Lowerer.max_pool1d,
    aten.avg_pool1d.default: Lowerer.avg_pool1d,
    aten.prelu.default: Lowerer.prelu,
    # ---------------------------------------------------------------- conv and batchnorm (issue 13)
    aten.conv2d.padding: Lowerer.conv2d,
    aten.conv1d.default: Lowerer.conv1d,
    aten.conv1d.padding: Lowerer.conv1d,
    aten.convolution.default: Lowerer.convolution,
    aten._convolution.default: Lowerer.convolution,
    aten.batch_norm.default: Lowerer.batch_norm,
    # ---- image: sd-unet-block (issue 16)
    aten.group_norm.default: Lowerer.group_norm,
}
