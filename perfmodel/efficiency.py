"""A runtime's achieved efficiency per layer class: the calibrated time of a layer (or fused group).

    time = fixed + compute_scale x FLOPs / peak + memory_scale x (near-memory seconds, `near_memory_s`)

(each operand at the bandwidth of the cache level it lives in when inference runs over and over:
activations where the layer's input and output fit, weights where all of the model's weights fit,
and only beyond the time the layer computes, as they stream in meanwhile)

per class (a dense conv, a grouped/depthwise conv, a GEMM/MatMul/other MAC op, everything else), the
coefficients fitted by `perfmodel calibrate --runtime onnxruntime` on microbenchmarks run in the
runtime and stored in the spec's [efficiency] tables. `fixed` is what a kernel costs however small
(launch, threads waking, the session's own step); the scales say how many seconds each roofline second
really costs. The pure roofline bound, max(F / P, B / W), is kept beside it.
"""

from __future__ import annotations

from perfmodel.hardware.spec import Efficiency, HardwareSpec
from perfmodel.ops import MAC
from perfmodel.record import LayerCost


def layer_class(layer: LayerCost) -> str:
    """'conv', 'depthwise' (a grouped conv), 'gemm' (another MAC op) or 'other'."""
    if layer.kind != MAC:
        return "other"
    if layer.geometry is not None:
        return "depthwise" if layer.geometry.groups > 1 else "conv"
    return "gemm"


def working_set_bandwidth(nbytes: float, hw: HardwareSpec) -> float:
    """Bytes/s a layer moving `nbytes` gets: the bandwidth of the smallest cache level (with a measured
    bandwidth) that holds them, else memory's. A runtime run over and over keeps what fits its cache;
    `calibrate` measures each level's bandwidth with its working-set sweep."""
    for level in sorted(hw.caches, key=lambda c: c.size_bytes):
        if level.bandwidth and nbytes <= level.size_bytes:
            return level.bandwidth
    return hw.mem_bandwidth


def near_memory_s(layer: LayerCost, hw: HardwareSpec, model_weight_bytes: float, compute_s: float) -> float:
    """Seconds of the layer's traffic in steady-state inference: its input and output at the bandwidth
    of the level their bytes fit (just written by the layer before, read by the next); its weights at
    the level all `model_weight_bytes` fit, since one inference reads every weight once and a layer's
    weights stay cached until the next run only if the whole model's do. Weights are read in a stream
    the kernel prefetches as it computes (they do not depend on the layer's data): only the part that
    takes longer than the layer's compute time at peak (`compute_s`, FLOPs / peak) costs time."""
    activations = layer.input_bytes + layer.bytes_written
    weights = layer.weight_bytes_read
    time = activations / working_set_bandwidth(activations, hw) if activations else 0.0
    if weights:  # streamed while the layer computes: only what does not fit in that time costs
        streamed = weights / working_set_bandwidth(max(model_weight_bytes, weights), hw)
        time += max(0.0, streamed - compute_s)
    return time


def calibrated_time(efficiency: Efficiency, compute_s: float, memory_s: float, kernels: int = 1) -> float:
    """kernels x fixed + compute_scale x F/P + memory_scale x B/W (seconds): one group, or the sum over
    `kernels` groups of one class whose F/P and B/W add up to `compute_s` and `memory_s`."""
    return (kernels * efficiency.fixed_us * 1e-6 + efficiency.compute_scale * compute_s
            + efficiency.memory_scale * memory_s)
