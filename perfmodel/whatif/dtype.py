"""Dtype what-if: the same model at fp32, fp16, bf16 and int8.

FLOPs do not change with the dtype (int8 "FLOPs" are integer ops); bytes scale with the element
size, so intensity grows as elements shrink. The peak comes from the hardware spec for each dtype;
a spec that gives no peak for a dtype gets no predicted time and a note saying so, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from perfmodel.hardware import HardwareSpec
from perfmodel.record import DTYPE_BYTES, ModelCost, dtype_bytes
from perfmodel.whatif.mac_layers import model_intensity, traffic_bytes
from perfmodel.whatif.timing import predict_timing
from perfmodel.whatif.training import MIXED_DTYPES, mixed_precision_weight_bytes

DTYPES = tuple(DTYPE_BYTES)


@dataclass(frozen=True)
class DtypePoint:
    """One dtype: bytes, intensity and (when the spec has a peak for it) roofline time."""

    dtype: str
    bytes_per_elem: int
    weight_bytes: float
    activation_bytes: float
    peak_activation_bytes: float
    traffic_bytes: float
    intensity: float
    peak_flops: float | None
    time_s: float | None
    bound: str | None
    training_weight_bytes: float | None  # fp16/bf16: weights + fp32 master copy; fp32: weights; int8: None
    note: str  # what the dtype implies, whatever the hardware
    time_note: str  # why there is no time, when there is none


def _note(dtype: str) -> str:
    if dtype in MIXED_DTYPES:
        return f"mixed-precision training keeps fp32 master weights: {dtype_bytes(dtype)} + 4 B per param"
    if dtype == "int8":
        return "inference only; FLOPs read as int8 ops"
    return ""


def dtype_point(cost: ModelCost, dtype: str, hw: HardwareSpec | None = None) -> DtypePoint:
    """The record re-read at `dtype` (`cost.with_dtype`, no second walk), timed when the spec allows."""
    at = cost.with_dtype(dtype)
    timed = hw is not None and dtype in hw.peak_flops
    timing = predict_timing(at, hw, dtype) if timed else None
    training = None if dtype == "int8" else mixed_precision_weight_bytes(at)
    return DtypePoint(
        dtype=dtype, bytes_per_elem=dtype_bytes(dtype), weight_bytes=at.weight_bytes,
        activation_bytes=at.activation_bytes, peak_activation_bytes=at.peak_activation_bytes,
        traffic_bytes=traffic_bytes(at), intensity=model_intensity(at),
        peak_flops=hw.peak_flops[dtype] if timed else None,
        time_s=timing.total_s if timing else None, bound=timing.bound if timing else None,
        training_weight_bytes=training, note=_note(dtype),
        time_note="" if timed or hw is None else f"{hw.name} gives no {dtype} peak: no time predicted",
    )


def dtype_sweep(cost: ModelCost, hw: HardwareSpec | None = None, dtypes: Sequence[str] = DTYPES) -> list[DtypePoint]:
    return [dtype_point(cost, d, hw) for d in dtypes]
