"""Hardware spec data: the frozen classes every model reads, and the unit scales of the TOML schema.

The schema itself (keys, units, which fields are required) is documented in `perfmodel.hardware`.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from perfmodel.errors import PerfmodelError
from perfmodel.record import DTYPE_BYTES

PRESET_DIR = Path(__file__).resolve().parent.parent / "hw"

# Unit suffix -> base units per unit (bytes/s, Hz, bytes, FLOP/s). A file's number is read as the
# decimal it is written as, times the scale, rounded once: `clock_GHz = 0.98` is exactly 0.98e9.
BANDWIDTH_UNITS: dict[str, int] = {"TBps": 10**12, "GBps": 10**9, "MBps": 10**6, "Bps": 1}
FREQUENCY_UNITS: dict[str, int] = {"GHz": 10**9, "MHz": 10**6, "Hz": 1}
SIZE_UNITS: dict[str, int] = {"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "bytes": 1}
RATE_UNITS: dict[str, int] = {"TFLOPS": 10**12, "GFLOPS": 10**9, "FLOPS": 1}

UNITS_OF_KIND: dict[str, Mapping[str, int]] = {
    "bandwidth": BANDWIDTH_UNITS,
    "frequency": FREQUENCY_UNITS,
    "size": SIZE_UNITS,
    "rate": RATE_UNITS,
}


# --------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class CacheLevel:
    """One level of a processor's memory hierarchy (or an on-chip memory)."""

    name: str
    size_bytes: int
    bandwidth: float | None = None  # bytes/s, when known


WEIGHT_LOADS = ("overlapped", "serial")
"""How a weight fold reaches the array: while the previous one computes (TPU-style), or with a stall
of `mac_rows` cycles per fold (SCALE-Sim's count for a weight-stationary systolic array)."""


@dataclass(frozen=True)
class EnergySpec:
    """Energy per operation and per byte moved (picojoules), and static power (milliwatts).

    `mac_pJ` per dtype the array runs; buffers per byte read or written; DRAM per byte transferred.
    """

    mac_pJ: Mapping[str, float]
    weight_buffer_pJ_per_byte: float
    input_buffer_pJ_per_byte: float
    output_buffer_pJ_per_byte: float
    dram_pJ_per_byte: float
    static_mW: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mac_pJ", types.MappingProxyType(dict(self.mac_pJ)))

    def __hash__(self) -> int:
        return hash((tuple(self.mac_pJ.items()), self.weight_buffer_pJ_per_byte, self.input_buffer_pJ_per_byte,
                     self.output_buffer_pJ_per_byte, self.dram_pJ_per_byte, self.static_mW))

    def to_dict(self) -> dict:
        return {"mac_pJ": dict(self.mac_pJ), "weight_buffer_pJ_per_byte": self.weight_buffer_pJ_per_byte,
                "input_buffer_pJ_per_byte": self.input_buffer_pJ_per_byte,
                "output_buffer_pJ_per_byte": self.output_buffer_pJ_per_byte,
                "dram_pJ_per_byte": self.dram_pJ_per_byte, "static_mW": self.static_mW}

    def mac(self, dtype: str) -> float:
        """pJ per MAC at `dtype`; PerfmodelError when the table gives none for it."""
        try:
            return self.mac_pJ[dtype]
        except KeyError:
            raise PerfmodelError(f"the energy table gives no mac_pJ for {dtype} (it gives: "
                                 f"{', '.join(self.mac_pJ)})") from None


