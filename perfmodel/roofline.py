"""The roofline model: how fast each layer can run on a machine given only its peak and its bandwidth.

Williams, Waterman & Patterson, "Roofline: an insightful visual performance model for multicore
architectures", CACM 52(4), 2009. A layer of F FLOPs moving B bytes (the record's ideal traffic: each
operand read once, each output written once) on a machine of peak P FLOP/s and bandwidth W bytes/s:

    intensity  I = F / B                                  (FLOP/byte)
    attainable   = min(P, I x W)                          (FLOP/s)
    time         = max(F / P, B / W)                      (s; compute and memory fully overlap)

A layer is compute-bound when I >= P / W (the ridge point), memory-bound otherwise. A layer with
no FLOPs but bytes (a copy, a concat) is memory-bound; a view (Reshape, Flatten) moves nothing and
takes no time. A layer without a cost rule (`supported=False`) is "unknown": it has no prediction
and is left out of the totals, which say so in `notes`.

Everything here is a pure function of a `ModelCost` and a `HardwareSpec`; reports, batch sweeps and
dtype what-ifs call `predict` again rather than adjusting its results.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Mapping

from perfmodel.efficiency import calibrated_time, layer_class, near_memory_s
from perfmodel.hardware import HardwareSpec
from perfmodel.hardware.spec import Efficiency
from perfmodel.record import LayerCost, ModelCost

BOUNDS = ("compute", "memory", "unknown")


@dataclass(frozen=True)
class LayerPrediction:
    """One layer on the roofline. Times are seconds, `attainable` is FLOP/s; all None when unknown."""

    layer: LayerCost
    attainable: float | None
    bound: str  # "compute" | "memory" | "unknown"
    time_s: float | None  # the roofline bound, or the calibrated time where the spec has [efficiency]
    compute_s: float | None  # F / P
    memory_s: float | None  # B / W
    bound_s: float | None = None  # max(F / P, B / W), always

    @property
    def known(self) -> bool:
        return self.bound != "unknown"

    @property
    def intensity(self) -> float:
        return self.layer.intensity


@dataclass(frozen=True)
class RooflinePrediction:
    """A model's layers on one machine at one dtype; `total_s` sums the known layers only."""

    model: str
    hw: HardwareSpec
    dtype: str
    batch: int  # axis 0 of the model's first input: the images per run
    layers: tuple[LayerPrediction, ...]
    total_s: float
    share_by_bound: Mapping[str, float]  # fraction of total_s spent in "compute"- and "memory"-bound layers
    notes: tuple[str, ...] = ()
    fusion: str = "none"  # the policy the predicted layers (groups) were fused by

    @property
    def share_outside_mac(self) -> float:
        """Fraction of total_s spent in layers (groups) whose anchor is not a MAC op (conv, gemm)."""
        from perfmodel.fusion import share_outside_mac

        return share_outside_mac([(lp.layer, lp.time_s) for lp in self.layers if lp.known])

    @property
    def peak(self) -> float:
        return self.hw.peak(self.dtype)

    @property
    def bandwidth(self) -> float:
        return self.hw.mem_bandwidth

    @property
    def ridge_point(self) -> float:
        return self.hw.ridge_point(self.dtype)

    @property
    def bound_s(self) -> float:
        """The pure roofline bound of the known layers, summed (equal to total_s without [efficiency])."""
        return sum(p.bound_s for p in self.layers if p.known)

    @property
    def calibrated(self) -> bool:
        return self.hw.efficiency is not None

    @property
    def images_per_s(self) -> float:
        """Throughput = batch / total time (inf for a model predicted to take no time)."""
        return self.batch / self.total_s if self.total_s > 0 else math.inf

    def share(self, prediction: LayerPrediction) -> float | None:
        """Fraction of the model's predicted time spent in this layer."""
        if not prediction.known:
            return None
        return prediction.time_s / self.total_s if self.total_s > 0 else 0.0


