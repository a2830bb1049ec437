"""Deterministic integer ML engine (DESIGN.md sections 2 and 3).

Public API
----------
IR (:mod:`.graph`, :mod:`.dtypes`)
    ``DType`` (INT8 = 1, INT16 = 2, INT32 = 4: the value is the byte width),
    ``TensorKind`` (INPUT 0 / WEIGHT 1 / ACTIVATION 2), ``TensorRef(kind, index)``,
    ``TensorSpec(shape, dtype, frac, chunk_log2, name)`` with real = q / 2^frac,
    ``Node(op, inputs, in_specs, output, params, source)``, ``Graph(inputs, weights, nodes)``
    with ``validate()``; ``DEFAULT_CHUNK_LOG2`` per tensor kind, ``MAX_RANK``.
Operators (:mod:`.ops`)
    ``OpCode`` (the stable uint8 table), ``OPS``, ``get_op(code)`` -> ``Op`` with
    ``check(node)``, ``forward(inputs, node)``, ``element(node, operands, out_index)``,
    ``operand_ranges(node, out_index, inputs=None)``.
Descriptors (:mod:`.descriptor`)
    ``encode_node(node, index)`` / ``decode_node(bytes)``: the canonical 32-byte-word layout.
Models and files (:mod:`.model`, :mod:`.modelfile`)
    ``Model(graph, weights, meta)``; ``save_model(model, path)`` / ``load_model(path)``
    (numpy only, no torch import).
Execution (:mod:`.executor`, :mod:`.quantise`)
    ``run(model, inputs) -> Trace`` (``.inputs``, ``.outputs[i]`` per node, ``.output``),
    ``prepare_inputs``, ``quantise_input``.
One-step data (:mod:`.onestep`)
    ``element_operands(model, trace, node_index, out_index)`` -> ``OperandRange`` list (tensor ref,
    flat range, values); ``recompute_element(...)`` = the op's ``element`` on exactly those values.
Commitments (:mod:`.roots`)
    ``graph_root``, ``weights_root``, ``model_id``, ``input_root``, ``trace_root``,
    ``trace_leaves``, ``node_leaves``, ``weight_roots``, ``spec_tensor_root``.
Compiler (:mod:`.compiler`, imports torch; import it explicitly)
    ``from offchain.engine.compiler import compile_module, CompileConfig``.
Errors (:mod:`.errors`)
    ``EngineError`` and subclasses: ``GraphError`` (``UnknownOpError``, ``TopologyError``,
    ``ShapeMismatchError``, ``DtypeMismatchError``, ``ParamError``), ``InputError``
    (``InputCountError``, ``InputShapeError``, ``InputDtypeError``, ``InputRangeError``,
    ``InputNaNError``), ``ModelFileError``, ``DescriptorError``, ``CompileError``
    (``UnsupportedOpError``, ``CalibrationError``).

Integer primitives live in :mod:`offchain.engine.intmath` (another module owner).
"""

from offchain.engine.descriptor import DESCRIPTOR_VERSION, TENSOR_WORDS, decode_node, encode_node
from offchain.engine.dtypes import DType
from offchain.engine.errors import (
    CalibrationError,
    CompileError,
    DescriptorError,
    DtypeMismatchError,
    EngineError,
    GraphError,
    InputCountError,
    InputDtypeError,
    InputError,
    InputNaNError,
    InputRangeError,
    InputShapeError,
    ModelFileError,
    ParamError,
    ShapeMismatchError,
    TopologyError,
    UnknownOpError,
    UnsupportedOpError,
)
from offchain.engine.executor import Trace, prepare_inputs, run
from offchain.engine.graph import DEFAULT_CHUNK_LOG2, MAX_RANK, Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.modelfile import FORMAT_VERSION, load_model, save_model
from offchain.engine.onestep import OperandRange, element_operands, recompute_element
from offchain.engine.ops import OPS, Op, OpCode, get_op
from offchain.engine.quantise import quantise_input
from offchain.engine.roots import (
    graph_root,
    input_root,
    model_id,
    node_leaves,
    spec_tensor_root,
    trace_leaves,
    trace_root,
    weight_roots,
    weights_root,
)

__all__ = [
    "DEFAULT_CHUNK_LOG2", "DESCRIPTOR_VERSION", "FORMAT_VERSION", "MAX_RANK", "OPS", "TENSOR_WORDS",
    "CalibrationError", "CompileError", "DType", "DescriptorError", "DtypeMismatchError", "EngineError",
    "Graph", "GraphError", "InputCountError", "InputDtypeError", "InputError", "InputNaNError",
    "InputRangeError", "InputShapeError", "Model", "ModelFileError", "Node", "Op", "OpCode", "OperandRange", "ParamError",
    "ShapeMismatchError", "TensorKind", "TensorRef", "TensorSpec", "TopologyError", "Trace",
    "UnknownOpError", "UnsupportedOpError",
    "decode_node", "element_operands", "encode_node", "get_op", "graph_root", "input_root", "load_model", "model_id",
    "node_leaves", "prepare_inputs", "quantise_input", "recompute_element", "run", "save_model", "spec_tensor_root",
    "trace_leaves", "trace_root", "weight_roots", "weights_root",
]
