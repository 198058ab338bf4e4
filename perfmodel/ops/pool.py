"""Pooling: a window reduction per output element (max: comparisons, average: additions)."""

from __future__ import annotations

import math

from perfmodel.ops import GLOBAL, WINDOW, Cost, Node, numel, rule


def _window(node: Node) -> tuple[int, int]:
    return node.geometry.kernel_eff[0], node.geometry.strides[0]


@rule("MaxPool", kind=WINDOW, spatial=True)
def max_pool(node: Node) -> Cost:
    """prod(kernel) - 1 comparisons per output element."""
    per_out = math.prod(node.geometry.kernel) - 1
    return Cost(0, per_out * numel(node.out), _window(node))


@rule("AveragePool", "LpPool", kind=WINDOW, spatial=True)
def average_pool(node: Node) -> Cost:
    """prod(kernel) - 1 additions and 1 division per output element."""
    per_out = math.prod(node.geometry.kernel)
    return Cost(0, per_out * numel(node.out), _window(node))


@rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", kind=WINDOW)
def global_pool(node: Node) -> Cost:
    """One operation per input element (the final division is negligible and counted per output)."""
    return Cost(0, numel(node.inputs[0]), (1, GLOBAL))
