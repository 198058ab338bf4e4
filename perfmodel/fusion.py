"""The fusion pass: per-layer records -> fused groups, as inference runtimes run a model.

A group is itself a `LayerCost` (its anchor's op, geometry and GEMM dims; MACs, FLOPs and params
summed over its members; bytes at its boundary), so roofline, accelerator, speedup and reports read
groups exactly as they read layers. Policies:

- `none`: every layer alone, its input read from memory and its output written back (the walk's
  records as they are).
- `inference`: what deployment does. The rules, each stated once with its source:
  1. BatchNormalization, and a Mul/Add by a per-channel constant, right after a conv/gemm is folded
     into it: its scale goes into the weights and its shift into the bias, ahead of time; at run time
     the group reads the conv's weights and one bias of output-channel length (onnxruntime's
     ConvBNFusion, ConvMulFusion, ConvAddFusion; TensorRT's "Convolution and Scale" fusion).
  2. Element-wise ops after a conv/gemm (Relu, Clip, Sigmoid, HardSwish..., a residual Add, a Mul by
     a per-channel scale) run in the producer's output stage on the tile still on chip; the other
     operand of a residual Add is read from memory (onnxruntime's ConvActivationFusion and the NCHWc
     transformer's Conv+Add+Relu; TensorRT's "Convolution and ReLU Activation", "Convolution and
     ElementWise Operation").
  3. A chain of element-wise ops (a BatchNormalization + Relu after a pool or a concat, DenseNet's
     pre-activation) is one pass over its tensor (TensorRT's PointWise fusion).
  A layer joins the group of the layer before it only when it is that layer's sole reader (an
  intermediate read twice, or a graph output, must be written out), it is element-wise with the
  group's tensor shape (no broadcast growth), and it is costed. Views (Reshape, Flatten) are already
  free and stay alone. Params never change: fusion changes traffic and time, not what a model holds.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from perfmodel.errors import PerfmodelError
from perfmodel.ops import ELEMENTWISE, MAC
from perfmodel.record import NO_INTEGERS, Fixed, LayerCost, ModelCost
from perfmodel.units import numel

POLICIES = ("none", "inference")
FOLDABLE_AFFINE = ("Mul", "Add", "Sub", "Div")
"""Binary ops that fold into a conv/gemm when their other operand is a per-channel constant."""


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise PerfmodelError(f"unknown fusion policy {policy!r}; choose one of {', '.join(POLICIES)}")
    return policy


def fuse(cost: ModelCost, policy: str = "inference") -> ModelCost:
    """`cost` with its layers grouped by `policy` (see the module docstring)."""
    check_policy(policy)
    if policy == "none" or cost.fusion == policy:
        return dataclasses.replace(cost, fusion=policy)
    layers = cost.layers
    readers: dict[str, list[int]] = {}
    for index, layer in enumerate(layers):
        for slot in layer.activation_slots:
            readers.setdefault(layer.input_names[slot], []).append(index)
    graph_outputs = set(cost.outputs)
    taken: set[int] = set()
    groups = []
    for index, layer in enumerate(layers):
        if index in taken:
            continue
        members = [index]
        if _can_anchor(layer):
            while (following := _sole_reader(layers[members[-1]], readers, graph_outputs)) is not None \
                    and following not in taken and _joins(layers[members[-1]], layers[following]):
                members.append(following)
        taken.update(members)
        groups.append((members[-1], group_of([layers[i] for i in members], readers, graph_outputs, layers)))
    # a group runs where its last member ran: a residual Add waits for the shortcut computed before it
    return dataclasses.replace(cost, layers=tuple(g for _, g in sorted(groups, key=lambda item: item[0])),
                               fusion=policy)


def _can_anchor(layer: LayerCost) -> bool:
    return layer.supported and (layer.kind in (MAC, ELEMENTWISE) or layer.op_type == "BatchNormalization")


def _sole_reader(layer: LayerCost, readers: dict[str, list[int]], graph_outputs: set[str]) -> int | None:
    """The one layer that reads `layer`'s only output, if exactly one does and it is not a graph output."""
    outs = [o for o in layer.output_names if o]
    if len(outs) != 1 or outs[0] in graph_outputs:
        return None
    found = readers.get(outs[0], [])
    return found[0] if len(set(found)) == 1 else None


def _joins(producer: LayerCost, layer: LayerCost) -> bool:
    """An element-wise layer (or inference BatchNorm) of the producer's output shape, costed."""
    if not layer.supported or not (layer.kind == ELEMENTWISE or layer.op_type == "BatchNormalization"):
        return False
    return bool(layer.output_shapes) and layer.output_shapes[0] == producer.output_shapes[0]


