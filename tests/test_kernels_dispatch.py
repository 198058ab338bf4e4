"""kernels.dispatch.make_runner on hand-built perfmodel LayerCost records."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from kernels.dispatch import SUPPORTED_OPS, make_runner
from perfmodel.record import LayerCost
from perfmodel.walk import analyze_model
from tests.onnx_graphs import one_node, tensor


def layer(op_type: str, inputs, outputs, activations: int = 1, **attributes) -> LayerCost:
    """The walk's record of a one-node model: the first `activations` inputs are graph inputs, the
    rest initializers (weights), so the record carries the geometry and GEMM dims the walk derives."""
    inits = [tensor(f"w{i}", *shape) for i, shape in enumerate(inputs[activations:], activations)]
    (record,) = analyze_model(one_node(op_type, inputs[:activations], inits, **attributes)).layers
    assert record.output_shapes == tuple(map(tuple, outputs))
    return dataclasses.replace(record, name=f"test_{op_type.lower()}", flops=1000)


CONV = layer("Conv", [(1, 8, 13, 11), (12, 4, 3, 3), (12,)], [(1, 12, 7, 11)], kernel_shape=(3, 3),
             strides=(2, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=2)
DEPTHWISE = layer("Conv", [(2, 6, 9, 9), (6, 1, 3, 3)], [(2, 6, 9, 9)], kernel_shape=(3, 3), strides=(1, 1),
                  pads=(1, 1, 1, 1), dilations=(1, 1), group=6)
FC1 = layer("Gemm", [(1, 300), (40, 300), (40,)], [(1, 40)], alpha=1.0, beta=1.0, transA=0, transB=1)
FC8 = layer("Gemm", [(8, 300), (40, 300), (40,)], [(8, 40)], alpha=1.0, beta=1.0, transA=0, transB=1)
GEMM_NN = layer("Gemm", [(3, 20), (20, 7)], [(3, 7)], alpha=2.0, beta=1.0, transA=0, transB=0)
MATMUL = layer("MatMul", [(5, 16), (16, 9)], [(5, 9)])
MAXPOOL = layer("MaxPool", [(1, 4, 55, 55)], [(1, 4, 27, 27)], kernel_shape=(3, 3), strides=(2, 2),
                pads=(0, 0, 0, 0), dilations=(1, 1), ceil_mode=0, storage_order=0)
AVGPOOL = layer("AveragePool", [(1, 4, 10, 10)], [(1, 4, 5, 5)], kernel_shape=(3, 3), strides=(2, 2),
                pads=(1, 1, 0, 0), ceil_mode=1, count_include_pad=0)
GAP = layer("GlobalAveragePool", [(2, 16, 7, 7)], [(2, 16, 1, 1)])
LRN = layer("LRN", [(1, 16, 13, 13)], [(1, 16, 13, 13)], size=5, alpha=1e-4, beta=0.75, bias=2.0)
RELU = layer("Relu", [(1, 8, 5, 5)], [(1, 8, 5, 5)])
BN = layer("BatchNormalization", [(1, 8, 5, 5), (8,), (8,), (8,), (8,)], [(1, 8, 5, 5)], epsilon=1e-5)
ADD = layer("Add", [(1, 8, 5, 5), (1, 8, 5, 5)], [(1, 8, 5, 5)], activations=2)
LAYERS = [CONV, DEPTHWISE, FC1, FC8, GEMM_NN, MATMUL, MAXPOOL, AVGPOOL, GAP, LRN, RELU, BN, ADD]


def reference(rec: LayerCost, inputs) -> np.ndarray:
    names = [f"i{k}" for k in range(len(inputs))]
    attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in rec.attributes.items()
             if k not in ("storage_order",)}
    node = helper.make_node(rec.op_type, names, ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape)
                                           for n, a in zip(names, inputs)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))[0]


@pytest.mark.parametrize("rec", LAYERS, ids=lambda r: f"{r.op_type}-{r.input_shapes[0]}")
def test_runner_runs_with_the_record_shapes(rec: LayerCost) -> None:
    runner = make_runner(rec)
    runner.out[...] = np.nan
    runner.warmup()
    y = runner()
    assert y is runner.out and y.shape == rec.output_shapes[0] and np.isfinite(y).all()
    assert [a.shape for a in runner.inputs] == [tuple(s) for s in rec.input_shapes]
    assert runner.op_type == rec.op_type and runner.flops == rec.flops and runner.kernel
    if rec.op_type not in ("LRN",):  # onnx.reference's LRN is wrong (tested against the spec elsewhere)
        ref = reference(rec, runner.inputs)
        err = np.linalg.norm(y.astype(np.float64) - ref) / np.linalg.norm(ref)
        assert err < 1e-4


@pytest.mark.parametrize("strategy", ["gemm", "direct", "tuned"])
def test_conv_runner_strategies_agree(strategy: str) -> None:
    base = make_runner(CONV, seed=1, strategy="gemm").warmup()()
    runner = make_runner(CONV, seed=1, strategy=strategy).warmup()
    np.testing.assert_allclose(runner(), base, rtol=1e-4, atol=1e-5)
    assert runner.kernel in ("conv2d[gemm]", "conv2d[direct]")
    if strategy != "tuned":
        assert runner.kernel == f"conv2d[{strategy}]"


def test_batch1_fc_uses_gemv_and_batched_uses_gemm() -> None:
    assert make_runner(FC1).kernel == "gemv"
    assert make_runner(FC8).kernel == "gemm"
    assert make_runner(DEPTHWISE).kernel == "conv2d[direct]"


@pytest.mark.parametrize("rec", [layer("Softmax", [(1, 10)], [(1, 10)]), layer("Flatten", [(1, 2, 3)], [(1, 6)]),
                                 layer("Conv", [(1, 3, 8, 8, 8), (4, 3, 3, 3, 3)], [(1, 4, 6, 6, 6)],
                                       kernel_shape=(3, 3, 3), strides=(1, 1, 1), pads=(0,) * 6,
                                       dilations=(1, 1, 1), group=1)])
def test_unsupported_layers_raise_not_implemented(rec: LayerCost) -> None:
    with pytest.raises(NotImplementedError, match=rec.op_type):
        make_runner(rec)


def test_every_supported_op_has_a_tested_runner() -> None:
    """SUPPORTED_OPS is exactly the ops test_runner_runs_with_the_record_shapes runs against onnx's reference."""
    assert {r.op_type for r in LAYERS} == set(SUPPORTED_OPS)
