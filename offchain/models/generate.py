"""Text generation as one static, disputable graph (issue 15): prompt bytes in, generated UTF-8 bytes out.

Public API (other code calls it):

- ``compile_generator(folder, GenerationConfig(...), prompts=None, name=None, config=None) -> CompiledGenerator``: a Hugging
  Face Llama-family checkpoint folder (``offchain.models.hf_llama``) compiled into the generating model
  (``.model``), the plain whole-sequence model its reference loop runs (``.full``) and the pieces both are made of.
- ``request_bytes(prompt, max_new=0, temperature=0.0, top_k=0, seed=0, prompt_bytes=B)``: a request's input.
- ``reference_generate(compiled, data) -> list[int]``: the emitted ids by the plain loop (one whole-sequence
  forward per token, no cache); the graph must equal it token for token (tests/models/test_generate.py).
- ``generated_ids(compiled, trace) / generated_text(compiled, output)``: read a run.

The graph (one static program, every node disputable like any activation):

    request INT8 [B + 16] --SLICE--> prompt bytes [B] --tokenizer ops (offchain.models.bpe)--> ids [1, T]
                          --SLICE--> parameter bytes [16] --GEN_PARAMS--> (max_new, temperature, top_k, seed)
    ids --ALIGN_END--> prompt right-aligned (pads first) --prefill: the checkpoint's layers over T positions,
        attention masked by ATTN_BIAS (causal + the leading pads)--> logits of position T-1
    for t in 0 .. N-1:  logits --TOPK tree--> K candidates --SAMPLE (PRNG word t)--> token --GEN_STOP--> emitted
        and for t < N-1 one decode step at position T+t: the same layers on one row; each layer's attention reads
        the prefill's K/V nodes and every earlier step's K/V row through CAT_MATMUL (the KV cache is the earlier
        nodes themselves: nothing is copied, so the trace grows linearly with the tokens written)
    emitted ids [N] --DETOK_LEN, DETOK_BYTES--> text INT8 [out_bytes]

One integer model defines the answer: the checkpoint compiled once over S = T + N - 1 positions (``.full`` is its
whole-sequence form, masked the same way). The prefill is its first T rows and decode step t its row T+t-1, every
node with the same weights, scales and arithmetic; CAT_MATMUL is MATMUL over the concatenated cache and a masked
key adds exactly 0 to a softmax row, so the cached graph equals the whole-sequence forward bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import get_op
from offchain.engine.ops.codes import OpCode

from offchain.engine.ops.sample import PARAM_BYTES  # noqa: E402  parameter bytes after the prompt (GEN_PARAMS)
#: The most cache blocks CAT_MATMUL reads (its node takes 16 operands: the query plus 15 blocks).
MAX_CACHE_BLOCKS = 15
#: No token (a stopped step): DETOK_LEN gives it length 0.
NO_TOKEN = -1


class GenerationConfigError(ValueError):
    """A generation configuration or checkpoint the generator cannot build (the message names the field)."""


@dataclass(frozen=True)
class GenerationConfig:
    """Sizes of a text-generating model. ``prompt_bytes`` B: request prompt bytes; ``prompt_tokens`` T: prompt
    slots (longer prompts keep their first T - template pieces, as the tokenizer graph does); ``max_new`` N: new
    tokens at most (a request asks for 1..N); ``top_k`` K: candidates kept for sampling; ``out_bytes``: text bytes
    of the answer (default 8 N); ``topk_block`` / ``topk_group``: the TOPK tree's fan-in; ``cache_block`` G:
    each layer's decode K rows and V columns are merged like the digits of a base-G counter: G single rows become
    one block (CONCAT), G such blocks one block of G^2 rows, and so on, so a step's attention reads at most
    ``max_cache_blocks`` = 1 + (G - 1) * levels + 1 blocks (the prefill, at most G - 1 per level, its own row;
    each block is one range of the one-step proof, and a node takes at most 16 operands) while each row is copied
    once per level: (levels = ceil(log_G(N - 1))) copies, O(N log N) bytes of K/V with a small constant."""

    prompt_bytes: int = 48
    prompt_tokens: int = 32
    max_new: int = 32
    top_k: int = 40
    out_bytes: int | None = None
    topk_block: int = 256
    topk_group: int = 16
    cache_block: int = 4

    def __post_init__(self) -> None:
        for field in ("prompt_bytes", "prompt_tokens", "max_new", "top_k", "topk_block", "topk_group",
                      "cache_block"):
            if getattr(self, field) < 1:
                raise GenerationConfigError(f"{field}={getattr(self, field)} must be >= 1")
        if self.max_new > 255:
            raise GenerationConfigError(f"max_new={self.max_new}: a request's max_new_tokens is one byte (<= 255)")
        if self.topk_group < 2:
            raise GenerationConfigError(f"topk_group={self.topk_group} must be >= 2")
        if self.cache_block < 2:
            raise GenerationConfigError(f"cache_block={self.cache_block} must be >= 2")
        if self.max_cache_blocks > MAX_CACHE_BLOCKS:
            raise GenerationConfigError(
                f"cache_block={self.cache_block} with max_new={self.max_new}: a decode step would read "
                f"{self.max_cache_blocks} cache blocks; CAT_MATMUL takes at most {MAX_CACHE_BLOCKS} (pick another "
                f"cache_block: 4 fits every max_new <= 255)")

    @property
    def max_cache_blocks(self) -> int:
        """The most K (or V) blocks one decode step's CAT_MATMUL reads: the prefill's, at most G - 1 merged blocks
        per level of the base-G merging, and the step's own row."""
        rows, levels = self.max_new - 1, 0
        while self.cache_block ** levels < rows:
            levels += 1
        return 1 + (self.cache_block - 1) * levels + 1

    @property
    def text_bytes(self) -> int:
        return self.out_bytes if self.out_bytes is not None else 8 * self.max_new

    @property
    def positions(self) -> int:
        """S: the positions of the one integer model (prompt slots + decode steps)."""
        return self.prompt_tokens + self.max_new - 1


