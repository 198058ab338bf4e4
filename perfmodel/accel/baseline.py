"""One adapter so every hardware spec yields per-layer times: accelerators through the accelerator
model, processors (CPU/GPU specs without [accelerator], e.g. a calibrated this-cpu.toml) through the
roofline. Speedups compare these times layer by layer and in total.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfmodel.accel.results import AccelResult
from perfmodel.accel.model import simulate
from perfmodel.hardware import HardwareSpec
from perfmodel.record import LayerCost, ModelCost

ACCELERATOR_MODEL = "accelerator model"
ROOFLINE = "roofline"


@dataclass(frozen=True)
class ModelTiming:
    """Per-layer times (seconds, in the model's layer order) of one model on one machine."""

    model: str
    hardware: str
    method: str  # ACCELERATOR_MODEL or ROOFLINE
    dtype: str
    layer_times: tuple[float, ...]
    accel: AccelResult | None = None  # the full result when the machine is an accelerator

    @property
    def time_s(self) -> float:
        return sum(self.layer_times)


def roofline_time(layer: LayerCost, spec: HardwareSpec) -> float:
    """time = max(FLOPs / peak(dtype), bytes / memory bandwidth); each operand moved once (the roofline)."""
    if not layer.supported or layer.is_view:
        return 0.0
    return max(layer.flops / spec.peak(layer.dtype), layer.bytes_total / spec.mem_bandwidth)


def time_model(cost: ModelCost, spec: HardwareSpec) -> ModelTiming:
    """Per-layer times of `cost` on `spec`, by the accelerator model or the roofline."""
    if spec.accelerator is not None:
        result = simulate(cost, spec)
        return ModelTiming(cost.model, spec.name, ACCELERATOR_MODEL, result.dtype,
                           tuple(layer.time_s for layer in result.layers), result)
    spec.peak(cost.dtype)  # a clear error now if the processor has no peak for this dtype
    return ModelTiming(cost.model, spec.name, ROOFLINE, cost.dtype,
                       tuple(roofline_time(layer, spec) for layer in cost.layers))


def ratio(baseline_s: float, time_s: float) -> float | None:
    """Speedup = baseline time / time; None when either is zero (a view layer, say)."""
    return baseline_s / time_s if time_s > 0 and baseline_s > 0 else None
