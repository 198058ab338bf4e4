"""Energy of a layer on an accelerator with an `[accelerator.energy]` table (pJ per MAC, per byte).

Counts, each from the chosen schedule (perfmodel.accel.tiling), per GEMM layer of M x K x N per group,
tile trips (t_m, t_k, t_n), g groups, e bytes per element, a accumulator bytes:
- MAC: MACs x mac_pJ[dtype].
- weight buffer: filled with the weight bytes DRAM sends, read by the array K x N x e once per M tile
  (every M tile streams past every fold of the weights): K N e t_m g.
- input buffer: filled with the input bytes DRAM sends, read M x K x e once per N tile (an output
  pixel's K inputs feed one N tile's columns): M K e t_n g.
- output buffer: every K pass writes the M x N partial sums at accumulator width and every pass but
  the first reads them back (M N a (2 t_k - 1) g); the finished outputs are read once to be stored
  (M N e g); spilled partial sums read back from DRAM and a fused group's residual operand are
  written into it and read once.
- DRAM: every byte of the layer's traffic x dram_pJ_per_byte.
- a fused group's element-wise epilogue, and an element-wise layer: one MAC's energy per operation
  (ASSUMED: a vector lane's add or multiply costs what the array's MAC does); an element-wise layer's
  operands pass once through the input buffer (written, read), its output through the output buffer.
- static: static_mW x the layer's time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from perfmodel.hardware import AcceleratorSpec
from perfmodel.record import LayerCost, dtype_bytes

PJ = 1e-12
COMPONENTS = ("mac", "weight_buffer", "input_buffer", "output_buffer", "dram", "static")


@dataclass(frozen=True)
class Energy:
    """Joules per component of one layer (or a whole model)."""

    mac: float = 0.0
    weight_buffer: float = 0.0
    input_buffer: float = 0.0
    output_buffer: float = 0.0
    dram: float = 0.0
    static: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, c) for c in COMPONENTS)

    def __add__(self, other: "Energy") -> "Energy":
        return Energy(*(getattr(self, c) + getattr(other, c) for c in COMPONENTS))

    def to_dict(self) -> dict[str, float]:
        return {**dataclasses.asdict(self), "total": self.total}


@dataclass(frozen=True)
class BufferBytes:
    """Bytes read and written per on-chip buffer (SRAM accesses), from the schedule."""

    weight: float
    input: float
    output: float


def buffer_bytes(layer: LayerCost, kind: str, traffic, schedule, residual_bytes: float) -> BufferBytes:
    """SRAM bytes of each buffer (module docstring's counts)."""
    e = dtype_bytes(layer.dtype)
    if kind == "gemm" and schedule is not None:
        m, k, n = schedule.dims
        t_m, t_k, t_n = schedule.trips
        g = schedule.groups
        a = schedule.accumulator_bytes
        weight = traffic.weight + k * n * e * t_m * g
        inputs = (traffic.input - residual_bytes) + m * k * e * t_n * g
        output = m * n * a * (2 * t_k - 1) * g + m * n * e * g + traffic.psum / 2 + 2 * residual_bytes
        return BufferBytes(weight, inputs, output)
    if kind in ("vector", "mac"):
        return BufferBytes(0.0, 2 * traffic.input + 2 * traffic.weight, 2 * traffic.output)
    return BufferBytes(0.0, 0.0, 0.0)


def layer_energy(layer: LayerCost, acc: AcceleratorSpec, kind: str, traffic, schedule, time_s: float,
                 residual_bytes: float = 0.0) -> Energy | None:
    """The layer's energy by component; None when the spec has no energy table."""
    table = acc.energy
    if table is None or kind in ("view", "unknown"):
        return None if table is None else Energy()
    mac_pj = table.mac(layer.dtype)
    ops = layer.macs if kind in ("gemm", "mac") else layer.flops
    ops += layer.epilogue_flops if kind == "gemm" else 0
    sram = buffer_bytes(layer, kind, traffic, schedule, residual_bytes)
    return Energy(
        mac=ops * mac_pj * PJ,
        weight_buffer=sram.weight * table.weight_buffer_pJ_per_byte * PJ,
        input_buffer=sram.input * table.input_buffer_pJ_per_byte * PJ,
        output_buffer=sram.output * table.output_buffer_pJ_per_byte * PJ,
        dram=traffic.total * table.dram_pJ_per_byte * PJ,
        static=table.static_mW * 1e-3 * time_s,
    )