@dataclass(frozen=True)
class AcceleratorSpec:
    """A MAC array with on-chip buffers, as the accelerator model sees it."""

    mac_rows: int
    mac_cols: int
    clock_hz: float
    dtype: str
    weight_buffer_bytes: int
    input_buffer_bytes: int
    output_buffer_bytes: int
    dram_bandwidth: float  # bytes/s
    double_buffering: bool
    dataflow: str  # a name in perfmodel.accel.dataflow.DATAFLOWS
    systolic: bool = False  # count fill/drain of the array
    extra_dtypes: tuple[str, ...] = ()  # dtypes also run at the same MAC rate
    weight_load: str = "overlapped"  # one of WEIGHT_LOADS
    accumulator_bits: int = 32  # partial sums' width in the output buffer and when spilled to DRAM
    energy: EnergySpec | None = None

    @property
    def accumulator_bytes(self) -> int:
        return self.accumulator_bits // 8

    def to_dict(self) -> dict:
        """Every field as plain data (the report's JSON)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["extra_dtypes"] = list(self.extra_dtypes)
        data["energy"] = self.energy.to_dict() if self.energy is not None else None
        return data

    @property
    def macs_per_cycle(self) -> int:
        return self.mac_rows * self.mac_cols

    @property
    def peak_macs(self) -> float:
        """MACs per second."""
        return self.macs_per_cycle * self.clock_hz

    @property
    def peak_flops(self) -> float:
        """2 FLOPs (multiply + add) per MAC per cycle."""
        return 2.0 * self.macs_per_cycle * self.clock_hz

    @property
    def dtypes(self) -> tuple[str, ...]:
        return (self.dtype, *self.extra_dtypes)

    @property
    def buffer_bytes(self) -> int:
        return self.weight_buffer_bytes + self.input_buffer_bytes + self.output_buffer_bytes


EFFICIENCY_CLASSES = ("conv", "depthwise", "gemm", "other")
"""Layer classes a runtime's efficiency is fitted per (perfmodel.efficiency.layer_class)."""


@dataclass(frozen=True)
class Efficiency:
    """How a runtime's kernels of one class really run, against the roofline's two terms:
    time = fixed_us x 1e-6 + compute_scale x FLOPs / peak + memory_scale x bytes / bandwidth."""

    fixed_us: float
    compute_scale: float
    memory_scale: float


@dataclass(frozen=True)
class HardwareSpec:
    """A machine for the roofline (peak_flops, mem_bandwidth) and, if it has one, the accelerator model."""

    name: str
    description: str
    source: str
    peak_flops: Mapping[str, float]  # FLOP/s (ops/s for int8) per perfmodel dtype name
    mem_bandwidth: float  # bytes/s (DRAM bandwidth of an accelerator)
    cores: int | None = None
    clock_hz: float | None = None
    caches: tuple[CacheLevel, ...] = ()
    accelerator: AcceleratorSpec | None = None
    path: Path | None = field(default=None, compare=False)
    efficiency: Mapping[str, Efficiency] | None = None  # per EFFICIENCY_CLASSES, from `calibrate --runtime`
    run_us: float = 0.0  # with efficiency: the runtime's own cost of one inference (its session step)

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak_flops", types.MappingProxyType(dict(self.peak_flops)))
        object.__setattr__(self, "caches", tuple(self.caches))
        if self.efficiency is not None:
            object.__setattr__(self, "efficiency", types.MappingProxyType(dict(self.efficiency)))

    def __hash__(self) -> int:
        return hash((self.name, self.description, self.source, tuple(self.peak_flops.items()),
                     self.mem_bandwidth, self.cores, self.clock_hz, self.caches, self.accelerator,
                     tuple(sorted(self.efficiency.items())) if self.efficiency else None, self.run_us))

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(self.peak_flops)

    def peak(self, dtype: str) -> float:
        """Peak FLOP/s for `dtype`; PerfmodelError if this spec gives none."""
        if dtype not in DTYPE_BYTES:
            raise PerfmodelError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
        try:
            return self.peak_flops[dtype]
        except KeyError:
            have = ", ".join(self.peak_flops) or "none"
            raise PerfmodelError(
                f"hardware {self.name!r} has no peak for dtype {dtype!r} (it gives: {have})"
            ) from None

    def ridge_point(self, dtype: str) -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline turns: peak / memory bandwidth."""
        return self.peak(dtype) / self.mem_bandwidth
