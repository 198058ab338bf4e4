"""The graph walk: one `LayerCost` per node, from the op cost rules, plus whole-graph figures.

Whole-graph figures are the ones no single rule can know: which constant is a parameter (counted
once even when shared), the receptive field along the spatial path, and the peak of live
activation memory over the schedule.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from fractions import Fraction
from itertools import accumulate, chain, compress, count, repeat
from operator import attrgetter, mul, not_, sub
from typing import Any, Container, Iterator, Mapping

import onnx

from perfmodel import ops
from perfmodel.collector import collector_paused
from perfmodel.errors import PerfmodelError
from perfmodel.graph import Graph, GraphNode, Shape, load_graph
from perfmodel.ops import GLOBAL, Node, Rule, numel
from perfmodel.record import NO_INTEGERS, Fixed, Geometry, LayerCost, ModelCost, dtype_bytes
from perfmodel.units import ceil_div


class UnsupportedOpWarning(UserWarning):
    """Raised (as a warning) once per analysis listing op types with no cost rule."""


def analyze_model(
    source: str | os.PathLike | onnx.ModelProto,
    *,
    batch: int | None = None,
    input_shapes: Mapping[str, Shape] | None = None,
    dtype: str = "fp32",
    name: str | None = None,
) -> ModelCost:
    """Analyze a model given as a file path, a zoo name or a ModelProto."""
    dtype_bytes(dtype)
    with collector_paused():  # nearly all it allocates lives as long as the analysis
        graph = load_graph(source, batch=batch, input_shapes=input_shapes, stream=True)
        arriving = graph.arriving  # a large graph's shapes may still be coming (perfmodel.graph.Arriving)
        try:
            return walk(graph, dtype=dtype, name=name)
        except Exception:
            if arriving is None:
                raise
            # Shapes fell short (the load's later passes may find them), the child failed, or the
            # walk met an error that the whole load may precede with its own: the whole load decides.
            arriving.close()
            return walk(load_graph(source, batch=batch, input_shapes=input_shapes), dtype=dtype, name=name)
        finally:
            if arriving is not None:
                arriving.close()  # (the child, where the walk stopped before all shapes came)


def walk(graph: Graph, *, dtype: str = "fp32", name: str | None = None, counted: set[str] | None = None) -> ModelCost:
    """One record per node of `graph`. `counted`: parameters already counted by an enclosing graph
    (a subgraph's walk shares its parent's, so an outer weight read in a branch counts once)."""
    counted = set() if counted is None else counted
    field: dict[str, tuple[int, int, int]] = {  # tensor -> (receptive field, jump, spatial size)
        n: (1, 1, s[2]) for n, s in graph.inputs.items() if len(s) >= 3
    }
    reads = _all_reads(graph.nodes)
    # the step of each tensor's last reader (the graph's outputs are read after the last step): which
    # tensors are used at all, and when each dies (peak_live); "" is no tensor, an absent input
    last_read = dict(zip(chain.from_iterable(reads), _steps(reads)))
    last_read.update(dict.fromkeys(graph.outputs, len(graph.nodes)))
    memo: dict = {}
    layers = [_layer(node, graph, counted, field, dtype, last_read, memo) for node in graph.ready_nodes()]
    unsupported = tuple(sorted({op for op, domain in {(n.op_type, n.domain) for n in graph.nodes}
                                if _rule_for(op, domain) is None}))
    if unsupported:
        warnings.warn(f"no cost rule for {', '.join(unsupported)}: their cost is reported as unknown",
                      UnsupportedOpWarning, stacklevel=2)
    peak_elems, peak_points = peak_live(graph, layers, reads, last_read)
    return ModelCost(
        model=name or graph.name,
        inputs=dict(graph.inputs),
        layers=tuple(layers),
        peak_activation_elems=peak_elems, peak_live_points=peak_points,
        input_elems=sum(math.prod(s) for s in graph.inputs.values()),
        dtype=dtype,
        unsupported_ops=unsupported,
        outputs=tuple(graph.outputs),
    )


def _reads(node: GraphNode):
    """The tensors a node reads: its inputs, and a control-flow node's outer-scope reads too."""
    return node.scope or node.inputs


def _all_reads(nodes: list[GraphNode]) -> list:
    """`_reads` of each node (by attribute reads alone where no node is a control-flow one)."""
    return list(map(_reads, nodes)) if any(map(_SCOPE, nodes)) else list(map(_INPUTS, nodes))


