"""Weights that are not plain initializers (perfmodel.graph, perfmodel.shapes.derived_is_param).

Fixtures: tests/old_opset_graphs.py (Caffe2-style IR 3 conversions, expected params and MACs per layer
written there by the textbook formulas) and the real torch exports of tests/data re-saved with every
initializer listed as an input (torch's own counts: 21,914 params, 288 BatchNorm buffers, 9,011,840 MACs
at batch 2, from tests/data/export_small_torch.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfmodel.walk import analyze_model
from tests.conftest import perfmodel
from tests.old_opset_graphs import caffe2_alexnet, caffe2_resnet_block, keep_initializers_as_inputs, with_default_input

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("builder", [caffe2_alexnet, caffe2_resnet_block, lambda: caffe2_resnet_block(opset=9)])
def test_caffe2_style_params_and_macs_per_layer(builder) -> None:
    model, params, macs = builder()
    cost = analyze_model(model)
    assert all(layer.supported for layer in cost.layers) and cost.unsupported_ops == ()
    by_name = {layer.name: layer for layer in cost.layers}
    assert {name: by_name[name].params for name in params} == params
    assert {name: by_name[name].macs for name in macs} == macs
    assert cost.params == sum(params.values()) and cost.macs == sum(macs.values())


def test_caffe2_alexnet_is_the_two_gpu_alexnet() -> None:
    cost = analyze_model(caffe2_alexnet()[0])
    assert cost.params == 60_965_224  # Krizhevsky et al. 2012, the public figure
    # weight storage follows the element width: every parameter once, fp32
    assert cost.weight_bytes == 4 * 60_965_224


def test_two_output_dropout_and_sum_are_costed() -> None:
    cost = analyze_model(caffe2_alexnet()[0])
    drops = cost.layers_of("Dropout")
    assert len(drops) == 2 and all(d.supported and d.output_shapes == ((1, 4096),) for d in drops)
    block = analyze_model(caffe2_resnet_block()[0])
    (residual,) = block.layers_of("Sum")
    assert residual.supported and residual.flops == 16 * 8 * 8  # one add per output element
    assert block.non_trainable_params == 2 * 2 * 16  # two BatchNorms' running mean and var


@pytest.mark.parametrize("name", ["small_legacy_op13.onnx", "small_legacy_op17.onnx", "small_dynamo.onnx"])
def test_initializers_listed_as_inputs_are_parameters(name: str) -> None:
    cost = analyze_model(keep_initializers_as_inputs(DATA / name), batch=2)
    assert (cost.params, cost.non_trainable_params, cost.macs) == (21_914, 288, 9_011_840)
    assert list(cost.inputs) == ["input"]


def test_an_input_with_a_default_value_is_a_runtime_input() -> None:
    model, params, macs = caffe2_resnet_block()
    cost = analyze_model(with_default_input(model, "gpu_0/data_0"))
    assert cost.inputs == {"gpu_0/data_0": (1, 16, 8, 8)}
    assert cost.macs == sum(macs.values()) and cost.params == sum(params.values())
    assert [layer.name for layer in cost.layers_of("Conv")] == ["conv1", "conv2"]  # nothing folded away


def test_a_huge_constant_weight_is_never_materialized(tmp_path) -> None:
    """A Gemm whose 10,000 x 10,000 weight is a ConstantOfShape: 100 M elements, 400 MB if built.
    Analysis must use no more memory than a small model's (peak RSS of the whole process)."""
    code = r"""
import resource, sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
from perfmodel.walk import analyze_model
n = int(sys.argv[1])
fill = numpy_helper.from_array(np.asarray([0.5], np.float32), "value")
nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"], value=fill),
         helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray([n, n], np.int64), "wshape")])
cost = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
assert cost.params == n * n and cost.macs == n * n, (cost.params, cost.macs)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
    rss = {}
    for n in (100, 10_000):
        result = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        rss[n] = int(result.stdout.split()[-1])
    assert rss[10_000] - rss[100] < 40, rss  # MiB: 100 M fp32 elements would add 381 MiB


def test_cli_on_written_fixtures(tmp_path) -> None:
    subprocess.run([sys.executable, str(Path(__file__).parent / "old_opset_graphs.py"), str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    result = perfmodel("analyze", tmp_path / "caffe2_alexnet.onnx", "--format", "json")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    assert '"params": 60965224' in result.stdout
