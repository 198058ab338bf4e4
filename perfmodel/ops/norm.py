"""Normalizations: inference BatchNorm is a per-channel affine; LRN sums squares across channels."""

from __future__ import annotations

from perfmodel.ops import NORMALIZATION, WINDOW, Cost, Node, rule


@rule("BatchNormalization", kind=NORMALIZATION, weights=(1, 2), buffers=(3, 4))
def batchnorm(node: Node) -> Cost:
    """Inference BN folds to y = a x + b per channel: 2 FLOPs per element, no MACs counted."""
    return Cost(0, 2 * node.out_elems)


@rule("InstanceNormalization", "LayerNormalization", "GroupNormalization", kind=NORMALIZATION, weights=(1, 2))
def normalization(node: Node) -> Cost:
    """Statistics at run time: mean (1), variance (3), normalize (2), affine (2) = 8 FLOPs per element."""
    return Cost(0, 8 * node.out_elems)


@rule("LRN", kind=WINDOW)
def lrn(node: Node) -> Cost:
    """y = x / (bias + alpha/size * sum of `size` squares)^beta: 2 x size + 3 FLOPs per element (ONNX LRN)."""
    return Cost(0, (2 * node.attrs["size"] + 3) * node.out_elems)
