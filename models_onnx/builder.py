"""A small ONNX graph builder shaped after PyTorch's legacy exporter (eval mode).

Why: no pretrained weights can be downloaded, so the reference networks are
built here node by node. Each builder method plays the part of one torch
module: it appends the node(s) that ``torch.onnx.export`` would emit, creates
the initializers under torchvision's ``state_dict`` names, and returns the
name of the output tensor so family modules read like torchvision's
``forward`` methods.

BatchNormalization is kept as its own node (the exporter would normally fold
it into the conv) so the parameter count of the graph matches torchvision.
Dropout is omitted because the models are exported in eval mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
#: onnx 1.15+ writes IR 9/10 by default; IR 8 keeps older onnxruntime builds happy.
IR_VERSION = 8
WEIGHT_MODES = ("none", "random", "zeros")
INPUT_NAME = "input"
OUTPUT_NAME = "output"

Dim = int | str
IntOrPair = int | tuple[int, int]


def _pair(v: IntOrPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: how to build it and what it consumes/produces.

    ``input_shape`` and ``output_shape`` exclude the batch dimension.
    ``forward`` receives the builder and the input tensor name and returns
    the name of the final tensor.
    """

    forward: Callable[["GraphBuilder", str], str]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    doc: str = ""


class GraphBuilder:
    """Accumulates nodes and initializers in topological order.

    ``weights`` selects what the initializers carry: ``"none"`` gives dims and
    data type only (tiny protos, fine for shape inference and analysis, but
    not for ``onnx.checker`` or execution), ``"random"`` gives seeded He-scaled
    normal data, ``"zeros"`` gives all-zero data.
    """

    def __init__(self, name: str, weights: str = "none", seed: int = 0) -> None:
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {weights!r}")
        self.name = name
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._rng = np.random.default_rng(seed)
        self._used_names: set[str] = {INPUT_NAME, OUTPUT_NAME}

    # ------------------------------------------------------------------ helpers
    def _unique(self, name: str) -> str:
        """torch reuses modules (e.g. ``relu`` twice per ResNet block); ONNX
        node and tensor names must stay unique, so suffix repeats."""
        candidate, i = name, 0
        while candidate in self._used_names:
            i += 1
            candidate = f"{name}_{i}"
        self._used_names.add(candidate)
        return candidate

    def _node(self, op: str, inputs: Sequence[str], name: str, **attrs: object) -> str:
        node_name = self._unique(name)
        self.nodes.append(helper.make_node(op, list(inputs), [node_name], name=node_name, **attrs))
        return node_name

    def _param(self, name: str, shape: Sequence[int], kind: str, fan_in: int = 1, gain: float = 1.0) -> str:
        """Create a float32 initializer; ``kind`` picks the random distribution."""
        if name in self._used_names:
            raise ValueError(f"duplicate parameter name {name!r}")
        self._used_names.add(name)
        dims = [int(d) for d in shape]
        if self.weights == "none":
            self.initializers.append(TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims))
            return name
        if self.weights == "zeros":
            data = np.zeros(dims, dtype=np.float32)
        else:
            data = self._random(dims, kind, fan_in)
            if gain != 1.0:
                data *= np.float32(gain)
        self.initializers.append(numpy_helper.from_array(data, name))
        return name

    def _random(self, dims: list[int], kind: str, fan_in: int) -> np.ndarray:
        rng = self._rng
        if kind == "weight":  # He (Kaiming) normal: keeps ReLU activations O(1)
            return rng.standard_normal(dims, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_in))
        if kind == "bias":
            return rng.standard_normal(dims, dtype=np.float32) * np.float32(0.05)
        if kind == "bn_scale":
            return 1.0 + rng.standard_normal(dims, dtype=np.float32) * np.float32(0.1)
        if kind == "bn_var":  # strictly positive
            return rng.uniform(0.5, 1.5, dims).astype(np.float32)
        if kind == "bn_shift":  # BN bias and running mean
            return rng.standard_normal(dims, dtype=np.float32) * np.float32(0.1)
        raise ValueError(f"unknown parameter kind {kind!r}")

    # ------------------------------------------------------------------ layers
    def conv(
        self,
        x: str,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        groups: int = 1,
        bias: bool = True,
    ) -> str:
        """``nn.Conv2d``: weight (O, I/groups, kH, kW), optional bias (O)."""
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: channels {in_channels}->{out_channels} not divisible by groups={groups}")
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        ph, pw = _pair(padding)
        cin_g = in_channels // groups
        inputs = [x, self._param(f"{name}.weight", (out_channels, cin_g, kh, kw), "weight", cin_g * kh * kw)]
        if bias:
            inputs.append(self._param(f"{name}.bias", (out_channels,), "bias"))
        return self._node(
            "Conv", inputs, name,
            dilations=[1, 1], group=groups, kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[sh, sw],
        )

    def batchnorm(
        self, x: str, name: str, channels: int, eps: float = 1e-5, momentum: float = 0.1, gain: float = 1.0
    ) -> str:
        """``nn.BatchNorm2d`` in eval mode (torch exports momentum as 1 - m).

        ``gain`` scales the random ``weight`` (gamma) only; residual nets pass a
        small value on a block's last BN (cf. torchvision's zero_init_residual)
        so random-weight activations do not double at every Add.
        """
        c = (channels,)
        inputs = [
            x,
            self._param(f"{name}.weight", c, "bn_scale", gain=gain),
            self._param(f"{name}.bias", c, "bn_shift"),
            self._param(f"{name}.running_mean", c, "bn_shift"),
            self._param(f"{name}.running_var", c, "bn_var"),
        ]
        return self._node("BatchNormalization", inputs, name, epsilon=eps, momentum=1.0 - momentum)

    def gemm(self, x: str, name: str, in_features: int, out_features: int, bias: bool = True) -> str:
        """``nn.Linear`` -> Gemm(transB=1) with weight (out, in) as torch stores it."""
        inputs = [x, self._param(f"{name}.weight", (out_features, in_features), "weight", in_features)]
        if bias:
            inputs.append(self._param(f"{name}.bias", (out_features,), "bias"))
        return self._node("Gemm", inputs, name, alpha=1.0, beta=1.0, transB=1)

    def relu(self, x: str, name: str) -> str:
        return self._node("Relu", [x], name)

    def sigmoid(self, x: str, name: str) -> str:
        return self._node("Sigmoid", [x], name)

    def softmax(self, x: str, name: str, axis: int = 1) -> str:
        return self._node("Softmax", [x], name, axis=axis)

    def maxpool(
        self, x: str, name: str, kernel: IntOrPair, stride: IntOrPair | None = None,
        padding: IntOrPair = 0, ceil_mode: bool = False,
    ) -> str:
        """``nn.MaxPool2d``; stride defaults to the kernel like torch."""
        kh, kw = _pair(kernel)
        sh, sw = _pair(kernel if stride is None else stride)
        ph, pw = _pair(padding)
        return self._node(
            "MaxPool", [x], name,
            ceil_mode=int(ceil_mode), kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[sh, sw],
        )

    def avgpool(
        self, x: str, name: str, kernel: IntOrPair, stride: IntOrPair | None = None,
        padding: IntOrPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
    ) -> str:
        """``nn.AvgPool2d`` (torch's default counts padding in the divisor)."""
        kh, kw = _pair(kernel)
        sh, sw = _pair(kernel if stride is None else stride)
        ph, pw = _pair(padding)
        return self._node(
            "AveragePool", [x], name,
            ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad),
            kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[sh, sw],
        )

    def global_avgpool(self, x: str, name: str) -> str:
        """``nn.AdaptiveAvgPool2d((1, 1))`` exports as GlobalAveragePool."""
        return self._node("GlobalAveragePool", [x], name)

    def lrn(self, x: str, name: str, size: int, alpha: float, beta: float, bias: float) -> str:
        """ONNX LRN (like torch/Caffe, ONNX divides ``alpha`` by ``size``)."""
        return self._node("LRN", [x], name, size=size, alpha=alpha, beta=beta, bias=bias)

    def flatten(self, x: str, name: str, axis: int = 1) -> str:
        """``torch.flatten(x, 1)`` exports as Flatten(axis=1)."""
        return self._node("Flatten", [x], name, axis=axis)

    def add(self, a: str, b: str, name: str) -> str:
        return self._node("Add", [a, b], name)

    def concat(self, inputs: Sequence[str], name: str, axis: int = 1) -> str:
        return self._node("Concat", list(inputs), name, axis=axis)

    # ------------------------------------------------------------------ output
    def to_model(
        self, output: str, input_shape: Sequence[Dim], output_shape: Sequence[Dim], doc: str = ""
    ) -> onnx.ModelProto:
        """Rename ``output`` to "output", declare I/O and wrap into a ModelProto."""
        producer = next((n for n in self.nodes if output in n.output), None)
        if producer is None:
            raise ValueError(f"{output!r} is not produced by any node")
        producer.output[list(producer.output).index(output)] = OUTPUT_NAME
        for node in self.nodes:  # a final tensor normally has no consumer; be safe anyway
            for i, name in enumerate(node.input):
                if name == output:
                    node.input[i] = OUTPUT_NAME
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(input_shape))],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, list(output_shape))],
            self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            ir_version=IR_VERSION,
            producer_name="perfmodel.models_onnx",
            doc_string=doc,
        )
        return model


