"""Static shapes for a weight-free skeleton graph: onnx's shape inference, folding of small constant
sub-graphs with onnx's reference ops, and the one place onnx's inference is corrected.

Kept apart from graph.py (loading, inputs, scheduling) because this is the part that talks to onnx's
inference machinery and is iterated: infer -> fold -> infer until nothing new is known.
"""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any, Iterator, Mapping

import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from perfmodel.errors import PerfmodelError
from perfmodel.units import Shape, ceil_div, printable

FOLD_LIMIT = 4096
"""Largest constant (elements) folded by evaluation; weights stay symbolic (shape only)."""


class ProtoNode:
    """A NodeProto read once: its inputs and outputs as tuples, its attributes as values (`node_attrs`),
    and whether it holds subgraphs. The loader's passes read these many times, and each read of a
    protobuf field builds its value anew. `proto` is the node itself, for onnx's own functions."""

    __slots__ = ("proto", "name", "op_type", "domain", "input", "output", "attribute", "attrs", "holds_graph")

    def __init__(self, proto: onnx.NodeProto):
        self.proto, self.name, self.op_type, self.domain = proto, proto.name, proto.op_type, proto.domain
        # a slice of a repeated field is built in one call, then the tuple from it: faster than tuple() of the field
        self.input, self.output, self.attribute = tuple(proto.input[:]), tuple(proto.output[:]), proto.attribute
        self.attrs = node_attrs(self) if self.attribute else {}
        # node_attrs leaves subgraphs (and tensors) out: only a node missing some attribute there may hold one
        self.holds_graph = len(self.attrs) < len(self.attribute) and any(a.type in _GRAPH_TYPES for a in self.attribute)


_GRAPH_TYPES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
_PLAIN = {  # attribute type -> its value, for the types cost rules read (the rest: onnx's helper)
    onnx.AttributeProto.INT: lambda a: a.i,
    onnx.AttributeProto.INTS: lambda a: tuple(a.ints),
    onnx.AttributeProto.FLOAT: lambda a: a.f,
    onnx.AttributeProto.FLOATS: lambda a: tuple(a.floats),
    onnx.AttributeProto.STRING: lambda a: printable(a.s),
    onnx.AttributeProto.STRINGS: lambda a: tuple(printable(v) for v in a.strings),
}


def node_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """The node's attributes as plain values (strings printable, lists as tuples); tensors and
    subgraphs left out, as no cost depends on their values."""
    attrs: dict[str, Any] = {}
    for attr in node.attribute:
        read = _PLAIN.get(attr.type)
        if read is not None and not attr.ref_attr_name:
            attrs[attr.name] = read(attr)
            continue
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = printable(value)
        elif isinstance(value, list):
            value = tuple(printable(v) if isinstance(v, bytes) else v for v in value)
        elif isinstance(value, (TensorProto, onnx.GraphProto)):
            continue  # tensors and subgraphs are not cost-relevant attributes
        attrs[attr.name] = value
    return attrs


_INFERENCE_ERROR = re.compile(r"\(op_type:(?P<op>[^,]*), node name: (?P<node>.*?)\): \[(?P<kind>\w+)\] (?P<rule>.*)")


def constant_node_tensor(node: onnx.NodeProto) -> TensorProto:
    """The tensor a Constant node holds, whatever attribute (value, value_float, value_ints...) holds it."""
    attr = node.attribute[0]
    if attr.name == "value":
        tensor = TensorProto()
        tensor.CopyFrom(attr.t)
    elif attr.name == "sparse_value":
        raise PerfmodelError(f"Constant node '{node.name}' holds a sparse tensor, which is not supported")
    else:
        import numpy as np

        value = helper.get_attribute_value(attr)
        dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
                 "value_ints": np.int64}.get(attr.name)
        if dtype is None:
            raise PerfmodelError(f"Constant node '{node.name}' uses '{attr.name}', which is not supported")
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype))
    tensor.name = node.output[0]
    return tensor


