"""Fixtures in the style of the older ONNX Model Zoo's Caffe2 conversions (IR 3, opsets 7-9), built with
onnx.helper, and a torch legacy export re-saved as `keep_initializers_as_inputs=True` writes it.

IR 3 requires every initializer to be listed as a graph input; these models do so. Their weights reach
the conv/FC/BN weight slots the ways such conversions do: an initializer, a `ConstantOfShape` of a
constant shape (never materialized by perfmodel), a Transpose/Cast of an initializer; Dropout has its
second (mask) output; the residual add is `Sum`; BatchNormalization carries opset 7's `spatial`.

Run `python tests/old_opset_graphs.py DIR` to write them as .onnx files (e.g. to try the CLI on them).
Each builder returns (model, expected params by layer name, expected MACs by layer name), the expected
figures written out here by the textbook formulas, independently of perfmodel's rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _ir3(graph: onnx.GraphProto, opset: int) -> onnx.ModelProto:
    """IR 3: every initializer also a graph input (with its type and shape)."""
    listed = {i.name for i in graph.input}
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                       for t in graph.initializer if t.name not in listed)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 3
    return model


def _weight(name: str, *shape: int, seed: int = 0) -> TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def _ints(name: str, values) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


class _Net:
    """A tiny graph writer: nodes, initializers, and the constant sub-graphs that make weights."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def init(self, tensor: TensorProto) -> str:
        self.inits.append(tensor)
        return tensor.name

    def filled(self, name: str, shape: tuple[int, ...], value: float = 0.01) -> str:
        """A weight as `ConstantOfShape(shape initializer)`: what a Caffe2 conversion emits for a filled
        tensor. Its elements exist only as a shape."""
        shape_name = self.init(_ints(f"{name}_shape", shape))
        fill = numpy_helper.from_array(np.asarray([value], dtype=np.float32), "value")
        return self.node("ConstantOfShape", [shape_name], [name], f"{name}_fill", value=fill)


