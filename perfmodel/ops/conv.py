"""Convolutions (ONNX Conv, ConvTranspose): every output element is a dot product over C/group x kernel."""

from __future__ import annotations

import math

from perfmodel.ops import MAC, Cost, GemmDims, Node, rule


def _window(node: Node) -> tuple[int, int]:
    """Effective kernel extent and stride on the first spatial axis (for the receptive field)."""
    return node.geometry.kernel_eff[0], node.geometry.strides[0]


@rule("Conv", kind=MAC, weights=(1, 2), spatial=True)
def conv(node: Node) -> Cost:
    """Implicit GEMM: M = N x prod(out spatial), K = C/group x prod(kernel), N = M_out/group, x group (ONNX Conv)."""
    x, w, groups = node.inputs[0], node.inputs[1], node.geometry.groups
    gemm = GemmDims(m=x[0] * math.prod(node.out[2:]), k=math.prod(w[1:]), n=w[0] // groups, groups=groups,
                    weight_input=1, bias_input=2 if len(node.inputs) > 2 and node.inputs[2] else None)
    return Cost.of_gemm(gemm, _window(node))


@rule("ConvTranspose", kind=MAC, weights=(1, 2), spatial=True)
def conv_transpose(node: Node) -> Cost:
    """Each input pixel scatters a window: M = N x prod(in spatial), K = C/group, N = M_out/group x prod(kernel)."""
    x, w, groups = node.inputs[0], node.inputs[1], node.geometry.groups
    gemm = GemmDims(m=x[0] * math.prod(x[2:]), k=w[0] // groups, n=math.prod(w[1:]), groups=groups,
                    weight_input=1, bias_input=2 if len(node.inputs) > 2 and node.inputs[2] else None)
    return Cost.of_gemm(gemm, _window(node))
