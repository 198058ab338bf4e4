"""The graph walk against public figures and hand-derived ones.

References: torchvision's model cards (params; its "GFLOPS" column is GMACs, two decimals),
Krizhevsky et al. 2012 via the course homework (60,965,224 params, 659,272 neurons), receptive
fields from the recurrence r' = r + (k-1) j, j' = j s worked by hand in the comments.
"""

from __future__ import annotations

import math

import pytest

from perfmodel.walk import analyze_model

TORCHVISION_PARAMS = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248, "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808, "googlenet": 6_624_904,
}
# torchvision's "GFLOPS" column, which counts multiply-accumulates, rounded to 2 decimals.
TORCHVISION_GMACS = {"alexnet": 0.71, "vgg16": 15.47, "vgg19": 19.63, "resnet18": 1.81, "resnet50": 4.09,
                     "resnet152": 11.51, "googlenet": 1.50}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_params_equal_torchvision(name: str) -> None:
    assert analyze_model(name).params == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_macs_match_torchvision_within_rounding(name: str) -> None:
    cost = analyze_model(name)
    assert round(cost.macs / 1e9, 2) == pytest.approx(TORCHVISION_GMACS[name], abs=0.0051)
    assert cost.flops >= 2 * cost.macs  # FLOPs: 2 per MAC plus element-wise work, never fewer


def test_batchnorm_running_stats_are_non_trainable() -> None:
    cost = analyze_model("resnet18")
    bn_channels = sum(layer.input_shapes[1][0] for layer in cost.layers_of("BatchNormalization"))
    assert cost.non_trainable_params == 2 * bn_channels  # running mean + running var
    assert cost.weight_bytes == 4 * (cost.params + cost.non_trainable_params)


def test_alexnet_original_course_figures() -> None:
    cost = analyze_model("alexnet-original")
    assert cost.params == 60_965_224
    assert cost.neurons == 659_272
    assert cost.neurons + cost.input_elems == 809_800
    # (V - R + 2Z)/S + 1 on 224: conv1 (224-11+4)//4+1 = 55, pool 27, conv2 27, pool 13, conv3-5 13, pool 6
    sizes = [layer.output_shapes[0][2] for layer in cost.layers if layer.op_type in ("Conv", "MaxPool")]
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
    groups = [layer.attributes["group"] for layer in cost.layers_of("Conv")]
    assert groups == [1, 2, 1, 2, 2]


def test_mlp_params() -> None:
    assert analyze_model("mlp").params == 33 * 512 + 512 + 512 * 10 + 10 == 22_538


def test_receptive_fields() -> None:
    # alexnet: conv11/4 -> 11 (j4); pool3/2 -> 19 (j8); conv5 -> 51; pool -> 67 (j16); 3 x conv3 -> 163; pool -> 195
    alexnet = analyze_model("alexnet")
    assert [l.receptive_field for l in alexnet.layers_of("Conv", "MaxPool")] == [11, 19, 51, 67, 99, 131, 163, 195]
    # vgg16 pool5: the widely quoted 212
    vgg = analyze_model("vgg16")
    assert vgg.layers_of("MaxPool")[-1].receptive_field == 212


def test_batch_scales_macs_and_activations_not_params() -> None:
    one, eight = analyze_model("resnet18"), analyze_model("resnet18", batch=8)
    assert eight.macs == 8 * one.macs
    assert eight.activations == 8 * one.activations
    assert eight.params == one.params
    assert eight.inputs["input"] == (8, 3, 224, 224)


def test_dtype_scales_bytes_only() -> None:
    fp32 = analyze_model("vgg11")
    int8 = fp32.with_dtype("int8")
    assert int8.weight_bytes * 4 == fp32.weight_bytes
    assert int8.macs == fp32.macs
    assert all(a.intensity == pytest.approx(4 * b.intensity) for a, b in zip(int8.layers, fp32.layers))
    assert analyze_model("vgg11", dtype="fp16").peak_activation_bytes * 2 == fp32.peak_activation_bytes


def test_layer_bytes_are_operands_read_once() -> None:
    conv = analyze_model("vgg11").layers_of("Conv")[1]  # 64 -> 128 channels, 3x3, on 112x112
    assert conv.weight_elems == 128 * 64 * 9 + 128
    assert conv.input_elems == 64 * 112 * 112
    assert conv.bytes_written == 4 * 128 * 112 * 112
    assert conv.intensity == pytest.approx(conv.flops / (conv.bytes_read + conv.bytes_written))


def test_totals_are_sums_of_layers() -> None:
    cost = analyze_model("googlenet")
    assert cost.macs == sum(l.macs for l in cost.layers)
    assert cost.flops == sum(l.flops for l in cost.layers)
    assert cost.totals()["activations"] == sum(math.prod(s) for l in cost.layers
                                               for s in (l.output_shapes[:1] if l.is_view else l.output_shapes))