_SCOPE, _INPUTS, _OUTPUTS, _OUTPUT_ELEMS = (attrgetter(name) for name in ("scope", "inputs", "outputs", "output_elems"))


def _layer(node: GraphNode, graph: Graph, counted: set[str], field: dict, dtype: str, used: Container[str],
           memo: dict) -> LayerCost:
    if node.subgraphs:
        return _control_layer(node, graph, counted, dtype, used)
    shapes = graph.shapes
    in_shapes = tuple(map(shapes.get, node.inputs))  # None for an absent input (Graph holds no shape for "")
    out_shapes = tuple(map(shapes.get, node.outputs))
    if None in out_shapes:
        # An optional output nothing reads (Dropout's mask, BatchNorm's training statistics) whose shape
        # inference left unknown is not produced at inference: it never makes the layer's cost unknown.
        out_shapes = tuple([shapes.get(o) for o in node.outputs if o and (o in used or o in shapes)])
    rule = _rule_for(node.op_type, node.domain)
    if rule is None or None in out_shapes or None in in_shapes and any(
            s is None for i, s in zip(node.inputs, in_shapes) if i):
        return _unknown_layer(node, graph, rule, in_shapes, out_shapes, dtype)
    widths, constants = graph.widths, graph.constants
    roles = tuple([_role(t, graph) if t in constants else widths.get(t) or 0 for t in node.inputs])
    out_widths = tuple(map(widths.get, node.outputs)) if widths else ()
    key = (node.op_type, in_shapes, out_shapes, roles, out_widths, tuple(node.attrs.items()))
    try:  # nodes alike in op, shapes, attributes and operands cost alike (repeated blocks)
        found = memo.get(key)
    except TypeError:  # an attribute value that cannot be hashed: no memo for this node
        key, found = None, None
    if found is None:
        found = _template(node, graph, rule, in_shapes, out_shapes, dtype)
        if key is not None:
            memo[key] = found
    template, window, stored = found
    record = object.__new__(LayerCost)
    fields = template.copy()  # (a dict's copy is one block copy; an update inserts key by key)
    object.__setattr__(record, "__dict__", fields)
    fields["name"] = node.name
    fields["input_names"] = node.inputs
    fields["output_names"] = node.outputs
    fields["receptive_field"] = _receptive_field(node, rule, out_shapes, window, field)
    if widths:
        fields["widths"] = {t: widths[t] for t in node.inputs + node.outputs if t in widths}
    for index, kind, size, share in stored:  # a weight shared with an earlier layer is counted there
        tensor = node.inputs[index]
        if tensor in counted:
            fields[kind] -= size
            fields.pop("stored_bytes", None)
            fields["int_stored"] = Fixed(fields["int_stored"].elems - share.elems,
                                         fields["int_stored"].bytes - share.bytes)
        else:
            counted.add(tensor)
    return record


def _role(tensor: str, graph: Graph) -> tuple[int, int | None]:
    """What a constant input of a node is, as its cost depends on it: 1 a constant, 2 a float
    parameter-like constant, 3 another parameter-like one; with its fixed width or None. (An
    activation's role in `_layer`'s key is its fixed width, or 0.)"""
    if tensor not in graph.param_like:
        return 1, graph.widths.get(tensor)
    return 2 if tensor in graph.float_tensors else 3, graph.widths.get(tensor)


def _unknown_layer(node: GraphNode, graph: Graph, rule: Rule | None, in_shapes: tuple, out_shapes: tuple,
                   dtype: str) -> LayerCost:
    """A node with no cost rule, or whose shapes inference left unknown: its cost is unknown."""
    if rule is not None:
        warnings.warn(f"node '{node.name}' ({node.op_type}): shapes unknown after inference; cost unknown",
                      UnsupportedOpWarning, stacklevel=4)
    return LayerCost(name=node.name, op_type=node.op_type, dtype=dtype, input_shapes=tuple(s or () for s in in_shapes),
                     output_shapes=tuple(s or () for s in out_shapes), attributes=dict(node.attrs), supported=False,
                     activations=sum(numel(s) for s in out_shapes if s), input_names=tuple(node.inputs),
                     output_names=tuple(node.outputs),
                     activation_slots=tuple(i for i, t in enumerate(node.inputs) if t and t not in graph.constants))


