"""Exceptions raised by the commitment primitives.

One hierarchy so callers can catch :class:`CommitError` for any bad input to
``offchain.commit``. Verification functions never raise on a wrong proof: they
return ``False``, exactly like the Solidity verifier returns false. These
exceptions are for callers that pass arguments outside the documented limits.
"""


class CommitError(ValueError):
    """Base class of every error raised by ``offchain.commit``."""


class UnsupportedDtypeError(CommitError):
    """A tensor's dtype is not one of int8, int16, int32 (the only dtypes Solidity decodes)."""


class PackedSizeError(CommitError):
    """Packed bytes do not match the requested dtype and shape."""


class ChunkSizeError(CommitError):
    """A chunk size is not a power of two of at least 32 bytes."""


class LeafError(CommitError):
    """A Merkle leaf or node hash is not exactly 32 bytes."""


class IndexOutOfRangeError(CommitError):
    """A leaf index, leaf range, tree position or element range lies outside the tree or tensor."""