# ------------------------------------------------------------------------------------------------ assembling


def _ref(kind: TensorKind, index: int) -> TensorRef:
    return TensorRef(kind, index)


class _Asm:
    """Appends nodes and weights to one graph; weights are deduplicated by a key."""

    def __init__(self, inputs: Sequence[TensorSpec]):
        self.graph = Graph(list(inputs), [], [])
        self.values: list[np.ndarray] = []
        self._keys: dict[object, TensorRef] = {}

    def spec(self, ref: TensorRef) -> TensorSpec:
        return self.graph.spec(ref)

    def weight(self, key: object, spec: TensorSpec, value: np.ndarray) -> TensorRef:
        if key not in self._keys:
            self.graph.weights.append(spec)
            self.values.append(np.require(value, requirements="C"))
            self._keys[key] = _ref(TensorKind.WEIGHT, len(self.values) - 1)
        return self._keys[key]

    def node(self, op: OpCode, inputs: Sequence[TensorRef], output: TensorSpec, params: Sequence[int] = (),
             source: str = "") -> TensorRef:
        specs = tuple(self.spec(r) for r in inputs)
        self.graph.nodes.append(Node(int(op), tuple(inputs), specs, output, tuple(int(p) for p in params), source))
        return _ref(TensorKind.ACTIVATION, len(self.graph.nodes) - 1)

    def import_model(self, model: Model, inputs: dict[int, TensorRef], tag: str) -> TensorRef:
        """Append ``model``'s nodes, its input j read from ``inputs[j]``; returns its output (last node)."""
        base = len(self.graph.nodes)

        def move(ref: TensorRef) -> TensorRef:
            if ref.kind == TensorKind.INPUT:
                return inputs[ref.index]
            if ref.kind == TensorKind.WEIGHT:
                return self.weight((tag, ref.index), model.graph.weights[ref.index], model.weights[ref.index])
            return _ref(TensorKind.ACTIVATION, ref.index + base)

        for n in model.graph.nodes:
            self.graph.nodes.append(dataclasses.replace(n, inputs=tuple(move(r) for r in n.inputs)))
        return _ref(TensorKind.ACTIVATION, len(self.graph.nodes) - 1)

    def model(self, meta: dict) -> Model:
        model = Model(self.graph, self.values, meta)
        model.validate()
        return model


