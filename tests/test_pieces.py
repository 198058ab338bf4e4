"""onnx's shape inference a piece of the graph at a time (perfmodel.shapes.inferred_pieces) finds what
inference of the whole model finds, value for value and in the same order, or infers the whole model.

The reference is onnx's own inference of the whole model (`inferred_whole`); the pieces are compared
with it as serialized ValueInfoProtos, so a difference in any field, or in the order, fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import models_onnx
import perfmodel.shapes as shapes_module
from perfmodel.errors import PerfmodelError
from perfmodel.shapes import inferred_pieces, inferred_whole, read_types
from tests.onnx_graphs import ints, model, tensor, value

DATA = Path(__file__).parent / "data"


def _found(values_lists) -> list[bytes]:
    return [v.SerializeToString() for values in values_lists for v in values]


def _pieces(m, sizes, monkeypatch) -> tuple[int, list[bytes]]:
    """How many lists `inferred_pieces` yields at piece sizes `sizes`, and all it yields."""
    monkeypatch.setattr(shapes_module, "PIECE_NODES", sizes)
    lists = list(inferred_pieces(m, strict=True))
    return len(lists), _found(lists)


def _tables(values_lists) -> tuple[list, list]:
    """What the loader merges of them (perfmodel.graph): shapes and element types, in order."""
    shapes, elem_types = {}, {}
    for values in values_lists:
        found, found_types = read_types(values)
        shapes.update(found)
        elem_types.update(found_types)
    return list(shapes.items()), list(elem_types.items())


def _outcome(infer):
    try:
        return infer()
    except PerfmodelError as exc:
        return str(exc)


def _blocks(kinds: list[str]):
    """A graph of 4-D blocks, one per kind, on a 1x4x4x4 input: each block reads the previous one's
    output (and an Add reads an earlier block's too), with the constants a real export has: weights
    as initializers, a Reshape target held by a Constant node placed at the start (read pieces
    later), or computed from constants only (a Concat of two initializers)."""
    nodes = [helper.make_node("Constant", [], ["flat_shape"], value=numpy_helper.from_array(
        np.array([1, 64], np.int64)))]
    inits = [ints("back_shape", [1, 4, 4, 4]), ints("one", [1]), ints("sixty_four", [64])]
    x, made = "input", ["input"]
    for k, kind in enumerate(kinds):
        y = f"{kind}{k}"
        if kind == "conv":
            inits.append(tensor(f"w{k}", 4, 4, 1, 1, seed=k))
            nodes.append(helper.make_node("Conv", [x, f"w{k}"], [y], name=y))
        elif kind == "add":
            nodes.append(helper.make_node("Add", [x, made[len(made) // 2]], [y], name=y))
        elif kind == "reshape":  # to 1x64 by the Constant node, back by an initializer
            nodes.append(helper.make_node("Reshape", [x, "flat_shape"], [f"{y}.flat"], name=f"{y}.flat"))
            nodes.append(helper.make_node("Reshape", [f"{y}.flat", "back_shape"], [y], name=y))
        elif kind == "derived":  # a shape computed from constants only, then used
            nodes.append(helper.make_node("Concat", ["one", "sixty_four"], [f"{y}.shape"], name=f"{y}.shape", axis=0))
            nodes.append(helper.make_node("Reshape", [x, f"{y}.shape"], [f"{y}.flat"], name=f"{y}.flat"))
            nodes.append(helper.make_node("Reshape", [f"{y}.flat", "back_shape"], [y], name=y))
        else:
            nodes.append(helper.make_node("Relu", [x], [y], name=y))
        x = y
        made.append(y)
    outputs = [x] + [made[1]] if len(made) > 2 else [x]  # an output made early, declared last
    return model(nodes, [value("input", [1, 4, 4, 4])], [value(o, None) for o in outputs], inits)


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(["conv", "relu", "add", "reshape", "derived"]), min_size=1, max_size=12),
       first=st.integers(1, 4), later=st.integers(1, 6))
def test_random_graphs_infer_alike_in_pieces(kinds, first, later) -> None:
    m = _blocks(kinds)
    whole = _found(inferred_whole(m, strict=True))
    with pytest.MonkeyPatch.context() as monkeypatch:
        count, found = _pieces(m, (first, later), monkeypatch)
    assert found == whole
    if "derived" not in kinds and len(m.graph.node) > first:
        assert count > 2  # cut into pieces (and the outputs), not inferred whole


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "alexnet", "vgg16_bn"])
def test_zoo_models_infer_alike_in_pieces(name: str, monkeypatch) -> None:
    m = models_onnx.build(name, weights="none")
    whole = _found(inferred_whole(m, strict=True))
    for sizes in ((1, 1), (3, 7), (256, 2048)):
        assert _pieces(m, sizes, monkeypatch)[1] == whole, sizes


@pytest.mark.parametrize("path", sorted(DATA.glob("small_*.onnx")), ids=lambda p: p.stem)
def test_real_exports_infer_alike_in_pieces(path: Path, monkeypatch) -> None:
    """Torch exports (Shape chains, Constant nodes, control flow: some are inferred whole)."""
    m = onnx.load(path, load_external_data=False)
    whole = _outcome(lambda: _found(inferred_whole(m, strict=True)))
    for sizes in ((1, 1), (2, 5)):
        assert _outcome(lambda: _pieces(m, sizes, monkeypatch)[1]) == whole, sizes


def test_a_cut_after_a_node_fed_by_constants_only_is_not_made(monkeypatch) -> None:
    """The Concat of two initializers has a value onnx's data propagation knows; the Reshape reading
    it two nodes on must see it, so the piece holding the Concat runs to the end."""
    m = _blocks(["relu", "derived", "relu", "relu", "relu", "relu"])
    count, found = _pieces(m, (1, 1), monkeypatch)
    assert found == _found(inferred_whole(m, strict=True))
    assert count == 4  # the Constant node, the Relu, the rest from the Concat on, then the outputs


def test_a_graph_with_a_shape_is_inferred_whole(monkeypatch) -> None:
    m = _blocks(["relu", "relu"])
    m.graph.node.append(helper.make_node("Shape", ["relu1"], ["s"], name="s"))
    m.graph.output.append(value("s", None, TensorProto.INT64))
    assert _pieces(m, (1, 1), monkeypatch) == (2, _found(inferred_whole(m, strict=True)))


def test_an_invalid_node_gives_the_whole_models_error(monkeypatch) -> None:
    """onnx's strict inference lists every invalid node, and where they have no names the error
    quotes that list (perfmodel.shapes.invalid_model): a piece's would hold only its own."""
    m = _blocks(["relu", "relu", "relu"])
    m.graph.initializer.append(tensor("w", 3, 5))
    m.graph.node.extend([helper.make_node("MatMul", ["relu2", "w"], ["bad1"]),  # inner dims 4 and 3
                         helper.make_node("Relu", ["relu2"], ["fine"]),
                         helper.make_node("MatMul", ["relu1", "w"], ["bad2"])])
    whole = _outcome(lambda: list(inferred_whole(m, strict=True)))
    assert isinstance(whole, str) and whole.count("(op_type:MatMul)") == 2
    assert _outcome(lambda: _pieces(m, (1, 1), monkeypatch)) == whole


def test_a_tensor_read_before_it_is_made_infers_the_whole_model(monkeypatch) -> None:
    """The pieces sent before it are sent again with the whole model's: the tables merged are its."""
    m = _blocks(["relu", "relu", "relu"])
    m.graph.node[1].input[0] = "relu2"  # read two nodes before the node making it
    monkeypatch.setattr(shapes_module, "PIECE_NODES", (1, 1))
    assert _tables(inferred_pieces(m, strict=True)) == _tables(inferred_whole(m, strict=True))
