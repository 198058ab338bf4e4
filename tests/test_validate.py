"""validate's split, fit and score with synthetic times (exact answers), its kernel timer with a fake
runner, and the `validate` command (a real `--quick` run only when the numba kernels exist)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.hardware import HardwareSpec
from perfmodel.record import LayerCost, ModelCost
from perfmodel.roofline import predict
from perfmodel.validate import (ClassFit, Shape, distinct_shapes, fit_class, kernel_timer, parse_classes,
                                validate)
from tests.conftest import assert_one_line_error, perfmodel

# peak 1 GFLOP/s and 1 GB/s: a layer's roofline terms are F/P = flops x 1 ns and B/W = bytes x 1 ns.
HW = HardwareSpec(name="unit", description="test", source="test", peak_flops={"fp32": 1e9}, mem_bandwidth=1e9)


def layer(name: str, op: str, flops: int, elems: int, width: int) -> LayerCost:
    """A layer with `flops` FLOPs and `elems` fp32 elements of traffic (bytes = 4 x elems);
    `width` makes its shape distinct."""
    return LayerCost(name=name, op_type=op, input_shapes=((1, width),), output_shapes=((1, width),),
                     flops=flops, input_elems=elems)


# Conv c1..c5 grow in roofline time (compute-bound: 1..5 ms of F/P, 0.04 x i^2 ms of B/W, not
# proportional to F/P so that both coefficients are identifiable);
# FC f1..f3 grow too (memory-bound), and f2b repeats f2's shape. A Relu is not validated.
CONVS = [layer(f"c{i}", "Conv", i * 1_000_000, i * i * 10_000, i) for i in range(1, 6)]
FCS = [layer(f"f{i}", "Gemm", i * 100_000, i * 1_000_000, 100 + i) for i in range(1, 4)]
F2B = dataclasses.replace(FCS[1], name="f2b")
RELU = layer("relu", "Relu", 1000, 2000, 7)
MODEL = ModelCost(model="synthetic", inputs={"x": (1, 8)},
                  layers=(CONVS[0], RELU, FCS[2], CONVS[1], FCS[0], CONVS[2], F2B, CONVS[3], FCS[1], CONVS[4]))

# Per class, in roofline-time order, the 1st, 3rd, 5th shapes are fitted: c1, c3, c5 and f1, f3.
FITTED = {"c1", "c3", "c5", "f1", "f3"}
HELD_OUT = {"c2", "c4", "f2", "f2b"}  # f2b shares f2's shape: held out with it, measured once


def true_time(l: LayerCost) -> float:
    """Synthetic kernels: conv = 4 x F/P + 2 x B/W (25% of peak, 50% of bandwidth); FC = 3 x B/W."""
    compute, memory = l.flops * 1e-9, 4 * l.input_elems * 1e-9
    return 4 * compute + 2 * memory if l.op_type == "Conv" else 3 * memory


def synthetic(layers, progress) -> list[float]:
    return [true_time(l) for l in layers]


def test_exact_efficiencies_are_recovered_and_held_out_layers_score_zero() -> None:
    calls = []

    def time_layers(layers, progress) -> list[float]:
        calls.extend(l.name for l in layers)
        return [true_time(l) for l in layers]

    result = validate(predict(MODEL, HW), time_layers)
    # one measurement per shape: f2b comes before f2 in the schedule, is measured, and f2 is not
    assert sorted(calls) == ["c1", "c2", "c3", "c4", "c5", "f1", "f2b", "f3"]
    conv, fc = result.fits["conv"], result.fits["fc"]
    assert (conv.compute_scale, conv.memory_scale) == (pytest.approx(4), pytest.approx(2))
    # FC has two fitting shapes, so one term: B/W, scaled by exactly 3 (33.3% of bandwidth)
    assert (fc.compute_scale, fc.memory_scale) == (0.0, pytest.approx(3))
    assert set(conv.fitted_on) | set(fc.fitted_on) == FITTED
    assert {c.layer.name for c in result.checks} == FITTED | HELD_OUT  # every conv/FC layer, not the Relu
    assert {c.layer.name for c in result.held_out} == HELD_OUT
    assert result.median_abs_error == pytest.approx(0, abs=1e-12) and result.target_met


def test_fitting_layers_are_excluded_from_the_score() -> None:
    # Held-out layers run 25% slower than the model: error = (t - 1.25 t) / 1.25 t = -20% on each.
    # The fitting layers stay exact (0%); were they scored, the median would fall to 0.
    def time_layers(layers, progress) -> list[float]:
        return [true_time(l) * (1.25 if l.name in HELD_OUT else 1.0) for l in layers]

    result = validate(predict(MODEL, HW), time_layers)
    for check in result.checks:
        assert check.error == pytest.approx(-0.2 if check.layer.name in HELD_OUT else 0.0, abs=1e-9)
    assert result.median_abs_error == pytest.approx(0.2) and result.p90_abs_error == pytest.approx(0.2)
    assert result.share_within == 1.0 and result.target_met is False  # 20% > 15%


def test_error_and_efficiency_definitions() -> None:
    result = validate(predict(MODEL, HW), synthetic)
    c2 = next(c for c in result.checks if c.layer.name == "c2")
    # c2: F/P = 2 ms, B/W = 4 x 40,000 ns = 0.16 ms; bound = 2 ms, measured = 4 x 2 + 2 x 0.16 = 8.32 ms
    assert c2.bound_s == pytest.approx(2e-3) and c2.measured_s == pytest.approx(8.32e-3)
    assert c2.efficiency == pytest.approx(2 / 8.32)
    assert not c2.fitted


def test_single_shape_class_gets_its_exact_efficiency_on_the_dominant_term() -> None:
    shape = Shape("fc", predict(ModelCost("m", {"x": (1, 8)}, (FCS[0],)), HW).layers, measured_s=0.012)
    fit = fit_class("fc", [shape])
    # f1: B/W = 4 x 1e6 x 1 ns = 4 ms dominates F/P = 0.1 ms; 12 ms measured -> b = 3 (33.3% of bandwidth)
    assert (fit.compute_scale, fit.memory_scale) == (0.0, pytest.approx(3.0))
    assert fit.describe() == "33.3% of bandwidth"
    assert fit.predict(shape) == pytest.approx(0.012)


def test_negative_coefficient_falls_back_to_one_term() -> None:
    # Times that fall as compute grows would need a < 0: the fit keeps the single best term instead.
    shapes = distinct_shapes(predict(ModelCost("m", {"x": (1, 8)}, tuple(CONVS[:3])), HW), ("conv",))
    measured = [Shape(s.op_class, s.layers, t) for s, t in zip(shapes, (3e-3, 2e-3, 1e-3))]
    fit = fit_class("conv", measured)
    assert fit.compute_scale >= 0 and fit.memory_scale >= 0
    assert (fit.compute_scale == 0) != (fit.memory_scale == 0)


def test_quick_keeps_the_smallest_shapes_and_layer_classes_filter() -> None:
    result = validate(predict(MODEL, HW), synthetic, classes=("conv",), quick=True)
    assert {c.layer.name for c in result.checks} == {"c1", "c2", "c3", "c4"}
    assert set(result.fits) == {"conv"}


def test_parse_classes() -> None:
    assert parse_classes("fc, conv,fc") == ("fc", "conv")
    with pytest.raises(PerfmodelError, match="choose from conv, fc"):
        parse_classes("conv,pool")


class FakeClock:
    """Stands in for time.perf_counter: each fake kernel run advances it by a scripted duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_kernels(monkeypatch: pytest.MonkeyPatch):
    """A fake `kernels.dispatch`: layer c1 runs 3, 1, 2 s, c2 runs 5 s each time, f1 has no kernel."""
    import perfmodel.validate as validate_module

    clock, events = FakeClock(), []
    durations = {"c1": iter([3.0, 1.0, 2.0]), "c2": iter([5.0] * 3)}

    class FakeRunner:
        def __init__(self, l: LayerCost) -> None:
            if l.name == "f1":
                raise NotImplementedError("no kernel for this shape")
            self.name = l.name

        def warmup(self) -> None:
            events.append(("warmup", self.name))

        def __call__(self) -> None:
            events.append(("run", self.name))
            clock.now += next(durations[self.name])

    fake = types.ModuleType("kernels.dispatch")
    fake.make_runner = FakeRunner
    monkeypatch.setitem(sys.modules, "kernels.dispatch", fake)
    monkeypatch.setattr(validate_module.time, "perf_counter", clock)
    return events


