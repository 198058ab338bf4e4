"""One adapter so every hardware spec yields per-layer times: accelerators through the accelerator
model, processors (CPU/GPU specs without [accelerator], e.g. a calibrated this-cpu.toml) through the
roofline. Speedups compare these times layer by layer and in total.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfmodel.accel.results import AccelResult
from perfmodel.accel.model import simulate
from perfmodel.hardware import HardwareSpec
from perfmodel.record import ModelCost
from perfmodel.roofline import predict

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

    @property
    def energy_J(self) -> float | None:
        """Joules per inference, from the accelerator model when the spec has an energy table."""
        energy = self.accel.energy if self.accel is not None else None
        return energy.total if energy is not None else None


def time_model(cost: ModelCost, spec: HardwareSpec) -> ModelTiming:
    """Per-layer times of `cost` on `spec`, by the accelerator model or the roofline."""
    if spec.accelerator is not None:
        result = simulate(cost, spec)
        return ModelTiming(cost.model, spec.name, ACCELERATOR_MODEL, result.dtype,
                           tuple(layer.time_s for layer in result.layers), result)
    prediction = predict(cost, spec)  # PerfmodelError if the processor has no peak for this dtype
    return ModelTiming(cost.model, spec.name, ROOFLINE, cost.dtype,
                       tuple(lp.time_s or 0.0 for lp in prediction.layers))  # unknown layers: not counted


def ratio(baseline_s: float, time_s: float) -> float | None:
    """Speedup = baseline time / time; None when either is zero (a view layer, say)."""
    return baseline_s / time_s if time_s > 0 and baseline_s > 0 else None
