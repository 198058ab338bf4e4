"""perfmodel.runtime: onnxruntime's profiled kernels joined to perfmodel's fused groups."""

from __future__ import annotations

import json

import numpy as np

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


def test_join_by_output_tensor_name_and_downstream() -> None:
    """onnxruntime names a rewritten node after its output tensor when the node had no name (torch's
    legacy exports: `/features.0/Conv_output_0_nchwc`); an input reorder joins the group it feeds."""
    from perfmodel.record import LayerCost, ModelCost
    from perfmodel.runtime import names_of_groups

    conv = LayerCost("/f0/Conv", "Conv", ((1, 3, 8, 8),), ((1, 4, 8, 8),), output_names=("/f0/Conv_output_0",))
    relu = LayerCost("/f0/Relu", "Relu", ((1, 4, 8, 8),), ((1, 4, 8, 8),), output_names=("/f0/Relu_output_0",))
    cost = ModelCost("m", {}, (conv, relu))
    names = names_of_groups(cost, fuse(cost, "none"))
    nodes = [("ReorderInput", ["x"], ["x_nchwc"]), ("/f0/Conv_output_0_nchwc", ["x_nchwc"], ["c"]),
             ("/f0/Relu", ["c"], ["y"])]
    where = join({"ReorderInput": "ReorderInput", "/f0/Conv_output_0_nchwc": "Conv", "/f0/Relu": "Relu"}, nodes,
                 names)
    assert where == {"ReorderInput": "/f0/Conv", "/f0/Conv_output_0_nchwc": "/f0/Conv", "/f0/Relu": "/f0/Relu"}


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


def test_efficiency_fit_recovers_known_coefficients() -> None:
    """Synthetic timings from known coefficients, conv n x 20 us + 1.5 F/P + 0.8 B/W (chains of n = 1..4
    groups), other 5 us + 0 + 2 B/W, some microbenchmarks mixing both: the joint non-negative fit on
    relative error returns them, the fixed cost per group, not per microbenchmark."""
    from perfmodel.calibrate.runtime import Sample, Term, fit

    rng = np.random.default_rng(0)
    conv, other = (20e-6, 1.5, 0.8), (5e-6, 0.0, 2.0)
    samples = []
    for i in range(12):
        c, m, n = rng.uniform(1e-5, 1e-3), rng.uniform(1e-5, 1e-3), 1 + i % 4
        terms = [{"conv": Term(n, c, m)}, {"other": Term(1, c / 100, m)},
                 {"conv": Term(n, c, m), "other": Term(2, c / 50, m / 3)}][i % 3]
        coef = {"conv": conv, "other": other}
        t = sum(k * t.kernels + a * t.compute_s + b * t.memory_s for name, t in terms.items()
                for k, a, b in [coef[name]])
        samples.append(Sample(f"s{i}", t, terms))
    eff = fit(samples)
    assert eff["conv"].fixed_us == pytest.approx(20, rel=1e-3)
    assert (eff["conv"].compute_scale, eff["conv"].memory_scale) == pytest.approx((1.5, 0.8), rel=1e-3)
    assert eff["other"].fixed_us == pytest.approx(5, rel=1e-3) and eff["other"].memory_scale == pytest.approx(2.0)
    assert eff["other"].compute_scale == pytest.approx(0.0, abs=1e-3)
    assert eff["depthwise"] == eff["other"]  # a class without samples borrows 'other'
    assert all(s.predicted(eff) == pytest.approx(s.measured_s, rel=1e-3) for s in samples)


def test_a_calibrated_spec_round_trips_and_times_by_class() -> None:
    """[efficiency] read, written back equal, and used: a conv group's time is fixed + a F/P + b M, M its
    activations' bytes / W plus the weights' bytes / W beyond the time it computes (streamed meanwhile),
    the roofline bound kept beside it."""
    from perfmodel.hardware import spec_from_toml, spec_to_toml
    from perfmodel.hardware.spec import EFFICIENCY_CLASSES
    from perfmodel.roofline import predict

    text = ('name = "x"\ndescription = "d"\nsource = "s"\nmem_bandwidth_GBps = 10\n[peak_GFLOPS]\nfp32 = 100\n'
            + "".join(f"[efficiency.{c}]\nfixed_us = 10\ncompute_scale = 2\nmemory_scale = 0.5\n"
                      for c in EFFICIENCY_CLASSES))
    spec = spec_from_toml(text)
    assert spec_from_toml(spec_to_toml(spec), default_name="x") == spec
    cost = fuse(analyze_model("lenet5"))
    p = predict(cost, spec)
    conv = p.layers[0]
    w = 10e9  # no cache levels in this spec: every operand at memory bandwidth
    g = conv.layer
    near = (g.input_bytes + g.bytes_written) / w + max(0.0, g.weight_bytes_read / w - g.flops / 100e9)
    assert conv.time_s == pytest.approx(10e-6 + 2 * conv.compute_s + 0.5 * near)
    assert conv.bound_s == max(conv.compute_s, conv.memory_s) and p.calibrated
    assert p.bound_s == pytest.approx(sum(lp.bound_s for lp in p.layers if lp.known))
