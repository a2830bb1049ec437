"""Generation ops: the request's sampling parameters, blockwise top-k, a counter-based PRNG, top-k / temperature
sampling and the stop gate (issue 15, docs: genspec). Every tensor is INT32 frac 0 except GEN_PARAMS' raw bytes
(INT8, byte value = ``q & 0xFF``) and TOPK mode 0's logits (INT8 / INT16 / INT32, any frac). Every int value an
operand's dtype allows has exactly one result: values no honest producer emits (a negative temperature, a
top-k of -5, a candidate list out of order) still have one, defined below, so a dispute never hinges on a revert.

GEN_PARAMS (52)
    inputs: raw [16] INT8 (any shape of 16 elements; p[i] = raw[i] & 0xFF). params: (N, K), the model's largest
    number of new tokens (1 .. 255) and top-k size (1 .. MAX_K). out [4] = (max_new, temperature, top_k, seed):
      max_new = N if p[0] == 0 else min(p[0], N);  temperature = p[1] << 8 | p[2] (hundredths, 0 = greedy);
      top_k = K if t == 0 else min(t, K), t = p[3] << 8 | p[4];  seed = p[5..8] big-endian as int32 (two's
      complement of the uint32). p[9..15] are ignored. Element reads raw (1 range of 16).

TOPK (53)
    mode 0: inputs x (any shape, n elements, INT8 / INT16 / INT32, any frac), params (0, k, block):
      out [ceil(n / block), k, 2]: row r = the k largest of x[r*block : (r+1)*block] (flat order) as (value,
      global index), value descending, ties by smaller index; a block with fewer than k elements is padded with
      PAD = (INT32_MIN, -1) after its real entries. Values are the logits' raw integers (their frac is SAMPLE's
      param).
    mode 1: inputs c [m, kin, 2] INT32 (a TOPK output), params (1, k, group): out [ceil(m / group), k, 2]:
      row r = the k first entries of rows c[r*group : (r+1)*group] (all kin entries each) in the order
      (real first, value descending, index ascending, position ascending), where an entry is real iff its index
      is not -1; slots past the real entries are PAD (whatever value a non-real entry carried).
    Element (r, i, f) (f = 0 value, 1 index) reads its block / group (1 range). The order is total (the global
    index, resp. the position in the group, breaks every tie), so a tree (mode 0, then mode 1 until one row is
    left) yields exactly the global top-k: each block's top k holds every global top-k member of that block.
    On chain the element keeps the i + 1 largest keys of one pass in a sorted array (binary search + one MCOPY
    per key that enters it): O(entries * (log k + k)) words in the worst case (ascending keys).
    Caps: k <= MAX_K, and the step's gas model ``topk_step_gas(mode, k, entries)`` <= TOPK_STEP_GAS_BUDGET
    (1.7 M), entries = block (mode 0) or group * kin (mode 1). E.g. k = 40: block <= 1,391, group * kin <= 1,185;
    k = 256: entries <= 796 / 724; k = 1: 3,970 / 2,653. A vocabulary of 32,000 at K = 40 takes two levels:
    block 1,280 (25 rows), then one group of 25 rows (1,000 entries).

PRNG (54)
    inputs: params4 [4] (GEN_PARAMS' output; seed = element 3). params: (step,), 0 <= step < 2^31.
    out [1] = uint32(keccak256(abi.encodePacked(uint32(seed), uint32(step)))[0:4] big-endian) & 0x7fffffff.
    Element reads params4[3] (1 range).

SAMPLE (55)
    inputs: cand [1, K, 2] (the final TOPK row), params4 [4], rnd [1]. params: (frac_logits,) in
    [0, MAX_FRAC_LOGITS], the logits' frac bits. out [1] = a token id:
      t = params4[1], real = the number of entries with index != -1, kk = min(params4[2], real).
      Greedy (t <= 0 or kk <= 1): out = cand[0, 0, 1] (-1 when entry 0 is padding).
      Otherwise, for i < kk: d_i = max(v_0 - v_i, 0) (logit LSBs; >= 0 already for a sorted cand),
        s_i = min(floor(d_i * 100 * 2^EXP_FRAC / (t * 2^frac_logits)), EXP_CLAMP << EXP_FRAC),
        w_i = exp_neg_q30(s_i, EXP_FRAC) (SOFTMAX's integer e^(-s / 2^EXP_FRAC) in Q30; w_0 = 2^30);
        total = sum w_i;  u = ((rnd mod 2^31) * total) >> 31;  out = cand[0, j, 1] for the smallest j < kk with
        w_0 + .. + w_j > u.
      EXP_FRAC = 16: the exponent's resolution is 2^-16 (the scaled distance is exact to that LSB). The clamp
      changes nothing (exp clamps at the same bound) but keeps the product small.
      Deviation from the spec's ``u = rnd mod total``: rnd has 31 bits and total reaches K * 2^30 (> 2^31 for
      K >= 3 near-equal logits), so ``mod`` would never reach the later candidates; the multiply-shift maps
      [0, 2^31) onto [0, total) evenly (candidate j is chosen for w_j * 2^31 / total rnd values, +-1).
    Element reads cand, params4, rnd (3 ranges). Cap: K <= MAX_K.

GEN_STOP (56)
    inputs: tok [1] (SAMPLE's output), params4 [4], and for step > 0 prev [1] (the previous GEN_STOP output).
    params: (step, eos_1, .., eos_e), 0 <= step < 2^31, e = 0 .. MAX_EOS. out [1]:
      -1 if step >= params4[0] (max_new) or (step > 0 and (prev == -1 or prev in {eos_i})) else tok.
    Element reads tok, params4[0] and prev (3 ranges; 2 at step 0).

Gas (``python -m bench.bench_ops_gas sample``: the whole one-step transaction, OneStepProver.recompute, at each op's
costliest element; the game's ``step`` adds ~160k): TOPK at its caps on ascending keys, mode 0 k = 1 / 40 / 256:
1.66 / 1.54 / 1.70 M, mode 1: 1.65 / 1.55 / 1.69 M (1.70-1.86 M as the game's step); the 32,000-logit tree at
K = 40: 1.42 M (block 1,280) and 1.32 M (group 25); SAMPLE at K = MAX_K = 256: 0.79 M; GEN_PARAMS 79k, PRNG 75k,
GEN_STOP (4 EOS ids) 169k.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from offchain.commit.keccak import keccak256
from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.intmath_act import EXP_CLAMP, exp_neg_q30_element
from offchain.engine.intmath_core import INT32_MAX, INT32_MIN
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.text import _int32  # the one INT32/frac-0 operand check

#: Bytes of request parameters after the prompt (GEN_PARAMS' input).
PARAM_BYTES = 16
#: Largest model N (max new tokens): p[0] is one byte.
MAX_NEW_TOKENS = 255
#: Largest top-k size K (TOPK's k, SAMPLE's candidate count).
MAX_K = 256
#: TOPK's gas model of one whole step (OneStepProver.recompute, calldata and range proofs included) over `entries`
#: entries (block, or group * kin) at top-k size k: FIXED + entries * (ENTRY + MERGE_ENTRY [mode 1] + PROBE *
#: ceil(log2 k) + SLOT * k). Per entry: reading and keying it, and in the worst case (keys ascending: every one
#: enters the running top k) a binary search over k slots and a k-word copy. Fitted above every measurement of
#: bench/bench_ops_gas.py ``sample_cases`` (k = 1 .. 256, 256 .. 2,048 entries, both modes; e.g. k = 40 over 1,024
#: entries: model 1.28 M, measured 1.15 M in mode 0).
TOPK_FIXED_GAS = 100_000
TOPK_ENTRY_GAS = 400
TOPK_MERGE_ENTRY_GAS = 200
TOPK_PROBE_GAS = 105
TOPK_SLOT_GAS = 3
#: The model's bound: 300k under the 2,000,000-gas step bound, for the game's own step around the recompute.
TOPK_STEP_GAS_BUDGET = 1_700_000
#: Largest frac of the logits SAMPLE accepts (the denominator t * 2^frac stays below 2^63).
MAX_FRAC_LOGITS = 32
#: Frac bits of SAMPLE's scaled distance, the input of the integer exp.
EXP_FRAC = 16
#: Largest number of EOS ids GEN_STOP takes.
MAX_EOS = 4
#: Largest step index (PRNG, GEN_STOP): the step is hashed as a uint32 and compared as an int32.
MAX_STEP = INT32_MAX
#: TOPK's padding entry.
PAD_VALUE, PAD_INDEX = INT32_MIN, -1
MODE_BLOCKS, MODE_MERGE = 0, 1


class RequestParamError(ValueError):
    """A generation request parameter lies outside the range its bytes can carry (names the parameter)."""


def request_params(max_new: int = 0, temperature: float = 0.0, top_k: int = 0, seed: int = 0) -> bytes:
    """The 16 parameter bytes GEN_PARAMS reads (genspec layout), appended to the prompt's padded bytes.

    max_new: new tokens, 0 .. 255 (0 = the model's N); temperature: real temperature >= 0, sent in hundredths
    (round half up, 0 .. 655.35; 0 = greedy); top_k: 0 .. 65535 (0 = the model's K); seed: 0 .. 2^32 - 1.
    Raises RequestParamError naming the parameter otherwise.
    """
    if not isinstance(max_new, int) or not 0 <= max_new <= 255:
        raise RequestParamError(f"max_new = {max_new!r}: must be an int in 0 .. 255")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise RequestParamError(f"temperature = {temperature!r}: must be a finite number >= 0")
    hundredths = math.floor(temperature * 100 + 0.5)
    if hundredths > 0xFFFF:
        raise RequestParamError(f"temperature = {temperature!r}: at most 655.35 (sent in hundredths as uint16)")
    if not isinstance(top_k, int) or not 0 <= top_k <= 0xFFFF:
        raise RequestParamError(f"top_k = {top_k!r}: must be an int in 0 .. 65535")
    if not isinstance(seed, int) or not 0 <= seed <= 0xFFFFFFFF:
        raise RequestParamError(f"seed = {seed!r}: must be an int in 0 .. 2^32 - 1")
    return (bytes([max_new]) + hundredths.to_bytes(2, "big") + top_k.to_bytes(2, "big") + seed.to_bytes(4, "big")
            + bytes(PARAM_BYTES - 9))


def topk_step_gas(mode: int, k: int, entries: int) -> int:
    """TOPK's modelled gas of one whole step (see TOPK_FIXED_GAS); check() refuses a node above the budget."""
    per_entry = (TOPK_ENTRY_GAS + (TOPK_MERGE_ENTRY_GAS if mode == MODE_MERGE else 0)
                 + TOPK_PROBE_GAS * (k - 1).bit_length() + TOPK_SLOT_GAS * k)
    return TOPK_FIXED_GAS + entries * per_entry


# ------------------------------------------------------------------------------------------------ element rules


def gen_params(raw: Sequence[int], n_max: int, k_max: int) -> list[int]:
    """GEN_PARAMS' four outputs from the 16 raw int8 values."""
    p = [int(q) & 0xFF for q in raw]
    max_new = n_max if p[0] == 0 else min(p[0], n_max)
    temperature = p[1] << 8 | p[2]
    t = p[3] << 8 | p[4]
    top_k = k_max if t == 0 else min(t, k_max)
    seed = p[5] << 24 | p[6] << 16 | p[7] << 8 | p[8]
    return [max_new, temperature, top_k, seed - (1 << 32) if seed > INT32_MAX else seed]


def prng_word(seed: int, step: int) -> int:
    """keccak256(uint32(seed) ++ uint32(step))'s first 4 bytes, big-endian, & 0x7fffffff."""
    digest = keccak256((seed & 0xFFFFFFFF).to_bytes(4, "big") + (step & 0xFFFFFFFF).to_bytes(4, "big"))
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def topk_order(entries: Sequence[tuple[int, int]], merge: bool) -> list[tuple[int, int]]:
    """TOPK's order of (value, index) entries, padding replaced by PAD: mode 0 (``merge`` False) ranks by
    (value desc, index asc); mode 1 puts index -1 entries last as PAD and breaks full ties by position."""
    if not merge:
        return sorted(entries, key=lambda e: (-e[0], e[1]))
    real = [(v, i, pos) for pos, (v, i) in enumerate(entries) if i != PAD_INDEX]
    real.sort(key=lambda e: (-e[0], e[1], e[2]))
    return [(v, i) for v, i, _ in real] + [(PAD_VALUE, PAD_INDEX)] * (len(entries) - len(real))


def sample_token(cand: Sequence[int], params4: Sequence[int], rnd: int, frac_logits: int) -> int:
    """SAMPLE's token from the flat candidate list (v_0, i_0, v_1, i_1, ..), params4 and the random word."""
    k = len(cand) // 2
    temperature, top_k = params4[1], params4[2]
    real = sum(1 for j in range(k) if cand[2 * j + 1] != PAD_INDEX)
    kk = min(top_k, real)
    if temperature <= 0 or kk <= 1:
        return cand[1]
    v0 = cand[0]
    den = temperature << frac_logits
    top = EXP_CLAMP << EXP_FRAC
    weights = []
    for j in range(kk):
        d = max(v0 - cand[2 * j], 0)
        weights.append(exp_neg_q30_element(min((d * 100 << EXP_FRAC) // den, top), EXP_FRAC))
    u = ((rnd & 0x7FFFFFFF) * sum(weights)) >> 31
    acc = 0
    for j, w in enumerate(weights):
        acc += w
        if acc > u:
            return cand[2 * j + 1]
    raise AssertionError("unreachable: u < total")  # u <= (2^31 - 1) * total >> 31 < total


def stop_gate(tok: int, max_new: int, prev: int | None, step: int, eos: Sequence[int]) -> int:
    """GEN_STOP's output: -1 past max_new or after an EOS / a stop, else the sampled token."""
    if step >= max_new or (step > 0 and (prev == -1 or prev in eos)):
        return -1
    return tok


# ------------------------------------------------------------------------------------------------------- checks


def _shape_of(what: str, spec: TensorSpec, size: int) -> None:
    _int32(what, spec)
    if spec.size != size:
        raise ShapeMismatchError(f"{what} has shape {spec.shape} ({spec.size} elements), expected {size}")


def _scalar_out(node: Node) -> None:
    _int32("output", node.output)
    expect_shape("output", node.output.shape, (1,))


def _step(node: Node) -> int:
    step = node.params[0]
    if not 0 <= step <= MAX_STEP:
        raise ParamError(f"step = {step}: must be 0 .. {MAX_STEP}")
    return step


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ParamError(f"top-k size k = {k}: must be 1 .. {MAX_K}")


class GenParams(Op):
    """The request's (max_new, temperature, top_k, seed) from its 16 parameter bytes."""

    code = OpCode.GEN_PARAMS
    name = "GEN_PARAMS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        if len(node.params) != 2:
            raise ParamError(f"GEN_PARAMS takes params (N, K), got {node.params}")
        raw = node.in_specs[0]
        if raw.dtype != DType.INT8 or raw.frac != 0 or raw.size != PARAM_BYTES:
            raise DtypeMismatchError(f"raw must be {PARAM_BYTES} INT8 frac-0 bytes, got {raw.shape} "
                                     f"{raw.dtype.name}/f{raw.frac}")
        n_max, k_max = node.params
        if not 1 <= n_max <= MAX_NEW_TOKENS:
            raise ParamError(f"N = {n_max} new tokens: must be 1 .. {MAX_NEW_TOKENS}")
        _check_k(k_max)
        _int32("output", node.output)
        expect_shape("output", node.output.shape, (4,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        raw = [int(q) for q in np.asarray(inputs[0]).reshape(-1)]
        return np.array(gen_params(raw, *node.params), dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, PARAM_BYTES)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return gen_params(operands[0], *node.params)[out_index]


class TopK(Op):
    """The k largest logits of each block (mode 0), or of each group of earlier TOPK rows (mode 1)."""

    code = OpCode.TOPK
    name = "TOPK"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        if len(node.params) != 3:
            raise ParamError(f"TOPK takes params (mode, k, block | group), got {node.params}")
        mode, k, width = node.params
        _check_k(k)
        x = node.in_specs[0]
        if mode == MODE_BLOCKS:
            if x.size < 1:
                raise ShapeMismatchError("TOPK mode 0 needs at least one logit")
            rows, entries = -(-x.size // max(width, 1)), width
        elif mode == MODE_MERGE:
            _int32("candidates", x)
            if len(x.shape) != 3 or x.shape[0] < 1 or x.shape[1] < 1 or x.shape[2] != 2:
                raise ShapeMismatchError(f"TOPK mode 1 candidates must be [m, kin, 2], got {x.shape}")
            rows, entries = -(-x.shape[0] // max(width, 1)), width * x.shape[1]
        else:
            raise ParamError(f"TOPK mode {mode} must be 0 (blocks) or 1 (merge)")
        if width < 1:
            raise ParamError(f"TOPK block / group = {width} must be >= 1")
        gas = topk_step_gas(mode, k, entries)
        if gas > TOPK_STEP_GAS_BUDGET:
            raise ParamError(f"TOPK mode {mode} k = {k} over {entries} entries (block or group * kin): the step's gas "
                             f"model gives {gas:,} > {TOPK_STEP_GAS_BUDGET:,}; use smaller blocks / groups")
        _int32("output", node.output)
        expect_shape("output", node.output.shape, (rows, k, 2))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        mode, k, width = node.params
        if mode == MODE_BLOCKS:
            x = np.asarray(inputs[0]).astype(np.int64).reshape(-1)
            n = x.size
            rows = -(-n // width)
            values = np.full(rows * width, PAD_VALUE, dtype=np.int64)
            values[:n] = x
            index = np.arange(rows * width, dtype=np.int64)
            real = index < n
        else:
            c = np.asarray(inputs[0]).astype(np.int64)
            m, kin = c.shape[0], c.shape[1]
            rows = -(-m // width)
            flat = np.full((rows * width * kin, 2), (PAD_VALUE, PAD_INDEX), dtype=np.int64)
            flat[:m * kin] = c.reshape(-1, 2)
            values, index = flat[:, 0], flat[:, 1]
            real = index != PAD_INDEX
        per_row = values.size // rows
        values, index, real = (a.reshape(rows, per_row) for a in (values, index, real))
        position = np.broadcast_to(np.arange(per_row, dtype=np.int64), (rows, per_row))
        # lexsort: last key is primary. Real entries first, then value descending, index ascending, position.
        order = np.lexsort((position, index, -values, ~real), axis=-1)[:, :k]
        take = lambda a: np.take_along_axis(a, order, axis=-1)  # noqa: E731
        out = np.empty((rows, k, 2), dtype=np.int64)
        out[:, :, 0], out[:, :, 1] = PAD_VALUE, PAD_INDEX
        chosen_real = take(real)
        width_taken = order.shape[1]
        out[:, :width_taken, 0] = np.where(chosen_real, take(values), PAD_VALUE)
        out[:, :width_taken, 1] = np.where(chosen_real, take(index), PAD_INDEX)
        return out.astype(np.int32)

    def _window(self, node: Node, row: int) -> tuple[int, int]:
        """(flat start, length) of row ``row``'s block / group in the input."""
        mode, _, width = node.params
        x = node.in_specs[0]
        if mode == MODE_BLOCKS:
            start = row * width
            return start, min(width, x.size - start)
        kin = x.shape[1]
        return row * width * kin * 2, min(width, x.shape[0] - row * width) * kin * 2

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        start, length = self._window(node, out_index // (2 * node.params[1]))
        return [(0, start, length)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        mode, k, width = node.params
        row, i, field = out_index // (2 * k), (out_index // 2) % k, out_index % 2
        vals = [int(v) for v in operands[0]]
        if mode == MODE_BLOCKS:
            base = row * width
            ordered = topk_order([(v, base + j) for j, v in enumerate(vals)], merge=False)
        else:
            ordered = topk_order(list(zip(vals[0::2], vals[1::2])), merge=True)
        entry = ordered[i] if i < len(ordered) else (PAD_VALUE, PAD_INDEX)
        return entry[field]


class Prng(Op):
    """One 31-bit random word per decode step from the request's seed."""

    code = OpCode.PRNG
    name = "PRNG"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        if len(node.params) != 1:
            raise ParamError(f"PRNG takes params (step,), got {node.params}")
        _shape_of("params4", node.in_specs[0], 4)
        _step(node)
        _scalar_out(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        seed = int(np.asarray(inputs[0]).reshape(-1)[3])
        return np.array([prng_word(seed, node.params[0])], dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 3, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return prng_word(operands[0][0], node.params[0])


class Sample(Op):
    """Temperature + top-k sampling over the final candidate list; greedy at temperature 0."""

    code = OpCode.SAMPLE
    name = "SAMPLE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        if len(node.params) != 1:
            raise ParamError(f"SAMPLE takes params (frac_logits,), got {node.params}")
        cand, params4, rnd = node.in_specs
        _int32("cand", cand)
        if len(cand.shape) != 3 or cand.shape[0] != 1 or cand.shape[2] != 2:
            raise ShapeMismatchError(f"cand must be [1, K, 2], got {cand.shape}")
        _check_k(cand.shape[1])
        _shape_of("params4", params4, 4)
        _shape_of("rnd", rnd, 1)
        if not 0 <= node.params[0] <= MAX_FRAC_LOGITS:
            raise ParamError(f"frac_logits = {node.params[0]}: must be 0 .. {MAX_FRAC_LOGITS}")
        _scalar_out(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        cand, params4, rnd = ([int(v) for v in np.asarray(a).reshape(-1)] for a in inputs)
        return np.array([sample_token(cand, params4, rnd[0], node.params[0])], dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, node.in_specs[0].size), (1, 0, 4), (2, 0, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        cand, params4, rnd = operands
        return sample_token([int(v) for v in cand], [int(v) for v in params4], int(rnd[0]), node.params[0])


class GenStop(Op):
    """The stop gate: the sampled token until max_new or an EOS, -1 afterwards."""

    code = OpCode.GEN_STOP
    name = "GEN_STOP"

    def check(self, node: Node) -> None:
        if not 1 <= len(node.params) <= 1 + MAX_EOS:
            raise ParamError(f"GEN_STOP takes params (step, eos_1 .. eos_e) with e <= {MAX_EOS}, got {node.params}")
        step = _step(node)
        expect_inputs(node, (3,) if step > 0 else (2,))
        _shape_of("tok", node.in_specs[0], 1)
        _shape_of("params4", node.in_specs[1], 4)
        if step > 0:
            _shape_of("prev", node.in_specs[2], 1)
        for eos in node.params[1:]:
            if not INT32_MIN <= eos <= INT32_MAX:
                raise ParamError(f"EOS id {eos} is not an int32")
        _scalar_out(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        flat = [[int(v) for v in np.asarray(a).reshape(-1)] for a in inputs]
        prev = flat[2][0] if len(flat) == 3 else None
        return np.array([stop_gate(flat[0][0], flat[1][0], prev, node.params[0], node.params[1:])],
                        dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        ranges = [(0, 0, 1), (1, 0, 1)]
        return ranges + [(2, 0, 1)] if node.params[0] > 0 else ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        prev = int(operands[2][0]) if len(operands) == 3 else None
        return stop_gate(int(operands[0][0]), int(operands[1][0]), prev, node.params[0], node.params[1:])
