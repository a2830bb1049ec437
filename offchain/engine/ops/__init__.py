"""Operator table: op code -> the op's single definition.

``OPS`` lists every operator; ``get_op(code)`` looks one up. Each op module's
docstring states its inputs, params and exact integer rule.
"""

from __future__ import annotations

from offchain.engine.errors import UnknownOpError
from offchain.engine.ops.activation import Gelu, Sigmoid, Silu, Softplus, Tanh
from offchain.engine.ops.base import Op, Range
from offchain.engine.ops.broadcast import Expand, Where
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.conv import Conv2d
from offchain.engine.ops.elementwise import Add, Mul, Sub
from offchain.engine.ops.embedding import Embedding
from offchain.engine.ops.intervention import Loreft
from offchain.engine.ops.linear import Linear, Matmul
from offchain.engine.ops.norm import LayerNorm, RmsNorm
from offchain.engine.ops.piecewise import Clamp, Hardsigmoid, Hardswish, LeakyRelu
from offchain.engine.ops.pool import Amax, AvgPool2d, MaxPool2d
from offchain.engine.ops.reduce import Mean
from offchain.engine.ops.rope import Rope
from offchain.engine.ops.shape import Concat, Permute, Reshape, Slice
from offchain.engine.ops.softmax import Softmax
from offchain.engine.ops.pretok import AddedTokens, Pretokenize, Utf8Chars
from offchain.engine.ops.text import CharMap, TrieMatch, Utf8Decode, WordPiece
from offchain.engine.ops.unary import Neg, Relu, Rescale
# ---- tokenizer: bpe (issue 14)
from offchain.engine.ops.bpe import BpeIds, BpeMerge, BpeSymbols, PairRank
from offchain.engine.ops.wordvocab import WordVocab

# ---- tokenizer: detok (issue 14)
from offchain.engine.ops.detok import DetokBytes, DetokLen  # noqa: E402

# ---- generation: cache (issue 15)
from offchain.engine.ops.cache import AlignEnd, AttnBias, CatMatmul  # noqa: E402
# ---- generation: sample (issue 15)
from offchain.engine.ops.sample import GenParams, GenStop, Prng, Sample, TopK  # noqa: E402
# ---- tokenizer: added (issue 14)
from offchain.engine.ops.added import AddedMatch, AddedResolve  # noqa: E402
# ---- tokenizer: nfc (issue 14)
from offchain.engine.ops.nfc import NfcCompact, NfcCompose  # noqa: E402
# ---- image: imgops (issue 16)
from offchain.engine.ops.image import DdimStep, Noise, Pixels  # noqa: E402
# ---- image: sd-unet-block (issue 16)
from offchain.engine.ops.stat import Exp, Rsqrt  # noqa: E402
# ---- tokenizer: nfc runs (issue 14)
from offchain.engine.ops.nfc_runs import NfcReorder, NfcStage  # noqa: E402

OPS: dict[int, Op] = {op.code: op for op in (
    Linear(), Conv2d(), Matmul(), Add(), Sub(), Mul(), Relu(), Gelu(), Silu(), Neg(), Rescale(),
    Softmax(), LayerNorm(), RmsNorm(),
    Embedding(), Rope(), Reshape(), Permute(), Slice(), Concat(), Mean(),
    Utf8Decode(), CharMap(), TrieMatch(), WordPiece(), Loreft(),
    # activations (issue 13)
    Tanh(), Sigmoid(), Clamp(), LeakyRelu(), Hardswish(), Hardsigmoid(), Softplus(),
    Expand(), Where(),
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    MaxPool2d(), AvgPool2d(), Amax(),
    # ---- tokenizer: detok (issue 14)
    DetokLen(), DetokBytes(),
    # ---- tokenizer: bpe (issue 14)
    BpeSymbols(), PairRank(), BpeMerge(), BpeIds(), WordVocab(),
    # ---- tokenizer: pretok (issue 14)
    Utf8Chars(), Pretokenize(), AddedTokens(),
    # ---- generation: cache (issue 15)
    CatMatmul(), AttnBias(), AlignEnd(),
    # ---- generation: sample (issue 15)
    GenParams(), TopK(), Prng(), Sample(), GenStop(),
    # ---- tokenizer: added (issue 14)
    AddedMatch(), AddedResolve(),
    # ---- tokenizer: nfc (issue 14)
    NfcCompose(), NfcCompact(),
    # ---- image: imgops (issue 16)
    Noise(), DdimStep(), Pixels(),
    # ---- image: sd-unet-block (issue 16)
    Rsqrt(), Exp(),
    # ---- tokenizer: nfc runs (issue 14)
    NfcReorder(), NfcStage(),
)}


def get_op(code: int) -> Op:
    """The op with this code; raises UnknownOpError naming the code otherwise."""
    try:
        return OPS[int(code)]
    except (KeyError, ValueError, TypeError):
        raise UnknownOpError(f"op code {code!r} is not in the op table "
                             f"(known: {sorted(int(c) for c in OPS)})") from None


__all__ = ["OPS", "Op", "OpCode", "Range", "get_op"]