def check_positions(positions: int, groups: int, dims: Sequence[int]) -> None:
    """The body is re-shaped by finding its position axes by size, so S (and g*S) must differ from every other
    dimension of the model; GenerationConfigError otherwise."""
    collide = {positions, groups * positions} & {int(d) for d in dims}
    if collide:
        raise GenerationConfigError(
            f"S = prompt_tokens + max_new - 1 = {positions} (or g*S = {groups * positions}) equals a model dimension "
            f"{sorted(collide)}; pick another prompt_tokens or max_new")


def _spec(shape: Sequence[int], dtype: DType, frac: int = 0, name: str = "", like: TensorSpec | None = None) -> TensorSpec:
    chunk = like.chunk_log2 if like is not None else 5
    return TensorSpec(tuple(int(d) for d in shape), dtype, frac, chunk, name)


# ------------------------------------------------------------------------------------------------ the body


class _Body:
    """Re-emits a compiled whole-sequence Llama body (token ids [1, S] -> logits [1, S, V]) over any run of rows:
    the prefill (rows 0..T-1), one decode row, or all S rows, with the same weights, scales and arithmetic.

    The body's attention is recognised by its structure (what ``offchain.models.hf_llama`` compiles to): per
    layer a scores MATMUL(q, k) -> MUL(scale) -> ADD(causal weight [g S, S]) -> SOFTMAX -> MATMUL(p, V^T), with
    ROPE reading [S, head_dim] cos/sin weights. The causal weight is replaced by an ATTN_BIAS node the caller
    supplies; a decode row's two MATMULs become CAT_MATMUL over the cache blocks recorded so far."""

    def __init__(self, asm: _Asm, body: Model, positions: int, dims: Sequence[int], cache_block: int = 1 << 30):
        g = body.graph
        self.asm, self.body, self.S, self.cache_block = asm, body, positions, cache_block
        nodes = g.nodes
        if len(nodes) < 3 or nodes[-1].op != OpCode.LINEAR or nodes[-2].op != OpCode.RMSNORM:
            raise GenerationConfigError("the body must end in the final RMSNORM and the LM head LINEAR")
        if len(g.inputs) != 1 or g.inputs[0].shape != (1, positions) or nodes[-1].output.shape[:2] != (1, positions):
            raise GenerationConfigError(f"the body must map ids [1, {positions}] to logits [1, {positions}, V]")
        causal = {n.inputs[1].index for n in nodes if n.op == OpCode.ADD and n.inputs[1].kind == TensorKind.WEIGHT
                  and len(g.weights[n.inputs[1].index].shape) == 2
                  and g.weights[n.inputs[1].index].shape[1] == positions}
        specs = {(g.weights[i].shape, g.weights[i].dtype, g.weights[i].frac) for i in causal}
        negs = {int(body.weights[i].min()) for i in causal}
        if not causal or len(specs) != 1 or len(negs) != 1:
            raise GenerationConfigError(f"expected the layers' causal-mask weights [g*S, S] to agree, found "
                                        f"{len(causal)} with layouts {sorted(map(str, specs))} and masks {sorted(negs)}")
        self.causal = causal
        cspec = g.weights[min(causal)]
        self.groups = cspec.shape[0] // positions
        self.bias_spec = cspec
        self.neg = negs.pop()
        check_positions(positions, self.groups, dims)
        produced_by = {i: n for i, n in enumerate(nodes)}
        self.mix = [i for i, n in enumerate(nodes) if n.op == OpCode.MATMUL and n.inputs[0].kind ==
                    TensorKind.ACTIVATION and produced_by[n.inputs[0].index].op == OpCode.SOFTMAX]
        self.scores = [i for i, n in enumerate(nodes) if n.op == OpCode.MATMUL and i not in self.mix]
        if not self.mix or len(self.mix) != len(self.scores):
            raise GenerationConfigError(f"found {len(self.scores)} score and {len(self.mix)} mix MATMULs")
        self.layer_of = {i: k for k, i in enumerate(self.scores)} | {i: k for k, i in enumerate(self.mix)}
        self.k_blocks: list[list[TensorRef]] = [[] for _ in self.scores]
        self.v_blocks: list[list[TensorRef]] = [[] for _ in self.mix]
        # per layer and axis (0: K, 1: V): the level of each decode block in k_blocks / v_blocks after the prefill's
        self.levels: list[list[list[int]]] = [[[], []] for _ in self.scores]

    # shapes ---------------------------------------------------------------------------------------------------

    def _shape(self, shape: tuple[int, ...], rows: int, keys: int | None) -> tuple[int, ...]:
        S, g = self.S, self.groups
        dims = list(shape)
        last = dims.pop() if keys is not None else None
        out = [rows if d == S else (g * rows if g > 1 and d == g * S else d) for d in dims]
        if keys is not None:
            assert last == S, (shape, S)
            out.append(keys)
        return tuple(out)

    def emit(self, ids: TensorRef, q0: int, rows: int, bias: TensorRef, last_only: bool, tag: str,
             cached: bool) -> TensorRef:
        """Emit the body over rows q0 .. q0+rows-1 (ids [1, rows]); returns logits [1, 1 or rows, V].

        ``cached``: attention reads the recorded cache blocks plus this emission's K/V (decode); otherwise this
        emission's K/V are the first blocks (prefill or whole sequence)."""
        asm, g = self.asm, self.body.graph
        keys = q0 + rows
        mapped: dict[int, TensorRef] = {}
        key_region: set[int] = set()
        nodes = g.nodes
        final = len(nodes) - 2
        for i, n in enumerate(nodes):
            if i == final and last_only and rows > 1:
                hidden = mapped[n.inputs[0].index]
                hs = asm.spec(hidden)
                sliced = _spec((hs.shape[0], 1) + hs.shape[2:], hs.dtype, hs.frac, f"{tag}.last", hs)
                mapped[n.inputs[0].index] = asm.node(OpCode.SLICE, [hidden], sliced, (1, rows - 1, 1), f"{tag}.last")
            r = 1 if (i >= final and last_only) else rows
            is_key = i in self.scores or (n.op in (OpCode.MUL, OpCode.ADD, OpCode.SOFTMAX, OpCode.RESCALE)
                                          and n.inputs[0].kind == TensorKind.ACTIVATION
                                          and n.inputs[0].index in key_region)
            if is_key:
                key_region.add(i)
            out = n.output
            out_spec = dataclasses.replace(out, shape=self._shape(out.shape, r, keys if is_key else None))
            inputs: list[TensorRef] = []
            for slot, ref in enumerate(n.inputs):
                if ref.kind == TensorKind.INPUT:
                    inputs.append(ids)
                elif ref.kind == TensorKind.ACTIVATION:
                    inputs.append(mapped[ref.index])
                elif ref.index in self.causal:
                    inputs.append(bias)
                elif n.op == OpCode.ROPE and slot in (1, 2):
                    w = g.weights[ref.index]
                    table = self.body.weights[ref.index][q0:q0 + r]
                    spec = dataclasses.replace(w, shape=(r,) + w.shape[1:], name=f"{w.name}[{q0}:{q0 + r}]")
                    inputs.append(asm.weight(("rope", ref.index, q0, r), spec, table))
                else:
                    inputs.append(asm.weight(("body", ref.index), g.weights[ref.index], self.body.weights[ref.index]))
            source = f"{tag}: {n.source}"
            if i in self.layer_of:
                layer = self.layer_of[i]
                blocks = self.k_blocks if i in self.scores else self.v_blocks
                if cached:
                    axis = 0 if i in self.scores else 1
                    mapped[i] = asm.node(OpCode.CAT_MATMUL, [inputs[0], *blocks[layer], inputs[1]], out_spec, (axis,),
                                         source)
                    blocks[layer].append(inputs[1])
                    levels = self.levels[layer][axis]
                    levels.append(0)
                    G = self.cache_block
                    while len(levels) >= G and len(set(levels[-G:])) == 1:
                        self._consolidate(blocks[layer], axis, tag, layer, levels[-1])
                        levels[-G:] = [levels[-1] + 1]
                    continue
                blocks[layer][:] = [inputs[1]]
                self.levels[layer] = [[], []]
            mapped[i] = asm.node(OpCode(n.op), inputs, out_spec, n.params, source)
        return mapped[len(nodes) - 1]


    def _consolidate(self, blocks: list[TensorRef], axis: int, tag: str, layer: int, level: int) -> None:
        """Replace the last ``cache_block`` blocks (all of one level) by one CONCAT of them (K rows along the key
        axis -2, V columns along -1)."""
        rows = blocks[-self.cache_block:]
        first = self.asm.spec(rows[0])
        dim = len(first.shape) - 2 + axis
        shape = list(first.shape)
        shape[dim] = sum(self.asm.spec(r).shape[dim] for r in rows)
        kind = "k" if axis == 0 else "v"
        spec = dataclasses.replace(first, shape=tuple(shape), name=f"{tag}.cache.{kind}{layer}")
        merged = self.asm.node(OpCode.CONCAT, rows, spec, (dim,),
                               f"{tag}: cache.{kind} block of {shape[dim]} rows (level {level + 1}), layer {layer}")
        blocks[-self.cache_block:] = [merged]


