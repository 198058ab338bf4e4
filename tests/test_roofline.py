"""The roofline model against hand-derived numbers, and the `roofline` command as a user meets it.

Hardware is seed-npu unless stated: peak P = 2 x 16 x 16 MACs x 1 GHz = 512 GFLOP/s, bandwidth
W = 64 GB/s, ridge point P / W = 8 FLOP/byte (derivation in perfmodel/hw/seed-npu.toml).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from perfmodel.hardware import HardwareSpec, load_spec
from perfmodel.record import LayerCost, ModelCost
from perfmodel.roofline import predict, predict_layer, prediction_dict
from perfmodel.walk import analyze_model
from tests.conftest import assert_one_line_error, perfmodel

P, W = 512e9, 64e9

# Gemm 1x1024 @ 1024x1024 + bias: MACs = 1024 x 1024 = 1,048,576; FLOPs = 2 x MACs + 1024 bias adds
# = 2,098,176. Traffic (fp32, 4 B): weight 1024 x 1024 + bias 1024 = 1,049,600 elements, input 1024,
# output 1024 -> 1,051,648 elements = 4,206,592 bytes. Intensity = 2,098,176 / 4,206,592 = 0.49878.
# compute 2,098,176 / 512e9 = 4.098 us < memory 4,206,592 / 64e9 = 65.728 us: memory-bound, 65.728 us;
# attainable = 0.49878 x 64 GB/s = 31.92 GFLOP/s.
FC = LayerCost(name="fc", op_type="Gemm", input_shapes=((1, 1024), (1024, 1024), (1024,)),
               output_shapes=((1, 1024),), macs=1_048_576, flops=2_098_176, activations=1024,
               weight_elems=1_049_600, input_elems=1024, output_elems=1024)

# A layer exactly at the ridge: 8192 FLOPs over 256 fp32 elements = 1024 bytes, intensity 8 = P / W.
# compute 8192 / 512e9 = 16 ns = memory 1024 / 64e9 = 16 ns; attainable = peak; counted compute-bound.
RIDGE = LayerCost(name="ridge", op_type="Conv", input_shapes=((1, 64),), output_shapes=((1, 64),),
                  flops=8192, activations=64, input_elems=128, weight_elems=64, output_elems=64)

# A view (Reshape) moves nothing: 0 FLOPs, 0 bytes, 0 s.
VIEW = LayerCost(name="flatten", op_type="Flatten", input_shapes=((1, 64, 1, 1),), output_shapes=((1, 64),),
                 activations=64)

# A copy (Concat of two 1000-element fp32 tensors): 0 FLOPs, (2000 + 2000) x 4 = 16,000 bytes,
# memory-bound: 16,000 / 64e9 = 250 ns.
COPY = LayerCost(name="concat", op_type="Concat", input_shapes=((1, 1000), (1, 1000)), output_shapes=((1, 2000),),
                 activations=2000, input_elems=2000, output_elems=2000)

UNKNOWN = LayerCost(name="mystery", op_type="FancyOp", input_shapes=((1, 64),), output_shapes=((1, 64),),
                    activations=64, supported=False)


def model_of(*layers: LayerCost, batch: int = 1) -> ModelCost:
    return ModelCost(model="handmade", inputs={"input": (batch, 1024)}, layers=layers,
                     unsupported_ops=tuple(sorted({l.op_type for l in layers if not l.supported})))


@pytest.fixture(scope="module")
def npu() -> HardwareSpec:
    spec = load_spec("seed-npu")
    assert (spec.peak("fp32"), spec.mem_bandwidth) == (P, W)
    return spec


def test_memory_bound_gemm_matches_hand_derivation() -> None:
    lp = predict_layer(FC, P, W)
    assert FC.bytes_total == 4_206_592
    assert lp.bound == "memory"
    assert lp.compute_s == pytest.approx(4.098e-6, rel=1e-3)
    assert lp.memory_s == pytest.approx(65.728e-6, rel=1e-6)
    assert lp.time_s == lp.memory_s
    assert lp.attainable == pytest.approx(31.92e9, rel=1e-3)


def test_layer_at_the_ridge_is_compute_bound_at_peak() -> None:
    lp = predict_layer(RIDGE, P, W)
    assert RIDGE.intensity == 8.0
    assert lp.bound == "compute"
    assert lp.attainable == P
    assert lp.time_s == pytest.approx(16e-9) and lp.compute_s == pytest.approx(lp.memory_s)


def test_view_takes_no_time_and_copy_is_memory_bound() -> None:
    view, copy = predict_layer(VIEW, P, W), predict_layer(COPY, P, W)
    assert VIEW.is_view
    assert (view.time_s, view.attainable, view.bound) == (0.0, 0.0, "memory")
    assert copy.bound == "memory" and copy.time_s == pytest.approx(250e-9)


def test_unsupported_layers_are_unknown_and_left_out_of_totals(npu: HardwareSpec) -> None:
    pred = predict(model_of(FC, UNKNOWN, COPY), npu)
    unknown = pred.layers[1]
    assert unknown.bound == "unknown" and unknown.time_s is None and pred.share(unknown) is None
    assert pred.total_s == pytest.approx(65.728e-6 + 250e-9)
    assert len(pred.notes) == 1 and "FancyOp" in pred.notes[0]


def test_totals_are_the_sum_of_layer_times(npu: HardwareSpec) -> None:
    # 65.728 us (FC) + 16 ns (ridge) + 0 (view) + 250 ns (copy) = 65.994 us; batch 4 -> 4 / 65.994 us.
    pred = predict(model_of(FC, RIDGE, VIEW, COPY, batch=4), npu)
    assert pred.total_s == pytest.approx(65.994e-6)
    assert pred.batch == 4 and pred.images_per_s == pytest.approx(4 / 65.994e-6)
    assert pred.share_by_bound["compute"] == pytest.approx(16e-9 / 65.994e-6)
    assert sum(pred.share_by_bound.values()) == pytest.approx(1.0)
    assert sum(pred.share(lp) for lp in pred.layers) == pytest.approx(1.0)
    assert pred.ridge_point == 8.0 and pred.peak == P and pred.bandwidth == W


def test_dtype_change_scales_memory_time_and_uses_that_dtypes_peak() -> None:
    hw = HardwareSpec(name="two-dtypes", description="test", source="test",
                      peak_flops={"fp32": 1e12, "fp16": 4e12, "int8": 8e12}, mem_bandwidth=100e9)
    cost = model_of(FC, COPY)
    fp32, fp16, int8 = (predict(cost, hw, dt) for dt in ("fp32", "fp16", "int8"))
    assert predict(cost, hw).dtype == "fp32"  # default: the cost's own dtype
    for a, half, quarter in zip(fp32.layers, fp16.layers, int8.layers):
        assert half.memory_s == pytest.approx(a.memory_s / 2)  # 2 bytes per element instead of 4
        assert quarter.memory_s == pytest.approx(a.memory_s / 4)  # 1 byte
        assert half.compute_s == pytest.approx(a.compute_s / 4)  # 4 TFLOP/s instead of 1
    # from fp16 back to fp32 doubles it again
    assert predict(cost.with_dtype("fp16"), hw, "fp32").layers[0].memory_s == pytest.approx(fp32.layers[0].memory_s)


def test_dtype_without_a_peak_is_a_clear_error(npu: HardwareSpec) -> None:
    from perfmodel.errors import PerfmodelError

    with pytest.raises(PerfmodelError, match="no peak for dtype 'int8'"):
        predict(model_of(FC), npu, "int8")


def test_real_model_time_is_max_of_compute_and_memory_per_layer(npu: HardwareSpec) -> None:
    cost = analyze_model("lenet5")
    pred = predict(cost, npu)
    expected = sum(max(l.flops / P, l.bytes_total / W) for l in cost.layers if l.supported)
    assert pred.total_s == pytest.approx(expected)
    assert [lp.layer.name for lp in pred.layers] == [l.name for l in cost.layers]


def test_prediction_dict_is_json_with_nulls_for_unknown(npu: HardwareSpec) -> None:
    data = json.loads(json.dumps(prediction_dict(predict(model_of(FC, UNKNOWN), npu))))
    assert data["ridge_point"] == 8.0 and data["layers"][0]["bound"] == "memory"
    assert data["layers"][1]["time_s"] is None and data["layers"][1]["bound"] == "unknown"


# -- CLI -------------------------------------------------------------------------------------------


def test_roofline_help() -> None:
    result = perfmodel("roofline", "--help")
    assert result.returncode == 0 and "--hw" in result.stdout and "examples:" in result.stdout


def test_roofline_table_on_a_preset() -> None:
    result = perfmodel("roofline", "lenet5", "--hw", "seed-npu")
    assert result.returncode == 0, result.stderr
    for fragment in ("attainable GFLOP/s", "ridge point", "8 FLOP/B", "images/s", "compute", "memory"):
        assert fragment in result.stdout


@pytest.mark.parametrize("fusion", ["none", "inference"])
def test_roofline_json_matches_predict(fusion: str) -> None:
    from perfmodel.fusion import fuse

    result = perfmodel("roofline", "resnet18", "--hw", "a100", "--batch", "2", "--format", "json", "--fusion", fusion)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = predict(fuse(analyze_model("resnet18", batch=2), fusion), load_spec("a100"))
    assert data["batch"] == 2 and data["total_s"] == pytest.approx(expected.total_s)
    assert len(data["layers"]) == len(expected.layers)


def test_roofline_top_and_csv() -> None:
    top = perfmodel("roofline", "resnet18", "--hw", "seed-npu", "--top", "3", "--fusion", "none")
    assert top.returncode == 0 and top.stdout.count(" Conv ") + top.stdout.count(" Gemm ") == 3
    fused = perfmodel("roofline", "resnet18", "--hw", "seed-npu", "--top", "3")
    assert fused.returncode == 0 and fused.stdout.count(" Conv+BatchNormalization+") == 3
    csv_out = perfmodel("roofline", "lenet5", "--hw", "seed-npu", "--format", "csv")
    assert csv_out.stdout.splitlines()[0].startswith("name,op_type,flops,bytes,intensity")


@pytest.mark.parametrize("args, fragment", [
    (["--hw", "no-such-machine"], "unknown hardware 'no-such-machine'"),
    (["--hw", "tpu-v1"], "no peak for dtype 'fp32'"),
    (["--hw", "seed-npu", "--plot", "out.pdf"], ".png or .svg"),
])
def test_roofline_bad_input_is_a_one_line_error(args: list[str], fragment: str) -> None:
    assert_one_line_error(perfmodel("roofline", "lenet5", *args), fragment)


def test_importing_the_roofline_loads_neither_numba_nor_matplotlib() -> None:
    code = ("import sys, perfmodel.roofline, perfmodel.commands.roofline, perfmodel.validate, "
            "perfmodel.commands.validate; print(sorted(m for m in ('numba', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
