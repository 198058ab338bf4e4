"""One layer from a short text (`fc:M=32,K=256,N=128`, `conv:C=3,H=224,K=64,R=11,S=4,P=2`), costed by
the analyzer: the text becomes a one-node ONNX model run through `perfmodel.walk.analyze_model`, so
the layer's numbers come from the same rules as a whole model's.
"""

from __future__ import annotations

from perfmodel.errors import PerfmodelError
from perfmodel.record import ModelCost

SYNTAX = """\
layer syntax (--layer KIND:KEY=VALUE,...):
  fc:M=32,K=256,N=128            fully connected: (M x K) input times (K x N) weights; M is the batch
                                 (rows), K the inputs, N the outputs. bias=1 adds an N-value bias.
  conv:N=1,C=3,H=224,W=224,K=64,R=11,S=4,P=2,G=1
                                 convolution, NCHW: N batch (default 1), C input channels, H x W input
                                 (W defaults to H), K output channels, R kernel size, S stride
                                 (default 1), P zero padding on each side (default 0), D dilation
                                 (default 1), G groups (default 1), bias=1 adds a bias.
                                 R, S, P, D take one number or HxW (R=3x5).
  Both take an epilogue that --fusion inference fuses into the layer (shown in --program):
  bn=1 a BatchNormalization after it (conv only; folded into the weights), relu=1 a Relu,
  residual=1 an Add of a second tensor of the output's shape (conv only; read from DRAM).
  Keys are case-sensitive; the dtype comes from --dtype."""

MAX_VALUE = 1 << 16
"""Largest number a --layer key takes (65,536): the tiling search stays under a few seconds."""

_FC_KEYS = {"M": None, "K": None, "N": None, "bias": 0, "relu": 0}
_CONV_KEYS = {"N": 1, "C": None, "H": None, "W": None, "K": None, "R": None, "S": 1, "P": 0, "D": 1, "G": 1, "bias": 0,
              "bn": 0, "relu": 0, "residual": 0}
_FLAGS = ("bias", "bn", "relu", "residual")
_PAIRS = ("R", "S", "P", "D")


def _fail(text: str, why: str) -> PerfmodelError:
    return PerfmodelError(f"--layer {text!r}: {why} (e.g. fc:M=32,K=256,N=128 or conv:C=3,H=224,K=64,R=11,S=4,P=2)")


def _number(text: str, key: str, value: str, allow_zero: bool) -> int:
    try:
        n = int(value)
    except ValueError:
        raise _fail(text, f"{key}={value!r} is not an integer") from None
    if n < 0 or (n == 0 and not allow_zero):
        raise _fail(text, f"{key} must be {'>= 0' if allow_zero else 'positive'}, got {n}")
    if n > MAX_VALUE:
        raise _fail(text, f"{key}={n:,} is over {MAX_VALUE:,}: no layer is that large (and the tiling search "
                          f"would take minutes)")
    return n


def parse_layer(text: str) -> tuple[str, dict[str, object]]:
    """'conv:C=3,H=8,K=4,R=3' -> ('conv', {...}) with defaults filled; PerfmodelError on bad input."""
    kind, sep, body = text.partition(":")
    kind = kind.strip().lower()
    known = {"fc": _FC_KEYS, "gemm": _FC_KEYS, "conv": _CONV_KEYS}
    if not sep or kind not in known:
        raise _fail(text, "expected fc:... or conv:...")
    keys = known[kind]
    given: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in keys:
            raise _fail(text, f"unknown key {key!r} for {kind}; keys: {', '.join(keys)}")
        if key in given:
            raise _fail(text, f"{key} given twice")
        given[key] = value.strip()
    values: dict[str, object] = {}
    for key, default in keys.items():
        if key not in given:
            if default is None and not (key == "W" and "H" in given):
                raise _fail(text, f"missing {key}")
            values[key] = default
            continue
        zero_ok = key == "P" or key in _FLAGS
        if key in _PAIRS and kind == "conv":
            parts = given[key].split("x")
            if len(parts) > 2:
                raise _fail(text, f"{key}={given[key]!r}: give one number or HxW")
            values[key] = tuple(_number(text, key, p, zero_ok) for p in parts)
        else:
            values[key] = _number(text, key, given[key], zero_ok)
    if kind == "conv":
        if values["W"] is None:
            values["W"] = values["H"]
        for key in _PAIRS:
            pair = values[key] if isinstance(values[key], tuple) else (values[key],)
            values[key] = pair * 2 if len(pair) == 1 else pair
        for key in ("C", "K"):
            if values[key] % values["G"]:
                raise _fail(text, f"{key}={values[key]} is not divisible by the groups G={values['G']}")
        for axis, size in enumerate((values["H"], values["W"])):
            span = values["D"][axis] * (values["R"][axis] - 1) + 1
            if size + 2 * values["P"][axis] < span:
                raise _fail(text, f"the kernel ({span} wide with dilation) is larger than the padded input")
    return ("fc" if kind == "gemm" else kind), values


def layer_cost(text: str, dtype: str = "fp32") -> ModelCost:
    """A one-layer ModelCost for `text`, from the analyzer."""
    from onnx import TensorProto, helper

    from perfmodel.walk import analyze_model

    kind, v = parse_layer(text)
    fp = TensorProto.FLOAT

    def weight(name: str, dims) -> TensorProto:  # dims and type only: no data is ever needed
        return TensorProto(name=name, data_type=fp, dims=list(dims))

    if kind == "fc":
        inits = [weight("W", (v["K"], v["N"]))] + ([weight("B", (v["N"],))] if v["bias"] else [])
        node = helper.make_node("Gemm", ["X", *(t.name for t in inits)], ["Y"], name="fc")
        x_shape = [v["M"], v["K"]]
    else:
        (rh, rw) = v["R"]
        inits = [weight("W", (v["K"], v["C"] // v["G"], rh, rw))] + ([weight("B", (v["K"],))] if v["bias"] else [])
        node = helper.make_node("Conv", ["X", *(t.name for t in inits)], ["Y"], name="conv", kernel_shape=[rh, rw],
                                strides=list(v["S"]), pads=list(v["P"]) * 2, dilations=list(v["D"]), group=v["G"])
        x_shape = [v["N"], v["C"], v["H"], v["W"]]
    nodes, inputs, y = [node], [helper.make_tensor_value_info("X", fp, x_shape)], "Y"
    if v.get("bn"):
        inits += [weight(f"bn_{p}", (v["K"],)) for p in ("scale", "bias", "mean", "var")]
        nodes.append(helper.make_node("BatchNormalization", [y] + [f"bn_{p}" for p in ("scale", "bias", "mean", "var")],
                                      ["Y_bn"], name="bn"))
        y = "Y_bn"
    if v.get("residual"):
        oh = (v["H"] + 2 * v["P"][0] - v["D"][0] * (v["R"][0] - 1) - 1) // v["S"][0] + 1
        ow = (v["W"] + 2 * v["P"][1] - v["D"][1] * (v["R"][1] - 1) - 1) // v["S"][1] + 1
        inputs.append(helper.make_tensor_value_info("shortcut", fp, [v["N"], v["K"], oh, ow]))
        nodes.append(helper.make_node("Add", [y, "shortcut"], ["Y_add"], name="residual"))
        y = "Y_add"
    if v.get("relu"):
        nodes.append(helper.make_node("Relu", [y], ["Y_relu"], name="relu"))
        y = "Y_relu"
    graph = helper.make_graph(nodes, kind, inputs, [helper.make_tensor_value_info(y, fp, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return analyze_model(model, dtype=dtype, name=text)
