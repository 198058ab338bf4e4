"""What the accelerator model returns: frozen records a report can read without knowing the model.

`LayerSchedule` says how a GEMM layer was tiled, `LayerResult` what one layer costs (traffic,
cycles, time, bound, utilisation), `AccelResult` a whole model on one accelerator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from perfmodel.accel.energy import Energy

OPERANDS = ("input", "weight", "output")


@dataclass(frozen=True)
class Traffic:
    """DRAM bytes of a layer per operand; `psum` is partial sums spilled to DRAM and read back."""

    input: float = 0.0
    weight: float = 0.0
    output: float = 0.0
    psum: float = 0.0

    @property
    def total(self) -> float:
        return self.input + self.weight + self.output + self.psum

    def __add__(self, other: "Traffic") -> "Traffic":
        return Traffic(self.input + other.input, self.weight + other.weight, self.output + other.output,
                       self.psum + other.psum)


@dataclass(frozen=True)
class LayerSchedule:
    """The tiling of one GEMM layer (per group; groups run one after another).

    Tiles are GEMM elements (tk counts K elements: input channels x kernel for a conv). `trips` are
    the tile counts along (m, k, n). `loop_order` is outer -> inner. `passes` says how many times each
    operand streams from DRAM (1 = loaded once; for the output, > 1 means partial sums are spilled and
    read back, `psum_spill`). `load_levels` are the loop depths (0 = before every loop) where each
    operand is loaded: an operand loaded outside a loop it does not depend on stays resident in its
    buffer across that loop. `load_bytes` is what one such load (or output store) moves, full tiles.
    """

    gemm: str
    m_tile: str
    tm: int
    tk: int
    tn: int
    trips: tuple[int, int, int]
    loop_order: tuple[str, str, str]
    passes: tuple[int, int, int]
    load_levels: tuple[int, int, int]
    load_bytes: tuple[int, int, int]  # bytes per load of input and weight, per store of the output
    mapping: str
    psum_spill: bool
    groups: int = 1
    dims: tuple[int, int, int] = (0, 0, 0)  # the GEMM's M, K, N per group
    accumulator_bytes: int = 4

    def describe(self) -> str:
        order = ">".join(self.loop_order)
        return f"tm={self.tm} ({self.m_tile}) tk={self.tk} tn={self.tn} order {order}"


@dataclass(frozen=True)
class LayerResult:
    """One layer on the accelerator. Cycles are the array's clock cycles (floats: memory cycles are
    bytes / bandwidth x clock). `kind`: gemm (conv/FC tiled on the array), mac (a MAC op with no
    GEMM view, run at the array's peak), vector (element-wise work), view (moves nothing), unknown
    (no cost rule: not counted). A fused group's `fused_ops` are its members' ops; `vector_cycles`
    the cycles of its element-wise epilogue on the vector lanes (overlapped with the array)."""

    name: str
    op_type: str
    kind: str
    macs: int
    flops: int
    traffic: Traffic
    compute_cycles: float
    memory_cycles: float
    prologue_cycles: float
    epilogue_cycles: float
    tile_compute_cycles: float
    total_cycles: float
    time_s: float
    bound: str
    utilisation: float
    schedule: LayerSchedule | None = None
    fused_ops: tuple[str, ...] = ()
    epilogue_ops: tuple[str, ...] = ()  # of a fused group: what runs on the output tile (folded ops excluded)
    residual_bytes: float = 0.0  # of a fused group: the epilogue's second operand, fetched from DRAM
    vector_cycles: float = 0.0
    array_cycles: float = 0.0  # a fused group's array cycles alone (its compute is the max with the epilogue)
    energy: Energy | None = None  # joules by component, when the spec has an energy table

    @property
    def dram_bytes(self) -> float:
        return self.traffic.total

    @property
    def op_label(self) -> str:
        """'Conv+BatchNormalization+Relu' for a fused group, the op type otherwise."""
        return "+".join(self.fused_ops) if self.fused_ops else self.op_type

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["dram_bytes"] = self.dram_bytes
        data.pop("energy")
        data["energy_J"] = self.energy.to_dict() if self.energy is not None else None
        return data


@dataclass(frozen=True)
class AccelResult:
    """A whole model on one accelerator: layers run one after another (no overlap between layers)."""

    model: str
    hardware: str
    dtype: str
    macs_per_cycle: int
    clock_hz: float
    double_buffering: bool
    layers: tuple[LayerResult, ...]
    notes: tuple[str, ...] = ()
    fusion: str = "none"

    @property
    def energy(self) -> Energy | None:
        """Joules per inference by component; None without an energy table."""
        parts = [layer.energy for layer in self.layers]
        if not parts or any(e is None for e in parts):
            return None
        return sum(parts, Energy())

    @property
    def edp_Js(self) -> float | None:
        """Energy-delay product: joules x seconds of one inference."""
        energy = self.energy
        return energy.total * self.time_s if energy is not None else None

    @property
    def power_W(self) -> float | None:
        """Average power over one inference: energy / time."""
        energy = self.energy
        return energy.total / self.time_s if energy is not None and self.time_s else None

    @property
    def share_outside_mac(self) -> float:
        """Fraction of the time spent in layers (groups) whose work is not on the MAC array."""
        total = self.time_s
        return sum(layer.time_s for layer in self.layers if layer.kind not in ("gemm", "mac")) / total if total else 0.0

    def _sum(self, attr: str) -> float:
        return sum(getattr(layer, attr) for layer in self.layers)

    @property
    def macs(self) -> int:
        return int(self._sum("macs"))

    @property
    def total_cycles(self) -> float:
        return self._sum("total_cycles")

    @property
    def compute_cycles(self) -> float:
        return self._sum("compute_cycles")

    @property
    def memory_cycles(self) -> float:
        return self._sum("memory_cycles")

    @property
    def time_s(self) -> float:
        return self._sum("time_s")

    @property
    def traffic(self) -> Traffic:
        total = Traffic()
        for layer in self.layers:
            total = total + layer.traffic
        return total

    @property
    def dram_bytes(self) -> float:
        return self.traffic.total

    @property
    def utilisation(self) -> float:
        """Useful MACs / (cycles x MACs per cycle) over the whole model."""
        cycles = self.total_cycles
        return self.macs / (cycles * self.macs_per_cycle) if cycles else 0.0

    @property
    def memory_bound_fraction(self) -> float:
        """Share of the time spent in memory-bound layers."""
        time = self.time_s
        return sum(l.time_s for l in self.layers if l.bound == "memory") / time if time else 0.0

    @property
    def unknown_layers(self) -> tuple[str, ...]:
        return tuple(l.name for l in self.layers if l.kind == "unknown")

    def totals(self) -> dict[str, Any]:
        traffic = self.traffic
        return {
            "macs": self.macs, "total_cycles": self.total_cycles, "compute_cycles": self.compute_cycles,
            "memory_cycles": self.memory_cycles, "time_s": self.time_s, "dram_bytes": traffic.total,
            "dram_bytes_per_operand": dataclasses.asdict(traffic), "utilisation": self.utilisation,
            "memory_bound_fraction": self.memory_bound_fraction, "share_outside_mac": self.share_outside_mac,
            "energy_J": self.energy.to_dict() if self.energy is not None else None,
            "power_W": self.power_W, "edp_Js": self.edp_Js,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "hardware": self.hardware, "dtype": self.dtype, "fusion": self.fusion,
            "macs_per_cycle": self.macs_per_cycle, "clock_hz": self.clock_hz,
            "double_buffering": self.double_buffering, "notes": list(self.notes),
            "totals": self.totals(), "layers": [layer.to_dict() for layer in self.layers],
        }
