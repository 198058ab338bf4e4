"""Which layers hold a weight matrix that MACs run over: the layers sparsity and backprop act on.

Read from the record alone: a layer's `gemm` dims say it is a MAC op and which input slot, if any,
holds its stored weight.
"""

from __future__ import annotations

import math

from perfmodel.record import LayerCost, ModelCost


def weight_shape(layer: LayerCost) -> tuple[int, ...] | None:
    """Shape of the stored weight operand (the GEMM's B) of a MAC layer; None when it has none."""
    dims = layer.gemm
    if not layer.supported or dims is None or dims.weight_input is None:
        return None
    return layer.input_shapes[dims.weight_input]


def weight_tensor_elems(layer: LayerCost) -> int:
    """Elements of the stored weight operand (bias excluded), 0 for a layer without one."""
    shape = weight_shape(layer)
    return math.prod(shape) if shape else 0


def has_weight_matrix(layer: LayerCost) -> bool:
    """A conv/FC layer whose weight operand is a stored constant (a MatMul of two activations is not)."""
    return weight_tensor_elems(layer) > 0


def weight_matrix_shape(layer: LayerCost) -> tuple[int, int]:
    """The weight tensor as stored, seen as a matrix: shape[0] rows x prod(shape[1:]) columns."""
    shape = weight_shape(layer)
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
