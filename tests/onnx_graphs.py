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


def _size_of(nodes: list, tensor: str, axis: int, tag: str) -> str:
    """torch legacy export of `tensor.size(axis)`: Shape -> Gather(axis) -> Unsqueeze, as a 1-D int64."""
    nodes += [
        helper.make_node("Shape", [tensor], [f"{tag}_shape"], name=f"/{tag}/Shape"),
        helper.make_node("Constant", [], [f"{tag}_axis"], value=numpy_helper.from_array(np.asarray(axis, np.int64))),
        helper.make_node("Gather", [f"{tag}_shape", f"{tag}_axis"], [f"{tag}_dim"], name=f"/{tag}/Gather", axis=0),
        helper.make_node("Constant", [], [f"{tag}_zero"], value_ints=[0]),
        helper.make_node("Unsqueeze", [f"{tag}_dim", f"{tag}_zero"], [f"{tag}_1d"], name=f"/{tag}/Unsqueeze"),
    ]
    return f"{tag}_1d"


def torch_shuffle_and_windows(blocks: int = 12, c: int = 8, size: int = 8) -> tuple[onnx.ModelProto, int]:
    """What a torch legacy export of a network reading tensor sizes mid-forward looks like, dynamic batch:
    `blocks` x [conv 3x3 -> channel shuffle (ShuffleNet: view(b, g, c/g, h, w).transpose(1, 2).view(b, -1, h, w))
    -> window partition (Swin: view(b, c, h/2, 2, w/2, 2).permute(...).reshape(b, c, h, w))], every shape taken
    from the activation with Shape/Gather/Div/Concat. Returns the model and its MACs at batch 1 by hand:
    blocks x (C x H x W x C x 9)."""
    nodes, inits = [], []
    x = "input"
    for i in range(blocks):
        t = f"b{i}"
        w = tensor(f"{t}.conv.weight", c, c, 3, 3, seed=i)
        inits.append(w)
        nodes.append(helper.make_node("Conv", [x, w.name], [f"{t}_conv"], name=f"/{t}/conv/Conv", pads=[1] * 4))
        x = f"{t}_conv"
        b, ch, h, wd = (_size_of(nodes, x, a, f"{t}_s{a}") for a in range(4))
        nodes += [
            helper.make_node("Constant", [], [f"{t}_g"], value_ints=[2]),
            helper.make_node("Div", [ch, f"{t}_g"], [f"{t}_cg"], name=f"/{t}/Div"),
            helper.make_node("Concat", [b, f"{t}_g", f"{t}_cg", h, wd], [f"{t}_shape5"], name=f"/{t}/Concat", axis=0),
            helper.make_node("Reshape", [x, f"{t}_shape5"], [f"{t}_v5"], name=f"/{t}/Reshape"),
            helper.make_node("Transpose", [f"{t}_v5"], [f"{t}_tr"], name=f"/{t}/Transpose", perm=[0, 2, 1, 3, 4]),
            helper.make_node("Constant", [], [f"{t}_m1"], value_ints=[-1]),
            helper.make_node("Concat", [b, f"{t}_m1", h, wd], [f"{t}_shape4"], name=f"/{t}/Concat_1", axis=0),
            helper.make_node("Reshape", [f"{t}_tr", f"{t}_shape4"], [f"{t}_shuffled"], name=f"/{t}/Reshape_1"),
        ]
        x = f"{t}_shuffled"
        b2, h2, w2 = (_size_of(nodes, x, a, f"{t}_w{a}") for a in (0, 2, 3))
        nodes += [
            helper.make_node("Constant", [], [f"{t}_two"], value_ints=[2]),
            helper.make_node("Div", [h2, f"{t}_two"], [f"{t}_hw"], name=f"/{t}/Div_1"),
            helper.make_node("Div", [w2, f"{t}_two"], [f"{t}_ww"], name=f"/{t}/Div_2"),
            helper.make_node("Constant", [], [f"{t}_c"], value_ints=[c]),
            helper.make_node("Concat", [b2, f"{t}_c", f"{t}_hw", f"{t}_two", f"{t}_ww", f"{t}_two"], [f"{t}_shape6"],
                             name=f"/{t}/Concat_2", axis=0),
            helper.make_node("Reshape", [x, f"{t}_shape6"], [f"{t}_v6"], name=f"/{t}/Reshape_2"),
            helper.make_node("Transpose", [f"{t}_v6"], [f"{t}_win"], name=f"/{t}/Transpose_1", perm=[0, 1, 2, 4, 3, 5]),
            helper.make_node("Concat", [b2, f"{t}_c", h2, w2], [f"{t}_shape_back"], name=f"/{t}/Concat_3", axis=0),
            helper.make_node("Reshape", [f"{t}_win", f"{t}_shape_back"], [f"{t}_out"], name=f"/{t}/Reshape_3"),
        ]
        x = f"{t}_out"
    nodes.append(helper.make_node("Relu", [x], ["output"], name="/relu/Relu"))
    m = model(nodes, [value("input", ["batch_size", c, size, size])], [value("output", ["batch_size", c, size, size])],
              inits, 13)
    return m, blocks * c * size * size * c * 9
