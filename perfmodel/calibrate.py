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

Every numba kernel is `cache=True`: the first run compiles (a few seconds), later runs load.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from numba import get_num_threads, njit, prange

from kernels import stream
from perfmodel import __version__
from perfmodel.hardware import CacheLevel, HardwareSpec, format_bandwidth, format_bytes, format_flops

KiB = 1 << 10
MiB = 1 << 20

# Hook for the project's own GEMM (kernels/, written separately): the first (module, function,
# form) that imports is timed next to numpy's BLAS and may set the peak. Form "nt": `fn(a, b)` is
# a @ b.T (b given as (N, K), as kernels.gemm.gemm_nt); form "nn": `fn(a, b)` is a @ b. Operands are
# float32 C-contiguous (n, n); the result is checked against numpy on a small case first.
PROJECT_GEMM_CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("kernels.gemm", "gemm_nt", "nt"),
    ("kernels.gemm", "gemm", "nn"),
)


# --------------------------------------------------------------------------------------------------
# Kernels (numba; cache=True everywhere so only the first run pays the compile)


@njit(fastmath=True, cache=True)
def _fma_chains_64(iters, a, b, seed):
    acc = np.empty(64, dtype=np.float32)
    for j in range(64):
        acc[j] = np.float32(seed + j) * np.float32(1e-3)
    for _ in range(iters):
        for j in range(64):
            acc[j] = acc[j] * a + b
    return acc.sum()


@njit(fastmath=True, cache=True)
def _fma_chains_128(iters, a, b, seed):
    acc = np.empty(128, dtype=np.float32)
    for j in range(128):
        acc[j] = np.float32(seed + j) * np.float32(1e-3)
    for _ in range(iters):
        for j in range(128):
            acc[j] = acc[j] * a + b
    return acc.sum()


@njit(parallel=True, fastmath=True, cache=True)
def _fma_parallel_64(n_threads, iters, a, b):
    out = np.zeros(n_threads, dtype=np.float32)
    for t in prange(n_threads):
        out[t] = _fma_chains_64(iters, a, b, t)
    return out.sum()


@njit(parallel=True, fastmath=True, cache=True)
def _fma_parallel_128(n_threads, iters, a, b):
    out = np.zeros(n_threads, dtype=np.float32)
    for t in prange(n_threads):
        out[t] = _fma_chains_128(iters, a, b, t)
    return out.sum()


@njit(parallel=True, fastmath=True, cache=True)
def _fill(x, value):
    for i in prange(x.size):
        x[i] = value


@njit(fastmath=True, cache=True)
def _read_sum_one(x, reps):
    # fastmath lets LLVM split the sum over several vector accumulators (vectorized, unrolled).
    s = 0.0
    for _ in range(reps):
        for i in range(x.size):
            s += x[i]
    return s


@njit(parallel=True, fastmath=True, cache=True)
def _read_sum(x, reps, n_threads):
    out = np.zeros(n_threads, dtype=np.float64)
    for t in prange(n_threads):
        out[t] = _read_sum_one(x, reps)
    return out.sum()


# --------------------------------------------------------------------------------------------------
# Results


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