def _template(node: GraphNode, graph: Graph, rule: Rule, in_shapes: tuple, out_shapes: tuple,
              dtype: str) -> tuple[dict[str, Any], tuple[int, int] | None, tuple]:
    """The record of every node alike to `node` (`_layer`'s key), as fields, with its stored weights
    counted as first seen here; its window (receptive field); and its stored weights' slots, (slot,
    "params" or "non_trainable_params", elements, integer share), for `_layer` to discount the ones
    an earlier layer counted."""
    attrs, geometry, cost = _rule_cost(node, rule, graph.opset, in_shapes, out_shapes)
    params = buffers = weight_elems = input_elems = 0
    widths = graph.widths
    int_weights = int_inputs = int_stored = NO_INTEGERS
    stored = []  # input slots holding a stored constant (weight or buffer)
    activation_slots = []
    for index, tensor in enumerate(node.inputs):
        if not tensor:
            continue
        size = numel(in_shapes[index])
        width = widths.get(tensor)
        share = Fixed(size, size * width) if width else NO_INTEGERS
        if tensor not in graph.constants:
            input_elems += size
            int_inputs += share
            activation_slots.append(index)
            continue
        kind = _param_kind(rule, index, tensor in graph.float_tensors)
        if kind is None or tensor not in graph.param_like:
            continue
        weight_elems += size
        int_weights += share
        int_stored += share
        if kind == "weight":
            params += size
        else:
            buffers += size
        stored.append((index, "params" if kind == "weight" else "non_trainable_params", size, share))
    activations = numel(out_shapes[0]) if rule.view else sum(numel(s) for s in out_shapes)
    outs = node.outputs[:1] if rule.view else node.outputs
    int_activations = Fixed.of((numel(graph.shapes[o]), widths[o]) for o in outs if o in widths and o in graph.shapes)
    if rule.view:
        input_elems = 0
        int_inputs = NO_INTEGERS
    gemm = cost.gemm
    if gemm is not None and gemm.weight_input not in {slot for slot, *_ in stored}:
        gemm = dataclasses.replace(gemm, weight_input=None)  # B is an activation (MatMul of two tensors)
    record = LayerCost.of(
        name=node.name, op_type=node.op_type, dtype=dtype, input_shapes=tuple(s or () for s in in_shapes),
        output_shapes=out_shapes,
        attributes=attrs, params=params, non_trainable_params=buffers, macs=cost.macs,
        activation_slots=tuple(activation_slots),
        flops=cost.flops, activations=activations, weight_elems=weight_elems, input_elems=input_elems,
        output_elems=0 if rule.view else activations,
        kind=rule.kind, geometry=geometry, gemm=gemm,
        int_weights=int_weights, int_inputs=int_inputs, int_stored=int_stored, int_activations=int_activations,
        int_outputs=NO_INTEGERS if rule.view else int_activations,
    )
    for name in _CACHED:  # computed once for all alike nodes (they depend on nothing _layer sets)
        getattr(record, name)
    return record.__dict__, cost.window, tuple(stored)


_CACHED = ("weight_bytes_read", "input_bytes", "bytes_read", "bytes_written", "bytes_total", "intensity",
           "activation_bytes", "stored_bytes")  # _layer drops stored_bytes when it discounts a weight


def _rule_cost(node: GraphNode, rule: Rule, opset: int, in_shapes: tuple, out_shapes: tuple):
    """(attributes with defaults, geometry, Cost) of a node by its op's rule; an error when the node
    breaks the op's spec."""
    attrs = _attributes(node, opset)
    geometry = _geometry(node, attrs, in_shapes, out_shapes, rule.weight_input) if rule.spatial else None
    if geometry is not None:  # the ONNX attributes as given, auto_pad resolved to the pads it implies
        attrs["pads"] = geometry.pads
        attrs.pop("auto_pad", None)
    spec = Node(node.op_type, in_shapes, out_shapes, attrs, geometry)
    broken = rule.violation(spec)
    if broken:
        raise PerfmodelError(f"invalid model: node '{node.name}' ({node.op_type}) breaks the ONNX "
                             f"{node.op_type} spec: {broken}")
    return attrs, geometry, rule.fn(spec)


