"""Integer-only math of DESIGN.md section 2: the public API the engine and the one-step prover share.

Import from here (``from offchain.engine.intmath import requantize, softmax, ...``). Each operator
comes as a vectorised numpy function and a scalar ``*_element`` reference on Python ints; see
intmath_core for the conventions (real value = q / 2^f, one rounding rule, named errors).
"""

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
    "isqrt",
    "isqrt_element",
    "requantize",
    "requantize_element",
    "rshift_round",
    "rshift_round_element",
    "saturate",
    "saturate_element",
]
