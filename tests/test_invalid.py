"""Invalid models are errors naming the node, its op and the rule it breaks (exit 2), never numbers.

Each case breaks one rule of the ONNX operator spec; "invalid" is told apart from "no cost rule"
(an unknown op is a partial result, exit 3, tested in test_cli.py).
"""

from __future__ import annotations

import onnx
import pytest
from onnx import helper

from tests.conftest import assert_one_line_error, perfmodel
from tests.onnx_graphs import ints, model, one_node, tensor, value

CASES = {
    "group does not divide channels": (one_node("Conv", [(1, 6, 8, 8)], [tensor("W", 4, 3, 3, 3)], group=4),
                                       "input channels 6 != weight's 3 per group x group 4"),
    "group does not divide outputs": (one_node("Conv", [(1, 6, 8, 8)], [tensor("W", 4, 2, 3, 3)], group=3),
                                      "group 3 does not divide the output channels 4"),
    "kernel_shape vs weight": (one_node("Conv", [(1, 3, 8, 8)], [tensor("W", 4, 3, 3, 3)], kernel_shape=[5, 5]),
                               "kernel_shape [5, 5] disagrees"),
    "conv bias": (one_node("Conv", [(1, 3, 8, 8)], [tensor("W", 4, 3, 3, 3), tensor("B", 5)]), "bias shape [5]"),
    "pool output 0x0": (one_node("MaxPool", [(1, 3, 2, 2)], kernel_shape=[3, 3]), "is empty"),
    "kernel larger than padded input": (one_node("Conv", [(1, 3, 2, 2)], [tensor("W", 4, 3, 3, 3)]), "is empty"),
    "reshape element count": (one_node("Reshape", [(2, 6)], [ints("s", [5, 3])]), "15 elements"),
    "gemm bias broadcast": (one_node("Gemm", [(2, 3)], [tensor("W", 3, 4), tensor("B", 3)]), "does not broadcast"),
    "stride 0": (one_node("Conv", [(1, 3, 8, 8)], [tensor("W", 4, 3, 3, 3)], strides=[0, 1]), "strides"),
    "dilation 0": (one_node("Conv", [(1, 3, 8, 8)], [tensor("W", 4, 3, 3, 3)], dilations=[0, 1]), "dilations"),
    "negative pads": (one_node("Conv", [(1, 3, 8, 8)], [tensor("W", 4, 3, 3, 3)], pads=[-1, 0, 0, 0]), "pads"),
    "gemm inner dims": (one_node("Gemm", [(2, 3)], [tensor("W", 5, 4)]), "Dimension mismatch"),
    "matmul inner dims": (one_node("MatMul", [(2, 3), (5, 4)]), "Incompatible dimensions"),
    "concat axis": (one_node("Concat", [(2, 3), (2, 3)], axis=3), "axis"),
    "LRN without size": (one_node("LRN", [(1, 8, 5, 5)]), "required attribute 'size'"),
    "duplicated output": (model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                                 helper.make_node("Relu", ["x"], ["y"], name="b")],
                                [value("x", [1, 4])], [value("y", None)]), "assigned once"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_model_is_a_one_line_error_naming_the_node(case: str, tmp_path) -> None:
    m, fragment = CASES[case]
    path = tmp_path / "bad.onnx"
    onnx.save(m, path)
    result = perfmodel("analyze", path)
    assert result.returncode == 2
    assert_one_line_error(result, "invalid model: node '", fragment)
