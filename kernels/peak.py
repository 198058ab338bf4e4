"""Peak-rate probes for `perfmodel calibrate`: FMA chains in registers and a parallel array read.

numba kernels, `cache=True` everywhere so only the first run pays the compile. The FMA kernel keeps
independent fp32 `x = x * a + b` chains per thread (fastmath lets LLVM fuse and vectorize them):
64 chains = 8 AVX2 registers, 128 = 8 AVX-512 registers; 8 registers hide the FMA latency on two
FMA pipes. 2 FLOPs per FMA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import get_num_threads, njit, prange

__all__ = ["fill", "fma", "fma_lanes", "get_num_threads", "read_sum"]


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
def fill(x, value):
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
def read_sum(x, reps, n_threads):
    out = np.zeros(n_threads, dtype=np.float64)
    for t in prange(n_threads):
        out[t] = _read_sum_one(x, reps)
    return out.sum()



def fma_lanes() -> int:
    """Independent fp32 chains per thread: 8 vector registers' worth (AVX-512: 16 lanes each)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return 128 if "avx512f" in line.split() else 64
    except OSError:
        pass
    return 64


def fma(lanes: int):
    """The parallel FMA kernel with `lanes` chains per thread: `kernel(threads, iters, a, b)`."""
    return _fma_parallel_128 if lanes == 128 else _fma_parallel_64
