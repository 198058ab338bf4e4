"""Loading real-export shapes of graphs: Constant weights, shape sub-graphs, dynamic axes, NHWC
transposes, external data, unsorted nodes; and the peak-memory schedule worked by hand."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

import models_onnx
from perfmodel.errors import PerfmodelError
from perfmodel.graph import GraphNode, load_graph, parse_shape
from perfmodel.skim import skim_model_bytes
from perfmodel.walk import analyze_model
from tests.onnx_graphs import model, tensor, tf2onnx_style, torch_legacy_style, value


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_torch_legacy_export_shape(opset: int) -> None:
    cost = analyze_model(torch_legacy_style(opset=opset), batch=4)
    assert [l.op_type for l in cost.layers] == ["Conv", "Relu", "Reshape", "Gemm"]  # shape chain folded away
    conv, _, flat, fc = cost.layers
    assert conv.params == 8 * 27 + 8  # weights held in Constant nodes still count
    assert flat.output_shapes[0] == (4, 8 * 16 * 16)
    assert fc.macs == 4 * 2048 * 10 and fc.params == 2048 * 10 + 10


def test_dynamic_dimension_without_override_is_a_clear_error() -> None:
    with pytest.raises(PerfmodelError, match=r"input 'input' has a dynamic dimension 'batch_size' on axis 0"):
        analyze_model(torch_legacy_style())


def test_input_shape_override() -> None:
    cost = analyze_model(tf2onnx_style(), input_shapes={"input": (2, 15, 15, 3)})
    conv = cost.layers_of("Conv")[0]
    assert conv.input_shapes[0] == (2, 3, 15, 15)
    assert conv.output_shapes[0] == (2, 16, 8, 8)  # SAME, stride 2: ceil(15 / 2)
    assert conv.macs == 2 * 16 * 8 * 8 * 3 * 9
    assert cost.layers[-1].output_shapes[0] == (2, 8, 8, 16)
    with pytest.raises(PerfmodelError, match="inputs are: input"):
        analyze_model(tf2onnx_style(), input_shapes={"nope": (1, 2)})


def test_reference_evaluator_agrees_on_every_activation() -> None:
    """lenet5 with random weights: every intermediate tensor's real size equals the layer's activations."""
    from onnx.reference import ReferenceEvaluator

    m = models_onnx.build("lenet5", weights="random")
    cost = analyze_model(m)
    outputs = [o for n in m.graph.node for o in n.output]
    m.graph.output.extend(value(o, None) for o in outputs if o != "output")
    results = dict(zip([o.name for o in m.graph.output],
                       ReferenceEvaluator(m).run(None, {"input": np.ones((1, 1, 28, 28), np.float32)})))
    for node, layer in zip(m.graph.node, cost.layers):
        assert layer.activations == results[node.output[0]].size, node.name


def test_external_data_is_not_loaded(tmp_path) -> None:
    path = models_onnx.export("lenet5", tmp_path / "lenet.onnx", external_data=True)
    assert (tmp_path / "lenet.onnx.data").exists()
    assert analyze_model(path).params == analyze_model("lenet5").params
    (tmp_path / "lenet.onnx.data").unlink()  # weights are never read, so a missing data file is fine
    assert analyze_model(path).params == 61_706


def test_skim_drops_large_weights_keeps_everything_else(tmp_path) -> None:
    path = models_onnx.export("resnet18", tmp_path / "r.onnx", weights="zeros")
    full = onnx.load(path)
    skimmed = onnx.ModelProto.FromString(skim_model_bytes(str(path)))
    assert len(skimmed.SerializeToString()) < 0.01 * len(full.SerializeToString())
    assert [n.name for n in skimmed.graph.node] == [n.name for n in full.graph.node]
    assert [tuple(t.dims) for t in skimmed.graph.initializer] == [tuple(t.dims) for t in full.graph.initializer]


def test_unsorted_nodes_are_scheduled_and_cycles_rejected() -> None:
    relu = helper.make_node("Relu", ["a"], ["b"], name="relu")
    neg = helper.make_node("Neg", ["x"], ["a"], name="neg")
    out = [value("b", [1, 4])]
    cost = analyze_model(model([relu, neg], [value("x", [1, 4])], out))
    assert [l.name for l in cost.layers] == ["neg", "relu"]
    cyc = [helper.make_node("Relu", ["a"], ["b"], name="r1"), helper.make_node("Add", ["x", "b"], ["a"], name="r2")]
    with pytest.raises(PerfmodelError, match="cycle"):
        analyze_model(model(cyc, [value("x", [1, 4])], out))


def test_missing_initializer() -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")
    with pytest.raises(PerfmodelError, match=r"node 'conv1' \(Conv\) reads 'w'.*missing initializer"):
        analyze_model(model([node], [value("x", [1, 3, 8, 8])], [value("y", None)]))


def test_unsupported_op_is_listed_and_unknown_not_zero() -> None:
    node = helper.make_node("FancyOp", ["x"], ["y"], name="fancy", domain="com.example")
    relu = helper.make_node("Relu", ["y"], ["z"], name="relu")
    m = model([node, relu], [value("x", [1, 4])], [value("z", [1, 4])])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.warns(UserWarning) as caught:
        cost = analyze_model(m)
    messages = " | ".join(str(w.message) for w in caught)
    assert "no cost rule for FancyOp" in messages and "'relu' (Relu): shapes unknown" in messages
    assert cost.unsupported_ops == ("FancyOp",)
    assert not cost.layers[0].supported
    assert not cost.layers[1].supported  # its input's shape is unknown, so its cost is too


def test_absurd_dimensions_rejected() -> None:
    with pytest.raises(PerfmodelError, match="2\\^40"):
        analyze_model("resnet18", input_shapes={"input": (100000, 3, 100000, 100000)})
    with pytest.raises(PerfmodelError):
        parse_shape("1x-3x2")


def test_peak_live_memory_by_hand() -> None:
    """x(100) -> a=Relu(x) -> b=Relu(a) -> c=Add(a, b) -> out: when b is made, x is dead but a lives:
    steps: a: x+a = 200, x dies; b: a+b = 200; c: a+b+c = 300 (peak); a, b die; c is the output."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["c"])]
    cost = analyze_model(model(nodes, [value("x", [1, 100])], [value("c", [1, 100])]))
    assert cost.peak_activation_elems == 300
    assert cost.peak_activation_bytes == 1200


