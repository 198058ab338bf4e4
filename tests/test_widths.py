"""Bytes at their real widths: integer tensors (a quantized model's int8 data, int32 biases) keep their
stored width whatever the analysis dtype; float tensors take the dtype (perfmodel.graph.fixed_widths).

Expected bytes are counted here by hand from the tensors' ONNX types.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from perfmodel.fusion import fuse
from perfmodel.walk import analyze_model

C_IN, C_OUT, H = 4, 6, 8
X, W, Y = C_IN * H * H, C_OUT * C_IN * 9, C_OUT * H * H  # elements of input, weight, output


def quantized_conv(with_bias: bool = True):
    """float x -> QuantizeLinear (uint8) -> QLinearConv (int8 weight, int32 bias) -> DequantizeLinear -> float y."""
    scale = [numpy_helper.from_array(np.asarray(0.1, np.float32), n) for n in ("xs", "ws", "ys")]
    zero = [numpy_helper.from_array(np.asarray(0, np.uint8), n) for n in ("xz", "yz")]
    zero.append(numpy_helper.from_array(np.asarray(0, np.int8), "wz"))
    weight = numpy_helper.from_array(np.ones((C_OUT, C_IN, 3, 3), np.int8), "w")
    bias = numpy_helper.from_array(np.ones(C_OUT, np.int32), "b")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="quant"),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"] + (["b"] if with_bias else []),
                         ["yq"], name="qconv", pads=[1, 1, 1, 1]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"], name="dequant"),
    ]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C_IN, H, H])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [weight, bias, *scale, *zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_quantized_conv_moves_its_int8_data_at_one_byte_and_its_int32_bias_at_four() -> None:
    cost = analyze_model(quantized_conv())
    conv = cost.layers_of("QLinearConv")[0]
    # weights: int8 W and the int8/uint8 zero points at 1 B, the int32 bias at 4 B, three fp32 scales at 4 B
    assert conv.weight_bytes_read == W + 3 + 4 * C_OUT + 3 * 4
    assert conv.input_bytes == X and conv.bytes_written == Y  # uint8 in, uint8 out
    quant, dequant = cost.layers_of("QuantizeLinear")[0], cost.layers_of("DequantizeLinear")[0]
    assert quant.input_bytes == 4 * X and quant.bytes_written == X  # fp32 in, uint8 out
    assert dequant.input_bytes == Y and dequant.bytes_written == 4 * Y
    assert cost.activation_bytes == X + Y + 4 * Y
    # storage: W, the bias, the zero points (int) and the scales (fp32), each once
    assert cost.weight_bytes == W + 4 * C_OUT + 3 + 3 * 4


def test_the_dtype_what_if_changes_the_float_tensors_only() -> None:
    cost = analyze_model(quantized_conv(), dtype="fp16")
    conv = cost.layers_of("QLinearConv")[0]
    assert conv.weight_bytes_read == W + 3 + 4 * C_OUT + 3 * 2
    assert conv.input_bytes == X and conv.bytes_written == Y
    assert cost.layers_of("DequantizeLinear")[0].bytes_written == 2 * Y
    assert analyze_model(quantized_conv()).with_dtype("fp16").layers == cost.layers


def test_a_fused_quantized_group_reads_uint8_and_writes_its_float_output() -> None:
    fused = fuse(analyze_model(quantized_conv(with_bias=False)), "inference")
    group = next(g for g in fused.layers if g.op_type == "QLinearConv")
    assert group.fused_ops == ("QLinearConv", "DequantizeLinear")
    assert group.input_bytes == X  # the uint8 tensor QuantizeLinear wrote
    assert group.bytes_written == 4 * Y  # the fp32 y; the uint8 intermediate never leaves the chip
    assert group.weight_bytes_read == W + 3 + 3 * 4 + (4 + 1)  # DequantizeLinear reads ys (fp32), yz (uint8) again


def test_a_float_model_is_unchanged_by_widths() -> None:
    cost = analyze_model("alexnet")
    assert cost.weight_bytes == 4 * (cost.params + cost.non_trainable_params)
    assert all(layer.bytes_total == 4 * (layer.weight_elems + layer.input_elems + layer.output_elems)
               for layer in cost.layers)


def test_peak_live_memory_counts_each_tensor_at_its_width() -> None:
    """Schedule quant, qconv, dequant: live after each step is x + xq (fp32 + uint8), then xq + yq (both
    uint8), then yq + y (uint8 + fp32); the peak is the last, 384 + 4 x 384 bytes (fp16: 384 + 2 x 384)."""
    cost = analyze_model(quantized_conv())
    assert cost.peak_activation_elems == Y + Y
    assert cost.peak_activation_bytes == Y + 4 * Y
    assert cost.with_dtype("fp16").peak_activation_bytes == Y + 2 * Y
    assert analyze_model("alexnet").peak_activation_bytes == 4 * analyze_model("alexnet").peak_activation_elems