# ------------------------------------------------------------------------------------------------ sampling


def _topk_tree(asm: _Asm, logits: TensorRef, gc: GenerationConfig, tag: str) -> TensorRef:
    n = asm.spec(logits).size
    k = gc.top_k
    m = math.ceil(n / gc.topk_block)
    ref = asm.node(OpCode.TOPK, [logits], _spec((m, k, 2), DType.INT32, 0, f"{tag}.topk0"), (0, k, gc.topk_block),
                   f"{tag}.topk0")
    level = 1
    while m > 1:
        m = math.ceil(m / gc.topk_group)
        ref = asm.node(OpCode.TOPK, [ref], _spec((m, k, 2), DType.INT32, 0, f"{tag}.topk{level}"),
                       (1, k, gc.topk_group), f"{tag}.topk{level}")
        level += 1
    return ref


#: The most operands one node takes (LibDescriptor): the emitted ids are concatenated 16 at a time.
MAX_OPERANDS = 16


def _concat_ids(asm: _Asm, ids: list[TensorRef]) -> TensorRef:
    """One INT32 [N] tensor of the per-step ids: CONCAT groups of at most 16, then CONCAT of the groups."""
    level = 0
    while len(ids) > 1 or level == 0:
        groups = [ids[i:i + MAX_OPERANDS] for i in range(0, len(ids), MAX_OPERANDS)]
        last = len(groups) == 1
        ids = [asm.node(OpCode.CONCAT, grp, _spec((sum(asm.spec(r).shape[0] for r in grp),), DType.INT32, 0,
                                                     "gen.ids" if last else f"gen.ids.{level}.{k}"),
                        (0,), "gen.ids" if last else f"gen.ids.{level}.{k}")
               for k, grp in enumerate(groups)]
        level += 1
    return ids[0]


