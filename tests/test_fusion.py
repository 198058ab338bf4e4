"""perfmodel.fusion: groups, their boundary traffic, and what roofline and accelerator make of them.

Expected figures are derived by hand in each test (element counts x 4 bytes, fp32).
"""

from __future__ import annotations

import pytest
from onnx import helper

from perfmodel.accel import simulate
from perfmodel.fusion import fuse
from perfmodel.hardware import load_spec
from perfmodel.roofline import predict
from perfmodel.walk import analyze_model
from tests.onnx_graphs import model, tensor, value


def conv_bn_relu(bias: bool = False):
    """x 1x8x16x16 -> Conv 3x3 pad 1 (16 out) -> BatchNorm -> Relu."""
    w = [tensor("w", 16, 8, 3, 3)] + ([tensor("b", 16)] if bias else [])
    bn = [tensor(n, 16, seed=i) for i, n in enumerate(("s", "sh", "m"))] + [tensor("v", 16, seed=9)]
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["c"], name="conv", pads=[1] * 4),
             helper.make_node("BatchNormalization", ["c", "s", "sh", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    return model(nodes, [value("x", [1, 8, 16, 16])], [value("y", None)], w + bn)


def lone_conv(bias: bool):
    w = [tensor("w", 16, 8, 3, 3)] + ([tensor("b", 16)] if bias else [])
    node = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], name="conv", pads=[1] * 4)
    return model([node], [value("x", [1, 8, 16, 16])], [value("y", None)], w)


def test_conv_bn_relu_is_one_group_with_hand_counted_bytes() -> None:
    cost = analyze_model(conv_bn_relu())
    (group,) = fuse(cost).layers
    assert group.members == ("conv", "bn", "relu") and group.op_label == "Conv+BatchNormalization+Relu"
    # in: x 8*16*16 = 2048; weights 16*8*9 = 1152 plus the folded BN shift as a bias of 16; out 16*256 = 4096
    assert (group.input_elems, group.weight_elems, group.output_elems) == (2048, 1168, 4096)
    assert group.bytes_total == 4 * (2048 + 1168 + 4096) == 29_248
    macs = 16 * 256 * 8 * 9
    assert group.macs == macs and group.flops == 2 * macs + 2 * 4096 + 4096  # conv, BN, Relu: summed
    assert group.epilogue_flops == 4096 and group.epilogue_input_elems == 0  # BN folded, Relu in the epilogue
    assert (group.params, group.non_trainable_params) == (1152 + 32, 32)  # what the model holds is unchanged
    # unfused: conv (2048 + 1152 + 4096), BN (4096 + 64 + 4096), Relu (4096 + 4096) elements
    assert sum(layer.bytes_total for layer in cost.layers) == 4 * (7296 + 8256 + 8192)


def test_conv_bn_relu_on_the_roofline_by_hand() -> None:
    npu = load_spec("seed-npu")  # 512 GFLOP/s, 64 GB/s
    flops = 2 * 16 * 256 * 72 + 3 * 4096
    fused = predict(fuse(analyze_model(conv_bn_relu())), npu)
    assert fused.total_s == pytest.approx(max(flops / 512e9, 29_248 / 64e9))  # 1.176 us, compute-bound
    unfused = predict(analyze_model(conv_bn_relu()), npu)
    expected = (max(2 * 16 * 256 * 72 / 512e9, 4 * 7296 / 64e9) + max(8192 / 512e9, 4 * 8256 / 64e9)
                + max(4096 / 512e9, 4 * 8192 / 64e9))
    assert unfused.total_s == pytest.approx(expected)


def test_conv_bn_relu_on_seed_npu_is_the_conv_with_a_bias_plus_an_overlapped_epilogue() -> None:
    """The group's GEMM is the conv's with the folded bias: the same tiling and DRAM bytes as a
    conv-with-bias alone. Its Relu runs on 16 vector lanes, 4096 / 16 = 256 cycles, overlapped."""
    npu = load_spec("seed-npu")
    (group,) = simulate(fuse(analyze_model(conv_bn_relu())), npu).layers
    (alone,) = simulate(analyze_model(lone_conv(bias=True)), npu).layers
    assert group.traffic == alone.traffic and group.vector_cycles == 256
    assert group.compute_cycles == max(alone.compute_cycles, 256)
    assert group.time_s == pytest.approx(alone.time_s) and group.fused_ops == ("Conv", "BatchNormalization", "Relu")


