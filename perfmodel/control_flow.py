"""Control flow: an If, Loop or Scan costs what its subgraphs cost, each walked as a graph of its own.

- **If**: both branches are walked. Which one runs depends on the data, so the layer's cost is the
  costlier branch (by FLOPs, then MACs): the figure a deployment must plan for. Both branches'
  MACs and FLOPs are kept in the record (`LayerCost.branches`); params are both branches' (both
  are stored in the model).
- **Loop**: the body times its trip count, when the trip count is static: `M` is a constant, the
  loop's condition cannot end it early (absent or constant true, and the body passes its
  condition input straight through or returns a constant true), and every loop-carried state keeps
  its shape from one iteration to the next. Anything else makes the cost unknown, never a guess.
- **Scan**: the body times the length of the scanned axis (static from the input shapes).

A subgraph sees the enclosing graph's tensors (ONNX scoping): the ones it reads come with the node
(`GraphNode.scope`), constants as weight-free skeletons and activations with their static shapes,
so the subgraph's walk counts an outer weight as a parameter exactly once (the enclosing walk's
`counted` set is shared).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import onnx
from onnx import TensorProto, helper, numpy_helper

from perfmodel.errors import PerfmodelError
from perfmodel.graph import Graph, GraphNode, has_data, load_graph, outer_references
from perfmodel.record import NO_INTEGERS, Fixed, LayerCost, ModelCost
from perfmodel.shapes import constant_node_tensor
from perfmodel.units import Shape

SUMMED = ("macs", "flops", "weight_elems", "input_elems", "output_elems")
"""Per-iteration figures a Loop or Scan multiplies by its trip count (work and traffic)."""
SUMMED_SHARES = ("int_weights", "int_inputs", "int_outputs")


class Unknown(Exception):
    """The control-flow node's cost cannot be known statically (the message says why)."""


def control_layer(node: GraphNode, graph: Graph, counted: set[str], dtype: str,
                  walk: Callable[..., ModelCost], base: LayerCost, outputs_known: bool) -> LayerCost:
    """The record of an If/Loop/Scan node, `base` holding its shapes and topology; cost unknown (with a
    warning saying why) when a trip count is not static, a subgraph is only partly costed, or the
    node's output shapes are unknown."""
    try:
        if node.op_type == "If":
            if not outputs_known:
                raise Unknown("shapes unknown after inference")
            return _if(node, graph, counted, dtype, walk, base)
        return _repeated(node, graph, counted, dtype, walk, base, outputs_known)
    except Unknown as why:
        import warnings

        from perfmodel.walk import UnsupportedOpWarning

        warnings.warn(f"node '{node.name}' ({node.op_type}): {why}; cost unknown", UnsupportedOpWarning, stacklevel=4)
        return dataclasses.replace(base, supported=False)


def _if(node, graph, counted, dtype, walk, base) -> LayerCost:
    ordered = sorted(node.subgraphs, key=lambda branch: branch[0] != "then_branch")  # then, else
    branches = [(name, _walk_body(body, [], node, graph, counted, dtype, walk)) for name, body in ordered]
    costliest = max(branches, key=lambda b: (b[1].flops, b[1].macs))[1]
    return _combined(base, costliest, 1, [cost for _, cost in branches],
                     tuple((name, cost.macs, cost.flops) for name, cost in branches))


def _repeated(node, graph, counted, dtype, walk, base, outputs_known: bool) -> LayerCost:
    (_, body), = node.subgraphs
    if node.op_type == "Loop":
        trips, formal = _loop_trips(node, body, graph)
    else:
        trips, formal = _scan_trips(node, body, graph)
    cost = _walk_body(body, formal, node, graph, counted, dtype, walk)
    if node.op_type == "Loop":
        _check_state_keeps_shape(body, cost, formal)
    if not outputs_known:
        raise Unknown("shapes unknown after inference")
    return _combined(base, cost, trips, [cost], ((f"body x {trips}", cost.macs * trips, cost.flops * trips),))


def _loop_trips(node: GraphNode, body: onnx.GraphProto, graph: Graph) -> tuple[int, list]:
    """ONNX Loop: inputs (M, cond, v_initial...), body inputs (iteration_num, cond, v...)."""
    m = _constant(node, node.inputs[0] if node.inputs else "")
    if m is None:
        raise Unknown("the trip count M is not a constant")
    cond_in = node.inputs[1] if len(node.inputs) > 1 else ""
    if cond_in and _constant(node, cond_in) is None:
        raise Unknown("the loop condition is computed at run time")
    if cond_in and not int(_constant(node, cond_in)):
        return 0, _loop_formals(node, body, graph)
    if not _passes_condition_through(body, node):
        raise Unknown("the body computes the loop condition, so the trip count is known only at run time")
    return max(int(m), 0), _loop_formals(node, body, graph)


