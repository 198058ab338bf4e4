"""Pooling: a window reduction per output element (max: comparisons, average: additions)."""

from __future__ import annotations

import math

from perfmodel.ops import GLOBAL, Cost, Node, numel, rule

POOL_DEFAULTS = {"auto_pad": "NOTSET", "ceil_mode": 0, "count_include_pad": 0, "storage_order": 0}


def _window(node: Node) -> tuple[int, int]:
    k, d = node.attrs["kernel_shape"][0], node.attrs["dilations"][0]
    return d * (k - 1) + 1, node.attrs["strides"][0]


@rule("MaxPool", defaults=POOL_DEFAULTS)
def max_pool(node: Node) -> Cost:
    """prod(kernel) - 1 comparisons per output element."""
    per_out = math.prod(node.attrs["kernel_shape"]) - 1
    return Cost(0, per_out * numel(node.out), _window(node))


@rule("AveragePool", "LpPool", defaults=POOL_DEFAULTS)
def average_pool(node: Node) -> Cost:
    """prod(kernel) - 1 additions and 1 division per output element."""
    per_out = math.prod(node.attrs["kernel_shape"])
    return Cost(0, per_out * numel(node.out), _window(node))


@rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(node: Node) -> Cost:
    """One operation per input element (the final division is negligible and counted per output)."""
    return Cost(0, numel(node.inputs[0]), (1, GLOBAL))
