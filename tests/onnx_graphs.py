"""Tiny ONNX graphs for tests, in the shapes real exporters produce (not imported by perfmodel)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def model(nodes, inputs, outputs, initializers=(), opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def tensor(name: str, *shape: int, seed: int = 0) -> TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def ints(name: str, values) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def value(name: str, shape, elem=F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def one_node(op: str, input_shapes, initializers=(), opset: int = 17, n_outputs: int = 1, **attrs):
    """A one-node model: activation inputs x0, x1, ... then the initializers, in that order."""
    names = [f"x{i}" for i in range(len(input_shapes))] + [t.name for t in initializers]
    outs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outs, name=op.lower(), **attrs)
    inputs = [value(n, s) for n, s in zip(names, input_shapes)]
    return model([node], inputs, [value(o, None) for o in outs], initializers, opset)


def torch_legacy_style(batch_dim="batch_size", opset: int = 13) -> onnx.ModelProto:
    """Conv -> Relu -> Flatten via Shape/Gather/Unsqueeze/Concat/Reshape -> Gemm, weights in Constant nodes,
    a dynamic batch axis: the shape of a torch.onnx.export(..., dynamic_axes=...) graph."""
    conv_w = helper.make_node("Constant", [], ["conv.weight"], value=tensor("cw", 8, 3, 3, 3))
    conv_b = helper.make_node("Constant", [], ["conv.bias"], value=tensor("cb", 8))
    nodes = [
        conv_w, conv_b,
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
        helper.make_node("Shape", ["r"], ["s"], name="/Shape"),
        helper.make_node("Constant", [], ["zero"], value_int=0),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="/Gather", axis=0),
        helper.make_node("Constant", [], ["axes"], value_ints=[0]),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="/Unsqueeze"),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", transB=1),
    ]
    inits = [tensor("fc.weight", 10, 8 * 16 * 16), tensor("fc.bias", 10)]
    return model(nodes, [value("input", [batch_dim, 3, 16, 16])], [value("output", [batch_dim, 10])], inits, opset)


def tf2onnx_style() -> onnx.ModelProto:
    """NHWC input transposed to NCHW for a SAME-padded strided conv, and back: tf2onnx's layout."""
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w", "b"], ["c"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Transpose", ["r"], ["output"], name="to_nhwc", perm=[0, 2, 3, 1]),
    ]
    inits = [tensor("w", 16, 3, 3, 3), tensor("b", 16)]
    return model(nodes, [value("input", ["unk__1", 15, 15, 3])], [value("output", None)], inits)