def test_view_shares_storage_in_peak() -> None:
    """x(100) -> Flatten -> Relu: the flatten adds nothing, so the peak is x + relu output = 200."""
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Relu", ["f"], ["y"])]
    cost = analyze_model(model(nodes, [value("x", [1, 4, 5, 5])], [value("y", [1, 100])]))
    assert cost.peak_activation_elems == 200


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_peak_live_memory_matches_a_step_by_step_count(data) -> None:
    """Random DAGs of Relu, Add, Concat, Split (two outputs) and Flatten (a view) over inputs of
    random sizes: the peak is the largest sum, over the steps, of the storages made at or before the
    step and last read (or, for the graph's output, kept to the end) at or after it; a view adds no
    storage, an input nobody reads lives before the first step only, an output nobody reads lives at
    its own step only."""
    sizes = {f"x{i}": data.draw(st.integers(1, 50)) for i in range(3)}  # tensor -> its elements
    storage = {name: name for name in sizes}
    nodes = []
    n = data.draw(st.integers(1, 12))
    for k in range(n):
        op = data.draw(st.sampled_from(["Relu", "Add", "Concat", "Flatten", "Split"]))
        a, b = (data.draw(st.sampled_from(sorted(sizes))) for _ in range(2))
        if op == "Split" and sizes[a] % 2:
            op = "Relu"
        outs = [f"t{k}", f"t{k}b"] if op == "Split" else [f"t{k}"]
        ins = {"Add": [a, a], "Concat": [a, b]}.get(op, [a])
        nodes.append(helper.make_node(op, ins, outs, **({"axis": 1} if op in ("Concat", "Flatten", "Split") else {})))
        for out in outs:
            sizes[out] = sizes[a] + sizes[b] if op == "Concat" else sizes[a] // 2 if op == "Split" else sizes[a]
            storage[out] = storage[a] if op == "Flatten" else out
    output = nodes[-1].output[0]
    last_use = {}
    for step, node in enumerate(nodes):
        for i in node.input:
            last_use[storage[i]] = step
    last_use[storage[output]] = n
    made = {f"x{i}": -1 for i in range(3)} | {out: step for step, node in enumerate(nodes) for out in node.output
                                              if storage[out] == out}
    expected = max(sum(sizes[t] for t, made_at in made.items() if made_at <= step <= last_use.get(t, made_at))
                   for step in range(-1, n))
    graph = model(nodes, [value(x, [1, sizes[x]]) for x in ("x0", "x1", "x2")], [value(output, None)])
    assert analyze_model(graph).peak_activation_elems == expected


def test_load_graph_keeps_no_weight_data() -> None:
    graph = load_graph(models_onnx.build("vgg11", weights="random"))
    assert "features.0.weight" in graph.constants
    assert graph.shape("classifier.0.weight") == (4096, 25088)


def test_shared_weight_counted_once() -> None:
    w = tensor("w", 4, 4)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["b"])]
    cost = analyze_model(model(nodes, [value("x", [1, 4])], [value("b", [1, 4])], [w]))
    assert cost.params == 16 and cost.macs == 32


@pytest.mark.parametrize("batch", [1, 3])
def test_shape_chains_on_activations_fold_to_a_fixpoint(batch: int) -> None:
    """Twelve blocks that each read their activation's size twice (channel shuffle, window partition),
    as torch legacy exports do: every layer is costed, MACs are the hand count."""
    from tests.onnx_graphs import torch_shuffle_and_windows

    model, macs_at_batch_1 = torch_shuffle_and_windows(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one "shapes unknown"
        cost = analyze_model(model, batch=batch)
    assert cost.complete and cost.macs == batch * macs_at_batch_1
    assert cost.layers_of("Relu")[0].output_shapes == ((batch, 8, 8, 8),)


def test_a_plain_graph_node_is_the_dataclass_built_field_by_field() -> None:
    """GraphNode.plain sets every field at once: the same node as GraphNode(...), defaults included."""
    args = ("conv", "Conv", "", ("x", "w"), ("y",), {"group": 1})
    fast, slow = GraphNode.plain(*args), GraphNode(*args)
    assert fast == slow and vars(fast) == vars(slow)


def test_an_initializer_named_empty_is_never_an_absent_input() -> None:
    """"" names an absent optional input (ONNX): a file that also stores a tensor under that name
    does not make Clip's absent min an input of 1,000 elements."""
    nodes = [helper.make_node("Clip", ["x", "", "mx"], ["y"], name="clip")]
    inits = [onnx.numpy_helper.from_array(np.zeros(1000, np.float32), ""),
             onnx.numpy_helper.from_array(np.array(1.0, np.float32), "mx")]
    (clip,) = analyze_model(model(nodes, [value("x", [1, 4])], [value("y", None)], inits)).layers
    assert clip.input_shapes == ((1, 4), (), ()) and clip.input_elems == 4 and clip.weight_elems == 0
