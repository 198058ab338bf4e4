"""Load an ONNX model into a static, shape-resolved `Graph` without touching weight data.

Why a separate step: real exports (torch legacy/dynamo, tf2onnx) carry dynamic batch axes, Constant
nodes and Shape->Gather->Concat->Reshape chains. Here they are resolved once: dynamic dims from
the user's overrides, small constant sub-graphs folded with onnx's reference ops, shapes from
`onnx.shape_inference` run on a skeleton model whose large initializers carry dims but no data (so
inference never serializes the weights). The cost walk then reads only this `Graph`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from perfmodel.errors import PerfmodelError
from perfmodel.skim import skim_model_bytes

Shape = tuple[int, ...]

FOLD_LIMIT = 4096
"""Largest constant (elements) folded by evaluation; weights stay symbolic (shape only)."""

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

    def shape(self, tensor: str) -> Shape | None:
        return self.shapes.get(tensor)


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
    if path.stat().st_size == 0:
        raise PerfmodelError(f"{path}: empty file, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(skim_model_bytes(str(path)))  # weights' bytes are never read
    except Exception as exc:  # WireError, protobuf's DecodeError: the file is not a ModelProto
        raise PerfmodelError(f"{path}: not a valid ONNX file ({exc})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise PerfmodelError(f"{path}: not an ONNX model (no graph found; truncated or another format?)")
    if not model.opset_import:
        raise PerfmodelError(f"{path}: not an ONNX model (no opset_import; truncated or another format?)")
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
    initializers: set[str],
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


def _constant_node_tensor(node: onnx.NodeProto) -> TensorProto:
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


def _is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


def _has_data(tensor: TensorProto) -> bool:
    if _is_external(tensor):
        return False
    n = math.prod(tensor.dims)
    return n == 0 or bool(
        tensor.raw_data or tensor.float_data or tensor.int64_data or tensor.int32_data
        or tensor.double_data or tensor.uint64_data or tensor.string_data
    )


def _skeleton_tensor(tensor: TensorProto) -> TensorProto:
    """Small tensors keep their data (shape inference may read it); large ones keep dims and type only."""
    if math.prod(tensor.dims) <= FOLD_LIMIT and _has_data(tensor):
        return tensor
    bare = TensorProto(name=tensor.name, data_type=tensor.data_type)
    bare.dims.extend(tensor.dims)
    return bare


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


def _topological(nodes: list[onnx.NodeProto], available: set[str]) -> list[onnx.NodeProto]:
    """Nodes in an order where every input is defined first; error on a cycle or an undefined input."""
    produced = {o for n in nodes for o in n.output if o}
    for n in nodes:
        for name in n.input:
            if name and name not in produced and name not in available:
                raise PerfmodelError(
                    f"node '{n.name or n.op_type}' ({n.op_type}) reads '{name}', which no node, graph input "
                    f"or initializer defines (missing initializer?)"
                )
    done = set(available)
    if all(_ready(n, done) and not done.update(o for o in n.output if o) for n in nodes):
        return nodes  # already sorted, as the ONNX spec requires
    # Kahn's algorithm: a node is ready once every tensor it reads is defined.
    producer = {o: n for n in nodes for o in n.output if o}
    waiting = {id(n): len({i for i in n.input if i in producer}) for n in nodes}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for i in {i for i in n.input if i in producer}:
            readers.setdefault(i, []).append(n)
    queue = [n for n in nodes if waiting[id(n)] == 0]
    order: list[onnx.NodeProto] = []
    while queue:
        n = queue.pop(0)
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


def _ready(node: onnx.NodeProto, done: set[str]) -> bool:
    return all(not i or i in done for i in node.input)


def _fold(nodes: list[onnx.NodeProto], values: dict[str, Any], shapes: dict[str, Shape],
          opset: int, param_like: set[str]) -> tuple[list[onnx.NodeProto], dict[str, Any]]:
    """Evaluate nodes whose inputs are all known small constants (or Shape of a static tensor).

    Returns the remaining nodes and the newly known values. Uses onnx's reference op implementations,
    so each op's semantics come from onnx itself.
    """
    import numpy as np

    remaining: list[onnx.NodeProto] = []
    new: dict[str, Any] = {}
    for node in nodes:
        if node.op_type == "Shape" and node.input[0] in shapes and node.domain in ("", "ai.onnx"):
            full = np.array(shapes[node.input[0]], dtype=np.int64)
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            rank = len(full)
            start = attrs.get("start", 0)
            end = attrs.get("end", rank)
            new[node.output[0]] = values[node.output[0]] = full[slice(start, end)]
            continue
        ins = [i for i in node.input if i]
        if ins and all(i in values for i in ins) and node.domain in ("", "ai.onnx") and node.op_type not in (
            "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"
        ):
            try:
                outs = _evaluate(node, [_array(values[i]) if i else None for i in node.input], opset)
            except Exception:
                remaining.append(node)
                continue
            if all(getattr(o, "size", FOLD_LIMIT + 1) <= FOLD_LIMIT for o in outs):
                largest = max((_array(values[i]).size for i in ins if i in param_like), default=0)
                for name, out in zip(node.output, outs):
                    new[name] = values[name] = out
                    if out.size <= largest:  # see load_graph: broadcasts are not parameters
                        param_like.add(name)
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


# ---------------------------------------------------------------- attributes


def node_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = tuple(v.decode() if isinstance(v, bytes) else v for v in value)
        elif isinstance(value, (TensorProto, onnx.GraphProto)):
            continue  # tensors and subgraphs are not cost-relevant attributes
        attrs[attr.name] = value
    return attrs


# ---------------------------------------------------------------- the whole load


def load_graph(
    source: str | os.PathLike | onnx.ModelProto,
    *,
    batch: int | None = None,
    input_shapes: Mapping[str, Shape] | None = None,
) -> Graph:
    """Read, resolve dynamic dims, fold shape sub-graphs and infer every tensor's static shape."""
    model, name = read_model(source)
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)

    tensors: list[TensorProto] = [_skeleton_tensor(t) for t in g.initializer]
    nodes = []
    for node in g.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.attribute:
            tensors.append(_skeleton_tensor(_constant_node_tensor(node)))
        else:
            nodes.append(node)
    init_names = {t.name for t in tensors}
    inputs = resolve_inputs(g, init_names, batch, input_shapes or {})
    nodes = _topological(nodes, set(inputs) | init_names)
    outputs = tuple(o.name for o in g.output)
    input_types = {i.name: i.type.tensor_type.elem_type for i in g.input}
    ir_version, opsets, graph_name = model.ir_version, list(model.opset_import), g.name
    del model, g  # from here on, no weight data is referenced

    # small constants' values, as TensorProto until a fold needs them as arrays (most never do)
    values: dict[str, Any] = {t.name: t for t in tensors if _has_data(t) and math.prod(t.dims) <= FOLD_LIMIT}
    constants = set(init_names)
    param_like = set(init_names)
    shapes: dict[str, Shape] = {}
    corrected: dict[str, Shape] = {}
    for _ in range(8):  # fold -> infer until nothing new is known
        shapes, elem_types = _infer(nodes, tensors, inputs, input_types, outputs, ir_version, opsets, corrected)
        for t in tensors:  # Shape(weight) folds too
            shapes.setdefault(t.name, tuple(t.dims))
        fixes = _ceil_pool_fixes(nodes, shapes)
        corrected.update(fixes)
        nodes, new = _fold(nodes, values, shapes, opset, param_like)
        if not new and not fixes:
            break
        for tensor_name, value in new.items():
            tensors.append(numpy_helper.from_array(value, tensor_name))
            constants.add(tensor_name)

    # Nodes fed only by constants compute weights, not activations (a weight Transpose, a
    # DequantizeLinear, the zero bias a dynamo export Expands from a scalar): their outputs are
    # constants and they are not layers. A derived constant is parameter-like unless it is a
    # broadcast (more elements than its largest parameter-like input): materialized zeros are not weights.
    for t in tensors:
        shapes.setdefault(t.name, tuple(t.dims))
    graph_nodes: list[GraphNode] = []
    for node in nodes:
        ins = [i for j, i in enumerate(node.input) if i and j not in TYPE_ONLY_INPUTS.get(node.op_type, ())]
        if ins and all(i in constants for i in ins):
            outs = [o for o in node.output if o]
            constants.update(outs)
            largest = max((math.prod(shapes.get(i, ())) for i in ins if i in param_like), default=0)
            param_like.update(o for o in outs if o in shapes and math.prod(shapes[o]) <= largest)
            continue
        graph_nodes.append(GraphNode(node.name or f"{node.op_type}_{len(graph_nodes)}", node.op_type,
                                     node.domain, tuple(node.input), tuple(node.output), node_attrs(node)))
    float_tensors = {name for name, elem in elem_types.items() if elem in FLOAT_TYPES}
    for tensor_name, shape in shapes.items():
        _check_size(f"tensor '{tensor_name}'", shape)
    return Graph(graph_name or name, inputs, outputs, graph_nodes, shapes, constants, param_like, float_tensors)