def bottleneck():
    """A ResNet bottleneck on x 1x16x8x8: 1x1 conv (4) -> BN -> Relu -> 3x3 conv (4) -> BN -> Relu
    -> 1x1 conv (16) -> BN -> Add(x) -> Relu."""
    nodes, inits = [], []
    y = "x"
    for i, (out, k) in enumerate(((4, 1), (4, 3), (16, 1)), 1):
        cin = 16 if i == 1 else 4
        inits.append(tensor(f"w{i}", out, cin, k, k, seed=i))
        inits += [tensor(f"bn{i}_{j}", out, seed=10 * i + j) for j in range(4)]
        nodes.append(helper.make_node("Conv", [y, f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[k // 2] * 4))
        nodes.append(helper.make_node("BatchNormalization", [f"c{i}"] + [f"bn{i}_{j}" for j in range(4)],
                                      [f"n{i}"], name=f"bn{i}"))
        y = f"n{i}"
        if i < 3:
            nodes.append(helper.make_node("Relu", [y], [f"r{i}"], name=f"relu{i}"))
            y = f"r{i}"
    nodes += [helper.make_node("Add", [y, "x"], ["sum"], name="add"),
              helper.make_node("Relu", ["sum"], ["out"], name="relu3")]
    return model(nodes, [value("x", [1, 16, 8, 8])], [value("out", None)], inits)


def test_bottleneck_groups_and_the_residual_read() -> None:
    cost = analyze_model(bottleneck())
    groups = fuse(cost).layers
    assert [g.members for g in groups] == [("conv1", "bn1", "relu1"), ("conv2", "bn2", "relu2"),
                                          ("conv3", "bn3", "add", "relu3")]
    last = groups[2]
    # in: conv2's output 4*64 = 256 plus the residual x 16*64 = 1024; weights 16*4 + bias 16; out 1024
    assert (last.input_elems, last.epilogue_input_elems, last.weight_elems, last.output_elems) == (1280, 1024, 80, 1024)
    assert last.epilogue_flops == 1024 + 1024  # Add and Relu; BN folded
    a100 = load_spec("a100")  # 19.5 TFLOP/s, 1555 GB/s
    time = predict(fuse(cost), a100).layers[2].time_s
    assert time == pytest.approx(max(last.flops / 19.5e12, 4 * (1280 + 80 + 1024) / 1555e9))
    npu = load_spec("seed-npu")
    result = simulate(fuse(cost), npu).layers[2]
    conv3_alone = simulate(analyze_model(_conv3_with_bias()), npu).layers[0]
    assert result.traffic.input == conv3_alone.traffic.input + 4 * 1024  # the residual operand is fetched
    assert result.traffic.weight == conv3_alone.traffic.weight and result.vector_cycles == 2048 // 16


def _conv3_with_bias():
    node = helper.make_node("Conv", ["x", "w3", "b"], ["y"], name="conv3")
    return model([node], [value("x", [1, 4, 8, 8])], [value("y", None)], [tensor("w3", 16, 4, 1, 1), tensor("b", 16)])


def test_an_intermediate_read_twice_ends_the_group() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "c"], ["y"], name="add")]  # c is read by relu and add
    cost = analyze_model(model(nodes, [value("x", [1, 4, 8, 8])], [value("y", None)], [tensor("w", 4, 4, 1, 1)]))
    assert [g.members for g in fuse(cost).layers] == [("conv",), ("relu", "add")]


@pytest.mark.parametrize("name", ["alexnet", "vgg16_bn", "resnet50", "googlenet", "alexnet-original", "mlp"])
def test_fusion_keeps_the_work_and_never_adds_traffic(name: str) -> None:
    cost = analyze_model(name)
    fused = fuse(cost)
    assert (fused.macs, fused.flops, fused.params, fused.non_trainable_params) == \
        (cost.macs, cost.flops, cost.params, cost.non_trainable_params)
    assert sorted(m for g in fused.layers for m in g.members) == sorted(layer.name for layer in cost.layers)
    assert sum(g.bytes_total for g in fused.layers) <= sum(layer.bytes_total for layer in cost.layers)


@pytest.mark.parametrize("hw", ["a100", "seed-npu", "tpu-v1"])
def test_policy_none_reproduces_the_unfused_figures(hw: str) -> None:
    spec = load_spec(hw)
    cost = analyze_model("resnet18")
    none = fuse(cost, "none")
    assert none.layers == cost.layers
    if spec.accelerator is None:
        assert predict(none, spec).total_s == predict(cost, spec).total_s
    else:
        assert simulate(none, spec).time_s == simulate(cost, spec).time_s


def test_fused_resnet50_on_a100() -> None:
    """The issue's figure: unfused, BatchNorm, Relu and Add take about a quarter of the A100 roofline time."""
    cost = analyze_model("resnet50")
    a100 = load_spec("a100")
    unfused, fused = predict(cost, a100), predict(fuse(cost), a100)
    assert 0.2 < unfused.share_outside_mac < 0.3 and fused.share_outside_mac < 0.02
    assert fused.total_s < unfused.total_s


def test_an_element_wise_chain_is_one_pass_and_a_per_channel_mul_folds() -> None:
    """Rule 3: BatchNorm + Relu after a MaxPool (DenseNet's pre-activation) is one pass: it reads the
    pool's output once (4*8*8 = 256) and writes once. Rule 1: a Mul by a per-channel constant after a
    conv folds into it (a scale goes into the weights: no bias is added, no weight traffic of its own)."""
    bn = [tensor(n, 4, seed=i) for i, n in enumerate(("s", "b", "m"))] + [tensor("v", 4, seed=7)]
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["p", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w"], ["c"], name="conv"),
             helper.make_node("Mul", ["c", "scale"], ["y"], name="scale")]
    inits = bn + [tensor("w", 4, 4, 1, 1), tensor("scale", 1, 4, 1, 1)]
    cost = analyze_model(model(nodes, [value("x", [1, 4, 16, 16])], [value("y", None)], inits))
    groups = fuse(cost).layers
    assert [g.members for g in groups] == [("pool",), ("bn", "relu"), ("conv", "scale")]
    chain, conv = groups[1], groups[2]
    assert (chain.input_elems, chain.output_elems, chain.weight_elems) == (256, 256, 16)
    assert conv.folded == ("scale",) and conv.weight_elems == 16 and conv.epilogue_flops == 0
