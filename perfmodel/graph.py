"""Load an ONNX model into a static, shape-resolved `Graph` without touching weight data.

Why a separate step: real exports (torch legacy/dynamo, tf2onnx) carry dynamic batch axes, Constant
nodes and Shape->Gather->Concat->Reshape chains. Here they are resolved once: dynamic dims from
the user's overrides, small constant sub-graphs folded with onnx's reference ops, shapes from
`onnx.shape_inference`: first on the model as read (a file over SKIM_ABOVE bytes is read without its
weights' data), for a large graph in a forked child while the nodes are read here
(perfmodel.background), then, when folding changed the graph, on a skeleton model whose large
initializers carry dims but no data. The cost walk then reads only this `Graph`. A large graph that
needs nothing after the first inference is handed to the walk before all its shapes are in: the
child infers the graph a piece at a time (`shapes.inferred_pieces`), and the walk takes each
piece's shapes as they come (`Arriving`).
"""

from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Mapping

import onnx
from onnx import TensorProto, helper, numpy_helper

from perfmodel.background import Forked, can_fork
from perfmodel.errors import PerfmodelError
from perfmodel.shapes import (
    CEIL_POOL_OPS, DOMAIN, FOLD_LIMIT, NAME, OP_TYPE, SAME_SHAPE_OPS, ProtoNode, ceil_pool_fixes, constant_node_tensor,
    derived_is_param, fold_constants, infer_shapes, inferred_pieces, inferred_whole, read_types, same_shape_fixes,
)
from perfmodel.skim import skim_model_bytes
from perfmodel.units import Shape, printable

SKIM_ABOVE = 64 << 20
"""Files larger than this (bytes) are read without their weights' data (perfmodel.skim)."""

MAX_ELEMS = 1 << 40
"""A tensor above this many elements is surely a typo in a shape, not a model."""

TYPE_ONLY_INPUTS = {"CastLike": (1,), "Shape": (0,), "Size": (0,)}
"""Inputs read only for their type or shape, not their values."""

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}


@dataclass(frozen=True)
class GraphNode:
    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    # a control-flow node's subgraphs (If's branches, Loop's and Scan's body), and what they need from
    # the enclosing graph: every outer tensor they read and the node's own constant inputs, as a
    # skeleton TensorProto (a constant) or a ValueInfoProto (an activation of known shape)
    subgraphs: tuple[tuple[str, onnx.GraphProto], ...] = ()
    scope: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def plain(cls, name: str, op_type: str, domain: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
              attrs: Mapping[str, Any]) -> "GraphNode":
        """`GraphNode(name, op_type, domain, inputs, outputs, attrs)`, a node with no subgraphs, its
        fields set at once, as one dict (a frozen dataclass's __init__ sets them one by one: 2 us a
        node, 0.5 here)."""
        node = object.__new__(cls)
        object.__setattr__(node, "__dict__", {"name": name, "op_type": op_type, "domain": domain, "inputs": inputs,
                                              "outputs": outputs, "attrs": attrs, "subgraphs": (), "scope": {}})
        return node


@dataclass
class Graph:
    """A topologically sorted, statically shaped view of an ONNX graph (no weight data)."""

    name: str
    inputs: dict[str, Shape]
    outputs: tuple[str, ...]
    nodes: list[GraphNode]
    shapes: dict[str, Shape]
    constants: set[str] = field(default_factory=set)
    param_like: set[str] = field(default_factory=set)
    float_tensors: set[str] = field(default_factory=set)
    opset: int = 13  # the default-domain opset: attribute defaults come from its schemas
    widths: dict[str, int] = field(default_factory=dict)  # integer-typed tensor -> bytes per element
    # the shapes a forked inference is still sending (`load_graph(stream=True)`); None once all are in
    arriving: "Arriving | None" = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.shapes.pop("", None)  # "" names an absent input or output (ONNX), never a tensor with a shape

    def shape(self, tensor: str) -> Shape | None:
        return self.shapes.get(tensor)

    def ready_nodes(self) -> Iterable[GraphNode]:
        """The nodes in order, each once the shapes of its outputs are in (`Arriving.nodes`)."""
        return self.nodes if self.arriving is None else self.arriving.nodes()


# ---------------------------------------------------------------- reading the file


