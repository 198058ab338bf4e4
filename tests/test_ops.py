"""Op cost rules against hand formulas, with output shapes checked by running onnx's ReferenceEvaluator.

Each test builds a one-node model with random shapes; the expected MACs come from the textbook
formula written here independently of perfmodel's rule, and the real output (ReferenceEvaluator)
must have the shape the walk reports.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from onnx import helper
from onnx.reference import ReferenceEvaluator

from perfmodel import ops
from perfmodel.walk import analyze_model
from tests.onnx_graphs import ints, one_node, tensor

SETTINGS = settings(max_examples=25, deadline=None)


def run_reference(model, shapes) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    return ReferenceEvaluator(model).run(None, feeds)


def only_layer(model):
    cost = analyze_model(model)
    assert len(cost.layers) == 1
    return cost.layers[0]


@st.composite
def conv_cases(draw):
    group = draw(st.sampled_from([1, 1, 2, 3]))
    c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    h = max(d[0] * (k[0] - 1) + 1 - pads[0] - pads[2], 1) + draw(st.integers(0, 7))
    w = max(d[1] * (k[1] - 1) + 1 - pads[1] - pads[3], 1) + draw(st.integers(0, 7))
    n = draw(st.integers(1, 2))
    return n, c, h, w, m, group, k, s, d, pads


@SETTINGS
@given(conv_cases(), st.booleans())
def test_conv(case, bias) -> None:
    n, c, h, w, m, group, k, s, d, pads = case
    inits = [tensor("W", m, c // group, *k)] + ([tensor("B", m)] if bias else [])
    model = one_node("Conv", [(n, c, h, w)], inits, group=group, kernel_shape=list(k), strides=list(s),
                     dilations=list(d), pads=pads)
    layer = only_layer(model)
    # (V - d(R-1) - 1 + Z_begin + Z_end) // S + 1 per spatial axis
    oh = (h + pads[0] + pads[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + pads[1] + pads[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    assert layer.output_shapes[0] == (n, m, oh, ow) == run_reference(model, [(n, c, h, w)])[0].shape
    assert layer.macs == n * m * oh * ow * (c // group) * k[0] * k[1]
    assert layer.flops == 2 * layer.macs
    assert layer.params == m * (c // group) * k[0] * k[1] + (m if bias else 0)
    assert layer.attributes["pads"] == tuple(pads)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad_resolved_to_pads(auto_pad: str) -> None:
    model = one_node("Conv", [(1, 2, 10, 9)], [tensor("W", 4, 2, 4, 3)], auto_pad=auto_pad, strides=[3, 2])
    layer = only_layer(model)
    assert layer.output_shapes[0] == run_reference(model, [(1, 2, 10, 9)])[0].shape
    # SAME: out = ceil(in / s) = (4, 5); total pad = (out-1) s + k - in = (3, 2); UPPER puts the odd one at the end
    expected = {"SAME_UPPER": (1, 1, 2, 1), "SAME_LOWER": (2, 1, 1, 1), "VALID": (0, 0, 0, 0)}[auto_pad]
    assert layer.attributes["pads"] == expected


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 40), st.integers(1, 40), st.booleans(), st.booleans())
def test_gemm(m, k, n, trans_b, bias) -> None:
    w = tensor("W", *((n, k) if trans_b else (k, n)))
    inits = [w] + ([tensor("C", n)] if bias else [])
    model = one_node("Gemm", [(m, k)], inits, transB=int(trans_b))
    layer = only_layer(model)
    assert layer.output_shapes[0] == (m, n) == run_reference(model, [(m, k)])[0].shape
    assert layer.macs == m * k * n and layer.flops == 2 * m * k * n
    assert layer.params == k * n + (n if bias else 0)


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 6))
def test_matmul_batched_activations(batch, m, k, n) -> None:
    model = one_node("MatMul", [(*batch, m, k), (*batch, k, n)])
    layer = only_layer(model)
    assert layer.output_shapes[0] == run_reference(model, [(*batch, m, k), (*batch, k, n)])[0].shape
    assert layer.macs == math.prod(batch) * m * k * n
    assert layer.params == 0  # both operands are activations


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(2, 12), st.integers(2, 4), st.integers(1, 3),
       st.sampled_from(["MaxPool", "AveragePool"]), st.integers(0, 1))
@example(1, 1, 3, 2, 3, "MaxPool", 1)  # ceil_mode's last window would start past the input: dropped
def test_pool(n, c, hw, k, s, op, ceil_mode) -> None:
    k = min(k, hw)
    model = one_node(op, [(n, c, hw, hw)], kernel_shape=[k, k], strides=[s, s], ceil_mode=ceil_mode)
    layer = only_layer(model)
    out = run_reference(model, [(n, c, hw, hw)])[0]
    assert layer.output_shapes[0] == out.shape
    per_output = k * k - 1 if op == "MaxPool" else k * k
    assert layer.flops == per_output * out.size and layer.macs == 0


def test_batchnorm_params_and_flops() -> None:
    inits = [tensor("scale", 5), tensor("bias", 5), tensor("mean", 5), tensor("var", 5)]
    layer = only_layer(one_node("BatchNormalization", [(2, 5, 3, 3)], inits))
    assert (layer.params, layer.non_trainable_params) == (10, 10)
    assert layer.flops == 2 * 2 * 5 * 3 * 3 and layer.macs == 0


@pytest.mark.parametrize("op,per_element", [("Relu", 1), ("Sigmoid", 4), ("Tanh", 1), ("Erf", 1),
                                            ("Softmax", 5), ("LeakyRelu", 2)])
def test_unary_elementwise(op: str, per_element: int) -> None:
    layer = only_layer(one_node(op, [(2, 3, 4)]))
    assert layer.flops == per_element * 24 and layer.params == 0
    assert layer.bytes_read == layer.bytes_written == 4 * 24


def test_broadcast_add_counts_output_elements_and_bias_param() -> None:
    model = one_node("Add", [(2, 3, 4, 5)], [tensor("bias", 3, 1, 1)])
    layer = only_layer(model)
    assert layer.output_shapes[0] == (2, 3, 4, 5) and layer.flops == 120
    assert layer.params == 3  # a float initializer added to an activation is a bias
    two = only_layer(one_node("Mul", [(4, 1, 5), (3, 1)]))
    assert two.output_shapes[0] == (4, 3, 5) and two.flops == 60 and two.params == 0


def test_views_move_nothing() -> None:
    layer = only_layer(one_node("Reshape", [(2, 3, 4)], [ints("shape", [2, 12])]))
    assert layer.output_shapes[0] == (2, 12) and layer.is_view
    assert layer.flops == 0 and layer.bytes_read == 0 and layer.bytes_written == 0 and layer.activations == 24
    assert layer.params == 0  # an int64 shape tensor is not a weight


def test_copies_move_data_without_flops() -> None:
    layer = only_layer(one_node("Concat", [(1, 2, 3), (1, 4, 3)], axis=1))
    assert layer.output_shapes[0] == (1, 6, 3) and layer.flops == 0
    assert layer.bytes_read == layer.bytes_written == 4 * 18


def test_lrn_and_global_pool() -> None:
    lrn = only_layer(one_node("LRN", [(1, 8, 5, 5)], size=5))
    assert lrn.flops == (2 * 5 + 3) * 200
    gap = only_layer(one_node("GlobalAveragePool", [(2, 8, 5, 5)]))
    assert gap.output_shapes[0] == (2, 8, 1, 1) and gap.flops == 400


def test_conv_transpose() -> None:
    model = one_node("ConvTranspose", [(1, 4, 5, 5)], [tensor("W", 4, 3, 3, 3)], strides=[2, 2])
    layer = only_layer(model)
    assert layer.output_shapes[0] == run_reference(model, [(1, 4, 5, 5)])[0].shape
    assert layer.macs == 4 * 25 * 3 * 9  # every input element scatters into M x k x k outputs


def test_every_rule_is_a_registered_function() -> None:
    from onnx import defs

    for op, rule in ops.RULES.items():
        assert callable(rule.fn), op
        assert defs.has(op), f"{op} is not an ONNX operator: a typo in a registration?"
    for op in ("Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid",
               "Tanh", "Clip", "Softmax", "Erf", "Gelu", "MaxPool", "AveragePool", "GlobalAveragePool",
               "GlobalMaxPool", "LRN", "Add", "Sub", "Mul", "Div", "Concat", "Flatten", "Reshape", "Transpose",
               "Squeeze", "Unsqueeze", "Identity", "Dropout", "Pad", "Resize", "Slice", "ReduceMean"):
        assert ops.lookup(op) is not None, op


# ---------------------------------------------------------------- traits, geometry and GEMM dims in the record


def test_kinds_come_from_the_registry() -> None:
    assert set(ops.op_types(ops.MAC)) == {"Conv", "ConvTranspose", "Gemm", "MatMul", "ConvInteger", "QLinearConv",
                                          "MatMulInteger", "QLinearMatMul", "Einsum", "RNN", "GRU", "LSTM"}
    assert {"MaxPool", "AveragePool", "LRN", "GlobalAveragePool"} <= set(ops.op_types(ops.WINDOW))
    assert {"Reshape", "Flatten", "Identity", "Dropout"} <= set(ops.op_types(ops.VIEW))
    assert all(rule.kind in ops.KINDS for rule in ops.RULES.values())
    spatial = {op for op, rule in ops.RULES.items() if rule.spatial}
    assert spatial == {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool"}


@SETTINGS
@given(conv_cases())
def test_conv_record_carries_geometry_and_gemm_dims(case) -> None:
    n, c, h, w, m, group, k, s, d, pads = case
    layer = only_layer(one_node("Conv", [(n, c, h, w)], [tensor("W", m, c // group, *k)], group=group,
                                kernel_shape=list(k), strides=list(s), dilations=list(d), pads=pads))
    geo, gemm = layer.geometry, layer.gemm
    assert (geo.kernel, geo.strides, geo.dilations, geo.groups) == (k, s, d, group)
    assert geo.pads_begin == tuple(pads[:2]) and geo.pads_end == tuple(pads[2:])
    assert geo.kernel_eff == (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    out_pixels = layer.output_shapes[0][2] * layer.output_shapes[0][3]
    # implicit GEMM by hand: M = N x out pixels, K = C/g x kh x kw, N = M_out/g, repeated g times
    assert (gemm.m, gemm.k, gemm.n, gemm.groups) == (n * out_pixels, c // group * k[0] * k[1], m // group, group)
    assert gemm.macs == layer.macs and gemm.weight_input == 1 and gemm.bias_input is None


def test_gemm_and_matmul_dims() -> None:
    fc = only_layer(one_node("Gemm", [(300, 8)], [tensor("W", 40, 300), tensor("B", 40)], transA=1, transB=1))
    assert (fc.gemm.m, fc.gemm.k, fc.gemm.n, fc.gemm.weight_input, fc.gemm.bias_input) == (8, 300, 40, 1, 2)
    batched = only_layer(one_node("MatMul", [(2, 3, 5, 7), (2, 3, 7, 4)]))
    assert (batched.gemm.m, batched.gemm.k, batched.gemm.n, batched.gemm.groups) == (5, 7, 4, 6)
    assert batched.gemm.weight_input is None  # both operands are activations: no stored weight
    assert batched.macs == 2 * 3 * 5 * 7 * 4 == batched.gemm.macs


def test_attribute_defaults_come_from_onnx_schemas() -> None:
    leaky = only_layer(one_node("LeakyRelu", [(1, 4)]))
    assert leaky.attributes["alpha"] == pytest.approx(0.01)
    reshape = only_layer(one_node("Reshape", [(2, 6)], [ints("shape", [3, 4])]))
    assert "axis" not in reshape.attributes  # Reshape has no such attribute
    gemm = only_layer(one_node("Gemm", [(2, 3)], [tensor("W", 3, 4)]))
    assert (gemm.attributes["alpha"], gemm.attributes["beta"], gemm.attributes["transA"]) == (1.0, 1.0, 0)


def test_a_missing_required_attribute_names_the_node_and_rule() -> None:
    from perfmodel.errors import PerfmodelError

    with pytest.raises(PerfmodelError, match=r"node 'lrn' \(LRN\) breaks the ONNX LRN spec: required attribute 'size' is missing"):
        analyze_model(one_node("LRN", [(1, 8, 5, 5)]))


def test_conv_transpose_receptive_field_divides_the_jump() -> None:
    """ConvTranspose k=3, s=2 then Conv k=3, s=1, by hand: the transposed conv's output pixel sees
    ceil(3/2) = 2 input pixels, jump 1/2; three neighbours of it then see 1 + 1 + 1 = 3 pixels."""
    from onnx import helper

    from tests.onnx_graphs import model, value

    nodes = [helper.make_node("ConvTranspose", ["x", "w1"], ["u"], name="up", strides=[2, 2]),
             helper.make_node("Conv", ["u", "w2"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    cost = analyze_model(model(nodes, [value("x", [1, 2, 5, 5])], [value("y", None)],
                               [tensor("w1", 2, 2, 3, 3), tensor("w2", 2, 2, 3, 3)]))
    assert [layer.receptive_field for layer in cost.layers] == [2, 3]


# ---------------------------------------------------------------- recurrent, Einsum, quantized ops


@pytest.mark.parametrize("op, gates, per_unit", [("RNN", 1, 3), ("GRU", 3, 19), ("LSTM", 4, 26)])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_recurrent_layers(op: str, gates: int, per_unit: int, direction: str) -> None:
    """seq 7, batch 2, input 5, hidden 3: every step and direction runs [2 x (5 + 3)] @ [(5 + 3) x gates*3],
    then per_unit FLOPs per hidden unit (the module docstring's count)."""
    seq, batch, inp, hidden = 7, 2, 5, 3
    dirs = 2 if direction == "bidirectional" else 1
    inits = [tensor("W", dirs, gates * hidden, inp), tensor("R", dirs, gates * hidden, hidden),
             tensor("B", dirs, 2 * gates * hidden)]
    outputs = 3 if op == "LSTM" else 2
    m = one_node(op, [(seq, batch, inp)], inits, n_outputs=outputs, hidden_size=hidden, direction=direction)
    layer = only_layer(m)
    assert layer.output_shapes[0] == (seq, dirs, batch, hidden) == run_reference(m, [(seq, batch, inp)])[0].shape
    macs = seq * dirs * batch * gates * hidden * (inp + hidden)
    assert layer.macs == macs and layer.gemm.macs == macs
    assert layer.flops == 2 * macs + seq * dirs * batch * hidden * per_unit
    assert layer.params == dirs * (gates * hidden * (inp + hidden) + 2 * gates * hidden)


@pytest.mark.parametrize("equation, shapes, macs", [
    ("ij,jk->ik", [(4, 5), (5, 6)], 4 * 5 * 6),
    ("bij,bjk->bik", [(3, 4, 5), (3, 5, 6)], 3 * 4 * 5 * 6),
    ("bhqd,bhkd->bhqk", [(2, 3, 7, 8), (2, 3, 9, 8)], 2 * 3 * 7 * 9 * 8),  # attention scores
    ("...ij,...jk->...ik", [(2, 4, 5), (2, 5, 6)], 2 * 4 * 5 * 6),
    ("ij,jk", [(4, 5), (5, 6)], 4 * 5 * 6),  # implicit output ik
    ("ii->i", [(5, 5)], 0),  # a diagonal: no MACs
])
def test_einsum_macs_from_the_contraction(equation: str, shapes, macs: int) -> None:
    m = one_node("Einsum", shapes, equation=equation)
    layer = only_layer(m)
    reference = np.einsum(equation, *(np.ones(s, np.float32) for s in shapes))
    assert layer.output_shapes[0] == reference.shape
    assert layer.macs == macs and layer.flops == (2 * macs if macs else 25)
    if macs:
        assert layer.gemm.macs == macs


def test_quantized_conv_and_matmul_count_the_macs_of_their_float_twins() -> None:
    from onnx import TensorProto, numpy_helper

    def q(name, *shape):
        return numpy_helper.from_array(np.ones(shape, np.int8), name)

    scale = [numpy_helper.from_array(np.asarray(0.1, np.float32), n) for n in ("xs", "ws", "ys")]
    zero = [numpy_helper.from_array(np.asarray(0, np.int8), n) for n in ("xz", "wz", "yz")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="qconv",
                            pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, None)],
                              [q("w", 6, 4, 3, 3), *scale, *zero])
    layer = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).layers[0]
    assert layer.output_shapes[0] == (1, 6, 8, 8) and layer.macs == 6 * 64 * 4 * 9 and layer.params == 6 * 4 * 9
    mm = helper.make_node("MatMulInteger", ["a", "b"], ["c"], name="mmi")
    graph = helper.make_graph([mm], "g", [helper.make_tensor_value_info("a", TensorProto.INT8, [3, 16])],
                              [helper.make_tensor_value_info("c", TensorProto.INT32, None)], [q("b", 16, 5)])
    layer = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).layers[0]
    assert layer.macs == 3 * 16 * 5 and layer.params == 80


