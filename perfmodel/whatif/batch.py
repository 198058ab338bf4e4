"""Batch-size what-if: how time per image, intensity and the bound move as the batch grows.

Batch changes every activation shape, so each point re-walks the graph (`analyze_model(source,
batch=b)`, fast: shapes only). Weights are read once per batch, so weight traffic per image falls as
1/b and intensity rises toward the activations' own intensity; the roofline turns memory-bound
layers compute-bound once their intensity passes the ridge point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from perfmodel.hardware import HardwareSpec
from perfmodel.record import ModelCost
from perfmodel.whatif.mac_layers import model_intensity, traffic_bytes
from perfmodel.whatif.timing import predict_timing

BATCHES = tuple(2**i for i in range(9))  # 1, 2, 4, ..., 256
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BatchPoint:
    """The model at one batch size on one hardware spec."""

    batch: int
    flops: int
    traffic_bytes: float
    intensity: float
    time_s: float
    compute_share: float
    bound: str

    @property
    def time_per_image_s(self) -> float:
        """Predicted time per image = batch time / batch."""
        return self.time_s / self.batch


def analyze_batches(source, batches: Sequence[int] = BATCHES, *, dtype: str = "fp32",
                    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
                    progress: Progress | None = None) -> list[ModelCost]:
    """One record per batch size (the graph walked again at each, since every shape changes)."""
    from perfmodel.walk import analyze_model

    costs = []
    for b in batches:
        shapes = {name: (b, *shape[1:]) for name, shape in (input_shapes or {}).items()}  # overrides beat batch
        costs.append(analyze_model(source, batch=b, input_shapes=shapes, dtype=dtype))
        if progress:
            progress(f"batch sweep: {costs[-1].model} at batch {b}")
    return costs


def batch_point(cost: ModelCost, hw: HardwareSpec) -> BatchPoint:
    """Totals and roofline time of a record already walked at its batch size (axis 0 of its first input)."""
    timing = predict_timing(cost, hw, cost.dtype)
    batch = next(iter(cost.inputs.values()))[0]
    return BatchPoint(batch=batch, flops=cost.flops, traffic_bytes=traffic_bytes(cost),
                      intensity=model_intensity(cost), time_s=timing.total_s,
                      compute_share=timing.compute_share, bound=timing.bound)


def batch_sweep(source, hw: HardwareSpec, batches: Sequence[int] = BATCHES, *, dtype: str = "fp32",
                input_shapes: Mapping[str, tuple[int, ...]] | None = None,
                progress: Progress | None = None) -> list[BatchPoint]:
    """Time per image, intensity and bound of `source` on `hw` for each batch size."""
    costs = analyze_batches(source, batches, dtype=dtype, input_shapes=input_shapes, progress=progress)
    return [batch_point(cost, hw) for cost in costs]
