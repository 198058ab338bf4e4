"""Tests for the models_onnx zoo: structure, parameter counts, validity, numerics.

Parameter counts are computed here by summing initializer sizes (independent
of perfmodel's analyzer); numerics of the small nets are checked against a
plain numpy forward pass.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import onnx
import pytest
from onnx import numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

import models_onnx

# Published figures: every float initializer except BatchNorm running mean/var.
EXPECTED_PARAMS = {
    "alexnet": 61_100_840,
    "alexnet-original": 60_965_224,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "googlenet": 6_624_904,
    "lenet5": 61_706,
    "mlp": 22_538,
}
NUM_CLASSES = {n: 10 if n in ("lenet5", "mlp") else 1000 for n in EXPECTED_PARAMS}
# Random/zeros builds that take well under a second each (VGG/AlexNet copy >0.5 GB).
CHEAP = ["lenet5", "mlp", "googlenet", "resnet18", "resnet34", "resnet50"]


@functools.lru_cache(maxsize=None)
def built(name: str, weights: str = "none", batch: int | str = 1) -> onnx.ModelProto:
    """Tests must not mutate the returned proto (shared between tests)."""
    return models_onnx.build(name, weights=weights, batch=batch)


def param_count(model: onnx.ModelProto) -> int:
    return sum(
        int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and not t.name.endswith((".running_mean", ".running_var"))
    )


def dims(vi: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]


def weights_of(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def sample_input(name: str, batch: int = 1, seed: int = 0) -> np.ndarray:
    shape = (batch, *models_onnx.INPUT_SHAPES[name][1:])
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------- zoo API
def test_names_sorted_and_complete() -> None:
    assert models_onnx.names() == sorted(EXPECTED_PARAMS)
    assert set(models_onnx.INPUT_SHAPES) == set(EXPECTED_PARAMS)
    assert models_onnx.INPUT_SHAPES["lenet5"] == (1, 1, 28, 28)
    assert models_onnx.INPUT_SHAPES["mlp"] == (1, 33)
    assert models_onnx.input_shape("resnet18", "N") == ("N", 3, 224, 224)


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(KeyError) as info:
        models_onnx.build("resnet9000")
    assert "resnet18" in str(info.value) and "lenet5" in str(info.value)
    assert isinstance(info.value, models_onnx.UnknownModel)


def test_bad_weights_mode() -> None:
    with pytest.raises(ValueError):
        models_onnx.build("mlp", weights="pretrained")


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_param_count(name: str) -> None:
    assert param_count(built(name)) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_graph_conventions(name: str) -> None:
    model = built(name)
    graph = model.graph
    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert dims(graph.input[0]) == list(models_onnx.INPUT_SHAPES[name])
    # no data in "none" mode, but dims and dtype present
    assert all(not t.raw_data and not t.float_data and t.data_type == onnx.TensorProto.FLOAT
               for t in graph.initializer)
    # topological order, unique node names, no Dropout (eval mode)
    known = {"input"} | {t.name for t in graph.initializer}
    for node in graph.node:
        assert all(i in known for i in node.input), (node.name, list(node.input))
        known.update(node.output)
    assert len({n.name for n in graph.node}) == len(graph.node)
    assert "Dropout" not in {n.op_type for n in graph.node}
    for node in graph.node:
        if node.op_type == "Gemm":
            assert {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}["transB"] == 1


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_strict_shape_inference(name: str) -> None:
    inferred = shape_inference.infer_shapes(built(name), strict_mode=True)
    assert dims(inferred.graph.output[0]) == [1, NUM_CLASSES[name]]


def test_torchvision_state_dict_names() -> None:
    def inits(n: str) -> set[str]:
        return {t.name for t in built(n).graph.initializer}

    assert {"features.0.weight", "features.10.bias", "classifier.1.weight", "classifier.6.bias"} <= inits("alexnet")
    assert {"features.0.weight", "features.1.running_var", "classifier.0.weight"} <= inits("vgg11_bn")
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn1.running_mean",
            "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "fc.weight"} <= inits("resnet18")
    assert "layer1.0.downsample.0.weight" not in inits("resnet18")
    assert {"layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.bias"} <= inits("resnet50")
    assert {"conv1.conv.weight", "conv1.bn.running_var", "inception3a.branch2.1.conv.weight",
            "inception5b.branch4.1.bn.weight", "fc.bias"} <= inits("googlenet")
    assert not any(n.startswith("aux") for n in inits("googlenet"))


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def test_batchnorm_epsilon_and_googlenet_layout() -> None:
    eps = {n: {round(_attrs(x)["epsilon"], 9) for x in built(n).graph.node if x.op_type == "BatchNormalization"}
           for n in ("googlenet", "resnet50", "vgg16_bn")}
    assert eps == {"googlenet": {0.001}, "resnet50": {1e-5}, "vgg16_bn": {1e-5}}
    g = built("googlenet").graph
    pools = [x for x in g.node if x.op_type == "MaxPool"]
    assert len(pools) == 4 + 9 and all(_attrs(p)["ceil_mode"] == 1 for p in pools)
    conv = {x.name: _attrs(x) for x in g.node if x.op_type == "Conv"}
    assert conv["inception3a.branch3.1.conv"]["kernel_shape"] == [3, 3]  # torchvision's "5x5" branch
    assert g.node[-3].op_type == "GlobalAveragePool" and g.node[-1].op_type == "Gemm"
    assert sum(x.op_type == "Add" for x in built("resnet152").graph.node) == 3 + 8 + 36 + 3


# ----------------------------------------------------------------------------- AlexNet (original)
def test_alexnet_original_layer_sizes() -> None:
    """Each conv/pool output follows (V - R + 2Z)/S + 1; conv/FC outputs sum to 659,272."""
    model = shape_inference.infer_shapes(built("alexnet-original"), strict_mode=True)
    shapes = {vi.name: dims(vi) for vi in [*model.graph.value_info, *model.graph.output]}
    v = 224
    sizes: list[int] = []
    out_elems = 0
    for node in model.graph.node:
        out = shapes[node.output[0]]
        if node.op_type in ("Conv", "MaxPool"):
            a = _attrs(node)
            r, s, z = a["kernel_shape"][0], a["strides"][0], a["pads"][0]
            v = (v - r + 2 * z) // s + 1
            assert out[2:] == [v, v], node.name
            sizes.append(v)
        if node.op_type in ("Conv", "Gemm"):
            out_elems += int(np.prod(out))
        if node.op_type == "LRN":
            assert _attrs(node) == {"size": 5, "alpha": pytest.approx(1e-4), "beta": 0.75, "bias": 2.0}
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
    assert out_elems == 659_272
    groups = [_attrs(n)["group"] for n in model.graph.node if n.op_type == "Conv"]
    assert groups == [1, 2, 1, 2, 2]


# ----------------------------------------------------------------------------- checker / weights
@pytest.mark.parametrize("weights", ["random", "zeros"])
@pytest.mark.parametrize("name", CHEAP)
def test_checker_full(name: str, weights: str) -> None:
    model = built(name, weights)
    onnx.checker.check_model(model, full_check=True)
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    assert dims(inferred.graph.output[0]) == [1, NUM_CLASSES[name]]
    assert param_count(model) == EXPECTED_PARAMS[name]


def test_checker_full_alexnet_original() -> None:
    onnx.checker.check_model(built("alexnet-original", "random"), full_check=True)


def test_random_weights_statistics() -> None:
    w = weights_of(built("resnet18", "random"))
    assert all(a.dtype == np.float32 for a in w.values())
    assert all((a > 0).all() for k, a in w.items() if k.endswith("running_var"))
    conv = w["layer3.0.conv1.weight"]  # fan_in = 128 * 3 * 3
    assert conv.std() == pytest.approx(np.sqrt(2 / (128 * 9)), rel=0.05)
    again = weights_of(models_onnx.build("resnet18", weights="random"))
    np.testing.assert_array_equal(again["fc.weight"], w["fc.weight"])  # seeded
    assert not weights_of(built("mlp", "zeros"))["0.weight"].any()


# ----------------------------------------------------------------------------- numerics
def np_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = h - k + 1, wd - k + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out + b[None, :, None, None]


def np_maxpool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def np_lenet5(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    x = np_maxpool2(relu(np_conv(x, p["features.0.weight"], p["features.0.bias"], 2)))
    x = np_maxpool2(relu(np_conv(x, p["features.3.weight"], p["features.3.bias"], 0)))
    x = x.reshape(len(x), -1)
    x = relu(x @ p["classifier.0.weight"].T + p["classifier.0.bias"])
    x = relu(x @ p["classifier.2.weight"].T + p["classifier.2.bias"])
    return x @ p["classifier.4.weight"].T + p["classifier.4.bias"]


def np_mlp(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    h = 1 / (1 + np.exp(-(x @ p["0.weight"].T + p["0.bias"])))
    return h @ p["2.weight"].T + p["2.bias"]


@pytest.mark.parametrize(("name", "reference"), [("lenet5", np_lenet5), ("mlp", np_mlp)])
@pytest.mark.parametrize("batch", [1, 3])
def test_small_nets_match_numpy(name: str, reference, batch: int) -> None:
    model = built(name, "random", batch)
    x = sample_input(name, batch)
    (y,) = ReferenceEvaluator(model).run(None, {"input": x})
    assert y.shape == (batch, 10) and np.isfinite(y).all()
    expected = reference(x.astype(np.float64), {k: v.astype(np.float64) for k, v in weights_of(model).items()})
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["alexnet-original", "resnet18"])
def test_reference_evaluator_runs(name: str) -> None:
    model = built(name, "random")
    start = time.perf_counter()
    (y,) = ReferenceEvaluator(model).run(None, {"input": sample_input(name)})
    assert y.shape == (1, 1000) and np.isfinite(y).all() and y.std() > 0
    assert time.perf_counter() - start < 30


def test_googlenet_runs_in_onnxruntime() -> None:
    """onnx's ReferenceEvaluator (1.23) mis-sizes MaxPool(3, s1, p1, ceil_mode),
    so GoogLeNet's numerics are checked with onnxruntime instead."""
    ort = pytest.importorskip("onnxruntime")
    model = built("googlenet", "random")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"input": sample_input("googlenet")})
    assert y.shape == (1, 1000) and np.isfinite(y).all()