@pytest.mark.parametrize("op, attrs", [("LayerNormalization", {"axis": -1}), ("InstanceNormalization", {}),
                                       ("GroupNormalization", {"num_groups": 2})])
def test_runtime_normalizations_cost_8_flops_per_element(op: str, attrs) -> None:
    """mean 1, variance 3 (subtract, square, add), normalize 2, affine 2 per element (norm.py)."""
    c = 4
    inits = [tensor("s", 5) if op == "LayerNormalization" else tensor("s", c),
             tensor("b", 5) if op == "LayerNormalization" else tensor("b", c)]
    m = one_node(op, [(2, c, 3, 5)], inits, opset=21, **attrs)
    layer = only_layer(m)
    assert layer.flops == 8 * 2 * c * 3 * 5
    assert layer.params == (10 if op == "LayerNormalization" else 2 * c)


@pytest.mark.parametrize("op", ["Greater", "Less", "Equal", "And"])
def test_a_comparison_constant_is_not_a_parameter(op: str) -> None:
    """`x.mean() > 0`: the 0 is a threshold, not a trained weight (an Add's constant is: a bias)."""
    from onnx import TensorProto, numpy_helper

    elem = TensorProto.BOOL if op == "And" else TensorProto.FLOAT
    constant = numpy_helper.from_array(np.ones(4, bool if op == "And" else np.float32), "c")
    node = helper.make_node(op, ["x", "c"], ["y"], name="cmp")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.BOOL, None)], [constant])
    layer = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).layers[0]
    assert layer.params == 0 and layer.flops == 8
    assert only_layer(one_node("Add", [(2, 4)], [tensor("b", 4)])).params == 4
