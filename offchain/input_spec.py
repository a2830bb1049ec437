"""One model input's shape and number format, as a model owner writes it on the command line (`--input-spec`).

Kept free of torch so the CLI loads fast; offchain.model_source builds tensors from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from offchain.engine.dtypes import DType

INPUT_SPEC_HELP = (
    "One per model input, in order: SHAPE:FORMAT. SHAPE is dims joined by 'x' (1x1x8x8). FORMAT is 'float' (a real "
    "input; int16 with calibrated frac bits), 'float:fN' (int16 with N frac bits), 'int8:fN' / 'int16:fN' / "
    "'int32:fN' (a real input stored in that dtype with N frac bits: 'int8:f4' reads raw 0..16 pixels as p/16), "
    "or 'int32' without fN (integer token ids). Examples: 1x64:int8:f4, 1x1x8x8:float, 1x16:int32.")
_SPEC = re.compile(r"^(?P<shape>\d+(?:x\d+)*):(?P<kind>float|int8|int16|int32)(?::f(?P<frac>-?\d+))?$")
_FIXED = {"int8": DType.INT8, "int16": DType.INT16, "int32": DType.INT32}


class ModelSourceError(ValueError):
    """A --module, --exported, --input-spec or --calibration value cannot be used; ``option`` names which."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class InputSpec:
    """One model input: ``shape``; ``token_ids`` for integer ids (torch int64, engine INT32 frac 0); otherwise a
    real input whose integer form is ``fixed`` = (dtype, frac), or None to calibrate its frac (int16)."""

    shape: tuple[int, ...]
    token_ids: bool = False
    fixed: tuple[DType, int] | None = None


def parse_input_spec(text: str) -> InputSpec:
    m = _SPEC.match(text.strip())
    if m is None:
        raise ModelSourceError("--input-spec", f"{text!r} is not SHAPE:FORMAT. {INPUT_SPEC_HELP}")
    shape = tuple(int(d) for d in m["shape"].split("x"))
    if 0 in shape:
        raise ModelSourceError("--input-spec", f"{text!r}: every dimension must be at least 1")
    kind, frac = m["kind"], m["frac"]
    if kind == "float":
        return InputSpec(shape, fixed=None if frac is None else (DType.INT16, int(frac)))
    if frac is None:
        if kind != "int32":
            raise ModelSourceError("--input-spec", f"{text!r}: token ids are int32; a real input in {kind} needs "
                                                   f"its frac bits, e.g. {m['shape']}:{kind}:f4")
        return InputSpec(shape, token_ids=True)
    return InputSpec(shape, fixed=(_FIXED[kind], int(frac)))