def _loop_formals(node: GraphNode, body: onnx.GraphProto, graph: Graph) -> list:
    names = [i.name for i in body.input]
    formal = [helper.make_tensor_value_info(names[0], TensorProto.INT64, []),
              helper.make_tensor_value_info(names[1], TensorProto.BOOL, [])]
    for name, outer in zip(names[2:], node.inputs[2:]):
        formal.append(_like(name, outer, node, graph.shape(outer)))
    return formal


def _passes_condition_through(body: onnx.GraphProto, node: GraphNode) -> bool:
    """The body's condition output is its condition input (directly or through Identity) or a constant
    true: the body's own, or the enclosing graph's (torch's exporter returns Identity(outer True))."""
    cond_in, cond_out = body.input[1].name, body.output[0].name
    producers = {o: n for n in body.node for o in n.output}
    seen = 0
    while cond_out != cond_in and seen < len(body.node) + 1:
        seen += 1
        producer = producers.get(cond_out)
        if producer is None:
            constant = {t.name: t for t in body.initializer}.get(cond_out)
            if constant is not None:
                return bool(numpy_helper.to_array(constant).all())
            outer = _constant(node, cond_out)
            return outer is not None and bool(outer)
        if producer.op_type == "Identity":
            cond_out = producer.input[0]
        elif producer.op_type == "Constant" and producer.attribute:
            try:
                return bool(numpy_helper.to_array(constant_node_tensor(producer)).all())
            except PerfmodelError:  # a Constant of no tensor value: not a constant true
                return False
        else:
            return False
    return cond_out == cond_in


def _scan_trips(node: GraphNode, body: onnx.GraphProto, graph: Graph) -> tuple[int, list]:
    """ONNX Scan (opset 9+): inputs (state..., scan inputs...); the body sees one slice per iteration."""
    if graph.opset < 9:
        raise Unknown("Scan before opset 9 (with a batch axis) is not modelled")
    n_scan = int(node.attrs["num_scan_inputs"])
    states = len(node.inputs) - n_scan
    axes = list(node.attrs.get("scan_input_axes") or (0,) * n_scan)
    names = [i.name for i in body.input]
    formal, lengths = [], set()
    for k, (name, outer) in enumerate(zip(names, node.inputs)):
        shape = graph.shape(outer)
        if shape is None:
            raise Unknown(f"the shape of its input '{outer}' is unknown")
        if k >= states:
            axis = axes[k - states] % len(shape)
            lengths.add(shape[axis])
            shape = shape[:axis] + shape[axis + 1:]
        formal.append(_like(name, outer, node, shape))
    if len(lengths) != 1:
        raise PerfmodelError(f"invalid model: node '{node.name}' (Scan) breaks the ONNX Scan spec: its scan inputs "
                             f"have different lengths ({', '.join(map(str, sorted(lengths)))})")
    return lengths.pop(), formal


def _like(name: str, outer: str, node: GraphNode, shape: Shape | None):
    if shape is None:
        raise Unknown(f"the shape of its input '{outer}' is unknown")
    known = node.scope.get(outer)
    elem = known.data_type if isinstance(known, TensorProto) else \
        known.type.tensor_type.elem_type if known is not None else TensorProto.FLOAT
    return helper.make_tensor_value_info(name, elem or TensorProto.FLOAT, list(shape))


def _constant(node: GraphNode, name: str) -> Any:
    """The first element of a constant input of the node (M, cond), None when it is not a known constant."""
    found = node.scope.get(name) if name else None
    if not isinstance(found, TensorProto) or not has_data(found):
        return None
    try:
        return numpy_helper.to_array(found).reshape(-1)[0]
    except (ValueError, IndexError):
        return None


def _walk_body(body: onnx.GraphProto, formal: list, node: GraphNode, graph: Graph, counted: set[str],
               dtype: str, walk: Callable[..., ModelCost]) -> ModelCost:
    """The subgraph's cost, walked as a model of its own (`_body_model`)."""
    cost = walk(load_graph(_body_model(body, formal, node, graph)), dtype=dtype, counted=counted)
    if not cost.complete:
        raise Unknown(f"its subgraph '{body.name}' has layers of unknown cost ({', '.join(cost.unknown_layers[:3])})")
    return cost