def eos_ids(folder: str | Path, eos: int | None) -> tuple[int, ...]:
    """The ids that end generation: config.json's eos_token_id and generation_config.json's (up to 4)."""
    found: list[int] = [] if eos is None else [eos]
    path = Path(folder) / "generation_config.json"
    if path.is_file():
        try:
            raw = json.loads(path.read_text()).get("eos_token_id")
        except (OSError, ValueError) as exc:
            raise GenerationConfigError(f"{path}: unreadable: {exc}") from exc
        for v in raw if isinstance(raw, list) else [raw]:
            if isinstance(v, int) and v not in found:
                found.append(v)
    if len(found) > 4:
        raise GenerationConfigError(f"eos_token_id: {len(found)} ids; GEN_STOP takes at most 4")
    return tuple(found)


# ------------------------------------------------------------------------------------------------ the models


@dataclass
class CompiledGenerator:
    """``model``: the generating model (request [B + 16] -> text [out_bytes]); ``full``: the same integer model as
    one whole-sequence forward (ids [1, S] -> logits [1, S, V]) for the reference loop; ``front``: the tokenizer
    model (prompt bytes [B] -> ids [1, T]); ``config``; ``pad_id``; ``eos``; ``module``: the float checkpoint
    module over S positions (transformers-free reference); ``emitted_node``: index of the node holding the N
    emitted ids; ``candidates``: per step the index of its final TOPK node; ``folder``."""

    model: Model
    full: Model
    front: Model
    config: GenerationConfig
    pad_id: int
    eos: tuple[int, ...]
    module: object
    emitted_node: int
    candidates: list[int]
    folder: Path
    body: Model
    tokenizer_json: object
    dims: tuple[int, ...]

    def rebuilt(self, eos: Sequence[int] | None = None, config: GenerationConfig | None = None) -> "CompiledGenerator":
        """The same checkpoint's generator with other EOS ids or another config of the same positions S (e.g.
        another top_k or out_bytes), without compiling the checkpoint again."""
        gc = config or self.config
        if gc.positions != self.config.positions or gc.prompt_tokens != self.config.prompt_tokens \
                or gc.prompt_bytes != self.config.prompt_bytes:
            raise GenerationConfigError("a rebuilt generator keeps prompt_bytes, prompt_tokens and S")
        eos = tuple(self.eos if eos is None else eos)
        model, full, emitted, candidates = build_generator(self.body, self.front, self.tokenizer_json, gc,
                                                           self.pad_id, eos, self.dims, self.model.meta["name"])
        return dataclasses.replace(self, model=model, full=full, config=gc, eos=eos, emitted_node=emitted,
                                   candidates=candidates)


