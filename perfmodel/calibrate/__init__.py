"""Measure this machine and write a hardware spec that works wherever a preset does.

What is timed (every figure: several repeats; the table shows median, min, max and spread):

* peak fp32 FLOP/s, two ways:
  - FMA chains: a numba kernel, one call per thread (`prange`), each keeping independent fp32
    `x = x * a + b` chains in registers (fastmath lets LLVM fuse and vectorize them): 64 chains =
    8 AVX2 registers, or 128 = 8 AVX-512 registers when /proc/cpuinfo shows avx512f; 8 registers
    hide the FMA latency on two FMA pipes. 2 FLOPs per FMA;
  - GEMM: numpy's `@` on float32 (the BLAS numpy links), 2 n^3 FLOPs; plus the project's own GEMM
    (`kernels.gemm.gemm_nt`) when it is importable (see `PROJECT_GEMM_CANDIDATES`).
* memory bandwidth: STREAM-style copy (`b[i] = a[i]`, 16 bytes per float64 element) and triad
  (`a[i] = b[i] + s * c[i]`, 24 bytes), the shared `kernels.stream` kernels, arrays several times the last-level cache,
  counted as STREAM does (write-allocate traffic not counted).
* a working-set sweep: every thread sums the same array, sizes from 16 KiB doubling to 4 x the
  last-level cache (256 MiB at least; --quick: x4 steps to 64 MiB at least); the bandwidth steps
  down where the array stops fitting a cache level.

The spec takes the best repeat (a ceiling, as peaks are): peak fp32 = the better of FMA and GEMM,
bandwidth = the better of copy and triad, caches = the sizes the OS reports
(/sys/devices/system/cpu/cpu0/cache, else os.sysconf, else the sweep's steps) with the sweep's
bandwidth inside each. fp16/bf16/int8 are not measured and are left out of the spec.

Every numba kernel (`kernels/peak.py`, `kernels/stream.py`) is `cache=True`: the first run compiles
(a few seconds), later runs load. Modules: `machine` (what the OS reports), `measure` (timing, the
only one that imports numba, on first use of `calibrate()`), `results`, `summary` (tables, spec).
"""

from __future__ import annotations

from typing import Any

from perfmodel.calibrate.machine import cache_bandwidths, os_cache_levels, sweep_steps, usable_cores
from perfmodel.calibrate.results import Calibration, Measurement
from perfmodel.calibrate.summary import report, spec_header, to_spec

__all__ = ["Calibration", "Measurement", "cache_bandwidths", "calibrate", "os_cache_levels", "report",
           "spec_header", "sweep_steps", "to_spec", "usable_cores"]


def __getattr__(name: str) -> Any:
    """`calibrate` is loaded lazily: importing perfmodel.calibrate must not import numba."""
    if name == "calibrate":
        from perfmodel.calibrate.measure import calibrate

        return calibrate
    raise AttributeError(f"module 'perfmodel.calibrate' has no attribute {name!r}")
