"""What a calibration measured: one `Measurement` per figure (its repeats), the whole `Calibration`."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from perfmodel.hardware import CacheLevel


@dataclass(frozen=True)
class Measurement:
    """Rates of the repeats of one figure, in base units (FLOP/s or bytes/s)."""

    label: str
    unit: str  # "GFLOP/s" or "GB/s": how the table shows it
    rates: tuple[float, ...]
    note: str = ""

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def min(self) -> float:
        return min(self.rates)

    @property
    def max(self) -> float:
        return max(self.rates)

    @property
    def spread(self) -> float:
        """(max - min) / median."""
        return (self.max - self.min) / self.median if self.median else 0.0


@dataclass(frozen=True)
class Calibration:
    fma: Measurement
    gemm: tuple[Measurement, ...]
    copy: Measurement
    triad: Measurement
    sweep: tuple[tuple[int, Measurement], ...]  # (working-set bytes, read bandwidth)
    caches: tuple[CacheLevel, ...]
    cache_source: str  # "sysfs", "sysconf", "sweep" or "none"
    sweep_steps: tuple[int, ...]  # sizes after which the sweep's bandwidth drops
    threads: int
    cpu: str
    quick: bool
    stream_bytes: int  # bytes of each stream array
    compile_s: float
    elapsed_s: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def peak(self) -> Measurement:
        return max((self.fma, *self.gemm), key=lambda m: m.best)

    @property
    def bandwidth(self) -> Measurement:
        return max((self.copy, self.triad), key=lambda m: m.best)

