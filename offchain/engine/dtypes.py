"""Integer dtypes of engine tensors.

A dtype's code is its element width in bytes (1, 2 or 4): that is the number
the node descriptor carries and the one Solidity needs to slice packed
tensors, so no second table maps codes to widths.
"""

from __future__ import annotations

import enum

import numpy as np


class DType(enum.IntEnum):
    """Element type of a tensor. The value is the width in bytes (descriptor field ``dtype``)."""

    INT8 = 1
    INT16 = 2
    INT32 = 4

    @property
    def bits(self) -> int:
        """Width in bits."""
        return 8 * int(self)

    @property
    def qmin(self) -> int:
        """Smallest representable value, -2^(bits-1)."""
        return -(1 << (self.bits - 1))

    @property
    def qmax(self) -> int:
        """Largest representable value, 2^(bits-1) - 1."""
        return (1 << (self.bits - 1)) - 1

    @property
    def numpy(self) -> np.dtype:
        """The native numpy dtype used to hold tensors of this type."""
        return np.dtype(f"i{int(self)}")

    @property
    def big_endian(self) -> np.dtype:
        """The big-endian numpy dtype used on disk and in commitments."""
        return np.dtype(f">i{int(self)}")

    @classmethod
    def parse(cls, value: "DType | int | str | np.dtype") -> "DType":
        """Accept a DType, a width code (1/2/4), a name ("int8") or a numpy int dtype."""
        if isinstance(value, DType):
            return value
        if isinstance(value, str) and value.lower() in ("int8", "int16", "int32"):
            return cls[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        dt = np.dtype(value)
        if dt.kind == "i" and dt.itemsize in (1, 2, 4):
            return cls(dt.itemsize)
        raise ValueError(f"dtype {value!r} is not one of int8, int16, int32")