# --------------------------------------------------------------------------------------------------
# Machine facts


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory free now (a large figure where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _parse_size(text: str) -> int | None:
    text = text.strip().upper()
    scale = {"K": KiB, "M": MiB, "G": 1 << 30}.get(text[-1:], 1)
    digits = text.rstrip("KMGB").strip()
    return int(digits) * scale if digits.isdigit() else None


def os_cache_levels(sysfs_root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> tuple[list[tuple[str, int]], str]:
    """Data/unified cache levels of cpu0 as (name, size in bytes), innermost first, and where from."""
    levels: list[tuple[int, str, int]] = []
    root = Path(sysfs_root)
    try:
        for index in sorted(root.glob("index*")):
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = int((index / "level").read_text().strip())
            size = _parse_size((index / "size").read_text())
            if size:
                levels.append((level, f"L{level}" + ("d" if kind == "Data" else ""), size))
    except (OSError, ValueError):
        levels = []
    if levels:
        return [(name, size) for _, name, size in sorted(levels)], "sysfs"
    found = []
    for level, key in ((1, "SC_LEVEL1_DCACHE_SIZE"), (2, "SC_LEVEL2_CACHE_SIZE"), (3, "SC_LEVEL3_CACHE_SIZE"),
                       (4, "SC_LEVEL4_CACHE_SIZE")):
        try:
            size = os.sysconf(key)
        except (ValueError, OSError, AttributeError):
            continue
        if size and size > 0:
            found.append((f"L{level}" + ("d" if level == 1 else ""), int(size)))
    return (found, "sysconf") if found else ([], "none")


def sweep_steps(sizes: list[int], bandwidths: list[float], drop: float = 0.8) -> list[int]:
    """Working-set sizes after which the read bandwidth steps down: a cache level's edge.

    A step after `sizes[i]` means every larger size reads slower than `drop` x `bandwidths[i]`
    (a dip at one size, from a noisy neighbour, is not a step; pass the best repeats, since noise
    only ever slows a run down). A fall spread over consecutive sizes is one step, reported at the
    size before it starts. The last two sizes cannot start a step: nothing would confirm it.
    """
    steps: list[int] = []
    previous = -2
    for i in range(len(sizes) - 2):
        if max(bandwidths[i + 1:]) < drop * bandwidths[i]:
            if i != previous + 1:
                steps.append(sizes[i])
            previous = i
    return steps


def cache_bandwidths(levels: list[tuple[str, int]], sweep: list[tuple[int, float]]) -> tuple[CacheLevel, ...]:
    """Each level with the best sweep bandwidth among the sizes that fit it (at most half of it)
    and not the level inside it."""
    out = []
    inner = 0
    for name, size in levels:
        inside = [bw for s, bw in sweep if inner < s <= size // 2]
        out.append(CacheLevel(name=name, size_bytes=size, bandwidth=_round(max(inside)) if inside else None))
        inner = size
    return tuple(out)


def _round(x: float, digits: int = 4) -> float:
    """`x` to `digits` significant digits, so the written spec reads 97.41 GFLOPS, not 97.4123..."""
    if x <= 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits - 1}e}")


# --------------------------------------------------------------------------------------------------
# Timing


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _scaled(run: Callable[[int], object], work0: int, target_s: float) -> tuple[int, float]:
    """Pick a work count so one call of `run(work)` takes about `target_s`; returns it and its time."""
    work = max(1, work0)
    for _ in range(6):
        dt = _time(lambda: run(work))
        if dt >= target_s * 0.5:
            return work, dt
        work = max(work + 1, int(work * min(64.0, target_s / max(dt, 1e-6))))
    return work, dt


@dataclass(frozen=True)
class _Plan:
    repeats: int
    target_s: float
    gemm_n: int
    stream_min_bytes: int
    sweep_min: int
    sweep_max_min: int
    sweep_factor: int
    llc_factor: int  # stream arrays and the sweep's top are at least this many times the LLC


QUICK = _Plan(repeats=5, target_s=0.01, gemm_n=768, stream_min_bytes=64 * MiB, sweep_min=16 * KiB,
              sweep_max_min=64 * MiB, sweep_factor=4, llc_factor=4)
FULL = _Plan(repeats=7, target_s=0.05, gemm_n=2048, stream_min_bytes=256 * MiB, sweep_min=16 * KiB,
             sweep_max_min=256 * MiB, sweep_factor=2, llc_factor=4)


def fma_lanes() -> int:
    """Independent fp32 chains per thread: 8 vector registers' worth (AVX-512: 16 lanes each)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return 128 if "avx512f" in line.split() else 64
    except OSError:
        pass
    return 64


def _fma_kernel(lanes: int):
    return _fma_parallel_128 if lanes == 128 else _fma_parallel_64


def _compile(progress: Callable[[str], None]) -> float:
    progress("loading numba kernels (compiled on the first run, then cached)")
    t0 = time.perf_counter()
    a, b = np.float32(0.999), np.float32(1e-3)
    _fma_kernel(fma_lanes())(1, 1, a, b)
    x = np.empty(64, dtype=np.float64)
    y = np.empty(64, dtype=np.float64)
    _fill(x, 1.0)
    _fill(y, 2.0)
    stream.copy(x, y)
    stream.triad(x, y, y, 3.0)
    _read_sum(x, 1, 1)
    return time.perf_counter() - t0


def measure_fma(plan: _Plan, threads: int) -> Measurement:
    a, b = np.float32(0.9999), np.float32(1e-4)
    lanes = fma_lanes()
    kernel = _fma_kernel(lanes)
    iters, _ = _scaled(lambda n: kernel(threads, n, a, b), 100_000, plan.target_s)
    flops = 2.0 * lanes * iters * threads
    rates = tuple(flops / _time(lambda: kernel(threads, iters, a, b)) for _ in range(plan.repeats))
    return Measurement(f"peak fp32: FMA, {lanes} chains/thread (numba)", "GFLOP/s", rates)


def _project_gemm() -> tuple[Callable | None, str, str]:
    import importlib

    for module_name, attr, form in PROJECT_GEMM_CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, attr, None)
        if callable(fn):
            return fn, f"{module_name}.{attr}", form
    return None, "", ""


def measure_gemm(plan: _Plan, progress: Callable[[str], None]) -> tuple[tuple[Measurement, ...], tuple[str, ...]]:
    n = plan.gemm_n
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n**3
    a @ b  # warm-up: BLAS thread pool start
    rates = tuple(flops / _time(lambda: a @ b) for _ in range(plan.repeats))
    out = [Measurement(f"peak fp32: GEMM numpy @ {n}^3 (BLAS)", "GFLOP/s", rates)]
    notes: list[str] = []
    fn, where, form = _project_gemm()
    if fn is None:
        notes.append("project GEMM: none importable (hook: perfmodel.calibrate.PROJECT_GEMM_CANDIDATES)")
        return tuple(out), tuple(notes)
    progress(f"peak fp32: GEMM {n}^3 with the project's {where} (numba; compiled on its first run)")
    try:
        small_a, small_b = a[:48, :40].copy(), b[:40, :24].copy()
        operand = np.ascontiguousarray(small_b.T) if form == "nt" else small_b
        got = np.asarray(fn(small_a, operand))
        if got.shape != (48, 24) or not np.allclose(got, small_a @ small_b, rtol=1e-3, atol=1e-3):
            raise ValueError("result differs from numpy's")
        b_op = np.ascontiguousarray(b.T) if form == "nt" else b
        fn(a, b_op)  # warm-up
        rates = tuple(flops / _time(lambda: fn(a, b_op)) for _ in range(plan.repeats))
        out.append(Measurement(f"peak fp32: GEMM {where} {n}^3 (project)", "GFLOP/s", rates))
    except Exception as exc:  # a kernel under development must not break calibration
        notes.append(f"project GEMM {where}: skipped ({type(exc).__name__}: {exc})")
    return tuple(out), tuple(notes)


def measure_streams(plan: _Plan, threads: int, llc_bytes: int) -> tuple[Measurement, Measurement, int]:
    nbytes = min(max(plan.stream_min_bytes, plan.llc_factor * llc_bytes),
                 max(plan.stream_min_bytes // 4, available_memory() // 8))  # 3 arrays, room to spare
    n = nbytes // 8
    a = np.empty(n, dtype=np.float64)
    b = np.empty(n, dtype=np.float64)
    c = np.empty(n, dtype=np.float64)
    for x, v in ((a, 1.0), (b, 2.0), (c, 0.5)):
        _fill(x, v)  # first touch by the threads that stream them
    stream.copy(a, b)  # b = a
    stream.triad(a, b, c, 3.0)
    copy = tuple(16.0 * n / _time(lambda: stream.copy(a, b)) for _ in range(plan.repeats))
    triad = tuple(24.0 * n / _time(lambda: stream.triad(a, b, c, 3.0)) for _ in range(plan.repeats))
    size = format_bytes(8 * n)
    return (Measurement(f"memory: copy, 2 x {size} (numba)", "GB/s", copy),
            Measurement(f"memory: triad, 3 x {size} (numba)", "GB/s", triad), 8 * n)


def measure_sweep(plan: _Plan, threads: int, llc_bytes: int,
                  progress: Callable[[str], None]) -> tuple[tuple[int, Measurement], ...]:
    top = min(max(plan.sweep_max_min, plan.llc_factor * llc_bytes),
              max(plan.sweep_max_min // 4, available_memory() // 4))
    sizes = []
    s = plan.sweep_min
    while s <= top:
        sizes.append(s)
        s *= plan.sweep_factor
    big = np.empty(sizes[-1] // 8, dtype=np.float64)
    _fill(big, 1.0)
    views = [big[: size // 8] for size in sizes]
    reps = [_scaled(lambda r: _read_sum(x, r, threads), (4 * MiB) // x.nbytes, plan.target_s)[0] for x in views]
    # Repeats go round the sizes (not all repeats of one size in a row), so that a burst of load
    # from another process lowers one repeat of several sizes, not every repeat of one size.
    rates: list[list[float]] = [[] for _ in sizes]
    for _ in range(plan.repeats):
        for k, x in enumerate(views):
            rates[k].append(x.nbytes * reps[k] * threads / _time(lambda: _read_sum(x, reps[k], threads)))
    out = [(size, Measurement(f"read {format_bytes(size)}", "GB/s", tuple(r))) for size, r in zip(sizes, rates)]
    progress(f"sweep done: {len(sizes)} sizes, {format_bytes(sizes[0])} .. {format_bytes(sizes[-1])}")
    return tuple(out)


def calibrate(quick: bool = False, repeats: int | None = None,
              progress: Callable[[str], None] = lambda msg: None) -> Calibration:
    """Run every measurement; `progress` receives one line per step."""
    plan = QUICK if quick else FULL
    if repeats is not None:
        plan = _Plan(**{**plan.__dict__, "repeats": max(1, repeats)})
    started = time.perf_counter()
    threads = get_num_threads()
    compile_s = _compile(progress)
    progress(f"kernels ready in {compile_s:.1f} s; {threads} threads")

    levels, cache_source = os_cache_levels()
    llc = max((size for _, size in levels), default=32 * MiB)

    progress("peak fp32: FMA chains")
    fma = measure_fma(plan, threads)
    progress(f"peak fp32: GEMM {plan.gemm_n}^3 with numpy")
    gemm, notes = measure_gemm(plan, progress)
    progress("memory bandwidth: copy and triad")
    copy, triad, stream_bytes = measure_streams(plan, threads, llc)
    progress("working-set sweep")
    sweep = measure_sweep(plan, threads, llc, progress)

    sizes = [s for s, _ in sweep]
    steps = sweep_steps(sizes, [m.best for _, m in sweep])
    if not levels:
        levels = [(f"L{i + 1}", size) for i, size in enumerate(steps)]
        cache_source = "sweep" if levels else "none"
    caches = cache_bandwidths(levels, [(s, m.best) for s, m in sweep])
    return Calibration(fma=fma, gemm=gemm, copy=copy, triad=triad, sweep=sweep, caches=caches,
                       cache_source=cache_source, sweep_steps=tuple(steps), threads=threads, cpu=cpu_name(),
                       quick=quick, stream_bytes=stream_bytes, compile_s=compile_s,
                       elapsed_s=time.perf_counter() - started, notes=notes)


# --------------------------------------------------------------------------------------------------
# Output


def _g(x: float) -> str:
    return f"{x / 1e9:.4g}"


def report(cal: Calibration) -> str:
    """The tables `perfmodel calibrate` prints."""
    from tabulate import tabulate

    head = ["figure", "unit", "median", "min", "max", "spread", "repeats"]

    def row(m: Measurement, label: str | None = None) -> list[str]:
        return [label or m.label, m.unit, _g(m.median), _g(m.min), _g(m.max), f"{100 * m.spread:.1f}%",
                str(len(m.rates))]

    lines = [f"perfmodel calibrate: {cal.cpu}, {cal.threads} threads, "
             f"{'quick run' if cal.quick else 'full run'} in {cal.elapsed_s:.1f} s "
             f"(numba kernels ready in {cal.compile_s:.1f} s)", ""]
    rows = [row(m) for m in (cal.fma, *cal.gemm, cal.copy, cal.triad)]
    lines += [tabulate(rows, headers=head, disable_numparse=True, colalign=("left", "left") + ("right",) * 5), ""]

    where = {}
    inner = 0
    for level in cal.caches:
        for s, _ in cal.sweep:
            if inner < s <= level.size_bytes and s not in where:
                where[s] = level.name
        inner = level.size_bytes
    sweep_rows = []
    for s, m in cal.sweep:
        r = row(m, format_bytes(s))
        sweep_rows.append(r + [where.get(s, "memory") + (" | step" if s in cal.sweep_steps else "")])
    lines += ["working-set sweep (every thread sums the same array; '| step' = bandwidth drops after it):",
              tabulate(sweep_rows, headers=["working set", *head[1:], "fits in"], disable_numparse=True,
                       colalign=("right", "left") + ("right",) * 5 + ("left",)), ""]

    src = {"sysfs": "sizes from /sys/devices/system/cpu/cpu0/cache", "sysconf": "sizes from os.sysconf",
           "sweep": "sizes estimated from the sweep's steps", "none": "no cache level found"}[cal.cache_source]
    levels = ", ".join(
        f"{c.name} {format_bytes(c.size_bytes)}" + (f" ({format_bandwidth(c.bandwidth)})" if c.bandwidth else "")
        for c in cal.caches)
    lines.append(f"caches: {levels or '-'}; {src}; sweep steps after "
                 f"{', '.join(format_bytes(s) for s in cal.sweep_steps) or 'none'}")
    peak, bw = cal.peak, cal.bandwidth
    peak_what = peak.label.split(": ", 1)[1]
    bw_what = bw.label.split(": ", 1)[1].split(",")[0]
    lines.append(f"spec: peak fp32 {format_flops(_round(peak.best))} (best repeat of {peak_what}), "
                 f"bandwidth {format_bandwidth(_round(bw.best))} (best repeat of {bw_what}), "
                 f"ridge point {_round(peak.best) / _round(bw.best):.3g} FLOP/B")
    lines += [f"note: {n}" for n in cal.notes]
    return "\n".join(lines)


def to_spec(cal: Calibration, name: str = "this-cpu") -> HardwareSpec:
    peak, bw = cal.peak, cal.bandwidth
    today = datetime.date.today().isoformat()
    return HardwareSpec(
        name=name,
        description=f"{cal.cpu}, {cal.threads} threads, measured by perfmodel calibrate",
        source=(f"perfmodel {__version__} calibrate{' --quick' if cal.quick else ''} on {today}: "
                f"peak fp32 = best repeat of {peak.label.split(': ', 1)[1]}; "
                f"bandwidth = best repeat of STREAM {bw.label.split(': ', 1)[1].split(',')[0]}; "
                f"cache sizes from {cal.cache_source}, bandwidths from the read sweep"),
        peak_flops={"fp32": _round(peak.best)},
        mem_bandwidth=_round(bw.best),
        cores=usable_cores(),
        clock_hz=None,
        caches=cal.caches,
    )


def spec_header(cal: Calibration) -> str:
    """Comment block for the written spec: how it was measured and what it leaves out."""
    m = lambda x: f"{x.label}: median {_g(x.median)}, min {_g(x.min)}, max {_g(x.max)} {x.unit}"  # noqa: E731
    lines = [f"Measured by `python -m perfmodel calibrate{' --quick' if cal.quick else ''}` "
             f"({cal.threads} threads, {sys.platform}).",
             *(m(x) for x in (cal.fma, *cal.gemm, cal.copy, cal.triad)),
             "Figures are the best repeat, rounded to 4 significant digits.",
             "fp16/bf16/int8 are not measured (numpy/numba have no fast path for them on a CPU) and",
             "are left out: add e.g. `fp16 = ...` to the [peak_*] table if you measure them.",
             "Load it anywhere a preset is accepted: --hw this-file.toml"]
    return "\n".join(lines)