def _folds(anchor: LayerCost, layer: LayerCost) -> bool:
    """Rule 1: BatchNorm, or a binary op with a per-channel constant and no other activation, after a MAC op."""
    if anchor.kind != MAC:
        return False
    if layer.op_type == "BatchNormalization":
        return True
    return layer.op_type in FOLDABLE_AFFINE and len(layer.activation_slots) == 1 and layer.weight_elems > 0 \
        and layer.weight_elems <= _out_channels(anchor)


def _out_channels(anchor: LayerCost) -> int:
    return anchor.gemm.n * anchor.gemm.groups if anchor.gemm is not None else 0


def group_of(members: Sequence[LayerCost], readers: dict[str, list[int]], graph_outputs: set[str],
             layers: Sequence[LayerCost]) -> LayerCost:
    """The record of one group: anchor's identity, summed work, traffic at the group's boundary."""
    anchor = members[0]
    if len(members) == 1:
        return dataclasses.replace(anchor, members=(anchor.name,), fused_ops=(anchor.op_type,))
    inside = {o for m in members for o in m.output_names if o}
    names = {m.name for m in members}
    external: dict[str, int] = {}  # activation tensors the group reads from memory, each once
    epilogue: dict[str, int] = {}
    for k, member in enumerate(members):
        for slot in member.activation_slots:
            tensor = member.input_names[slot]
            if tensor not in inside:
                external[tensor] = numel(member.input_shapes[slot])
                if k:
                    epilogue[tensor] = external[tensor]
    folded = [m for m in members[1:] if _folds(anchor, m)]
    kept = [anchor] + [m for m in members[1:] if m not in folded]
    weight_elems = sum(m.weight_elems for m in kept)
    widths = {t: w for m in members for t, w in m.widths.items()}
    input_shapes, input_names, gemm = anchor.input_shapes, anchor.input_names, anchor.gemm
    shifts = any(m.op_type in ("BatchNormalization", "Add", "Sub") for m in folded)
    if shifts and gemm is not None and gemm.bias_input is None:  # a folded shift becomes a bias
        input_shapes = input_shapes + ((_out_channels(anchor),),)
        input_names = input_names + (f"{anchor.name}.folded_bias",)
        gemm = dataclasses.replace(gemm, bias_input=len(input_shapes) - 1)
        weight_elems += _out_channels(anchor)
    written: list[tuple[int, int | None]] = []
    for member in members:
        for tensor, shape in zip([o for o in member.output_names if o], member.output_shapes):
            read_outside = any(layers[r].name not in names for r in readers.get(tensor, ()))
            if read_outside or tensor in graph_outputs:
                written.append((numel(shape), widths.get(tensor)))
    last = members[-1]
    return dataclasses.replace(
        anchor,
        output_shapes=last.output_shapes, output_names=last.output_names, input_shapes=input_shapes,
        input_names=input_names, gemm=gemm,
        params=sum(m.params for m in members), non_trainable_params=sum(m.non_trainable_params for m in members),
        macs=sum(m.macs for m in members), flops=sum(m.flops for m in members),
        activations=sum(m.activations for m in members),
        weight_elems=weight_elems, input_elems=sum(external.values()), output_elems=sum(n for n, _ in written),
        int_weights=sum((m.int_weights for m in kept), NO_INTEGERS),
        int_inputs=Fixed.of((n, widths.get(t)) for t, n in external.items()), int_outputs=Fixed.of(written),
        int_activations=sum((m.int_activations for m in members), NO_INTEGERS),
        int_stored=sum((m.int_stored for m in members), NO_INTEGERS), widths=widths,
        receptive_field=last.receptive_field, supported=all(m.supported for m in members),
        members=tuple(m.name for m in members), fused_ops=tuple(m.op_type for m in members),
        epilogue_flops=sum(m.flops for m in members[1:] if m not in folded),
        epilogue_input_elems=sum(epilogue.values()), folded=tuple(m.name for m in folded),
    )


def group_of_layer(fused: ModelCost) -> dict[str, str]:
    """Layer name -> the name of the group it runs in."""
    return {member: group.name for group in fused.layers for member in (group.members or (group.name,))}


def share_outside_mac(layer_times: Sequence[tuple[LayerCost, float]]) -> float:
    """Fraction of the summed time spent in layers (or groups) whose anchor is not a MAC op."""
    total = sum(t for _, t in layer_times)
    return sum(t for layer, t in layer_times if layer.kind != MAC) / total if total else 0.0