def test_kernel_timer_warms_up_all_then_runs_rounds(fake_kernels) -> None:
    messages = []
    seconds = kernel_timer(repeats=3)([CONVS[0], CONVS[1], FCS[0]], messages.append)
    # every runner compiled first (JIT excluded from the timings), then 3 rounds of one run each
    assert fake_kernels == [("warmup", "c1"), ("warmup", "c2")] + [("run", "c1"), ("run", "c2")] * 3
    assert seconds == [2.0, 5.0, None]  # median of (3, 1, 2) s; f1 has no kernel
    assert messages[0].startswith("layer 1/3: c1") and messages[-1].startswith("round 3/3")
    assert any("f1 skipped" in m for m in messages)


def test_kernel_timer_min_statistic(fake_kernels) -> None:
    assert kernel_timer(repeats=3, statistic="min")([CONVS[0]], lambda m: None) == [1.0]


def test_layers_without_a_kernel_are_reported_as_skipped() -> None:
    def time_layers(layers, progress):
        return [None if l.name == "f3" else true_time(l) for l in layers]

    result = validate(predict(MODEL, HW), time_layers)
    assert result.skipped == ("f3",)
    assert "f3" not in {c.layer.name for c in result.checks}


def test_kernel_timer_rejects_a_bad_thread_count(fake_kernels) -> None:
    with pytest.raises(PerfmodelError, match="--threads"):
        kernel_timer(3, threads=0)


def test_kernel_timer_without_kernels_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kernels.dispatch", None)  # makes the import fail
    with pytest.raises(PerfmodelError, match="numba kernels"):
        kernel_timer(3)


# -- CLI -------------------------------------------------------------------------------------------

HAVE_KERNELS = importlib.util.find_spec("kernels") is not None and \
    importlib.util.find_spec("kernels.dispatch") is not None


def test_validate_help() -> None:
    result = perfmodel("validate", "--help")
    assert result.returncode == 0 and "--repeats" in result.stdout and "examples:" in result.stdout


def test_validate_bad_layers_is_a_one_line_error() -> None:
    assert_one_line_error(perfmodel("validate", "lenet5", "--hw", "seed-npu", "--layers", "pool"), "--layers")


@pytest.mark.skipif(not HAVE_KERNELS, reason="kernels.dispatch not written yet")
def test_validate_quick_runs_the_real_kernels(tmp_path: Path) -> None:
    spec = tmp_path / "cpu.toml"
    spec.write_text('description = "test"\nsource = "test"\nmem_bandwidth_GBps = 10\n[peak_GFLOPS]\nfp32 = 50\n')
    result = perfmodel("validate", "lenet5", "--hw", spec, "--quick", "--repeats", "2", "--threads", "1",
                       "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "layer 1/" in result.stderr  # progress
    data = json.loads(result.stdout)
    assert {row["op_type"] for row in data["layers"]} == {"Conv", "Gemm"}
    assert all(row["measured_s"] > 0 for row in data["layers"])