def predict_layer(layer: LayerCost, peak: float, bandwidth: float,
                  efficiency: Mapping[str, Efficiency] | None = None, hw: HardwareSpec | None = None,
                  model_weight_bytes: float = 0.0) -> LayerPrediction:
    """time = max(F / P, B / W), attainable = min(P, I x W) (Williams et al. 2009); with a runtime's
    [efficiency], time = the calibrated time of the layer's class (perfmodel.efficiency), a view 0."""
    if not layer.supported:
        return LayerPrediction(layer, attainable=None, bound="unknown", time_s=None, compute_s=None, memory_s=None)
    compute_s = layer.flops / peak
    memory_s = layer.bytes_total / bandwidth
    intensity = layer.intensity
    bound = "compute" if layer.flops > 0 and intensity >= peak / bandwidth else "memory"
    bound_s = max(compute_s, memory_s)
    time_s = bound_s
    if efficiency is not None and not layer.is_view and (layer.flops or layer.bytes_total):
        near = near_memory_s(layer, hw, model_weight_bytes, compute_s) if hw is not None else memory_s
        time_s = calibrated_time(efficiency[layer_class(layer)], compute_s, near)
    return LayerPrediction(layer, attainable=min(peak, intensity * bandwidth), bound=bound,
                           time_s=time_s, compute_s=compute_s, memory_s=memory_s, bound_s=bound_s)


def predict(cost: ModelCost, hw: HardwareSpec, dtype: str | None = None) -> RooflinePrediction:
    """Roofline time of every layer of `cost` on `hw`, at `dtype` (default: the cost's own dtype).

    The bytes follow the dtype (`cost.with_dtype`), the peak is `hw.peak(dtype)` (PerfmodelError when
    the spec has no peak for it). The model's time is the sum of its layers' times: layers run one
    after the other, each alone on the machine.
    """
    dtype = dtype or cost.dtype
    peak = hw.peak(dtype)
    if dtype != cost.dtype:
        cost = cost.with_dtype(dtype)
    layers = tuple(predict_layer(layer, peak, hw.mem_bandwidth, hw.efficiency, hw, cost.weight_bytes)
                   for layer in cost.layers)
    known = [p for p in layers if p.known]
    total = sum(p.time_s for p in known) + (hw.run_us * 1e-6 if hw.efficiency is not None else 0.0)
    share = {bound: (sum(p.time_s for p in known if p.bound == bound) / total if total > 0 else 0.0)
             for bound in BOUNDS[:2]}
    notes = ()
    unknown = [p.layer for p in layers if not p.known]
    if unknown:
        ops = ", ".join(sorted({layer.op_type for layer in unknown}))
        notes = (f"{len(unknown)} layer(s) without a cost rule ({ops}) are left out of the totals",)
    first_input = next(iter(cost.inputs.values()), ())
    return RooflinePrediction(model=cost.model, hw=hw, dtype=dtype, batch=first_input[0] if first_input else 1,
                              layers=layers, total_s=total, share_by_bound=types.MappingProxyType(share),
                              notes=notes, fusion=cost.fusion)


def prediction_dict(prediction: RooflinePrediction) -> dict:
    """The JSON form: hardware figures, totals, then one entry per layer (unknown figures are null)."""
    p = prediction
    return {
        "model": p.model,
        "fusion": p.fusion,
        "hw": p.hw.name,
        "dtype": p.dtype,
        "batch": p.batch,
        "peak_flops": p.peak,
        "mem_bandwidth": p.bandwidth,
        "ridge_point": p.ridge_point,
        "total_s": p.total_s,
        "bound_s": p.bound_s,
        "calibrated": p.calibrated,
        "images_per_s": p.images_per_s if p.total_s > 0 else None,
        "share_by_bound": dict(p.share_by_bound),
        "share_outside_mac": p.share_outside_mac,
        "notes": list(p.notes),
        "layers": [
            {
                "name": lp.layer.name,
                "op_type": lp.layer.op_type,
                "flops": lp.layer.flops if lp.known else None,
                "bytes": lp.layer.bytes_total if lp.known else None,
                "intensity": lp.intensity if lp.known else None,
                "attainable_flops": lp.attainable,
                "bound": lp.bound,
                "time_s": lp.time_s,
                "compute_s": lp.compute_s,
                "memory_s": lp.memory_s,
                "bound_s": lp.bound_s,
                "share": p.share(lp),
                "layers": list(lp.layer.members or (lp.layer.name,)),
                "op_types": list(lp.layer.fused_ops or (lp.layer.op_type,)),
            }
            for lp in p.layers
        ],
    }