def invalid_model(message: str) -> PerfmodelError:
    """One line naming the node, its op and the rule it breaks, from onnx's inference error text."""
    text = " ".join(message.split())
    found = _INFERENCE_ERROR.search(text)
    if found is None:
        return PerfmodelError(f"invalid model: onnx shape inference failed: {text[:300]}")
    rule = found["rule"].split(" (op_type:")[0].rstrip(". ")
    return PerfmodelError(f"invalid model: node '{found['node']}' ({found['op']}) breaks the ONNX "
                          f"{found['op']} spec: {rule}")


def _static_shape(value: onnx.ValueInfoProto) -> Shape | None:
    tt = value.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None
        dims.append(d.dim_value)
    return tuple(dims)


def infer_shapes(nodes: list[ProtoNode], tensors: list[TensorProto], inputs: Mapping[str, Shape],
                 input_types: Mapping[str, int], outputs: tuple[str, ...], ir_version: int,
                 opsets: list, known: Mapping[str, Shape]) -> tuple[dict[str, Shape], dict[str, int]]:
    """Static shapes and element types of every tensor, by onnx's shape inference on a weight-free
    skeleton model."""
    skeleton = helper.make_graph(
        [n.proto for n in nodes], "skeleton",
        [helper.make_tensor_value_info(n, input_types.get(n) or TensorProto.FLOAT, list(s))
         for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT if o in known else TensorProto.UNDEFINED,
                                       list(known[o]) if o in known else None) for o in outputs],
        tensors,
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in known.items()
                    if n not in outputs],
    )
    model = helper.make_model(skeleton, opset_imports=opsets)
    model.ir_version = max(ir_version, 4)
    # Strict while nothing is corrected: a node that breaks its op's spec is an error here, not an
    # "unknown" cost later. Once ceil_pool_fixes overrides a shape onnx gets wrong, strict mode would
    # reject the override itself, so later passes run lenient (the walk's own checks still apply).
    shapes, elem_types = inferred_shapes(model, strict=not known)
    return dict(inputs) | {t.name: tuple(t.dims) for t in tensors} | shapes, \
        {t.name: t.data_type for t in tensors} | dict(input_types) | elem_types


def inferred_shapes(model: onnx.ModelProto, strict: bool) -> tuple[dict[str, Shape], dict[str, int]]:
    """The static shapes and element types onnx's shape inference finds for the model's intermediate
    tensors and outputs; an invalid node (strict mode) is an error naming it."""
    graph = inferred_graph(model, strict)
    return read_types(list(graph.value_info) + list(graph.output))


def inferred_graph(model: onnx.ModelProto, strict: bool) -> onnx.GraphProto:
    """The model's graph as onnx's shape inference (data propagation on) returns it."""
    try:
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=strict, data_prop=True).graph
    except Exception as exc:
        raise invalid_model(str(exc)) from None


PIECE_NODES = (256, 2048)
"""Nodes in the first piece `inferred_pieces` infers, and in each later one (the first is small, so
that its shapes come soon)."""

NAME, OP_TYPE, DOMAIN = attrgetter("name"), attrgetter("op_type"), attrgetter("domain")
"""Field getters: a map of one reads that field of every message in C, without a Python call each."""

_VALUE_SOURCES = {"Shape", "Size"}  # ops whose outputs' values onnx's data propagation reads off a shape
_SCOPED_OPS = {"If", "Loop", "Scan", "SequenceMap"}  # ops whose bodies read the enclosing graph's tensors