def _control_layer(node: GraphNode, graph: Graph, counted: set[str], dtype: str, used: Container[str]) -> LayerCost:
    """An If/Loop/Scan: its subgraphs walked (perfmodel.control_flow); it reads every outer tensor they read."""
    from perfmodel.control_flow import control_layer

    reads = tuple(node.scope)
    outs = tuple(o for o in node.outputs if o and (o in used or graph.shape(o) is not None))
    written = [(numel(graph.shape(o)), graph.widths.get(o)) for o in outs if graph.shape(o) is not None]
    base = LayerCost(name=node.name, op_type=node.op_type, dtype=dtype,
                     input_shapes=tuple(graph.shape(i) or () for i in reads),
                     output_shapes=tuple(graph.shape(o) or () for o in outs), attributes=dict(node.attrs),
                     activations=sum(n for n, _ in written), int_activations=Fixed.of(written),
                     supported=False, kind=ops.CONTROL, input_names=reads, output_names=tuple(node.outputs),
                     activation_slots=tuple(k for k, t in enumerate(reads) if t not in graph.constants))
    if _rule_for(node.op_type, node.domain) is None:
        return base
    return control_layer(node, graph, counted, dtype, walk, base, all(graph.shape(o) is not None for o in outs))


def _rule_for(op_type: str, domain: str) -> Rule | None:
    return ops.lookup(op_type) if domain in ("", "ai.onnx") else None


def _param_kind(rule: Rule, index: int, is_float: bool) -> str | None:
    if index in rule.buffers:
        return "buffer"
    if rule.weights == ops.ANY_INITIALIZER:
        return "weight" if is_float else None
    return "weight" if index in rule.weights else None


def _attributes(node: GraphNode, opset: int) -> dict[str, Any]:
    """The node's attributes over its ONNX schema's defaults; a missing required one is an error."""
    defaults, required = ops.schema_defaults(node.op_type, opset)
    missing = [name for name in required if name not in node.attrs]
    if missing:
        raise PerfmodelError(f"invalid model: node '{node.name}' ({node.op_type}) breaks the ONNX {node.op_type} "
                             f"spec: required attribute '{missing[0]}' is missing")
    return {**defaults, **node.attrs}


def _geometry(node: GraphNode, attrs: Mapping[str, Any], ins: tuple, outs: tuple, weight: int | None) -> Geometry:
    """Kernel, strides, dilations, pads (auto_pad resolved) and groups of a window op, with the spec's
    defaults (stride 1, dilation 1, no padding, kernel from the weight's shape) filled in."""
    x = ins[0]
    spatial = len(x) - 2
    kernel = tuple(attrs["kernel_shape"]) if "kernel_shape" in attrs else tuple(ins[weight][2:])
    strides = tuple(attrs.get("strides") or (1,) * spatial)
    dilations = tuple(attrs.get("dilations") or (1,) * spatial)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    k_eff = Geometry(kernel, strides, dilations, (), ()).kernel_eff
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and node.op_type != "ConvTranspose":
        begin, end = [], []
        for i in range(spatial):
            total = max((outs[0][2 + i] - 1) * strides[i] + k_eff[i] - x[2 + i], 0)
            small, large = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else large)
            end.append(large if auto_pad == "SAME_UPPER" else small)
        pads = tuple(begin + end)
    elif auto_pad == "VALID" or "pads" not in attrs:
        pads = (0,) * (2 * spatial)
    else:
        pads = tuple(attrs["pads"])
    return Geometry(kernel=kernel, strides=strides, dilations=dilations, pads_begin=pads[:spatial],
                    pads_end=pads[spatial:], groups=int(attrs.get("group", 1)),
                    ceil_mode=bool(attrs.get("ceil_mode", 0)))


def _receptive_field(node: GraphNode, rule: Rule, outs: tuple, window, field: dict) -> int | None:
    """Receptive field on the first spatial axis (Araujo et al. 2019): r' = r + (k_eff - 1) j, j' = j s.

    A transposed conv upsamples: output pixels are s times denser, j' = j / s, and each sees
    ceil(k_eff / s) input pixels, r' = r + (ceil(k_eff / s) - 1) j. The field is reported rounded up.
    """
    sources = list(filter(None, map(field.get, node.inputs)))  # (each a non-empty tuple)
    if not sources:
        return None
    rf, jump, size = sources[0] if len(sources) == 1 else max(sources)
    if window is not None:
        k_eff, stride = window
        if stride == GLOBAL:
            rf, jump, size = rf + (size - 1) * jump, jump * size, 1
        elif node.op_type == "ConvTranspose":
            rf, jump = rf + (ceil_div(k_eff, stride) - 1) * jump, Fraction(jump) / stride
        else:
            rf, jump = rf + (k_eff - 1) * jump, jump * stride
    out = outs[0] if outs else ()
    if len(out) >= 3:
        size = out[2]
    for o in node.outputs:
        if o:
            field[o] = (rf, jump, size)
    return math.ceil(rf)