def build_generator(body: Model, front: Model, tokenizer_json: object, gc: GenerationConfig, pad_id: int,
                    eos: Sequence[int], dims: Sequence[int], name: str) -> tuple[Model, Model, int, list[int]]:
    """(generating model, whole-sequence model, emitted-ids node, per-step candidate nodes) from a compiled body
    over S = gc.positions ids and a tokenizer front over gc.prompt_bytes bytes -> [1, gc.prompt_tokens] ids."""
    from offchain.models.bpe_detok import detok_nodes, detok_table

    B, T, N, K = gc.prompt_bytes, gc.prompt_tokens, gc.max_new, gc.top_k
    S = gc.positions
    if front.graph.output.shape != (1, T) or front.graph.inputs[0].shape != (B,):
        raise GenerationConfigError(f"the tokenizer front must map [{B}] bytes to [1, {T}] ids")
    fin = front.graph.inputs[0]
    asm = _Asm([_spec((B + PARAM_BYTES,), DType.INT8, 0, "request", fin)])
    request = _ref(TensorKind.INPUT, 0)
    text = asm.node(OpCode.SLICE, [request], _spec((B,), DType.INT8, 0, "gen.prompt", fin), (0, 0, 1), "gen.prompt")
    raw = asm.node(OpCode.SLICE, [request], _spec((PARAM_BYTES,), DType.INT8, 0, "gen.param_bytes"), (0, B, 1),
                   "gen.param_bytes")
    params = asm.node(OpCode.GEN_PARAMS, [raw], _spec((4,), DType.INT32, 0, "gen.params"), (N, K), "gen.params")
    ids = asm.import_model(front, {0: text}, "front")
    ids_spec = asm.spec(ids)
    aligned = asm.node(OpCode.ALIGN_END, [ids], ids_spec, (pad_id,), "gen.align")

    core = _Body(asm, body, S, dims, gc.cache_block)
    g = core.groups
    bspec = core.bias_spec

    def bias(q0: int, rows: int, tag: str) -> TensorRef:
        spec = dataclasses.replace(bspec, shape=(g * rows, q0 + rows), name=f"{tag}.bias")
        return asm.node(OpCode.ATTN_BIAS, [aligned], spec, (pad_id, core.neg, q0, rows, g), f"{tag}.bias")

    logits = core.emit(aligned, 0, T, bias(0, T, "prefill"), True, "prefill", cached=False)
    frac_logits = asm.spec(logits).frac
    emitted: list[TensorRef] = []
    candidates: list[int] = []
    for t in range(N):
        tag = f"gen.{t}"
        cand = _topk_tree(asm, logits, gc, tag)
        candidates.append(cand.index)
        rnd = asm.node(OpCode.PRNG, [params], _spec((1,), DType.INT32, 0, f"{tag}.rnd"), (t,), f"{tag}.rnd")
        tok = asm.node(OpCode.SAMPLE, [cand, params, rnd], _spec((1,), DType.INT32, 0, f"{tag}.token"),
                       (frac_logits,), f"{tag}.token")
        stop_in = [tok, params] + ([emitted[-1]] if emitted else [])
        emitted.append(asm.node(OpCode.GEN_STOP, stop_in, _spec((1,), DType.INT32, 0, f"{tag}.emitted"),
                                (t, *eos), f"{tag}.emitted"))
        if t == N - 1:
            break
        p = T + t
        row = asm.node(OpCode.RESHAPE, [tok], _spec((1, 1), DType.INT32, 0, f"step{t + 1}.id"), (),
                       f"step{t + 1}.id")
        logits = core.emit(row, p, 1, bias(p, 1, f"step{t + 1}"), False, f"step{t + 1}", cached=True)
    out_ids = _concat_ids(asm, emitted)
    emitted_node = out_ids.index
    table, strip = detok_table(tokenizer_json)
    tspec = TensorSpec(table.shape, DType.INT32, 0, 5, "detok.table")
    tref = asm.weight("detok.table", tspec, table.astype(np.int32))
    for n in detok_nodes(out_ids, asm.spec(out_ids), tref, tspec, len(asm.graph.nodes), strip, gc.text_bytes):
        asm.graph.nodes.append(n)
    meta = {"name": name, "input_encoding": "utf-8", "output_encoding": "utf-8", "max_bytes": B,
            "generation": {"prompt_bytes": B, "prompt_tokens": T, "max_new": N, "top_k": K,
                           "text_bytes": gc.text_bytes, "pad_id": pad_id, "eos": list(eos),
                           "emitted_node": emitted_node, "positions": S, "cache_block": gc.cache_block}}
    model = asm.model(meta)

    # The same integer model as one whole-sequence forward (the reference loop's model).
    full_asm = _Asm([dataclasses.replace(body.graph.inputs[0], name="ids")])
    seq = _ref(TensorKind.INPUT, 0)
    prompt = full_asm.node(OpCode.SLICE, [seq], dataclasses.replace(ids_spec, name="prompt"), (1, 0, 1), "prompt")
    whole = _Body(full_asm, body, S, dims)
    spec = dataclasses.replace(bspec, shape=(g * S, S), name="full.bias")
    full_bias = full_asm.node(OpCode.ATTN_BIAS, [prompt], spec, (pad_id, whole.neg, 0, S, g), "full.bias")
    whole.emit(seq, 0, S, full_bias, False, "full", cached=False)
    full = full_asm.model({"name": f"{name}-whole-sequence"})
    return model, full, emitted_node, candidates