def inferred_pieces(model: onnx.ModelProto, strict: bool,
                    stored: Mapping[str, TensorProto] | None = None) -> Iterator[list[onnx.ValueInfoProto]]:
    """What onnx's inference of the whole `model` finds (`inferred_graph`: the intermediates in the
    nodes' order, then the graph's outputs), inferred a piece of the graph at a time, so that the
    first pieces' shapes can be used while the rest are inferred. Yields lists of ValueInfoProto.

    Each piece is inferred as a model of its own, given the types earlier pieces found for the
    tensors it reads and the values of the constants it reads (initializers, Constant nodes'). As
    onnx infers node by node, forward, a piece gets what the whole model's inference gets, but for
    the values onnx's data propagation computes: those of a Shape or Size and those computed from
    constants only, which no cut may cross. So a graph with a Shape, a Size, control flow (whose
    bodies read outer tensors) or a node of another domain is inferred whole; the piece with the
    first node fed by constants only runs to the end; and where a piece's names do not resolve as
    the whole graph's do (a tensor read before any node makes it, or made twice, or without a type),
    or a piece is invalid (the error is to name the whole model's invalid nodes), the whole model is
    inferred and all of it yielded. `stored`: the initializers by name, where the caller has them.
    """
    g = model.graph
    nodes = list(g.node)  # (a node's wrapper is made once, and kept: each pass then finds it made)
    kinds = set(zip(map(OP_TYPE, nodes), map(DOMAIN, nodes)))
    if any(domain not in ("", "ai.onnx") or op in _VALUE_SOURCES or op in _SCOPED_OPS for op, domain in kinds):
        yield from inferred_whole(model, strict)
        return
    count = len(nodes)
    constants = dict(stored) if stored is not None else {t.name: t for t in g.initializer}  # (what a piece may read
    # as a value: the initializers, and the Constant nodes' values found on the way)
    initializer_names = set(constants)
    held: set[str] = set()  # the outputs of Constant nodes (given to a later piece as initializers)
    known = {v.name: v for v in g.input}  # tensor -> its type, as declared (inputs) or inferred
    outputs = {v.name: v for v in g.output}
    found_outputs: dict[str, onnx.ValueInfoProto] = {}  # -> as inferred
    ins: list[str] = []
    outs: list[str] = []

    has_constant_nodes = any(op == "Constant" for op, _ in kinds)

    def scan(piece_nodes) -> bool:
        """The nodes' inputs and outputs added to ins and outs, Constant nodes' values to constants;
        whether one of them is fed by constants only (no cut may follow it)."""
        ends = False
        for node in piece_nodes:
            node_ins = node.input[:]
            ins.extend(node_ins)
            outs.extend(node.output[:])
            if has_constant_nodes and node.op_type == "Constant":
                try:
                    constants[node.output[0]] = constant_node_tensor(node)
                    held.add(node.output[0])
                except (PerfmodelError, IndexError):  # (one the loader rejects): no later piece reads it
                    ends = True
            elif (not node_ins or node_ins[0] in constants or not node_ins[0]) \
                    and all(map(constants.__contains__, filter(None, node_ins))):  # (most read an activation first)
                ends = True
        return ends

    start, size = 0, PIECE_NODES[0]
    while start < count:
        end, size = min(start + size, count), PIECE_NODES[1]
        ins.clear()
        outs.clear()
        piece_nodes = nodes[start:end]
        if scan(piece_nodes) and end < count:
            piece_nodes += nodes[end:count]
            scan(piece_nodes[end - start:])
            end = count
        made = set(outs)
        made.discard("")  # an absent optional output
        if len(made) < len(outs) - outs.count("") or not known.keys().isdisjoint(made) or not initializer_names.isdisjoint(made):
            yield from inferred_whole(model, strict)  # a tensor made twice, or made and also stored
            return
        read = [name for name in dict.fromkeys(ins) if name not in made]  # what it reads and does not make
        if "" in read:  # an absent optional input
            read.remove("")
        values = [constants[name] for name in read if name in constants]
        # the types earlier pieces found (a Constant node's value is typed by its tensor)
        typed = [known[name] for name in read if name in known and name not in held]
        if any(n not in known and n not in constants for n in read) \
                or not all([value.type.tensor_type.elem_type for value in typed]):
            yield from inferred_whole(model, strict)  # a tensor read before any node makes it, or untyped
            return
        piece = onnx.ModelProto(ir_version=model.ir_version)
        piece.opset_import.extend(model.opset_import)
        graph = piece.graph
        graph.node.extend(piece_nodes)
        graph.input.extend(typed)
        graph.initializer.extend(values)
        graph.output.extend(outputs[o] for o in outputs if o in made)
        try:
            inferred = inferred_graph(piece, strict)
        except PerfmodelError:  # the whole model's error (onnx's strict mode lists every node's)
            yield from inferred_whole(model, strict)
            return
        found = list(inferred.value_info)
        known.update(zip(map(NAME, found), found))
        for value in inferred.output:
            known[value.name] = found_outputs[value.name] = value
        yield found
        start = end
    if len(found_outputs) < len(outputs):  # an output no node makes (an input, an initializer)
        yield from inferred_whole(model, strict)
        return
    yield [found_outputs[v.name] for v in g.output]


