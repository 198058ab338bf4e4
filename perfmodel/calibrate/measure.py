"""Timing: run each probe (numba kernels from `kernels/`, numpy's BLAS) and collect its repeats.

The only calibrate module that imports numba (through `kernels`), so `perfmodel` itself stays free
of it until a calibration actually runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kernels import peak, stream
from perfmodel.calibrate.machine import (
    KiB, MiB, available_memory, cache_bandwidths, cpu_name, os_cache_levels, sweep_steps,
)
from perfmodel.calibrate.results import Calibration, Measurement
from perfmodel.units import binary

# Hook for the project's own GEMM (kernels/, written separately): the first (module, function,
# form) that imports is timed next to numpy's BLAS and may set the peak. Form "nt": `fn(a, b)` is
# a @ b.T (b given as (N, K), as kernels.gemm.gemm_nt); form "nn": `fn(a, b)` is a @ b. Operands are
# float32 C-contiguous (n, n); the result is checked against numpy on a small case first.
PROJECT_GEMM_CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("kernels.gemm", "gemm_nt", "nt"),
    ("kernels.gemm", "gemm", "nn"),
)


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


def _compile(progress: Callable[[str], None]) -> float:
    progress("loading numba kernels (compiled on the first run, then cached)")
    t0 = time.perf_counter()
    a, b = np.float32(0.999), np.float32(1e-3)
    peak.fma(peak.fma_lanes())(1, 1, a, b)
    x = np.empty(64, dtype=np.float64)
    y = np.empty(64, dtype=np.float64)
    peak.fill(x, 1.0)
    peak.fill(y, 2.0)
    stream.copy(x, y)
    stream.triad(x, y, y, 3.0)
    peak.read_sum(x, 1, 1)
    return time.perf_counter() - t0


def measure_fma(plan: _Plan, threads: int) -> Measurement:
    a, b = np.float32(0.9999), np.float32(1e-4)
    lanes = peak.fma_lanes()
    kernel = peak.fma(lanes)
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
        notes.append("project GEMM: none importable (hook: perfmodel.calibrate.measure.PROJECT_GEMM_CANDIDATES)")
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
        peak.fill(x, v)  # first touch by the threads that stream them
    stream.copy(a, b)  # b = a
    stream.triad(a, b, c, 3.0)
    copy = tuple(16.0 * n / _time(lambda: stream.copy(a, b)) for _ in range(plan.repeats))
    triad = tuple(24.0 * n / _time(lambda: stream.triad(a, b, c, 3.0)) for _ in range(plan.repeats))
    size = binary(8 * n)
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
    peak.fill(big, 1.0)
    views = [big[: size // 8] for size in sizes]
    reps = [_scaled(lambda r: peak.read_sum(x, r, threads), (4 * MiB) // x.nbytes, plan.target_s)[0] for x in views]
    # Repeats go round the sizes (not all repeats of one size in a row), so that a burst of load
    # from another process lowers one repeat of several sizes, not every repeat of one size.
    rates: list[list[float]] = [[] for _ in sizes]
    for _ in range(plan.repeats):
        for k, x in enumerate(views):
            rates[k].append(x.nbytes * reps[k] * threads / _time(lambda: peak.read_sum(x, reps[k], threads)))
    out = [(size, Measurement(f"read {binary(size)}", "GB/s", tuple(r))) for size, r in zip(sizes, rates)]
    progress(f"sweep done: {len(sizes)} sizes, {binary(sizes[0])} .. {binary(sizes[-1])}")
    return tuple(out)


def calibrate(quick: bool = False, repeats: int | None = None,
              progress: Callable[[str], None] = lambda msg: None) -> Calibration:
    """Run every measurement; `progress` receives one line per step."""
    plan = QUICK if quick else FULL
    if repeats is not None:
        plan = _Plan(**{**plan.__dict__, "repeats": max(1, repeats)})
    started = time.perf_counter()
    threads = peak.get_num_threads()
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