def peak_live(graph: Graph, layers: list[LayerCost], reads: list | None = None,
              last_read: dict[str, int] | None = None) -> tuple[int, tuple[tuple[int, int], ...]]:
    """Max over the schedule of live activation elements (graph order; a tensor dies after its last
    reader; graph outputs live to the end; views share their input's storage; weights excluded), and
    the live sets that can be the peak in bytes: (float elements, integer bytes) of each step, those no
    other step exceeds in both (which one peaks depends on the dtype the float tensors take).
    `reads`: each node's `_reads`, and `last_read`: the step of each tensor's last reader, the graph's
    outputs' the end (as `walk` finds them), where the caller has them."""
    shapes, nodes = graph.shapes, graph.nodes
    end = len(nodes)
    reads = reads if reads is not None else _all_reads(nodes)
    # storage -> the step creating it (-1: an input); a node's outputs are storages of their own,
    # but a view's, which share the storage of its first input (unless that is a constant)
    born: dict[str, int] = {name: -1 for name in graph.inputs}
    outputs = list(map(_OUTPUTS, nodes))
    born.update(zip(chain.from_iterable(outputs), _steps(outputs)))
    born.pop("", None)  # an absent optional output
    shared: dict[str, str] = {}  # a view's output -> the storage it shares
    # (a view writes no elements: the layers that write none are looked at closely)
    silent = compress(count(), map(not_, map(_OUTPUT_ELEMS, layers)))
    for step in [k for k in silent if layers[k].is_view and nodes[k].inputs]:
        source = nodes[step].inputs[0]
        root = shared.get(source, source)
        if root in born:
            for tensor in filter(None, nodes[step].outputs):
                shared[tensor] = root
                del born[tensor]
    # the last step reading each storage (later reads overwrite earlier ones); a storage nobody reads
    # dies at the step creating it
    if last_read is not None and not shared:
        last_use = last_read  # (each storage one tensor)
    else:
        read = list(chain.from_iterable(reads))
        last_use = dict(zip(map(shared.get, read, read) if shared else read, _steps(reads)))
        for tensor in graph.outputs:
            if (root := shared.get(tensor, tensor)) in born:
                last_use[root] = end
    # Live sets, one per step k (after step k's outputs are created, before its dead are freed) and
    # one before the first step (the inputs): entry 0 is the inputs, entry k + 1 step k. A tensor
    # created at step b (-1: an input) and last read at step u is live in entries b + 1 to u + 1
    # (an input nobody reads: entry 0 alone). Lists aligned with `born`, so the sums read no names.
    firsts = list(born.values())
    lasts = list(map(last_use.get, born, firsts))
    unknown = (0,)  # a tensor of unknown shape takes no storage
    sizes = list(map(math.prod, map(graph.inputs.get, born, map(shapes.get, born, repeat(unknown)))))
    series = [sizes]  # elements, and where some tensors are integers: their elements, their bytes
    widths = graph.widths
    if widths:
        int_widths = list(map(widths.get, born, repeat(0)))
        int_elems = [n if width else 0 for n, width in zip(sizes, int_widths)]
        series += [int_elems, list(map(mul, int_elems, int_widths))]
    totals = []
    for amounts in series:
        delta = [0] * (end + 3)
        for first, last, amount in zip(firsts, lasts, amounts):
            if amount:
                delta[first + 1] += amount
                delta[last + 2] -= amount
        totals.append(list(accumulate(delta[:end + 1])))
    elems = totals[0]
    if not widths:
        return max(elems), ((max(elems), 0),)
    frontier, best_int = [], -1
    for floats, int_bytes in sorted(set(zip(map(sub, elems, totals[1]), totals[2])), reverse=True):
        if int_bytes > best_int:
            frontier.append((floats, int_bytes))
            best_int = int_bytes
    return max(elems), tuple(frontier)


def _steps(per_node) -> Iterator[int]:
    """Each node's step, once for each of its items (`per_node`: a sized collection per node, in order)."""
    return chain.from_iterable(map(repeat, count(), map(len, per_node)))
