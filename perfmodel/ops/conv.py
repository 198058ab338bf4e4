"""Convolutions (ONNX Conv, ConvTranspose): every output element is a dot product over C/group x kernel."""

from __future__ import annotations

import math

from perfmodel.ops import Cost, Node, rule

CONV_DEFAULTS = {"group": 1, "auto_pad": "NOTSET"}


def _window(node: Node) -> tuple[int, int]:
    """Effective kernel extent d(k-1)+1 and stride on the first spatial axis."""
    k = node.attrs["kernel_shape"][0]
    d = node.attrs["dilations"][0]
    return d * (k - 1) + 1, node.attrs["strides"][0]


@rule("Conv", weights=(1, 2), defaults=CONV_DEFAULTS)
def conv(node: Node) -> Cost:
    """MACs = N x M x prod(out spatial) x (C/group) x prod(kernel)  (ONNX Conv; bias adds not counted)."""
    weight = node.inputs[1]
    macs = math.prod(node.out) * math.prod(weight[1:])
    return Cost(macs, 2 * macs, _window(node))


@rule("ConvTranspose", weights=(1, 2), defaults=CONV_DEFAULTS)
def conv_transpose(node: Node) -> Cost:
    """MACs = N x C x prod(in spatial) x (M/group) x prod(kernel): each input scatters into a kernel window."""
    x, weight = node.inputs[0], node.inputs[1]
    macs = math.prod(x) * math.prod(weight[1:])
    return Cost(macs, 2 * macs, _window(node))
