"""The one place the what-ifs read the roofline model: a prediction boiled down to three figures."""

from __future__ import annotations

from dataclasses import dataclass

from perfmodel.hardware import HardwareSpec
from perfmodel.record import ModelCost


@dataclass(frozen=True)
class Timing:
    """Predicted time of one forward pass, and which roof holds it."""

    total_s: float
    compute_share: float  # fraction of the predicted time spent in compute-bound layers
    bound: str  # "compute" when compute-bound layers take at least half the time, else "memory"


def predict_timing(cost: ModelCost, hw: HardwareSpec, dtype: str | None = None) -> Timing:
    """Roofline time of `cost` on `hw`; the model's bound is the bound of the majority of its time."""
    from perfmodel.roofline import predict

    prediction = predict(cost, hw, dtype=dtype)
    share = prediction.share_by_bound["compute"]
    return Timing(total_s=prediction.total_s, compute_share=share, bound="compute" if share >= 0.5 else "memory")