def compile_generator(folder: str | Path, gc: GenerationConfig | None = None, prompts: Sequence[str] | None = None,
                      name: str | None = None, config=None) -> CompiledGenerator:
    """Compile checkpoint ``folder`` (Llama family, with a BPE ``tokenizer.json``) into a text-generating model.

    Raises GenerationConfigError, UnsupportedTokenizerError (offchain.models.bpe_errors) or the loader's errors
    (offchain.models.hf_config) naming what cannot be built."""
    from offchain.models import bpe
    from offchain.models.hf_llama import compile_hf, pad_token_id

    from offchain.models.hf_config import read_config

    gc = gc or GenerationConfig()
    folder = Path(folder)
    cfg = read_config(folder)
    dims = {cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size, cfg.num_attention_heads,
            cfg.num_key_value_heads, cfg.head_dim, cfg.num_attention_heads * cfg.head_dim,
            cfg.num_key_value_heads * cfg.head_dim, cfg.kv_groups}
    check_positions(gc.positions, cfg.kv_groups, sorted(dims))
    compiled = compile_hf(folder, gc.positions, prompts, all_positions=True, config=config, name=name)
    cfg = compiled.config
    spec = bpe.read_tokenizer(folder)
    pad_id = pad_token_id(folder, cfg)
    front = bpe.tokenizer_model(spec, gc.prompt_bytes, gc.prompt_tokens, pad_id=pad_id)
    eos = eos_ids(folder, cfg.eos_token_id)
    label = name or f"{folder.resolve().name}-gen"
    model, full, emitted, candidates = build_generator(compiled.model, front, spec.raw, gc, pad_id, eos,
                                                       sorted(dims), label)
    return CompiledGenerator(model, full, front, gc, pad_id, eos, compiled.module, emitted, candidates, folder,
                             compiled.model, spec.raw, tuple(sorted(dims)))


# ------------------------------------------------------------------------------------------------ requests, reading