# ----------------------------------------------------------------------------- symbolic batch
@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_symbolic_batch(name: str) -> None:
    model = built(name, "none", "N")
    assert dims(model.graph.input[0])[0] == "N"
    assert dims(model.graph.output[0]) == ["N", NUM_CLASSES[name]]
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    assert dims(inferred.graph.output[0]) == ["N", NUM_CLASSES[name]]


def test_symbolic_batch_runs() -> None:
    model = built("lenet5", "random", "N")
    onnx.checker.check_model(model, full_check=True)
    (y,) = ReferenceEvaluator(model).run(None, {"input": sample_input("lenet5", batch=5)})
    assert y.shape == (5, 10)


# ----------------------------------------------------------------------------- export
def _run_both(path) -> tuple[np.ndarray, np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    x = sample_input("lenet5", batch=2, seed=1)
    (ref,) = ReferenceEvaluator(onnx.load(str(path))).run(None, {"input": x})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": x})
    return ref, got


def test_export_round_trip(tmp_path) -> None:
    path = models_onnx.export("lenet5", tmp_path / "lenet5.onnx", batch="N")
    assert path == tmp_path / "lenet5.onnx" and path.exists()
    assert not (tmp_path / "lenet5.onnx.data").exists()
    onnx.checker.check_model(str(path), full_check=True)
    loaded = onnx.load(str(path))
    assert param_count(loaded) == EXPECTED_PARAMS["lenet5"]
    ref, got = _run_both(path)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_export_external_data(tmp_path) -> None:
    path = models_onnx.export("lenet5", tmp_path / "sub" / "m.onnx", weights="random", batch=2,
                              external_data=True)
    data = tmp_path / "sub" / "m.onnx.data"
    assert data.exists() and data.stat().st_size >= 4 * 61_000
    assert path.stat().st_size < 10_000
    onnx.checker.check_model(str(path))
    ref, got = _run_both(path)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    inline = ReferenceEvaluator(models_onnx.build("lenet5", "random", 2)).run(
        None, {"input": sample_input("lenet5", batch=2, seed=1)})[0]
    np.testing.assert_allclose(ref, inline, rtol=1e-6, atol=1e-6)


def test_export_refuses_dataless(tmp_path) -> None:
    with pytest.raises(ValueError):
        models_onnx.export("mlp", tmp_path / "mlp.onnx", weights="none")