def inferred_whole(model: onnx.ModelProto, strict: bool) -> Iterator[list[onnx.ValueInfoProto]]:
    """`inferred_pieces` in one piece: the intermediates, then the outputs."""
    graph = inferred_graph(model, strict)
    yield list(graph.value_info)
    yield list(graph.output)


def read_types(values) -> tuple[dict[str, Shape], dict[str, int]]:
    """Static shapes and element types of ValueInfoProtos (a shape with a symbolic or unknown dim is
    not static, and left out)."""
    shapes: dict[str, Shape] = {}
    elem_types: dict[str, int] = {}
    seen: dict[bytes, tuple[int, Shape | None]] = {}  # a type's bytes -> what it reads as: most tensors share
    for value in values:  # a few types, and reading their dims costs more than the bytes do
        key = value.type.SerializeToString()
        found = seen.get(key)
        if found is None:
            tensor_type = value.type.tensor_type
            dims = None
            if tensor_type.HasField("shape"):
                dims = tuple([d.dim_value for d in tensor_type.shape.dim])
                if dims and min(dims) <= 0:  # a symbolic dim reads 0: look closer
                    dims = _static_shape(value)
            found = seen[key] = (tensor_type.elem_type, dims)
        elem, dims = found
        name = value.name
        if elem:
            elem_types[name] = elem
        if dims is not None:
            shapes[name] = dims
    return shapes, elem_types


SAME_SHAPE_OPS = ("GroupNormalization",)
"""Ops whose output has their input's shape (ONNX spec) but for which onnx's inference infers none
(GroupNormalization is a function op onnx does not expand during inference)."""


def same_shape_fixes(nodes: list[onnx.NodeProto], shapes: Mapping[str, Shape]) -> dict[str, Shape]:
    """Output shapes of SAME_SHAPE_OPS onnx left unknown: the shape of input 0."""
    return {node.output[0]: shapes[node.input[0]] for node in nodes
            if node.op_type in SAME_SHAPE_OPS and node.domain in ("", "ai.onnx") and node.input
            and node.input[0] in shapes and node.output and node.output[0] not in shapes}


CEIL_POOL_OPS = ("MaxPool", "AveragePool", "LpPool")
"""Pools with a ceil_mode, whose output shape onnx's inference may get wrong (`ceil_pool_fixes`)."""


