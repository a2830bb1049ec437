"""Bytes on the chain <-> tensors in the engine: a request's input and a result's output.

A model's input is one tensor whose packed bytes (big-endian two's complement, row-major) are the request's
input bytes, zero-padded to the model's input length (so a digits image is its 64 pixel bytes and a text is
its UTF-8 bytes); the bytes are whole elements within the model's input domain (``offchain.engine.domain``),
which the oracle checks at request time. Its output is the packed output tensor. The oracle contract computes the
input root from the same padded bytes, so both sides commit to the same tensor. A text model's output (INT8 UTF-8
bytes, zero-padded) reaches its consumer without the trailing zeros (``delivered_output``); a text generator's
request carries 16 parameter bytes after the prompt (``generation_request``), a text-to-image model's an 8-byte seed
(``image_request``).
"""

from __future__ import annotations

import numpy as np

from offchain.commit import pack_tensor
from offchain.engine.domain import input_domain
from offchain.engine.ops.sample import PARAM_BYTES, RequestParamError, request_params
from offchain.engine.graph import Graph
from offchain.engine.model import Model
from offchain.engine.dtypes import DType


class EncodingError(ValueError):
    """Bytes that do not fit the model's input tensor."""


def input_tensor(graph: Graph, data: bytes) -> np.ndarray:
    """The model's input tensor from a request's input bytes (zero-padded to the tensor's packed size).

    Applies the oracle's request-time rules: not empty, not longer than the tensor (EncodingError), whole
    elements and every element in the model's input domain (``offchain.engine.domain``: InputNotWholeElementsError,
    InputOutOfDomainError). A request failing the domain rule is accepted on-chain only as Invalid (answered by an
    error callback, `AIOracle.finalizeInvalid`), so no result is ever owed for it; one failing the others cannot
    exist on the chain."""
    if len(graph.inputs) != 1:
        raise EncodingError(f"the protocol's models take one input tensor; this graph declares {len(graph.inputs)}")
    spec = graph.inputs[0]
    if not data:
        raise EncodingError("the input is empty")
    if len(data) > spec.nbytes:
        raise EncodingError(f"the input has {len(data)} bytes; the model's input tensor holds {spec.nbytes}")
    input_domain(graph).check_request(data, spec.nbytes)
    padded = data + bytes(spec.nbytes - len(data))
    return np.frombuffer(padded, dtype=spec.dtype.big_endian).astype(spec.dtype.numpy).reshape(spec.shape)


def output_bytes(output: np.ndarray) -> bytes:
    """A result's output bytes: the packed output tensor."""
    return pack_tensor(np.ascontiguousarray(output))


def text_output(model: Model) -> bool:
    """Whether ``model``'s output is text (meta ``output_encoding`` "utf-8"): its registry record's ``textOutput``,
    which makes the oracle deliver the output without its trailing zero bytes. Raises ValueError for a text model
    whose output is not INT8 (one byte per element): its packed bytes would not be the text."""
    if model.meta.get("output_encoding") != "utf-8":
        return False
    if model.graph.output.dtype != DType.INT8:
        raise ValueError(f"model meta says output_encoding utf-8 but its output is {model.graph.output.dtype.name}: "
                         f"a text output is INT8 bytes")
    return True


def delivered_output(text: bool | Model, output: bytes) -> bytes:
    """What a consumer's callback receives for a result whose posted output is ``output`` (the packed, padded
    tensor): for a text model (``text`` its registry flag, or the model) the bytes without their trailing zeros
    (interior zeros kept; an all-zero output delivers b""), else ``output`` itself. Mirrors
    contracts/oracle/lib/LibTextOutput.sol; a batch request's output is always delivered as it is."""
    if isinstance(text, Model):
        text = text_output(text)
    return output.rstrip(b"\0") if text else output


#: Parameter bytes after the prompt in a text generator's request (the GEN_PARAMS operator's layout).
GENERATION_PARAM_BYTES = PARAM_BYTES


def generation_request(prompt: str | bytes, prompt_bytes: int, max_new: int = 0, temperature_centi: int = 0,
                       top_k: int = 0, seed: int = 0) -> bytes:
    """A text generator's request input, INT8 [prompt_bytes + 16]: the prompt's UTF-8 bytes zero-padded to
    ``prompt_bytes``, then p[0] ``max_new`` (uint8), p[1..2] ``temperature_centi`` (hundredths, uint16 big-endian),
    p[3..4] ``top_k`` (uint16 BE), p[5..8] ``seed`` (uint32 BE), p[9..15] zero; 0 means the model's default (and
    temperature 0 greedy). What contracts/oracle/examples/TextGeneration.sol's ``askWith`` sends. Raises
    EncodingError for an empty prompt, one longer than ``prompt_bytes`` or a parameter outside its field."""
    text = prompt.encode("utf-8") if isinstance(prompt, str) else bytes(prompt)
    if not text:
        raise EncodingError("the prompt is empty")
    if len(text) > prompt_bytes:
        raise EncodingError(f"the prompt has {len(text)} UTF-8 bytes; the model takes at most {prompt_bytes}")
    if not isinstance(temperature_centi, int) or not 0 <= temperature_centi <= 0xFFFF:
        raise EncodingError(f"temperature_centi = {temperature_centi} does not fit its uint16 field [0, 65535]")
    try:   # the one encoder of the parameter bytes (the GEN_PARAMS operator's module)
        params = request_params(max_new, temperature_centi / 100, top_k, seed)
    except RequestParamError as exc:
        raise EncodingError(str(exc)) from None
    return text + bytes(prompt_bytes - len(text)) + params


#: Seed bytes after the prompt in a text-to-image model's request (the NOISE operator's seed: big-endian uint64).
IMAGE_SEED_BYTES = 8


def image_request(prompt: str | bytes, prompt_bytes: int, seed: int = 0) -> bytes:
    """A text-to-image model's request input, INT8 [prompt_bytes + 8]: the prompt's UTF-8 bytes zero-padded to
    ``prompt_bytes``, then ``seed`` as a big-endian uint64 (the sampler's initial noise comes from it alone). What
    contracts/oracle/examples/ImageGeneration.sol's ``generate(prompt, seed)`` sends. Raises EncodingError for an
    empty prompt, one longer than ``prompt_bytes`` or a seed outside [0, 2^64)."""
    text = prompt.encode("utf-8") if isinstance(prompt, str) else bytes(prompt)
    if not text:
        raise EncodingError("the prompt is empty")
    if len(text) > prompt_bytes:
        raise EncodingError(f"the prompt has {len(text)} UTF-8 bytes; the model takes at most {prompt_bytes}")
    if not isinstance(seed, int) or not 0 <= seed < 1 << 64:
        raise EncodingError(f"seed = {seed!r} does not fit its uint64 field [0, 2^64)")
    return text + bytes(prompt_bytes - len(text)) + seed.to_bytes(IMAGE_SEED_BYTES, "big")