def request_bytes(prompt: str | bytes, max_new: int = 0, temperature: float = 0.0, top_k: int = 0, seed: int = 0,
                  prompt_bytes: int = 48) -> bytes:
    """A generation request's input: the prompt's UTF-8 bytes zero-padded to ``prompt_bytes``, then the 16
    parameter bytes. ValueError for a prompt longer than ``prompt_bytes`` or a parameter out of range."""
    from offchain.engine.ops.sample import request_params

    data = prompt.encode("utf-8") if isinstance(prompt, str) else bytes(prompt)
    if len(data) > prompt_bytes:
        raise ValueError(f"the prompt has {len(data)} UTF-8 bytes; the model reads at most {prompt_bytes}")
    return data + bytes(prompt_bytes - len(data)) + request_params(max_new, temperature, top_k, seed)


def request_tensor(gen: CompiledGenerator, data: bytes) -> np.ndarray:
    """The model's input tensor for request bytes ``data`` (zero-padded, as the oracle pads)."""
    size = gen.config.prompt_bytes + PARAM_BYTES
    if len(data) > size:
        raise ValueError(f"request has {len(data)} bytes; the model takes {size}")
    return np.frombuffer(bytes(data) + bytes(size - len(data)), dtype=np.int8).copy()


def generated_ids(gen: CompiledGenerator, trace) -> list[int]:
    """The emitted token ids of a run (stopped steps dropped)."""
    return [int(v) for v in np.asarray(trace.outputs[gen.emitted_node]).reshape(-1) if v != NO_TOKEN]


def generated_text(output: np.ndarray) -> str:
    """The answer as text: the output bytes without their zero padding, decoded leniently."""
    return (np.asarray(output).astype(np.uint8).tobytes().rstrip(b"\0")).decode("utf-8", "replace")


def reference_generate(gen: CompiledGenerator, data: bytes) -> list[int]:
    """The ids the generating model must emit for request ``data``, by the plain loop: tokenize, right-align,
    then per token one whole-sequence forward of ``gen.full`` (no cache) and the same selection rules."""
    from offchain.engine.executor import run
    from offchain.engine.ops import get_op

    gc = gen.config
    x = request_tensor(gen, data)
    B, T, N, S = gc.prompt_bytes, gc.prompt_tokens, gc.max_new, gc.positions
    nodes = gen.model.graph.nodes
    by_source = {n.source: i for i, n in enumerate(nodes)}

    def apply(source: str, operands: list[np.ndarray]) -> np.ndarray:
        node = nodes[by_source[source]]
        return get_op(node.op).forward(operands, node)

    ids = run(gen.front, [x[:B]]).outputs[-1]
    prompt = [int(v) for v in apply("gen.align", [ids]).reshape(-1)]       # ALIGN_END: pads first
    params = apply("gen.params", [x[B:]])
    seq = prompt + [gen.pad_id] * (S - T)
    out: list[int] = []
    prev = None
    for t in range(N):
        logits = np.asarray(run(gen.full, [np.array([seq], dtype=np.int32)]).outputs[-1])[0, T + t - 1]
        cand = _topk_reference(gen, gen.candidates[t], logits)
        rnd = apply(f"gen.{t}.rnd", [params])
        tok = apply(f"gen.{t}.token", [cand, params, rnd])
        prev = apply(f"gen.{t}.emitted", [tok, params] + ([prev] if prev is not None else []))
        out.append(int(prev[0]))
        if t < N - 1:
            seq[T + t] = int(tok[0])
    return [v for v in out if v != NO_TOKEN]


def _topk_reference(gen: CompiledGenerator, cand_node: int, logits: np.ndarray) -> np.ndarray:
    """The final candidate list for one logits row: a plain sort (value descending, smaller index first)."""
    k = gen.config.top_k
    order = sorted(range(len(logits)), key=lambda i: (-int(logits[i]), i))[:k]
    cand = np.full((1, k, 2), [np.iinfo(np.int32).min, -1], dtype=np.int32)
    for j, i in enumerate(order):
        cand[0, j] = (int(logits[i]), i)
    want = gen.model.graph.nodes[cand_node].output
    return cand.reshape(want.shape)


__all__ = ["CompiledGenerator", "GenerationConfig", "GenerationConfigError", "MAX_CACHE_BLOCKS", "NO_TOKEN", "PARAM_BYTES",
           "build_generator", "check_positions", "compile_generator", "eos_ids", "generated_ids", "generated_text",
           "reference_generate", "request_bytes", "request_tensor"]