def ceil_pool_fixes(nodes: list[onnx.NodeProto], shapes: Mapping[str, Shape]) -> dict[str, Shape]:
    """Output shapes onnx's inference gets wrong: a ceil_mode pool whose last window would start past
    the input and its begin padding is dropped (ONNX MaxPool spec, PyTorch, onnxruntime), out - 1."""
    fixes: dict[str, Shape] = {}
    for node in nodes:
        if node.op_type not in CEIL_POOL_OPS or node.input[0] not in shapes:
            continue
        attrs = node.attrs
        if not attrs.get("ceil_mode") or attrs.get("auto_pad", "NOTSET") != "NOTSET" or node.output[0] not in shapes:
            continue
        x, got = shapes[node.input[0]], shapes[node.output[0]]
        rank = len(x) - 2
        k, s = attrs["kernel_shape"], attrs.get("strides", (1,) * rank)
        d, pads = attrs.get("dilations", (1,) * rank), attrs.get("pads", (0,) * 2 * rank)
        want = list(x[:2])
        for i in range(rank):
            span = x[2 + i] + pads[i] + pads[rank + i] - d[i] * (k[i] - 1) - 1
            out = ceil_div(span, s[i]) + 1
            if (out - 1) * s[i] >= x[2 + i] + pads[i]:
                out -= 1
            want.append(out)
        if tuple(want) != got:
            fixes[node.output[0]] = tuple(want)
    return fixes


def derived_is_param(node: onnx.NodeProto, sizes: Mapping[str, int], values: Mapping[str, Any],
                     param_like: set[str], out_size: int) -> bool:
    """Whether a tensor computed from constants only is a stored weight (a parameter), the one rule.

    - `ConstantOfShape` of a constant shape (how Caffe2 conversions carry filled weights) and an
      `Expand`/`Tile` of a constant are weights of their full size, unless what they broadcast is
      zero or unknown: a materialized zero (the bias torch's dynamo exporter Expands for `bias=False`)
      holds nothing a model learned.
    - Anything else (Transpose, Reshape, Cast, DequantizeLinear, Identity of a weight) is a weight
      when it has at most as many elements as its largest weight input: a reshaped or converted
      weight, not a broadcast of one.
    `sizes` are the element counts of the node's value inputs; `values` the small constants known.
    """
    import numpy as np

    if node.op_type == "ConstantOfShape":
        fill = next((a.t for a in node.attribute if a.name == "value"), None)
        return fill is not None and bool(np.any(numpy_helper.to_array(fill)))
    if node.op_type in ("Expand", "Tile") and node.input and node.input[0] in values:
        return bool(np.any(_array(values[node.input[0]])))
    largest = max((size for name, size in sizes.items() if name in param_like), default=0)
    return out_size <= largest


def fold_output_elems(node: onnx.NodeProto, values: Mapping[str, Any], shapes: Mapping[str, Shape]) -> int | None:
    """Elements the node's largest output will have, when known before evaluating it (None if not).

    Checked before any fold, so a `ConstantOfShape` of 2^62 elements or a 100 M-element weight is
    never materialized.
    """
    import math

    known = [math.prod(shapes[o]) for o in node.output if o and o in shapes]
    if node.op_type == "ConstantOfShape" and node.input and node.input[0] in values:
        known.append(math.prod(int(d) for d in _array(values[node.input[0]]).reshape(-1)))
    return max(known) if known else None


def infer_node(node: onnx.NodeProto, shapes: dict[str, Shape], elem_types: dict[str, int],
               values: Mapping[str, Any], opset: int) -> dict[str, Shape]:
    """Static output shapes of one node from its inputs' shapes and known small values, by onnx's own
    per-node inference (`onnx.shape_inference.infer_node_outputs`); {} when onnx cannot tell."""
    from perfmodel.ops import schema

    found_schema = schema(node.op_type, opset) if node.domain in ("", "ai.onnx") else None
    if found_schema is None:
        return {}
    try:
        types = {i: helper.make_tensor_type_proto(elem_types[i], list(shapes[i])) for i in node.input if i}
        data = {i: v if isinstance(v, TensorProto) else numpy_helper.from_array(v, i)
                for i in node.input if i and (v := values.get(i)) is not None}
        out = shape_inference.infer_node_outputs(found_schema, getattr(node, "proto", node), types, data,
                                                 opset_imports=[helper.make_opsetid("", opset)])
    except Exception:  # an invalid node, an inference onnx does not do: leave it to the full pass
        return {}
    found = {}
    for name, proto in out.items():
        dims = proto.tensor_type.shape.dim
        if proto.tensor_type.HasField("shape") and all(d.HasField("dim_value") and d.dim_value >= 0 for d in dims):
            found[name] = tuple(d.dim_value for d in dims)
            if proto.tensor_type.elem_type:
                elem_types[name] = proto.tensor_type.elem_type
    return found


