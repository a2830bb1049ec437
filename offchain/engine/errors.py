"""Exceptions raised by the integer engine.

One hierarchy so callers can catch :class:`EngineError` for anything the
engine rejects. Every message names the offending input and the limit it
broke, so a node operator can fix the request without reading the code.
"""


class EngineError(ValueError):
    """Base class of every error raised by ``offchain.engine``."""


class GraphError(EngineError):
    """A graph is malformed; raised by :meth:`Graph.validate` before anything runs."""


class UnknownOpError(GraphError):
    """A node names an op code that is not in the op table."""


class TopologyError(GraphError):
    """A node reads an activation that is not produced by an earlier node, or a missing input/weight."""


class ShapeMismatchError(GraphError):
    """A node's operand or output shape disagrees with what its op requires."""


class DtypeMismatchError(GraphError):
    """A node's operand or output dtype or frac bits disagree with what its op requires."""


class ParamError(GraphError):
    """A node's op parameters are missing, out of range or inconsistent."""


class InputError(EngineError):
    """An inference input is unusable; raised before any node runs."""


class InputCountError(InputError):
    """The number of inputs differs from the number the graph declares."""


class InputShapeError(InputError):
    """An input's shape differs from the shape the graph declares."""


class InputDtypeError(InputError):
    """An input has a dtype the quantiser cannot take (e.g. complex, bool, unsigned wider than the target)."""


class InputRangeError(InputError):
    """An input value lies outside its dtype's range (or outside a vocabulary for token ids)."""


class InputNotWholeElementsError(InputRangeError):
    """The request's byte length is not a multiple of the input element width (chain: InputNotWholeElements)."""

    def __init__(self, length: int, width: int):
        super().__init__(f"input of {length} bytes is not a whole number of {width}-byte elements")
        self.length, self.width = length, width


class InputOutOfDomainError(InputRangeError):
    """An input element lies outside the model's declared input domain (chain: InputOutOfDomain)."""

    def __init__(self, index: int, value: int, lo: int, hi: int, what: str = "input"):
        super().__init__(f"{what}: element {index} = {value} is outside the model's input domain [{lo}, {hi}]")
        self.index, self.value, self.lo, self.hi = index, value, lo, hi


class InputNaNError(InputError):
    """A float input holds NaN or infinity, which has no fixed-point value."""


class ModelFileError(EngineError):
    """A model file is truncated, has a wrong magic or version, or its header disagrees with its data."""


class DescriptorError(EngineError):
    """A node descriptor's bytes cannot be decoded (wrong length, version or field value)."""


class CompileError(EngineError):
    """The compiler cannot turn a PyTorch module into an integer graph.

    ``problems``: when lowering found several, each one (op, where, reason), in graph order; the message lists them.
    """

    def __init__(self, message: str, problems: list | tuple = ()):
        super().__init__(message)
        self.problems = list(problems)


class UnsupportedOpError(CompileError):
    """The captured PyTorch graph uses an op the integer engine has no definition for.

    The message names every such op of the model (the torch target) and where each came from (the fx node name,
    the module path and class, and the model owner's own file:line when torch recorded it).
    """


class CalibrationError(CompileError):
    """Calibration data is missing, empty, non-finite or of the wrong shape."""
