"""Integer-only math of DESIGN.md section 2: the public API the engine and the one-step prover share.

Import from here (``from offchain.engine.intmath import requantize, softmax, ...``). Every operator
comes as a vectorised numpy function (int64 arithmetic, whole tensors) and a scalar ``*_element``
reference on Python ints that computes one output element and is what the Solidity one-step
prover mirrors. Conventions (real value = q / 2^f, the one rounding rule, named errors) are in
intmath_core; the algorithms and bounds in intmath_act, intmath_norm and intmath_softmax.

Scales: each function takes f_in (input frac bits), f_out (output frac bits) and the output dtype
(int8 / int16 / int32), so the compiler chooses them. Recommended:

==============  =======================================================================
softmax         in: scores int32 f_in 12; out: int16 f_out = 14 (or int8 f_out = 7)
exp_neg         inside softmax Q30; standalone int16 f_out = 14
sigmoid         int16 f_out = 15, int8 f_out = 7
silu / gelu     f_out = f_in (same scale as the activation): int16 f = 10 or int32 f = 16
layernorm       in: residual stream int32 f_in = 16; out: int16 f_out = 10 (|y| < 32) or
                int32 f_out = 16; gamma/beta int16 f = 14. MiniLM's LayerNorm outputs reach
                |y| = 31, so int16 f_out = 11 saturates (cosine 0.991 instead of 0.999997)
rmsnorm         as layernorm
rsqrt           int32 f_out 16-30 as needed (f_out <= 30)
==============  =======================================================================

Measured (bench/bench_intmath.py): all-MiniLM-L6-v2 in float64 with only softmax, GELU and
LayerNorm replaced by these integer ops at the int16 scales above keeps cosine >= 0.99999 with the
float model.

Porting the ``*_element`` references to Solidity (int256):

* Every intermediate is below 2^63 in magnitude for inputs the references accept, so int256 never
  overflows; the Python range checks (OperandRangeError and friends) are numpy's limits and the
  op's domain. Tensors decoded from their committed dtype are in range by construction; frac
  bits, dtypes, row lengths and eps are graph parameters to validate once, at registration.
* ``>>`` on int256 is an arithmetic (floor) shift in Solidity, as here. Solidity's ``/``
  truncates toward zero: every division inside the operators has a non-negative numerator and a
  positive divisor, so ``/`` is exact there; only the general ``div_round`` with a negative
  numerator needs an explicit floor.
* ``isqrt`` is the floor square root, a unique function: any exact floor sqrt (OpenZeppelin's
  ``Math.sqrt``) agrees with the Newton iteration here. ``bit_length(x)`` is the smallest b with
  x < 2^b (``Math.log2(x) + 1`` for x > 0, 0 for x = 0).
* Constants are the integer literals in intmath_act (Q30); none is recomputed at run time.
* Per-element cost: exp/sigmoid/silu/gelu are O(1) (a few dozen multiplications);
  ``softmax_element`` and ``*norm_element`` read the whole row (O(n), one exp per key for
  softmax; one isqrt and one division per row for the norms).
"""

from offchain.engine.intmath_act import (
    exp_neg,
    exp_neg_element,
    gelu,
    gelu_element,
    gelu_tanh,
    gelu_tanh_element,
    sigmoid,
    sigmoid_element,
    silu,
    silu_element,
    softplus,
    softplus_element,
    tanh,
    tanh_element,
)
from offchain.engine.intmath_core import (
    ACC_LIMIT,
    DTYPE_RANGES,
    DivisionError,
    DomainError,
    DTypeError,
    FracBitsError,
    IntMathError,
    OperandRangeError,
    RowShapeError,
    ShiftRangeError,
    bit_length,
    bit_length_element,
    div_round,
    div_round_element,
    dtype_range,
    isqrt,
    isqrt_element,
    requantize,
    requantize_element,
    rshift_round,
    rshift_round_element,
    saturate,
    saturate_element,
)
from offchain.engine.intmath_norm import (
    layernorm,
    layernorm_element,
    rmsnorm,
    rmsnorm_element,
    rsqrt,
    rsqrt_element,
)
from offchain.engine.intmath_softmax import softmax, softmax_element

__all__ = [
    "ACC_LIMIT",
    "DTYPE_RANGES",
    "DivisionError",
    "DomainError",
    "DTypeError",
    "FracBitsError",
    "IntMathError",
    "OperandRangeError",
    "RowShapeError",
    "ShiftRangeError",
    "bit_length",
    "bit_length_element",
    "div_round",
    "div_round_element",
    "dtype_range",
    "exp_neg",
    "exp_neg_element",
    "gelu",
    "gelu_element",
    "gelu_tanh",
    "gelu_tanh_element",
    "isqrt",
    "isqrt_element",
    "layernorm",
    "layernorm_element",
    "requantize",
    "requantize_element",
    "rmsnorm",
    "rmsnorm_element",
    "rshift_round",
    "rshift_round_element",
    "rsqrt",
    "rsqrt_element",
    "saturate",
    "saturate_element",
    "sigmoid",
    "sigmoid_element",
    "silu",
    "silu_element",
    "softmax",
    "softmax_element",
    "softplus",
    "softplus_element",
    "tanh",
    "tanh_element",
]