def read_model(source: str | os.PathLike | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """A ModelProto from a file path or a zoo name, weights' external data never loaded."""
    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "model"
    path = Path(source)
    if not path.exists():
        import models_onnx

        if str(source) in models_onnx.names():
            return models_onnx.build(str(source), weights="none"), str(source)
        raise PerfmodelError(
            f"{source}: no such file, nor a built-in model (built-in: {', '.join(models_onnx.names())})"
        )
    if path.is_dir():
        raise PerfmodelError(f"{path}: is a directory, not an ONNX file")
    if not path.is_file():
        raise PerfmodelError(f"{path}: is not a regular file (a pipe, a device?), not an ONNX file")
    if path.stat().st_size == 0:
        raise PerfmodelError(f"{path}: empty file, not an ONNX model")
    model = onnx.ModelProto()
    try:  # a large file's weight bytes are never read; a small one is parsed whole (protobuf's C++ is faster)
        size = path.stat().st_size
        model.ParseFromString(skim_model_bytes(str(path)) if size > SKIM_ABOVE else path.read_bytes())
    except Exception as exc:  # WireError, protobuf's DecodeError: the file is not a ModelProto
        raise PerfmodelError(f"{path}: not a valid ONNX file ({exc})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise PerfmodelError(f"{path}: not an ONNX model (no graph found; truncated or another format?)")
    if not model.opset_import:
        raise PerfmodelError(f"{path}: not an ONNX model (no opset_import; truncated or another format?)")
    if not model.graph.output:
        raise PerfmodelError(f"{path}: invalid model: the graph has no outputs, so nothing it computes is used")
    return model, path.stem


# ---------------------------------------------------------------- input shapes


def parse_shape(text: str) -> Shape:
    """'1x3x224x224' or '1,3,224,224' -> (1, 3, 224, 224)."""
    parts = text.replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise PerfmodelError(f"bad shape {text!r}: expected integers like 1x3x224x224") from None
    if any(d <= 0 for d in dims):
        raise PerfmodelError(f"bad shape {text!r}: dimensions must be positive")
    return dims


def _check_size(what: str, shape: Shape) -> None:
    if math.prod(shape) > MAX_ELEMS:
        raise PerfmodelError(f"{what} has shape {'x'.join(map(str, shape))}: over 2^40 elements, surely a mistake")


def resolve_inputs(
    graph: onnx.GraphProto,
    initializers: Collection[str],
    batch: int | None,
    overrides: Mapping[str, Shape],
) -> dict[str, Shape]:
    """Static shapes for the real graph inputs: overrides first, then --batch on axis 0."""
    real = [i for i in graph.input if i.name not in initializers]
    known = {i.name for i in real}
    for name in overrides:
        if name not in known:
            raise PerfmodelError(f"--input-shape names '{name}', but the inputs are: {', '.join(sorted(known))}")
    if batch is not None and batch <= 0:
        raise PerfmodelError(f"--batch must be positive, got {batch}")
    shapes: dict[str, Shape] = {}
    for value in real:
        if value.name in overrides:
            shapes[value.name] = overrides[value.name]
            _check_size(f"input '{value.name}'", shapes[value.name])
            continue
        dims: list[int] = []
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis == 0 and batch is not None:
                dims.append(batch)
            elif dim.HasField("dim_value") and dim.dim_value > 0:
                dims.append(dim.dim_value)
            else:
                label = f"'{dim.dim_param}'" if dim.dim_param else "unknown"
                raise PerfmodelError(
                    f"input '{value.name}' has a dynamic dimension {label} on axis {axis}; "
                    f"pass --batch N or --input-shape {value.name}=1x3x224x224"
                )
        if not value.type.tensor_type.HasField("shape"):
            raise PerfmodelError(f"input '{value.name}' has no shape; pass --input-shape {value.name}=1x3x224x224")
        shapes[value.name] = tuple(dims)
        _check_size(f"input '{value.name}'", shapes[value.name])
    return shapes


# ---------------------------------------------------------------- skeleton and folding


_EXTERNAL = TensorProto.EXTERNAL


_DATA_TYPE, _LOCATION = attrgetter("data_type"), attrgetter("data_location")  # (as shapes.NAME)


def _external(tensors: list[TensorProto]) -> list[TensorProto]:
    """The tensors whose data is stored outside the file (a test of all their locations at once first:
    most models have none)."""
    return [t for t in tensors if _is_external(t)] if any(map(_LOCATION, tensors)) else []


def _is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == _EXTERNAL


def has_data(tensor: TensorProto, elems: int | None = None) -> bool:
    """Whether the tensor's values are in the file (`elems`: its element count, where the caller
    read its dims already: each read of them costs a few microseconds)."""
    if _is_external(tensor):
        return False
    n = math.prod(tensor.dims) if elems is None else elems
    return n == 0 or bool(
        tensor.raw_data or tensor.float_data or tensor.int64_data or tensor.int32_data
        or tensor.double_data or tensor.uint64_data or tensor.string_data
    )


def _skeleton_tensor(tensor: TensorProto) -> TensorProto:
    """Small tensors keep their data (shape inference may read it); large ones keep dims and type only."""
    if _small_with_data(tensor):
        return tensor
    bare = TensorProto(name=tensor.name, data_type=tensor.data_type)
    bare.dims.extend(tensor.dims)
    return bare


_DATA_FIELDS = ("raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data",
                "data_location", "external_data")


def _strip(tensor: TensorProto) -> None:
    """Drop a tensor's data in place (an external tensor's, which inference is not to read)."""
    for field_name in _DATA_FIELDS:
        tensor.ClearField(field_name)


def subgraphs(node: onnx.NodeProto) -> list[tuple[str, onnx.GraphProto]]:
    """(attribute name, graph) of each subgraph a node holds (If's branches, Loop's and Scan's body)."""
    found = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            found.append((attr.name, attr.g))
        elif attr.type == onnx.AttributeProto.GRAPHS:
            found.extend((attr.name, g) for g in attr.graphs)
    return found


def outer_references(graph: onnx.GraphProto) -> set[str]:
    """Tensors a subgraph reads from its enclosing scopes (ONNX: a subgraph sees the names defined
    outside it), through nested subgraphs too."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer} \
        | {t.values.name for t in graph.sparse_initializer} | {o for n in graph.node for o in n.output}
    read: set[str] = set()
    for node in graph.node:
        read.update(i for i in node.input if i)
        if node.op_type == "Constant":
            continue
        for _, inner in subgraphs(node):
            read |= outer_references(inner)
    return read - defined


def reads(node: onnx.NodeProto) -> list[str]:
    """Every tensor a node reads: its inputs, and for a control-flow node what its subgraphs read
    from the enclosing graph (they must be computed before it runs)."""
    names = [i for i in node.input if i]
    for _, inner in subgraphs(node):
        names.extend(sorted(outer_references(inner) - set(names)))
    return names


def _topological(nodes: list[ProtoNode], available: set[str]) -> list[ProtoNode]:
    """Nodes in an order where every input is defined first (`nodes` itself when it already is, as
    the ONNX spec requires); error on a cycle, an undefined input, or a tensor name assigned twice
    (ONNX's single static assignment)."""
    defined = set(available) | {""}  # "": an absent optional input
    for n in nodes:  # one pass over a sorted graph; anything else is looked at closely below
        if not defined.issuperset(reads(n) if n.holds_graph else n.input):
            break
        before = len(defined)
        defined.update(n.output)
        if len(defined) - before != len(n.output) - n.output.count(""):
            break
    else:
        return nodes
    read = {id(n): reads(n) if n.holds_graph else [i for i in n.input if i] for n in nodes}
    writer: dict[str, str] = {}
    for n in nodes:
        for o in n.output:
            if not o:
                continue
            if o in writer or o in available:
                first = f"node '{writer[o]}'" if o in writer else "a graph input or initializer"
                raise PerfmodelError(f"invalid model: node '{n.name or n.op_type}' ({n.op_type}) writes '{o}', which "
                                     f"{first} already defines (ONNX: every tensor name is assigned once)")
            writer[o] = n.name or n.op_type
    produced = set(writer)
    for n in nodes:
        for name in read[id(n)]:
            if name not in produced and name not in available:
                raise PerfmodelError(
                    f"node '{n.name or n.op_type}' ({n.op_type}) reads '{name}', which no node, graph input "
                    f"or initializer defines (missing initializer?)"
                )
    # Kahn's algorithm: a node is ready once every tensor it reads is defined.
    producer = {o: n for n in nodes for o in n.output if o}
    waiting = {id(n): len({i for i in read[id(n)] if i in producer}) for n in nodes}
    readers: dict[str, list[ProtoNode]] = {}
    for n in nodes:
        for i in {i for i in read[id(n)] if i in producer}:
            readers.setdefault(i, []).append(n)
    queue = deque(n for n in nodes if waiting[id(n)] == 0)
    order: list[ProtoNode] = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for o in n.output:
            for r in readers.get(o, ()):
                waiting[id(r)] -= 1
                if waiting[id(r)] == 0:
                    queue.append(r)
    if len(order) < len(nodes):
        stuck = [n.name or n.op_type for n in nodes if waiting[id(n)] > 0][:5]
        raise PerfmodelError(f"the graph has a cycle: nodes {', '.join(stuck)} wait on each other")
    return order


# ---------------------------------------------------------------- node arity


def check_arity(node: onnx.NodeProto, opset: int) -> None:
    """A node with fewer inputs or outputs than its op requires (or more than it allows) is invalid."""
    from perfmodel.ops import schema

    if node.domain not in ("", "ai.onnx"):
        return
    found = schema(node.op_type, opset)
    if found is None:
        return
    lo_in, hi_in, lo_out, hi_out = found.min_input, found.max_input, found.min_output, found.max_output
    given_in = len(node.input)
    given_out = len(node.output)
    for what, given, lo, hi in (("inputs", given_in, lo_in, hi_in), ("outputs", given_out, lo_out, hi_out)):
        if given < lo or given > hi:
            need = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi < 2**31 - 1 else f"at least {lo}"
            raise PerfmodelError(f"invalid model: node '{printable(node.name or node.op_type)}' ({node.op_type}) "
                                 f"breaks the ONNX {node.op_type} spec: it has {given} {what}, the op takes {need}")


# ---------------------------------------------------------------- initializers listed as inputs


def inputs_with_defaults(graph: onnx.GraphProto, nodes: list[onnx.NodeProto], init_types: Mapping[str, int]) -> set[str]:
    """Graph inputs that also have an initializer and are runtime inputs, not weights.

    IR 3 lists every initializer as a graph input, and torch's `keep_initializers_as_inputs=True`
    does too: such a tensor read at a weight or buffer slot of its op (a Conv's W or B, a
    BatchNorm's scale or running mean, an element-wise op's constant operand) is a parameter. A float
    one that some op reads at a data slot (a Conv's X, a Relu's input) is an input with a default
    value (ONNX IR >= 4), which a caller overrides at run time: it is costed as an input. A view or
    data-movement op (the Identity torch inserts for a deduplicated weight, a Transpose) passes the
    question on to its readers. Integer tensors (shapes, axes, indices) stay constants either way.
    """
    from perfmodel import ops

    listed = {i.name for i in graph.input if i.name in init_types and init_types[i.name] in FLOAT_TYPES}
    if not listed:
        return set()
    readers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in nodes:
        for slot, name in enumerate(node.input):
            if name and slot not in TYPE_ONLY_INPUTS.get(node.op_type, ()):
                readers.setdefault(name, []).append((node, slot))

    def read_as_data(name: str) -> bool:
        todo, seen = [name], {name}
        while todo:
            for node, slot in readers.get(todo.pop(), ()):
                rule = ops.lookup(node.op_type) if node.domain in ("", "ai.onnx") else None
                if rule is None:
                    continue  # an op without a rule: its slots are unknown, its constants stay constants
                if rule.kind in (ops.VIEW, ops.MOVEMENT):
                    todo.extend(o for o in node.output if o and o not in seen)
                    seen.update(node.output)
                elif not (slot in rule.buffers or rule.weights == ops.ANY_INITIALIZER or slot in rule.weights):
                    return True
        return False

    return {name for name in listed if read_as_data(name)}


# ---------------------------------------------------------------- the whole load


def load_graph(
    source: str | os.PathLike | onnx.ModelProto,
    *,
    batch: int | None = None,
    input_shapes: Mapping[str, Shape] | None = None,
    stream: bool = False,
) -> Graph:
    """Read, resolve dynamic dims, fold shape sub-graphs and infer every tensor's static shape.

    `stream`: a large graph that needs no pass after onnx's inference may be returned while the
    forked inference still sends its shapes (`Graph.arriving`): the caller walks `Graph.ready_nodes()`,
    and where that raises, loads again without `stream` (perfmodel.walk.analyze_model)."""
    started: list[Forked] = []
    try:
        return _resolved(source, batch, input_shapes, started, stream)
    finally:
        for child in started:  # an error on the way leaves no child process behind
            child.cancel()


def _resolved(source: str | os.PathLike | onnx.ModelProto, batch: int | None,
              input_shapes: Mapping[str, Shape] | None, started: list[Forked], stream: bool) -> Graph:
    """`load_graph`, with onnx's inference of a large model as read started early (`_early_inference`,
    in `started`; handed to the Graph it returns where it streams)."""
    model, name = read_model(source)
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    early = _early_inference(model, source, batch, input_shapes)
    if early is not None:
        started.append(early)
    parts = early.parts() if early else None  # the stored tensors' tables, the inputs, the inference
    nodes, held = _read_nodes(g.node, opset)  # held: the tensors Constant nodes hold
    shapes, elem_types = next(parts) if parts else _read_constants(g.initializer)  # (read there meanwhile)
    held_shapes, held_types = _read_constants(held)
    shapes |= held_shapes
    elem_types |= held_types
    runtime = inputs_with_defaults(g, nodes, elem_types)
    for tensor_name in runtime:  # costed as inputs: their default values are never folded into the graph
        del shapes[tensor_name], elem_types[tensor_name]
    init_names = set(shapes)
    inputs = resolve_inputs(g, init_names, batch, input_shapes or {})
    ordered = _topological(nodes, set(inputs) | init_names)
    outputs = tuple(o.name for o in g.output)
    input_types = {i.name: i.type.tensor_type.elem_type for i in g.input}
    shapes |= inputs
    elem_types |= input_types

    # The first inference runs on the model as read (it is ours, and in order), its inputs resolved:
    # no skeleton is copied, and the weights' data it serializes is at most SKIM_ABOVE bytes (a larger
    # file is read without it). A model given as a ModelProto, or one later passes change, is
    # inferred as a skeleton built apart.
    as_read = not isinstance(source, onnx.ModelProto) and ordered is nodes and not runtime \
        and not any(map(_large_with_data, held))
    if early is not None and not as_read:
        early.cancel()
        early = None
    skeletons = _Skeletons(g, held, runtime)
    ir_version, opsets, graph_name = model.ir_version, list(model.opset_import), g.name
    constants = set(init_names)
    param_like = set(init_names)
    corrected: dict[str, Shape] = {}
    # The layers are found before the inference is waited for (its shapes are not needed to find
    # them), and found again only if folding turns some tensors into constants.
    layers, derived, layer_constants = _layers(ordered, constants)
    fixed = _fixed(ordered)
    # A fold pass can change nothing where no node is fed by constants only, none is a Shape and
    # inference found every shape: then it is skipped.
    may_fold = bool(derived) or "Shape" in map(OP_TYPE, ordered)
    if as_read:
        if parts is None or next(parts) != inputs:  # (the inputs the child resolved; None: none)
            if early:
                early.cancel()
            parts = _infer_as_read(model, inputs, input_types, outputs)
        elif stream and not (fixed or may_fold) and set(map(type, layers)) <= {GraphNode} \
                and set(map(DOMAIN, layers)) <= {"", "ai.onnx"}:
            # Nothing to do after the inference but merge its shapes: the walk may start as they come.
            # (A node of another domain likely gets no shapes: no walk is begun only to be redone.)
            # The model is freed while the walk runs: should the child fail, the walk raises
            # ChildFailed, and the graph is loaded again (perfmodel.walk.analyze_model).
            started.remove(early)
            early.forgo_rerun()
            graph = Graph(graph_name or name, inputs, outputs, layers, shapes, layer_constants, param_like,
                          _float_tensors(elem_types), opset, fixed_widths(elem_types))
            graph.arriving = Arriving(graph, early, parts)
            return graph
    produced = set(chain.from_iterable(n.output for n in ordered))
    produced.discard("")
    folded = False
    values: dict[str, Any] | None = None  # what folding reads (`_foldable`), found when a fold pass first runs
    for step in range(len(nodes) + 1):  # fold -> infer to a fixpoint: each pass may unlock the next shape chain
        if step == 0 and as_read:
            found, found_types = _read_inferred(parts)
            shapes |= found
            elem_types |= found_types
        else:
            shapes, elem_types = infer_shapes(ordered, skeletons.tensors, inputs, input_types, outputs, ir_version,
                                              opsets, corrected)
        fixes = ceil_pool_fixes(fixed, shapes) | same_shape_fixes(fixed, shapes) \
            | _control_flow_fixes(fixed, skeletons, shapes, elem_types, opset)
        shapes.update(fixes)
        corrected.update(fixes)
        new = {}
        if may_fold or folded or not shapes.keys() >= produced:
            if values is None:
                values = _foldable(chain(g.initializer, held), runtime)
            ordered, new = fold_constants(ordered, values, shapes, opset, param_like, elem_types, corrected)
        if not new and not fixes:
            break
        if new:
            folded = True
            fixed = _fixed(ordered)
        for tensor_name, value in new.items():
            skeletons.tensors.append(numpy_helper.from_array(value, tensor_name))
            constants.add(tensor_name)
    del model, g  # what is kept of the file: small constants' values, and skeletons when a pass needed them
    if folded:
        layers, derived, layer_constants = _layers(ordered, constants)
    constants = layer_constants
    # which of the tensors computed from constants only are parameters (such nodes make a fold pass
    # run: `values` is known)
    for node, ins in derived:
        outs = [o for o in node.output if o]
        sizes = {i: math.prod(shapes.get(i, ())) for i in ins}
        param_like.update(o for o in outs if o in shapes and derived_is_param(
            node, sizes, values, param_like, math.prod(shapes[o])))
    graph_nodes = [node if type(node) is GraphNode else _control_node(node, _layer_name(node, index), skeletons.by_name,
                                                                      shapes, elem_types)
                   for index, node in enumerate(layers)]
    _check_sizes(shapes)
    return Graph(graph_name or name, inputs, outputs, graph_nodes, shapes, constants, param_like,
                 _float_tensors(elem_types), opset, fixed_widths(elem_types))


def _float_tensors(elem_types: Mapping[str, int]) -> set[str]:
    """The float-typed tensors (tested per table where all or none are: the common case)."""
    kinds = set(elem_types.values())
    if kinds <= FLOAT_TYPES:
        return set(elem_types)
    if kinds.isdisjoint(FLOAT_TYPES):
        return set()
    return {tensor_name for tensor_name, elem in elem_types.items() if elem in FLOAT_TYPES}


def _check_sizes(shapes: Mapping[str, Shape]) -> None:
    """An error naming the first tensor over MAX_ELEMS elements, if any."""
    if shapes and max(map(math.prod, shapes.values())) > MAX_ELEMS:  # (named only when one is too large)
        huge = next(n for n, shape in shapes.items() if math.prod(shape) > MAX_ELEMS)
        _check_size(f"tensor '{huge}'", shapes[huge])


def _layers(nodes: list[ProtoNode], constants: set[str]) -> tuple[list[GraphNode | ProtoNode],
                                                                 list[tuple[ProtoNode, list[str]]], set[str]]:
    """The graph's layers in order, and apart the nodes that are not: those fed by constants only
    compute weights, not activations (a weight Transpose, a DequantizeLinear, a ConstantOfShape
    weight, the zero bias a dynamo export Expands from a scalar), and their outputs are constants
    too. Returns the layers (a control-flow node, always a layer, as its ProtoNode: what it needs of
    its scope needs shapes, `_control_node`), those nodes with their inputs (which of their outputs
    are parameters needs shapes too: shapes.derived_is_param), and the constants with their outputs."""
    constants = set(constants)
    layers: list[GraphNode | ProtoNode] = []
    derived: list[tuple[ProtoNode, list[str]]] = []
    for node in nodes:
        if node.holds_graph:
            layers.append(node)
            continue
        skip = TYPE_ONLY_INPUTS.get(node.op_type)
        ins = [i for j, i in enumerate(node.input) if i and j not in skip] if skip else list(filter(None, node.input))
        if ins and constants.issuperset(ins):
            constants.update(o for o in node.output if o)
            derived.append((node, ins))
            continue
        layers.append(GraphNode.plain(_layer_name(node, len(layers)), node.op_type, node.domain, node.input,
                                      node.output, node.attrs))
    return layers, derived, constants


def _fixed(nodes: list[ProtoNode]) -> list[ProtoNode]:
    """The nodes some of whose shapes onnx's inference gets wrong or leaves unknown, and that are
    fixed after it (shapes.ceil_pool_fixes: pools in ceil_mode, shapes.same_shape_fixes,
    `_control_flow_fixes`)."""
    return [n for n, op in zip(nodes, map(OP_TYPE, nodes))
            if op in _FIXED_OPS and (op not in CEIL_POOL_OPS or n.attrs.get("ceil_mode"))]


_LOOP_OPS = ("Loop", "Scan")  # whose output shapes onnx may leave unknown (`_control_flow_fixes`)
_FIXED_OPS = {*CEIL_POOL_OPS, *SAME_SHAPE_OPS, *_LOOP_OPS}


def _layer_name(node: ProtoNode, index: int) -> str:
    """A layer's name: its node's, printable, or for a node without one its op and place among the layers."""
    return printable(node.name) or f"{node.op_type}_{index}"


def _read_constants(tensors) -> tuple[dict[str, Shape], dict[str, int]]:
    """Dims and element type of each stored tensor, each field read once, and by attrgetter where it
    can be: each read of a protobuf field costs, and a model may hold 100,000 initializers."""
    tensors = list(tensors)
    names = list(map(NAME, tensors))
    return dict(zip(names, [tuple(t.dims[:]) for t in tensors])), dict(zip(names, map(_DATA_TYPE, tensors)))


def _foldable(tensors: Iterable[TensorProto], runtime: set[str]) -> dict[str, TensorProto]:
    """The small stored tensors with data, but inputs with a default value (`runtime`): the values
    folding may read, kept as TensorProto until a fold needs them as arrays (most never do)."""
    return {t.name: t for t in tensors if t.name not in runtime and _small_with_data(t)}


def _small_with_data(tensor: TensorProto) -> bool:
    """A stored tensor small enough to fold whose data is in the file (inference and folding may read it)."""
    return (elems := math.prod(tensor.dims)) <= FOLD_LIMIT and has_data(tensor, elems)


def _large_with_data(tensor: TensorProto) -> bool:
    """A stored tensor too large to fold whose data is in the file (a weight)."""
    return (elems := math.prod(tensor.dims)) > FOLD_LIMIT and has_data(tensor, elems)


def _read_nodes(protos, opset: int) -> tuple[list[ProtoNode], list[TensorProto]]:
    """The nodes (each checked for its op's arity) and, apart, the tensors Constant nodes hold."""
    nodes: list[ProtoNode] = []
    held: list[TensorProto] = []
    checked: set[tuple] = set()
    for node in map(ProtoNode, protos):
        signature = (node.op_type, node.domain, len(node.input), len(node.output))
        if signature not in checked:
            check_arity(node, opset)
            checked.add(signature)
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.attribute:
            held.append(constant_node_tensor(node))
        else:
            nodes.append(node)
    return nodes, held


class _Skeletons:
    """The stored tensors as weight-free skeletons (`_skeleton_tensor`), made once when a pass needs them."""

    def __init__(self, graph: onnx.GraphProto, held: list[TensorProto], runtime: set[str]):
        self._graph, self._held, self._runtime = graph, held, runtime
        self._tensors: list[TensorProto] | None = None
        self._by_name: dict[str, TensorProto] | None = None

    @property
    def tensors(self) -> list[TensorProto]:
        if self._tensors is None:
            self._tensors = [_skeleton_tensor(t) for t in self._graph.initializer if t.name not in self._runtime] \
                + [_skeleton_tensor(t) for t in self._held]
            self._graph = None
        return self._tensors

    @property
    def by_name(self) -> dict[str, TensorProto]:
        if self._by_name is None or len(self._by_name) != len(self.tensors):  # folding appends tensors
            self._by_name = {t.name: t for t in self.tensors}
        return self._by_name


FORK_ABOVE = 5_000
"""A graph of more nodes is inferred in a forked child while the loader reads it (perfmodel.background)."""


def _early_inference(model: onnx.ModelProto, source: Any, batch: int | None,
                     input_shapes: Mapping[str, Shape] | None) -> Forked | None:
    """onnx's inference of a large model as read (`_inputs_and_inference`), started in a forked
    child; None for a small graph or a caller's ModelProto."""
    if isinstance(source, onnx.ModelProto) or len(model.graph.node) <= FORK_ABOVE or not can_fork():
        return None
    return Forked(_inputs_and_inference, model, batch, input_shapes)


def _inputs_and_inference(model: onnx.ModelProto, batch: int | None, input_shapes: Mapping[str, Shape] | None):
    """Generator: the initializers' dims and element types (`_read_constants`, the loader's first
    reading, done here while it reads the nodes), the inputs resolved as the loader resolves them
    (None where they cannot be: the loader then says why, in its own order), then `_infer_as_read`
    at them. The loader uses the inference only if it resolved the same inputs."""
    g = model.graph
    tensors = list(g.initializer)  # (a tensor's wrapper is made once, and kept for the passes below)
    stored = _read_constants(tensors)
    yield stored
    external = _external(tensors)
    # each stored tensor by name (its names read once, above), where no two share a name
    by_name = dict(zip(stored[0], tensors)) if len(stored[0]) == len(tensors) else None
    try:
        inputs = resolve_inputs(g, stored[0].keys(), batch, input_shapes or {})
    except PerfmodelError:
        yield None
        return
    yield inputs
    input_types = {i.name: i.type.tensor_type.elem_type for i in g.input}
    yield from _infer_as_read(model, inputs, input_types, tuple(o.name for o in g.output), external, True, by_name)


def _infer_as_read(model: onnx.ModelProto, inputs: Mapping[str, Shape], input_types: Mapping[str, int],
                   outputs: tuple[str, ...], external: list[TensorProto] | None = None,
                   pieces: bool = False, stored: Mapping[str, TensorProto] | None = None) -> Iterator[Any]:
    """Generator: onnx's inference (strict) of `model` itself, changed in place: data stored outside
    the file dropped (`external`: those tensors, where the caller found them already), the inputs at
    their resolved shapes, declared outputs' and intermediates' types left to inference (as the
    skeleton `shapes.infer_shapes` builds), local functions left out (their ops are never costed).
    It yields the shapes and element types it found (`shapes.read_types`) a chunk of tensors at a
    time, in the graph's order, then the graph outputs': in a child, the loader can merge a chunk (and
    walk the nodes it completes: `Arriving`) while the child makes the next. `pieces`: the graph is
    inferred a piece at a time where that finds the same (`shapes.inferred_pieces`, given `stored`,
    the initializers by name, where the caller has them), so that the first chunk comes before the
    whole graph is inferred."""
    g = model.graph
    for tensor in external if external is not None else _external(list(g.initializer)):
        _strip(tensor)
    for field_name in ("input", "output", "value_info"):
        g.ClearField(field_name)
    g.input.extend(helper.make_tensor_value_info(n, input_types.get(n) or TensorProto.FLOAT, list(s))
                   for n, s in inputs.items())
    g.output.extend(helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs)
    for field_name in ("functions", "training_info"):
        model.ClearField(field_name)
    model.ir_version = max(model.ir_version, 4)
    for values in inferred_pieces(model, True, stored) if pieces else inferred_whole(model, strict=True):
        for start in range(0, len(values), _CHUNK):
            yield read_types(values[start:start + _CHUNK])


_CHUNK = 2048
"""Tensors per chunk of `_infer_as_read` (one takes the child about 10 ms to read here)."""


def _read_inferred(parts: Iterator[Any]) -> tuple[dict[str, Shape], dict[str, int]]:
    """All shapes and element types `_infer_as_read` found, merged in the tensors' order."""
    shapes: dict[str, Shape] = {}
    elem_types: dict[str, int] = {}
    for found, found_types in parts:
        shapes.update(found)
        elem_types.update(found_types)
    return shapes, elem_types


class ShapesFellShort(Exception):
    """A streamed graph (`Arriving`) some of whose node outputs onnx's inference left unknown: the
    loader's later passes may still find them, so the graph is loaded again without streaming."""


class Arriving:
    """The shapes a forked inference (`_infer_as_read`) is still sending, for a graph whose load has
    nothing else left to do (`load_graph(stream=True)`): merged into the Graph's tables as a walk
    reaches the nodes they complete, so the walk runs while the child infers the rest."""

    def __init__(self, graph: Graph, child: Forked, parts: Iterator[Any]):
        self._graph, self._child, self._parts = graph, child, parts

    def nodes(self) -> Iterator[GraphNode]:
        """The graph's nodes, each once its outputs' shapes are in; then every shape merged, sizes
        checked, and the graph complete (`Graph.arriving` None). ShapesFellShort where the shapes
        ran out before some node's outputs had theirs."""
        shapes = self._graph.shapes
        known = shapes.__contains__
        for node in self._graph.nodes:
            while not all(map(known, filter(None, node.outputs))):  # ("": an absent optional output)
                if not self._merge_next():
                    raise ShapesFellShort(f"node '{node.name}' ({node.op_type}): shapes unknown after inference")
            yield node
        while self._merge_next():
            pass
        _check_sizes(shapes)
        self._graph.arriving = None

    def _merge_next(self) -> bool:
        """Merge the next chunk into the Graph's tables, as `_resolved` would have them; False at the end."""
        chunk = next(self._parts, None)
        if chunk is None:
            return False
        found, found_types = chunk
        graph = self._graph
        graph.shapes.update(found)
        graph.shapes.pop("", None)
        # an inferred type replaces a declared one, as `_resolved`'s merge of the element types does
        floats, widths, found_widths = graph.float_tensors, graph.widths, fixed_widths(found_types)
        floats.difference_update(found_types)
        floats.update(_float_tensors(found_types))
        for name in [n for n in found_types if n in widths and n not in found_widths] if widths else ():
            del widths[name]
        widths.update(found_widths)
        return True

    def close(self) -> None:
        """Stop the child where it still runs (the walk stopped early)."""
        self._child.cancel()


def _control_flow_fixes(nodes: list[ProtoNode], skeletons: _Skeletons, shapes: dict[str, Shape],
                        elem_types: Mapping[str, int], opset: int) -> dict[str, Shape]:
    """Shapes of Loop and Scan outputs that onnx's inference leaves unknown (perfmodel.control_flow)."""
    loops = [n for n in nodes if n.op_type in _LOOP_OPS and any(o and o not in shapes for o in n.output)]
    if not loops:
        return {}
    from perfmodel.control_flow import output_shapes

    outer = Graph("", {}, (), [], dict(shapes), opset=opset)
    found: dict[str, Shape] = {}
    for n in loops:
        node = _control_node(n, n.name, skeletons.by_name, shapes, elem_types)
        found.update({o: s for o, s in output_shapes(node, outer).items() if o not in shapes})
    return found


def _control_node(node: ProtoNode, name: str, skeletons: Mapping[str, TensorProto], shapes: Mapping[str, Shape],
                  elem_types: Mapping[str, int]) -> GraphNode:
    """A control-flow node with its subgraphs and the outer tensors they need (perfmodel.control_flow)."""
    return GraphNode(name, node.op_type, node.domain, node.input, node.output, node.attrs,
                     tuple(subgraphs(node)), _scope(reads(node), skeletons, shapes, elem_types))


def _scope(names: list[str], skeletons: Mapping[str, TensorProto], shapes: Mapping[str, Shape],
           elem_types: Mapping[str, int]) -> dict[str, Any]:
    """What a subgraph needs of each outer tensor it reads: a constant's skeleton (dims, and data when
    small), or an activation's type and static shape (None when inference left it unknown)."""
    scope: dict[str, Any] = {}
    for name in names:
        if name in skeletons:
            scope[name] = skeletons[name]
        else:
            shape = shapes.get(name)
            scope[name] = helper.make_tensor_value_info(name, elem_types.get(name, TensorProto.FLOAT),
                                                        None if shape is None else list(shape))
    return scope


def fixed_widths(elem_types: Mapping[str, int]) -> dict[str, int]:
    """Bytes per element of every integer-typed tensor (quantized data, int32 biases, int64 indices).

    The one assumption about widths, made here: a float tensor's width is the analysis dtype
    (`--dtype`, a what-if), an integer tensor's is the width it is stored at, whatever the dtype.
    """
    if _INT_WIDTHS.keys().isdisjoint(elem_types.values()):  # (no integer tensor: the common case, tested at once)
        return {}
    return {name: width for name, elem in elem_types.items() if (width := _INT_WIDTHS.get(elem))}


_INT_WIDTHS = {TensorProto.INT8: 1, TensorProto.UINT8: 1, TensorProto.BOOL: 1, TensorProto.INT16: 2,
               TensorProto.UINT16: 2, TensorProto.INT32: 4, TensorProto.UINT32: 4, TensorProto.INT64: 8,
               TensorProto.UINT64: 8}