def caffe2_alexnet() -> tuple[onnx.ModelProto, dict[str, int], dict[str, int]]:
    """bvlc_alexnet as the old zoo has it: 227x227 input, grouped convs, LRN, two-output Dropout, opset 9.

    Conv and FC weights are ConstantOfShape; fc6's weight is a Transpose of an initializer; biases are
    initializers. Expected params per layer: OC x C/g x k x k + OC (conv), N x K + N (FC).
    """
    n = _Net()
    convs = [  # name, C, OC, k, stride, pad, group, input spatial
        ("conv1", 3, 96, 11, 4, 0, 1, 227), ("conv2", 96, 256, 5, 1, 2, 2, 27), ("conv3", 256, 384, 3, 1, 1, 1, 13),
        ("conv4", 384, 384, 3, 1, 1, 2, 13), ("conv5", 384, 256, 3, 1, 1, 2, 13),
    ]
    params: dict[str, int] = {}
    macs: dict[str, int] = {}
    x = "data_0"
    for name, c, oc, k, s, p, g, size in convs:
        w = n.filled(f"{name}_w_0", (oc, c // g, k, k))
        b = n.init(_weight(f"{name}_b_0", oc))
        x = n.node("Conv", [x, w, b], [f"{name}_1"], name, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=g)
        out = (size + 2 * p - k) // s + 1
        params[name] = oc * (c // g) * k * k + oc
        macs[name] = oc * out * out * (c // g) * k * k
        x = n.node("Relu", [x], [f"{name}_2"], f"{name}_relu")
        if name in ("conv1", "conv2"):
            x = n.node("LRN", [x], [f"{name}_3"], f"{name}_norm", size=5, alpha=1e-4, beta=0.75, bias=1.0)
        if name in ("conv1", "conv2", "conv5"):
            x = n.node("MaxPool", [x], [f"{name}_pool"], f"{name}_pool", kernel_shape=[3, 3], strides=[2, 2])
    x = n.node("Reshape", [x, n.init(_ints("flat_shape", [1, 9216]))], ["flat"], "flatten")
    fc6_stored = n.init(_weight("fc6_w_stored", 9216, 4096))  # stored K x N, transposed into Gemm's N x K
    fc6_w = n.node("Transpose", [fc6_stored], ["fc6_w_0"], "fc6_w_t", perm=[1, 0])
    for name, k_in, n_out, w in (("fc6", 9216, 4096, fc6_w), ("fc7", 4096, 4096, None), ("fc8", 4096, 1000, None)):
        w = w or n.filled(f"{name}_w_0", (n_out, k_in))
        x = n.node("Gemm", [x, w, n.init(_weight(f"{name}_b_0", n_out))], [f"{name}_1"], name, transB=1)
        params[name] = n_out * k_in + n_out
        macs[name] = n_out * k_in
        if name != "fc8":
            x = n.node("Relu", [x], [f"{name}_2"], f"{name}_relu")
            x = n.node("Dropout", [x], [f"{name}_3", f"{name}_mask"], f"{name}_drop", ratio=0.5)
    n.node("Softmax", [x], ["prob_1"], "prob")
    graph = helper.make_graph(n.nodes, "bvlc_alexnet", [helper.make_tensor_value_info("data_0", F, [1, 3, 227, 227])],
                              [helper.make_tensor_value_info("prob_1", F, [1, 1000])], n.inits)
    return _ir3(graph, 9), params, macs


def caffe2_resnet_block(opset: int = 7) -> tuple[onnx.ModelProto, dict[str, int], dict[str, int]]:
    """A ResNet basic block at opset 7 (BatchNormalization with `spatial=1`) or 9 (no `spatial`), the
    residual add as `Sum`.

    Params: conv OC x C x 3 x 3 (no bias, as ResNet); BN scale and bias 2 x C trainable, mean and var
    2 x C non-trainable (reported apart).
    """
    n = _Net()
    c, size = 16, 8
    x = "gpu_0/data_0"
    params, macs = {}, {}
    y = x
    for i in (1, 2):
        w = n.init(_weight(f"conv{i}_w", c, c, 3, 3, seed=i))
        y = n.node("Conv", [y, w], [f"conv{i}"], f"conv{i}", kernel_shape=[3, 3], pads=[1] * 4)
        params[f"conv{i}"] = c * c * 9
        macs[f"conv{i}"] = c * size * size * c * 9
        bn = [n.init(_weight(f"bn{i}_{what}", c, seed=10 * i + j)) for j, what in enumerate(("s", "b", "m"))]
        var = n.init(numpy_helper.from_array(np.ones(c, np.float32), f"bn{i}_v"))
        spatial = {"spatial": 1} if opset < 9 else {}
        y = n.node("BatchNormalization", [y, *bn, var], [f"bn{i}"], f"bn{i}", epsilon=1e-5, **spatial)
        params[f"bn{i}"] = 2 * c
        if i == 1:
            y = n.node("Relu", [y], ["relu1"], "relu1")
    y = n.node("Sum", [y, x], ["sum"], "residual")
    n.node("Relu", [y], ["out"], "relu2")
    graph = helper.make_graph(n.nodes, "caffe2_block", [helper.make_tensor_value_info(x, F, [1, c, size, size])],
                              [helper.make_tensor_value_info("out", F, [1, c, size, size])], n.inits)
    return _ir3(graph, opset), params, macs


def keep_initializers_as_inputs(path: str | Path) -> onnx.ModelProto:
    """A real torch legacy export re-saved the way `torch.onnx.export(..., keep_initializers_as_inputs=True)`
    writes it: every initializer also listed as a graph input (torch could not be installed here to
    export it afresh; the flag changes nothing else in the file)."""
    model = onnx.load(str(path))
    listed = {i.name for i in model.graph.input}
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in model.graph.initializer if t.name not in listed)
    return model


def with_default_input(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """Give graph input `name` a default value (an initializer of the same name): ONNX IR >= 4's
    "input with a default value", which a caller may override at run time."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    value = next(i for i in out.graph.input if i.name == name)
    dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
    out.graph.initializer.append(numpy_helper.from_array(np.zeros(dims, np.float32), name))
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    for builder in (caffe2_alexnet, caffe2_resnet_block):
        model, _, _ = builder()
        onnx.save(model, folder / f"{builder.__name__}.onnx")
        print(f"wrote {folder / builder.__name__}.onnx")
