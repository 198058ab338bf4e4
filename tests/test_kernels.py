"""Numba kernels (kernels/) against onnx.reference on one-node ONNX models.

Every output buffer is poisoned with NaN before the run, so an element a kernel forgets to write
fails the comparison. Errors are norm-based (||y - ref|| / ||ref||), which is robust to the
cancellation that makes element-wise relative errors flaky in fp32.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from kernels import conv, elementwise, gemm, norm, pool, preprocess

RTOL = 1e-4


# ----------------------------------------------------------------------------- helpers
def onnx_run(op_type: str, inputs: dict[str, np.ndarray], opset: int = 19, engine: str = "reference",
             **attrs) -> np.ndarray:
    """Run one ONNX node through onnx.reference (or onnxruntime); inputs in ONNX order (names are free)."""
    node = helper.make_node(op_type, list(inputs), ["y"], **attrs)
    graph = helper.make_graph(
        [node], "one_node",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if engine == "onnxruntime":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, inputs)[0]
    return ReferenceEvaluator(model).run(None, inputs)[0]


def rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    diff = np.asarray(y, np.float64) - ref
    return float(np.linalg.norm(diff) / max(np.linalg.norm(ref), 1e-30))


def assert_close(y: np.ndarray, ref: np.ndarray, rtol: float = RTOL) -> None:
    assert y.shape == ref.shape, (y.shape, ref.shape)
    assert np.isfinite(y).all(), "kernel left unwritten (NaN) or non-finite elements"
    err = rel_err(y, ref)
    assert err < rtol, f"relative error {err:.2e} >= {rtol:.0e}"


def poisoned(shape) -> np.ndarray:
    return np.full(shape, np.nan, np.float32)


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


# ----------------------------------------------------------------------------- conv
# (N, C, H, W, M, kH, kW, strides, pads [t, l, b, r], dilations, group, bias)
CONV_CASES = [
    (1, 3, 11, 13, 8, 3, 3, (1, 1), (1, 0, 2, 1), (1, 1), 1, True),      # odd sizes, asymmetric pads
    (2, 6, 9, 10, 4, 3, 2, (2, 1), (0, 1, 1, 0), (2, 1), 2, False),      # batch 2, groups, dilation
    (1, 8, 12, 12, 8, 3, 3, (1, 2), (1, 1, 1, 1), (1, 1), 8, True),      # depthwise
    (1, 5, 7, 7, 7, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),        # 1x1, C % 8 != 0
    (2, 16, 9, 7, 12, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),      # 1x1 pointwise fast path
    (1, 16, 9, 9, 10, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1, False),     # 1x1 stride 2
    (1, 3, 20, 20, 10, 5, 7, (3, 2), (2, 3, 1, 0), (1, 2), 1, True),     # K = 105, odd everything
    (3, 4, 8, 9, 6, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 2, True),        # batch 3, big pads, dilation 2
    (1, 3, 31, 29, 16, 11, 11, (4, 4), (2, 2, 2, 2), (1, 1), 1, True),   # AlexNet conv1-like
    (1, 12, 5, 5, 9, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 3, False),      # 3 groups, M/g = 3 (ragged tiles)
    (1, 40, 6, 6, 20, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1, True),      # K = 360
    (1, 1300, 3, 3, 6, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),     # K > one k-block
]


def conv_ref(x, w, b, strides, pads, dilations, group):
    inputs = {"x": x, "w": w} | ({"b": b} if b is not None else {})
    return onnx_run("Conv", inputs, strides=list(strides), pads=list(pads), dilations=list(dilations), group=group)


@pytest.mark.parametrize("strategy", conv.STRATEGIES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-g{c[10]}")
def test_conv_matches_onnx(case, strategy: str) -> None:
    n, c, h, w_, m, kh, kw, strides, pads, dil, group, has_bias = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rand(rng, n, c, h, w_)
    w = rand(rng, m, c // group, kh, kw)
    b = rand(rng, m) if has_bias else None
    plan = conv.Conv2d(x.shape, w, b, strides, pads, dil, group, strategy)
    out = poisoned(plan.geo.out_shape)
    plan(x, out)
    assert_close(out, conv_ref(x, w, b, strides, pads, dil, group))
    out2 = poisoned(plan.geo.out_shape)
    plan(x, out2)  # the plan's workspaces are reused: a second run gives the same answer
    np.testing.assert_array_equal(out, out2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_conv_random_shapes(data) -> None:
    d = data.draw
    group = d(st.sampled_from([1, 1, 2, 3]))
    cg, mg = d(st.integers(1, 6)), d(st.integers(1, 7))
    kh, kw = d(st.integers(1, 4)), d(st.integers(1, 4))
    dh, dw = d(st.integers(1, 2)), d(st.integers(1, 2))
    pads = tuple(d(st.integers(0, 2)) for _ in range(4))
    h = d(st.integers(max(1, dh * (kh - 1) + 1 - pads[0] - pads[2]), 12))
    w_ = d(st.integers(max(1, dw * (kw - 1) + 1 - pads[1] - pads[3]), 12))
    strides = (d(st.integers(1, 3)), d(st.integers(1, 3)))
    n = d(st.integers(1, 2))
    seed = d(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    x = rand(rng, n, cg * group, h, w_)
    w = rand(rng, mg * group, cg, kh, kw)
    b = rand(rng, mg * group) if d(st.booleans()) else None
    ref = conv_ref(x, w, b, strides, pads, (dh, dw), group)
    for strategy in conv.STRATEGIES:
        plan = conv.Conv2d(x.shape, w, b, strides, pads, (dh, dw), group, strategy)
        out = poisoned(plan.geo.out_shape)
        assert_close(plan(x, out), ref)


def test_conv_strategies_agree_and_autotune_caches() -> None:
    rng = np.random.default_rng(3)
    x = rand(rng, 1, 16, 14, 14)
    w = rand(rng, 24, 16, 3, 3)
    b = rand(rng, 24)
    plan = conv.Conv2d(x.shape, w, b, (1, 1), (1, 1, 1, 1))
    results = {s: plan(x, poisoned(plan.geo.out_shape), strategy=s) for s in conv.STRATEGIES}
    assert rel_err(results["gemm"], results["direct"]) < RTOL
    chosen = plan.autotune(x, repeats=1)
    assert chosen in conv.STRATEGIES and conv.Conv2d.tuned[plan.geo.key()] == chosen
    assert conv.Conv2d(x.shape, w, b, (1, 1), (1, 1, 1, 1)).strategy == chosen  # cached per shape
    assert rel_err(conv.conv2d(x, w, b, pads=(1, 1, 1, 1)), results["gemm"]) < RTOL


def test_conv_heuristic_and_errors() -> None:
    depthwise = conv.ConvGeometry.from_onnx((1, 32, 56, 56), (32, 1, 3, 3), pads=(1, 1, 1, 1), group=32)
    dense = conv.ConvGeometry.from_onnx((1, 64, 56, 56), (64, 64, 3, 3), pads=(1, 1, 1, 1))
    assert conv.heuristic_strategy(depthwise) == "direct"
    assert conv.heuristic_strategy(dense) == "gemm"
    assert conv.conv_output_shape((2, 3, 224, 224), (64, 3, 11, 11), (4, 4), (2, 2, 2, 2)) == (2, 64, 55, 55)
    with pytest.raises(ValueError, match="group"):
        conv.ConvGeometry.from_onnx((1, 6, 8, 8), (4, 4, 3, 3), group=2)
    with pytest.raises(ValueError, match="strategy"):
        conv.Conv2d((1, 3, 8, 8), np.zeros((4, 3, 3, 3), np.float32), strategy="winograd")


# ----------------------------------------------------------------------------- FC / GEMM
@pytest.mark.parametrize("batch,k,n_out", [(1, 1000, 37), (1, 9, 5), (2, 300, 13), (3, 77, 8), (5, 129, 11),
                                           (64, 700, 66), (17, 1500, 130)])
def test_fully_connected_matches_onnx_gemm(batch: int, k: int, n_out: int) -> None:
    rng = np.random.default_rng(batch * 1000 + k)
    x, w, b = rand(rng, batch, k), rand(rng, n_out, k), rand(rng, n_out)
    out = poisoned((batch, n_out))
    gemm.fully_connected(x, w, b, out)
    assert_close(out, onnx_run("Gemm", {"a": x, "b": w, "c": b}, transB=1))


@pytest.mark.parametrize("bias_shape", [None, (1, 9), (4, 9), (4, 1), ()])
@pytest.mark.parametrize("batch", [1, 4])
def test_gemm_alpha_beta_and_bias_shapes(bias_shape, batch: int) -> None:
    rng = np.random.default_rng(7)
    x, w = rand(rng, batch, 33), rand(rng, 9, 33)
    if bias_shape is not None and bias_shape[:1] == (4,):
        bias_shape = (batch,) + bias_shape[1:]
    c = None if bias_shape is None else rng.standard_normal(bias_shape).astype(np.float32)
    out = poisoned((batch, 9))
    gemm.fully_connected(x, w, c, out, alpha=0.5, beta=2.0)
    inputs = {"a": x, "b": w} | ({"c": c} if c is not None else {})
    assert_close(out, onnx_run("Gemm", inputs, transB=1, alpha=0.5, beta=2.0))


def test_gemm_nt_and_gemv_against_numpy() -> None:
    rng = np.random.default_rng(11)
    for m, k, n in [(1, 1, 1), (4, 8, 2), (9, 17, 7), (70, 1300, 67)]:
        a, b = rand(rng, m, k), rand(rng, n, k)
        out = poisoned((m, n))
        assert_close(gemm.gemm_nt(a, b, out), a.astype(np.float64) @ b.T.astype(np.float64))
    w, x = rand(rng, 10, 50), rand(rng, 50)
    assert_close(gemm.gemv(w, x), w.astype(np.float64) @ x)


# ----------------------------------------------------------------------------- pooling
# (N, C, H, W, kernel, strides, pads, dilations, ceil_mode)
POOL_CASES = [
    (1, 3, 11, 11, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1), 0),
    (2, 2, 10, 9, (3, 2), (2, 2), (1, 0, 1, 1), (1, 1), 1),
    (1, 4, 13, 12, (3, 3), (2, 3), (1, 1, 0, 0), (1, 1), 1),
    (1, 2, 8, 8, (2, 2), (1, 1), (0, 1, 1, 0), (2, 1), 0),
    (1, 2, 7, 7, (7, 7), (1, 1), (0, 0, 0, 0), (1, 1), 0),
    (1, 2, 6, 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_onnx(case) -> None:
    n, c, h, w, k, s, p, d, ceil = case
    x = rand(np.random.default_rng(h * w), n, c, h, w)
    out = poisoned(pool.pool_output_shape(x.shape, k, s, p, d, bool(ceil)))
    pool.max_pool2d(x, k, s, p, d, bool(ceil), out)
    ref = onnx_run("MaxPool", {"x": x}, kernel_shape=list(k), strides=list(s), pads=list(p), dilations=list(d),
                   ceil_mode=ceil)
    assert_close(out, ref)


def ceil_mode_extra_pad(length: int, k: int, s: int, pad_begin: int, pad_end: int, ceil: int) -> int:
    """Padding ceil_mode adds past pad_end (onnx.reference splits it over both ends when >= 2,
    shifting every window, where onnxruntime and PyTorch keep windows in place)."""
    out = pool.pool_output_size(length, k, s, pad_begin, pad_end, 1, bool(ceil))
    return (out - 1) * s + k - length - pad_begin - pad_end


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("case", [c for c in POOL_CASES if c[7] == (1, 1)])
def test_avg_pool_matches_onnx(case, count_include_pad: int) -> None:
    n, c, h, w, k, s, p, d, ceil = case
    x = rand(np.random.default_rng(h * w + 1), n, c, h, w)
    out = poisoned(pool.pool_output_shape(x.shape, k, s, p, d, bool(ceil)))
    pool.avg_pool2d(x, k, s, p, None, bool(ceil), bool(count_include_pad), out)
    quirk = max(ceil_mode_extra_pad(h, k[0], s[0], p[0], p[2], ceil), ceil_mode_extra_pad(w, k[1], s[1], p[1], p[3], ceil))
    ref = onnx_run("AveragePool", {"x": x}, engine="onnxruntime" if quirk >= 2 else "reference",
                   kernel_shape=list(k), strides=list(s), pads=list(p), ceil_mode=ceil,
                   count_include_pad=count_include_pad)
    assert_close(out, ref)


def test_global_avg_pool_matches_onnx() -> None:
    x = rand(np.random.default_rng(5), 2, 5, 7, 3)
    out = poisoned((2, 5, 1, 1))
    assert_close(pool.global_avg_pool(x, out), onnx_run("GlobalAveragePool", {"x": x}))


# ----------------------------------------------------------------------------- norm, element-wise
def test_batch_norm_matches_onnx_and_folds_into_conv() -> None:
    rng = np.random.default_rng(9)
    x = rand(rng, 2, 6, 5, 7)
    scale, bias, mean = rand(rng, 6), rand(rng, 6), rand(rng, 6)
    var = rng.uniform(0.2, 2.0, 6).astype(np.float32)
    out = poisoned(x.shape)
    norm.batch_norm(x, scale, bias, mean, var, 1e-3, out)
    assert_close(out, onnx_run("BatchNormalization", {"x": x, "s": scale, "b": bias, "m": mean, "v": var},
                               epsilon=1e-3))
    w, cb = rand(rng, 6, 6, 3, 3), rand(rng, 6)
    folded_w, folded_b = norm.fold_batch_norm(w, cb, scale, bias, mean, var, 1e-3)
    y = conv.conv2d(x, w, cb, pads=(1, 1, 1, 1))
    expected = norm.batch_norm(y, scale, bias, mean, var, 1e-3)
    assert_close(conv.conv2d(x, folded_w, folded_b, pads=(1, 1, 1, 1)), expected)


def lrn_spec(x: np.ndarray, size: int, alpha: float, beta: float, bias: float) -> np.ndarray:
    """The ONNX LRN formula in float64 numpy (window [c - floor((size-1)/2), c + ceil((size-1)/2)])."""
    x64 = x.astype(np.float64)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.zeros_like(x64)
    for c in range(x.shape[1]):
        sq[:, c] = (x64[:, max(0, c - lo):c + hi + 1] ** 2).sum(axis=1)
    return x64 / (bias + alpha / size * sq) ** beta


@pytest.mark.parametrize("size,alpha,beta,bias", [(5, 1e-4, 0.75, 2.0), (3, 0.01, 0.5, 1.0), (4, 0.1, 0.9, 1.5),
                                                  (1, 0.2, 0.75, 1.0)])
def test_lrn_matches_onnx(size: int, alpha: float, beta: float, bias: float) -> None:
    # onnx.reference's LRN loops over the batch axis instead of the channels (onnx 1.23), so the
    # check is against the spec formula and onnxruntime.
    x = rand(np.random.default_rng(size), 2, 7, 5, 6) * np.float32(3.0)
    out = poisoned(x.shape)
    norm.lrn(x, size, alpha, beta, bias, out)
    assert_close(out, lrn_spec(x, size, alpha, beta, bias))
    if size % 2:  # onnxruntime accepts odd sizes only
        assert_close(out, onnx_run("LRN", {"x": x}, engine="onnxruntime", size=size, alpha=alpha, beta=beta,
                                   bias=bias))


def test_relu_and_add_match_onnx() -> None:
    rng = np.random.default_rng(13)
    x, y = rand(rng, 2, 3, 37, 41), rand(rng, 2, 3, 37, 41)
    out = poisoned(x.shape)
    assert_close(elementwise.relu(x, out), onnx_run("Relu", {"x": x}))
    out = poisoned(x.shape)
    assert_close(elementwise.add(x, y, out), onnx_run("Add", {"x": x, "y": y}))
    row = rand(rng, 41)
    assert_close(elementwise.add(x, row), onnx_run("Add", {"x": x, "y": row}))
    big = rand(rng, 70001)  # several parallel chunks with a ragged tail
    assert_close(elementwise.relu(big), np.maximum(big, 0))


# ----------------------------------------------------------------------------- preprocessing
def onnx_resize(chw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    sizes = np.array([chw.shape[0], *size], np.int64)
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                            coordinate_transformation_mode="half_pixel")
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, chw.shape),
                                                 helper.make_tensor_value_info("sizes", TensorProto.INT64, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    return ReferenceEvaluator(model).run(None, {"x": chw, "sizes": sizes})[0]


def onnx_slice(chw: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    starts, ends, axes = (np.array(v, np.int64) for v in ([top, left], [top + h, left + w], [1, 2]))
    return onnx_run("Slice", {"x": chw, "s": starts, "e": ends, "a": axes})


@pytest.mark.parametrize("layout", ["HWC", "CHW"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("hw", [(300, 417), (199, 180)])
def test_preprocess_matches_onnx_resize_and_slice(layout: str, dtype, hw) -> None:
    # Small target sizes keep the reference evaluator fast; the defaults (256 / 224) use the same code.
    rng = np.random.default_rng(hw[0])
    h, w = hw
    img = rng.integers(0, 256, (h, w, 3)).astype(dtype) if layout == "HWC" else \
        rng.integers(0, 256, (3, h, w)).astype(dtype)
    chw = np.ascontiguousarray(img.transpose(2, 0, 1) if layout == "HWC" else img).astype(np.float32)

    out = poisoned((3, 40, 40))
    preprocess.resize_center_crop(img, resize=46, size=40, layout=layout, out=out)
    assert_close(out, onnx_slice(onnx_resize(chw, (46, 46)), 3, 3, 40, 40), 1e-5)

    out = poisoned((3, 40, 40))
    preprocess.center_crop_resize(img, fraction=0.875, size=40, layout=layout, out=out)
    top, ch = preprocess.center_crop_box(h, 0.875)
    left, cw = preprocess.center_crop_box(w, 0.875)
    assert_close(out, onnx_resize(onnx_slice(chw, top, left, ch, cw), (40, 40)), 1e-5)


def test_preprocess_default_sizes() -> None:
    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3)).astype(np.uint8)
    a = preprocess.resize_center_crop(img)
    b = preprocess.center_crop_resize(img)
    assert a.shape == b.shape == (3, 224, 224) and a.dtype == b.dtype == np.float32
    assert 0 <= a.min() and a.max() <= 255
