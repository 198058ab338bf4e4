"""Which layers hold a weight matrix that MACs run over: the layers sparsity and backprop act on."""

from __future__ import annotations

import math

from perfmodel.record import LayerCost, ModelCost

MAC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
"""Ops whose cost is multiply-accumulates over a weight operand at input index 1."""


def weight_tensor_elems(layer: LayerCost) -> int:
    """Elements of the weight operand (input 1) when it is a constant, else 0 (bias excluded)."""
    if layer.op_type not in MAC_OPS or len(layer.input_shapes) < 2 or not layer.supported:
        return 0
    elems = math.prod(layer.input_shapes[1])
    return elems if 0 < elems <= layer.weight_elems else 0


def has_weight_matrix(layer: LayerCost) -> bool:
    """A conv/FC layer whose weight operand is a stored constant (a MatMul of two activations is not)."""
    return weight_tensor_elems(layer) > 0


def weight_matrix_shape(layer: LayerCost) -> tuple[int, int]:
    """The weight tensor as stored, seen as a matrix: shape[0] rows x prod(shape[1:]) columns."""
    shape = layer.input_shapes[1]
    return shape[0], math.prod(shape[1:])


def first_trainable_index(cost: ModelCost) -> int | None:
    """Schedule index of the first layer with stored weights; nothing before it needs a gradient."""
    return next((i for i, layer in enumerate(cost.layers) if layer.weight_elems > 0), None)


def traffic_bytes(cost: ModelCost) -> float:
    """Ideal DRAM traffic of the whole model: the sum of every layer's bytes read and written."""
    return sum(layer.bytes_total for layer in cost.layers if layer.supported)


def model_intensity(cost: ModelCost) -> float:
    """Model arithmetic intensity = total FLOPs / total ideal traffic (FLOP/byte)."""
    moved = traffic_bytes(cost)
    return cost.flops / moved if moved else 0.0
