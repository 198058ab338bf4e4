"""Cycles, overlap and bound: the closed forms that turn traffic and array passes into time.

Assumptions (each stated once, here):
- memory cycles = DRAM bytes / DRAM bandwidth x clock; transfers are spread evenly over the layer.
- with double buffering, DRAM transfers of the next tile overlap compute on this one, except the
  first tile's loads (nothing to compute yet) and the last output tile's store (nothing left to
  compute): total = max(compute + prologue + epilogue, memory + one tile's compute). Without it,
  loads, compute and stores take turns: total = compute + memory.
- layers (or fused groups, perfmodel.fusion) run one after another; nothing overlaps across them.
  Unfused, a ReLU after a conv reads and writes its tensor in DRAM again.
- a fused group's element-wise epilogue (BN not folded, ReLU, residual Add...) runs on the vector
  lanes on each output tile while the array computes the next one: compute = max(array cycles,
  epilogue cycles); its residual operand is fetched from DRAM with the group's inputs. A folded BN
  costs nothing at run time (its scale and shift are in the weights and bias).
- element-wise and pooling work (ReLU, BN, Add, pool, LRN...) runs on a vector unit as wide as the
  array's columns (mac_cols lanes, one operation per lane per cycle), its bytes streamed once.
- a MAC-bearing op with no GEMM view runs at the array's peak (MACs / macs_per_cycle), bytes once.
"""

from __future__ import annotations

import math

import numpy as np

from perfmodel.hardware import AcceleratorSpec
from perfmodel.record import LayerCost, dtype_bytes
from perfmodel.accel.energy import layer_energy
from perfmodel.accel.results import LayerResult, LayerSchedule, Traffic


def memory_cycles(nbytes: float, acc: AcceleratorSpec) -> float:
    """cycles = bytes / DRAM bandwidth x clock."""
    return nbytes / acc.dram_bandwidth * acc.clock_hz


def overlapped_cycles(compute, memory, prologue, epilogue, tile_compute, double_buffering: bool):
    """max(compute + prologue + epilogue, memory + tile_compute) with double buffering, else compute + memory.

    Double-buffered pipeline of tiles: the compute chain waits for the first tile's loads (prologue)
    and ends with the last tile's store (epilogue); the DRAM chain cannot store the last tile before
    its compute (one tile's cycles) ends. Works on numpy arrays (the search evaluates all candidates).
    """
    if double_buffering:
        return np.maximum(compute + prologue + epilogue, memory + tile_compute)
    return compute + memory


def bound_of(compute: float, memory: float) -> str:
    """'memory' when the layer's DRAM cycles exceed its compute cycles, else 'compute'."""
    return "memory" if memory > compute else "compute"


def vector_lanes(acc: AcceleratorSpec) -> int:
    """Element-wise operations per cycle: one per array column (ASSUMED vector unit width)."""
    return acc.mac_cols


def epilogue_cycles(layer: LayerCost, acc: AcceleratorSpec) -> float:
    """A fused group's element-wise epilogue: ceil(epilogue FLOPs / vector lanes) cycles."""
    return math.ceil(layer.epilogue_flops / vector_lanes(acc))


def layer_result(layer: LayerCost, acc: AcceleratorSpec, kind: str, traffic: Traffic, compute: float,
                 prologue_bytes: float = 0.0, epilogue_bytes: float = 0.0, tile_compute: float = 0.0,
                 schedule: LayerSchedule | None = None) -> LayerResult:
    """Assemble a layer's result from its traffic and compute cycles (the one place time is derived).

    For a fused group with an array (gemm) anchor, the epilogue overlaps the array: compute =
    max(compute, epilogue cycles), and its residual operand joins the input traffic."""
    vector = array = 0.0
    if kind == "gemm" and (layer.epilogue_flops or layer.epilogue_input_elems):
        vector, array = epilogue_cycles(layer, acc), compute
        compute = max(compute, vector)
        traffic = traffic + Traffic(input=layer.epilogue_input_elems * dtype_bytes(layer.dtype))
    memory = memory_cycles(traffic.total, acc)
    prologue = memory_cycles(prologue_bytes, acc)
    epilogue = memory_cycles(epilogue_bytes, acc)
    total = float(overlapped_cycles(compute, memory, prologue, epilogue, tile_compute, acc.double_buffering))
    residual = layer.epilogue_input_elems * dtype_bytes(layer.dtype) if vector else 0.0
    energy = layer_energy(layer, acc, kind, traffic, schedule, total / acc.clock_hz, residual)
    return LayerResult(
        name=layer.name, op_type=layer.op_type, kind=kind, macs=layer.macs, flops=layer.flops, traffic=traffic,
        compute_cycles=compute, memory_cycles=memory, prologue_cycles=prologue, epilogue_cycles=epilogue,
        tile_compute_cycles=tile_compute,
        total_cycles=total, time_s=total / acc.clock_hz,
        bound=bound_of(compute, memory) if total else "-",
        utilisation=layer.macs / (total * acc.macs_per_cycle) if total else 0.0, schedule=schedule,
        fused_ops=layer.fused_ops if len(layer.fused_ops) > 1 else (), epilogue_ops=layer.epilogue_ops,
        residual_bytes=residual, vector_cycles=vector, array_cycles=array, energy=energy,
    )


def streamed_traffic(layer: LayerCost) -> Traffic:
    """Each operand read once, the output written once (the analyzer's ideal bytes)."""
    return Traffic(input=layer.input_bytes, weight=layer.weight_bytes_read, output=layer.bytes_written)


def vector_layer(layer: LayerCost, acc: AcceleratorSpec) -> LayerResult:
    """Element-wise/pool work: ceil(FLOPs / vector lanes) cycles; a MAC op without GEMM view: MACs / peak."""
    if layer.macs:
        return layer_result(layer, acc, "mac", streamed_traffic(layer), math.ceil(layer.macs / acc.macs_per_cycle))
    return layer_result(layer, acc, "vector", streamed_traffic(layer), math.ceil(layer.flops / vector_lanes(acc)))


def idle_layer(layer: LayerCost, acc: AcceleratorSpec) -> LayerResult:
    """A view (moves nothing) or an op with no cost rule (unknown, counted as nothing)."""
    return layer_result(layer, acc, "view" if layer.supported else "unknown", Traffic(), 0.0)
