"""If / Loop / Scan: each subgraph walked; If = its costlier branch (both listed), Loop and Scan = body x
a static trip count, unknown when the trip count is dynamic.

Every model here is run by onnxruntime first (so it is valid ONNX, and its real output shapes are the
ones perfmodel reports; onnx's ReferenceEvaluator stacks a Loop's scan outputs with np.vstack, dropping
their leading axis); expected MACs are the conv/matmul formulas written out by hand.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from perfmodel.walk import analyze_model
from tests.conftest import perfmodel
from tests.onnx_graphs import model, tensor, value

B = TensorProto.BOOL
I64 = TensorProto.INT64


def run(m: onnx.ModelProto, **feeds) -> list[np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def if_model(outer_shares_w1: bool = False) -> onnx.ModelProto:
    """then: 3x3 conv by the outer weight w1 (4x3x3x3, pad 1); else: 1x1 conv by w2; on x 1x3x8x8."""
    then = helper.make_graph([helper.make_node("Conv", ["x", "w1"], ["t"], pads=[1, 1, 1, 1], name="then_conv")],
                             "then", [], [value("t", None)])
    other = helper.make_graph([helper.make_node("Conv", ["x", "w2"], ["e"], name="else_conv")],
                              "else", [], [value("e", None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0, name="sum"),
             helper.make_node("Greater", ["s", "zero"], ["c"], name="gt"),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="if")]
    outputs = [value("y", None)]
    if outer_shares_w1:  # the outer graph reads w1 too: it is still one parameter tensor
        nodes.append(helper.make_node("Conv", ["x", "w1"], ["z"], pads=[1, 1, 1, 1], name="outer_conv"))
        outputs.append(value("z", None))
    return model(nodes, [value("x", [1, 3, 8, 8])], outputs,
                 [tensor("w1", 4, 3, 3, 3), tensor("w2", 4, 3, 1, 1),
                  numpy_helper.from_array(np.asarray(0, np.float32), "zero")])


def loop_model(trips: int = 3, computed_condition: bool = False, growing: bool = False,
               m_as_input: bool = False, stacked: bool = True) -> onnx.ModelProto:
    """h <- h @ W (16x16, an outer weight) M times, then a Relu on the final h; scan output: each h.

    The loop's condition input is a constant true (onnx's ReferenceEvaluator runs no iteration when it
    is absent, which the spec says means true)."""
    body_nodes = [helper.make_node("MatMul", ["h_in", "W"], ["h_out"], name="mm"),
                  helper.make_node("Identity", ["h_out"], ["h_each"], name="each")]
    if computed_condition:  # stop once the state's sum is large: data-dependent
        body_nodes += [helper.make_node("ReduceSum", ["h_out"], ["total"], keepdims=0, name="total"),
                       helper.make_node("Less", ["total", "limit"], ["cond_out"], name="keep_going")]
    else:
        body_nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"))
    if growing:  # the state gains a row per iteration: no per-iteration cost is static
        body_nodes[0] = helper.make_node("Concat", ["h_in", "h_in"], ["h_out"], axis=0, name="grow")
    body = helper.make_graph(body_nodes, "body",
                             [value("i", [], I64), value("cond_in", [], B), value("h_in", [1, 16])],
                             [value("cond_out", [], B), value("h_out", None)] + [value("h_each", None)] * stacked,
                             [numpy_helper.from_array(np.asarray(1e30, np.float32), "limit")] * computed_condition)
    nodes = [helper.make_node("Loop", ["M", "keep", "h0"], ["h", "hs"][:1 + stacked], body=body, name="loop"),
             helper.make_node("Relu", ["h"], ["r"], name="after")]
    inits = [tensor("W", 16, 16), numpy_helper.from_array(np.asarray(True), "keep")]
    inputs = [value("h0", [1, 16])]
    if m_as_input:
        inputs.append(value("M", [], I64))
    else:
        inits.append(numpy_helper.from_array(np.asarray(trips, np.int64), "M"))
    return model(nodes, inputs, [value("r", None), value("hs", None)][:1 + stacked], inits)


def scan_model(length: int) -> onnx.ModelProto:
    """h <- x_t @ W + h over `length` steps of 1x16; ys stacks every h."""
    body = helper.make_graph([helper.make_node("MatMul", ["xt", "W"], ["p"], name="mm"),
                              helper.make_node("Add", ["p", "h_in"], ["h_out"], name="add"),
                              helper.make_node("Identity", ["h_out"], ["y_t"], name="each")],
                             "body", [value("h_in", [1, 16]), value("xt", [1, 16])],
                             [value("h_out", None), value("y_t", None)])
    nodes = [helper.make_node("Scan", ["h0", "xs"], ["h", "ys"], body=body, num_scan_inputs=1, name="scan"),
             helper.make_node("Relu", ["ys"], ["r"], name="after")]
    return model(nodes, [value("h0", [1, 16]), value("xs", [length, 1, 16])], [value("h", None), value("r", None)],
                 [tensor("W", 16, 16)])


def test_if_costs_its_costlier_branch_and_lists_both() -> None:
    x = np.ones((1, 3, 8, 8), np.float32)
    assert run(if_model(), x=x)[0].shape == (1, 4, 8, 8)
    layer = analyze_model(if_model()).layers_of("If")[0]
    then_macs, else_macs = 4 * 8 * 8 * 3 * 3 * 3, 4 * 8 * 8 * 3  # C_out H W C_in kh kw
    assert layer.supported and layer.macs == then_macs and layer.flops == 2 * then_macs
    assert layer.branches == (("then_branch", then_macs, 2 * then_macs), ("else_branch", else_macs, 2 * else_macs))
    assert layer.params == 4 * 3 * 9 + 4 * 3  # both branches' weights are stored
    assert layer.output_shapes == ((1, 4, 8, 8),)


def test_an_outer_weight_read_in_a_branch_and_outside_counts_once() -> None:
    cost = analyze_model(if_model(outer_shares_w1=True))
    assert cost.params == 4 * 3 * 9 + 4 * 3  # w1 once, and w2 (Greater's threshold is no parameter)
    assert cost.macs == 2 * 4 * 8 * 8 * 27


def test_if_in_json_lists_its_subgraphs(tmp_path) -> None:
    path = tmp_path / "if.onnx"
    onnx.save(if_model(), path)
    result = perfmodel("analyze", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    layer = next(layer for layer in json.loads(result.stdout)["layers"] if layer["op_type"] == "If")
    assert [s["name"] for s in layer["subgraphs"]] == ["then_branch", "else_branch"]


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 6))
def test_a_static_loop_costs_its_body_times_m(trips: int) -> None:
    m = loop_model(trips)
    h, hs = run(m, h0=np.ones((1, 16), np.float32))
    cost = analyze_model(m)
    loop, after = cost.layers_of("Loop")[0], cost.layers_of("Relu")[0]
    assert cost.complete and loop.macs == trips * 16 * 16 and loop.params == 256
    assert loop.output_shapes == (h.shape, hs.shape) == ((1, 16), (trips, 1, 16))
    assert after.output_shapes == ((1, 16),) and after.flops == 16  # the loop's output shape reached it


@pytest.mark.parametrize("case, why", [
    (dict(computed_condition=True), "the body computes the loop condition"),
    (dict(m_as_input=True), "the trip count M is not a constant"),
    (dict(growing=True, stacked=False), "changes shape per iteration"),
])
def test_a_loop_without_a_static_trip_count_is_unknown_and_the_result_partial(tmp_path, case, why) -> None:
    m = loop_model(3, **case)
    run(m, h0=np.ones((1, 16), np.float32), **({"M": np.asarray(3, np.int64)} if "m_as_input" in case else {}))
    with pytest.warns(UserWarning, match=why):
        cost = analyze_model(m)
    assert not cost.complete and "loop" in cost.unknown_layers
    path = tmp_path / "loop.onnx"
    onnx.save(m, path)
    result = perfmodel("analyze", path)
    assert result.returncode == 3 and "INCOMPLETE" in result.stdout


def test_a_loop_without_a_condition_input_runs_m_times() -> None:
    m = loop_model(4)
    m.graph.node[0].input[1] = ""  # absent: the spec's "true"
    assert analyze_model(m).layers_of("Loop")[0].macs == 4 * 256


def test_a_loop_of_2_to_the_62_iterations_is_costed_not_run() -> None:
    loop = analyze_model(loop_model(2**62, stacked=False)).layers_of("Loop")[0]
    assert loop.macs == 2**62 * 256


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 7))
def test_a_scan_costs_its_body_times_the_scanned_length(length: int) -> None:
    m = scan_model(length)
    h, r = run(m, h0=np.ones((1, 16), np.float32), xs=np.ones((length, 1, 16), np.float32))
    cost = analyze_model(m)
    scan = cost.layers_of("Scan")[0]
    assert cost.complete and scan.macs == length * 256 and scan.flops == length * (2 * 256 + 16)
    assert scan.output_shapes == (h.shape, r.shape)
    assert cost.layers_of("Relu")[0].output_shapes == (r.shape,)


def test_an_if_inside_a_loop_body_is_walked_too() -> None:
    inner = if_model()
    then, other = inner.graph.node[2].attribute  # the If's two branches, reading the outer x
    body = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0, name="sum"),
         helper.make_node("Greater", ["s", "zero"], ["c"], name="gt"),
         helper.make_node("If", ["c"], ["y_t"], name="if", then_branch=then.g, else_branch=other.g),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond")],
        "body", [value("i", [], I64), value("cond_in", [], B)], [value("cond_out", [], B), value("y_t", None)])
    m = model([helper.make_node("Loop", ["M", "keep"], ["ys"], body=body, name="loop")], [value("x", [1, 3, 8, 8])],
              [value("ys", None)], [*inner.graph.initializer, numpy_helper.from_array(np.asarray(2, np.int64), "M"),
                                    numpy_helper.from_array(np.asarray(True), "keep")])
    assert run(m, x=np.ones((1, 3, 8, 8), np.float32))[0].shape == (2, 1, 4, 8, 8)
    loop = analyze_model(m).layers_of("Loop")[0]
    assert loop.macs == 2 * 4 * 8 * 8 * 27 and loop.output_shapes == ((2, 1, 4, 8, 8),)


def test_a_branch_reading_an_undefined_tensor_or_breaking_a_rule_is_a_one_line_error(tmp_path) -> None:
    from tests.conftest import assert_one_line_error

    undefined = if_model()
    branch = next(a.g for a in undefined.graph.node[2].attribute if a.name == "then_branch")
    branch.node[0].input[1] = "nope"
    invalid = if_model()
    branch = next(a.g for a in invalid.graph.node[2].attribute if a.name == "else_branch")
    branch.node[0].attribute.append(helper.make_attribute("group", 2))
    for name, m, fragments in (("undefined", undefined, ("'nope'", "no node")),
                               ("invalid", invalid, ("else_conv", "group"))):
        path = tmp_path / f"{name}.onnx"
        onnx.save(m, path)
        assert_one_line_error(perfmodel("analyze", path), *fragments)


def test_a_body_returning_a_constant_true_condition_runs_m_times() -> None:
    m = loop_model(5)
    body = m.graph.node[0].attribute[0].g
    cond = next(n for n in body.node if n.name == "cond")
    body.node.remove(cond)
    body.node.append(helper.make_node("Constant", [], ["cond_out"], name="cond",
                                      value=numpy_helper.from_array(np.asarray(True))))
    assert run(m, h0=np.ones((1, 16), np.float32))[1].shape == (5, 1, 16)
    assert analyze_model(m).layers_of("Loop")[0].macs == 5 * 256