# ---------------------------------------------------------------------------
# nn.Sequential stand-ins: AlexNet, VGG and LeNet are plain stacks whose
# state_dict names are "<prefix>.<index>.weight", so one table per network
# plus ``sequential`` reproduces both the layout and the names.


@dataclass(frozen=True)
class Conv:
    out_channels: int
    kernel: IntOrPair
    stride: IntOrPair = 1
    padding: IntOrPair = 0
    groups: int = 1
    bias: bool = True


@dataclass(frozen=True)
class BatchNorm:
    eps: float = 1e-5


@dataclass(frozen=True)
class ReLU:
    pass


@dataclass(frozen=True)
class Sigmoid:
    pass


@dataclass(frozen=True)
class LRN:
    size: int
    alpha: float
    beta: float
    bias: float


@dataclass(frozen=True)
class MaxPool:
    kernel: IntOrPair
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    ceil_mode: bool = False


@dataclass(frozen=True)
class Dropout:
    """Takes an index in the Sequential but exports as nothing (eval mode)."""


@dataclass(frozen=True)
class Linear:
    out_features: int
    bias: bool = True


Layer = Conv | BatchNorm | ReLU | Sigmoid | LRN | MaxPool | Dropout | Linear


def sequential(g: GraphBuilder, x: str, prefix: str, layers: Sequence[Layer], channels: int) -> tuple[str, int]:
    """Apply ``layers`` as ``nn.Sequential`` named ``prefix`` would.

    ``channels`` is the incoming channel count (or feature count for Linear);
    returns the output tensor and the outgoing channel/feature count.
    """
    for i, layer in enumerate(layers):
        name = f"{prefix}.{i}" if prefix else str(i)
        match layer:
            case Conv():
                x = g.conv(x, name, channels, layer.out_channels, layer.kernel, layer.stride,
                           layer.padding, layer.groups, layer.bias)
                channels = layer.out_channels
            case BatchNorm():
                x = g.batchnorm(x, name, channels, layer.eps)
            case ReLU():
                x = g.relu(x, name)
            case Sigmoid():
                x = g.sigmoid(x, name)
            case LRN():
                x = g.lrn(x, name, layer.size, layer.alpha, layer.beta, layer.bias)
            case MaxPool():
                x = g.maxpool(x, name, layer.kernel, layer.stride, layer.padding, layer.ceil_mode)
            case Dropout():
                pass
            case Linear():
                x = g.gemm(x, name, channels, layer.out_features, layer.bias)
                channels = layer.out_features
            case _:
                raise TypeError(f"unsupported layer {layer!r}")
    return x, channels