def _body_model(body: onnx.GraphProto, formal: list, node: GraphNode, graph: Graph) -> onnx.ModelProto:
    """A subgraph as a model of its own: its formal inputs shaped from the node's inputs, the outer
    tensors it reads as inputs (activations) or initializers (constants)."""
    own = {i.name for i in body.input} | {t.name for t in body.initializer}
    inputs, constants = list(formal), list(body.initializer)

    for name in sorted(outer_references(body) - own):
        found = node.scope.get(name)
        if isinstance(found, TensorProto):
            constants.append(found)
        elif found is not None and found.type.tensor_type.HasField("shape"):
            inputs.append(found)
        else:
            raise Unknown(f"the shape of '{name}', which its subgraph reads, is unknown")
    sub = helper.make_graph(list(body.node), f"{node.name}/{body.name}", inputs, list(body.output), constants)
    return helper.make_model(sub, opset_imports=[helper.make_opsetid("", graph.opset)])


def output_shapes(node: GraphNode, graph: Graph) -> dict[str, Shape]:
    """Static shapes of a Loop's or Scan's outputs, which onnx's inference leaves unknown: a final
    state has its initial shape when the body keeps it; a scan output stacks the body's per-iteration
    value along its axis (Loop: axis 0). Empty when a trip count or a shape is not static."""
    if node.op_type not in ("Loop", "Scan") or len(node.subgraphs) != 1:
        return {}
    (_, body), = node.subgraphs
    try:
        trips, formal = (_loop_trips if node.op_type == "Loop" else _scan_trips)(node, body, graph)
        inner = load_graph(_body_model(body, formal, node, graph))
    except (Unknown, PerfmodelError):
        return {}
    carried = formal[2:] if node.op_type == "Loop" else formal[:len(node.inputs) - int(node.attrs["num_scan_inputs"])]
    skip = 1 if node.op_type == "Loop" else 0  # a Loop body's first output is its condition
    outs = [o.name for o in body.output][skip:]
    axes = list(node.attrs.get("scan_output_axes") or ()) if node.op_type == "Scan" else []
    found: dict[str, Shape] = {}
    for k, (outer, name) in enumerate(zip(node.outputs, outs)):
        shape = inner.shape(name)
        if not outer or shape is None:
            continue
        if k < len(carried):
            if shape != _dims(carried[k]):
                return {}  # the state changes shape: no static final shape, nor a per-iteration cost
            found[outer] = shape
        else:
            j = k - len(carried)
            axis = axes[j] % (len(shape) + 1) if j < len(axes) else 0
            found[outer] = shape[:axis] + (trips,) + shape[axis:]
    return found


def _dims(value) -> Shape:
    return tuple(d.dim_value for d in value.type.tensor_type.shape.dim)


def _check_state_keeps_shape(body: onnx.GraphProto, cost: ModelCost, formal: list) -> None:
    """Each iteration costs the same only if a loop-carried state has the same shape going in and out."""
    outputs = {layer_out: shape for layer in cost.layers
               for layer_out, shape in zip([o for o in layer.output_names if o], layer.output_shapes)}
    for value, out in zip(formal[2:], body.output[1:]):
        if out.name in outputs and outputs[out.name] != _dims(value):
            raise Unknown(f"its loop-carried state '{value.name}' changes shape per iteration")


def _combined(base: LayerCost, chosen: ModelCost, trips: int, walked: list[ModelCost],
              branches: tuple[tuple[str, int, int], ...]) -> LayerCost:
    """The node's record: `chosen`'s work and traffic times `trips`; the params of every subgraph. Its
    activations stay the node's own outputs (the convention for every layer)."""
    totals: dict[str, Any] = {f: trips * sum(getattr(layer, f) for layer in chosen.layers) for f in SUMMED}
    for share in SUMMED_SHARES:
        part = sum((getattr(layer, share) for layer in chosen.layers), NO_INTEGERS)
        totals[share] = Fixed(trips * part.elems, trips * part.bytes)
    layers = [layer for cost in walked for layer in cost.layers]
    return dataclasses.replace(
        base, **totals, supported=True,
        params=sum(layer.params for layer in layers),
        non_trainable_params=sum(layer.non_trainable_params for layer in layers),
        int_stored=sum((layer.int_stored for layer in layers), NO_INTEGERS), branches=branches,
    )
