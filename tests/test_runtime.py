"""perfmodel.runtime: onnxruntime's profiled kernels joined to perfmodel's fused groups."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import helper

from perfmodel.fusion import fuse, group_of_layer
from perfmodel.runtime import join, profile
from perfmodel.walk import analyze_model
from tests.conftest import assert_one_line_error, perfmodel
from tests.onnx_graphs import model, value


def test_join_by_name_suffix_and_upstream() -> None:
    nodes = [("conv1_nchwc", ["x"], ["t0"]), ("ReorderOutput", ["t0"], ["y"]), ("mystery", [], ["z"])]
    groups = {"conv1": "conv1", "bn1": "conv1", "relu": "conv1"}
    where = join({"conv1_nchwc": "Conv", "ReorderOutput": "ReorderOutput", "mystery": "Foo"}, nodes, groups)
    assert where == {"conv1_nchwc": "conv1", "ReorderOutput": "conv1", "mystery": None}


def test_every_kernel_of_resnet18_joins_one_group(tmp_path) -> None:
    import models_onnx

    path = models_onnx.export("resnet18", tmp_path / "r18.onnx")
    groups = fuse(analyze_model("resnet18"))
    measured = profile(path, {"input": (1, 3, 224, 224)}, group_of_layer(groups), runs=2)
    optimized_kernels = len(measured.kernels)
    assert optimized_kernels > 10 and not measured.unmatched
    assert set(measured.group_s) <= {g.name for g in groups.layers}
    assert sum(measured.group_s.values()) == pytest.approx(measured.kernel_sum_s)  # each kernel once
    convs = [g.name for g in groups.layers if g.op_type == "Conv"]
    assert all(name in measured.group_s for name in convs)  # onnxruntime fuses the convs as perfmodel does


def test_validate_runtime_cli(tmp_path) -> None:
    result = perfmodel("validate", "lenet5", "--hw", "a100", "--runtime", "onnxruntime", "--repeats", "2",
                       "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["runtime"] == "onnxruntime" and data["unmatched_kernels"] == [] and data["measured_wall_s"] > 0
    assert {g["group"] for g in data["groups"]} == {g.name for g in fuse(analyze_model("lenet5")).layers}


def test_bad_runtime_and_unloadable_model_are_one_line(tmp_path) -> None:
    assert_one_line_error(perfmodel("validate", "lenet5", "--hw", "a100", "--runtime", "tvm"), "--runtime 'tvm'")
    m = model([helper.make_node("Relu", ["x"], ["a"], name="r"),
               helper.make_node("Fancy", ["a"], ["y"], name="f", domain="com.example")],
              [value("x", [1, 4])], [value("y", [1, 4])])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    path = tmp_path / "custom.onnx"
    onnx.save(m, path)
    result = perfmodel("validate", path, "--hw", "a100", "--runtime", "onnxruntime", "--allow-partial")
    errors = [line for line in result.stderr.splitlines() if line.startswith("perfmodel: error: ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr  # the partial model warns first
    assert len(errors) == 1 and "onnxruntime cannot load" in errors[0]
