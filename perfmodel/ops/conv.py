"""Convolutions (ONNX Conv, ConvTranspose): every output element is a dot product over C/group x kernel."""

from __future__ import annotations

import math

from perfmodel.ops import MAC, Cost, GemmDims, Node, rule


def _window(node: Node) -> tuple[int, int]:
    """Effective kernel extent and stride on the first spatial axis (for the receptive field)."""
    return node.geometry.kernel_eff[0], node.geometry.strides[0]


WEIGHT_SLOT = {"Conv": 1, "ConvTranspose": 1, "ConvInteger": 1, "QLinearConv": 3}
BIAS_SLOT = {"Conv": 2, "ConvTranspose": 2, "QLinearConv": 8}


def _operands(node: Node) -> tuple:
    """(x, w, bias slot or None) of any conv flavour: ONNX Conv, ConvInteger (x, w, x_zero_point, w_zero_point)
    and QLinearConv (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)."""
    slot = BIAS_SLOT.get(node.op_type)
    bias = slot if slot is not None and len(node.inputs) > slot and node.inputs[slot] else None
    return node.inputs[0], node.inputs[WEIGHT_SLOT[node.op_type]], bias


def _check(node: Node) -> str | None:
    """ONNX Conv/ConvTranspose: W is (M, C/group, k...) for Conv, (C, M/group, k...) for ConvTranspose;
    kernel_shape, when given, is W's spatial dims; B has one value per output channel."""
    x, w, bias = _operands(node)
    g = node.geometry.groups
    transposed = node.op_type == "ConvTranspose"
    if len(w) != len(x):
        return f"weight rank {len(w)} differs from input rank {len(x)}"
    per_group = w[0] if transposed else w[1]
    if x[1] != (per_group if transposed else per_group * g):
        return (f"input channels {x[1]} != weight's {w[0]}" if transposed else
                f"input channels {x[1]} != weight's {w[1]} per group x group {g}")
    if w[0] % g:
        return f"group {g} does not divide the {'input' if transposed else 'output'} channels {w[0]}"
    if tuple(node.geometry.kernel) != tuple(w[2:]):
        return f"kernel_shape {list(node.geometry.kernel)} disagrees with the weight's {list(w[2:])}"
    out_channels = w[1] * g if transposed else w[0]
    if bias is not None and tuple(node.inputs[bias]) != (out_channels,):
        return f"bias shape {list(node.inputs[bias])} is not ({out_channels},)"
    return None


@rule("Conv", kind=MAC, weights=(1, 2), spatial=True, check=_check)
@rule("ConvInteger", kind=MAC, weights=(1, 3), spatial=True, check=_check)
@rule("QLinearConv", kind=MAC, weights=(3, 8), buffers=(1, 2, 4, 5, 6, 7), spatial=True, check=_check)
def conv(node: Node) -> Cost:
    """Implicit GEMM: M = N x prod(out spatial), K = C/group x prod(kernel), N = M_out/group, x group (ONNX
    Conv; ConvInteger and QLinearConv the same MACs on 8-bit operands, scales and zero points aside)."""
    x, w, bias = _operands(node)
    groups = node.geometry.groups
    gemm = GemmDims(m=x[0] * math.prod(node.out[2:]), k=math.prod(w[1:]), n=w[0] // groups, groups=groups,
                    weight_input=WEIGHT_SLOT[node.op_type], bias_input=bias)
    return Cost.of_gemm(gemm, _window(node))


@rule("ConvTranspose", kind=MAC, weights=(1, 2), spatial=True, check=_check)
def conv_transpose(node: Node) -> Cost:
    """Each input pixel scatters a window: M = N x prod(in spatial), K = C/group, N = M_out/group x prod(kernel)."""
    x, w, groups = node.inputs[0], node.inputs[1], node.geometry.groups
    gemm = GemmDims(m=x[0] * math.prod(x[2:]), k=w[0] // groups, n=math.prod(w[1:]), groups=groups,
                    weight_input=1, bias_input=2 if len(node.inputs) > 2 and node.inputs[2] else None)
    return Cost.of_gemm(gemm, _window(node))