def fold_constants(nodes: list[ProtoNode], values: dict[str, Any], shapes: dict[str, Shape],
                   opset: int, param_like: set[str], elem_types: dict[str, int],
                   corrected: dict[str, Shape]) -> tuple[list[ProtoNode], dict[str, Any]]:
    """One topological pass: evaluate nodes whose inputs are all known small constants (or Shape of a
    static tensor), and infer the shapes the whole-graph inference could not know yet (a Reshape
    whose target shape was only just folded), so a chain Shape -> ... -> Reshape -> Shape -> ...
    resolves in this one pass rather than one pass per link.

    Returns the remaining nodes and the newly known values; `shapes` (and `corrected`, for the
    ceil_mode pools onnx gets wrong) are updated in place. Uses onnx's reference op implementations
    and per-node inference, so each op's semantics come from onnx itself.
    """
    import numpy as np

    remaining: list[ProtoNode] = []
    new: dict[str, Any] = {}
    for node in nodes:
        if node.op_type == "Shape" and node.input[0] in shapes and node.domain in ("", "ai.onnx"):
            full = np.array(shapes[node.input[0]], dtype=np.int64)
            attrs = node.attrs
            rank = len(full)
            start = attrs.get("start", 0)
            end = attrs.get("end", rank)
            new[node.output[0]] = values[node.output[0]] = full[slice(start, end)]
            shapes[node.output[0]] = new[node.output[0]].shape
            elem_types[node.output[0]] = TensorProto.INT64
            continue
        ins = [i for i in node.input if i]
        # (map and filter: these run for every node of every pass)
        if not all(map(shapes.__contains__, filter(None, node.output))) and all(map(shapes.__contains__, ins)) \
                and all(map(elem_types.__contains__, ins)):
            shapes.update(infer_node(node, shapes, elem_types, values, opset))
            fix = ceil_pool_fixes([node], shapes)
            shapes.update(fix)
            corrected.update(fix)
        if ins and all(map(values.__contains__, ins)) and node.domain in ("", "ai.onnx") and node.op_type not in (
            "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
            "If", "Loop", "Scan",  # control flow is costed, never run: a loop's trip count may be anything
        ) and ((size := fold_output_elems(node, values, shapes)) is None or size <= FOLD_LIMIT):
            try:
                outs = _evaluate(node, [_array(values[i]) if i else None for i in node.input], opset)
            except Exception:
                remaining.append(node)
                continue
            if all(getattr(o, "size", FOLD_LIMIT + 1) <= FOLD_LIMIT for o in outs):
                sizes = {i: _array(values[i]).size for i in ins}
                for name, out in zip(node.output, outs):
                    if derived_is_param(node, sizes, values, param_like, out.size):
                        param_like.add(name)
                    new[name] = values[name] = out
                    shapes[name] = tuple(out.shape)
                    elem_types.setdefault(name, helper.np_dtype_to_tensor_dtype(out.dtype))
                continue
        remaining.append(node)
    return remaining, new


def _array(value: Any) -> Any:
    return numpy_helper.to_array(value) if isinstance(value, TensorProto) else value


def _evaluate(node: onnx.NodeProto, inputs: list[Any], opset: int) -> list[Any]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if n else "" for i, n in enumerate(node.input)]
    inner = helper.make_node(node.op_type, names, list(node.output), domain=node.domain)
    inner.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [inner], "fold",
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in names if n],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in node.output if o],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {n: v for n, v in zip(names, inputs) if n}
    return ReferenceEvaluator(model).run(None, feeds)