def _ceil_pool_fixes(nodes: list[onnx.NodeProto], shapes: Mapping[str, Shape]) -> dict[str, Shape]:
    """Output shapes onnx's inference gets wrong: a ceil_mode pool whose last window would start past
    the input and its begin padding is dropped (ONNX MaxPool spec, PyTorch, onnxruntime), out - 1."""
    fixes: dict[str, Shape] = {}
    for node in nodes:
        if node.op_type not in ("MaxPool", "AveragePool", "LpPool") or node.input[0] not in shapes:
            continue
        attrs = node_attrs(node)
        if not attrs.get("ceil_mode") or attrs.get("auto_pad", "NOTSET") != "NOTSET" or node.output[0] not in shapes:
            continue
        x, got = shapes[node.input[0]], shapes[node.output[0]]
        rank = len(x) - 2
        k, s = attrs["kernel_shape"], attrs.get("strides", (1,) * rank)
        d, pads = attrs.get("dilations", (1,) * rank), attrs.get("pads", (0,) * 2 * rank)
        want = list(x[:2])
        for i in range(rank):
            span = x[2 + i] + pads[i] + pads[rank + i] - d[i] * (k[i] - 1) - 1
            out = -(-span // s[i]) + 1
            if (out - 1) * s[i] >= x[2 + i] + pads[i]:
                out -= 1
            want.append(out)
        if tuple(want) != got:
            fixes[node.output[0]] = tuple(want)
    return fixes


def _infer(nodes: list[onnx.NodeProto], tensors: list[TensorProto], inputs: Mapping[str, Shape],
           input_types: Mapping[str, int], outputs: tuple[str, ...], ir_version: int,
           opsets: list, known: Mapping[str, Shape]) -> tuple[dict[str, Shape], dict[str, int]]:
    """Static shapes and element types of every tensor, by onnx's shape inference on a weight-free
    skeleton model."""
    skeleton = helper.make_graph(
        nodes, "skeleton",
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
    try:
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise PerfmodelError(f"onnx shape inference failed: {str(exc).splitlines()[0]}") from None
    shapes: dict[str, Shape] = dict(inputs)
    elem_types = {t.name: t.data_type for t in tensors} | dict(input_types)
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        shape = _static_shape(value)
        if shape is not None:
            shapes[value.name] = shape
        if value.type.tensor_type.elem_type:
            elem_types[value.name] = value.type.tensor_type.elem_type
    return shapes, elem_types
