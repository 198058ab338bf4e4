"""STREAM-style bandwidth kernels (McCalpin's copy and triad, plus a read-only sum), shared by
`perfmodel calibrate` and `python -m kernels.compare` so both measure bandwidth the same way.

Each kernel splits its arrays into STREAM_CHUNKS contiguous ranges over numba's threads. copy and
triad take any dtype; read sums float32 (a GEMV's weights).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

STREAM_CHUNKS = 64
"""Contiguous chunks per streaming kernel: each thread streams a few long ranges (prefetch-friendly)."""


@njit(parallel=True, fastmath=True, cache=True)
def copy(a, b):  # pragma: no cover - jitted
    """b = a (STREAM copy: 2 x a.nbytes moved)."""
    n = a.size
    step = (n + STREAM_CHUNKS - 1) // STREAM_CHUNKS
    for c in prange(STREAM_CHUNKS):
        lo = min(n, c * step)
        hi = min(n, lo + step)
        src = a[lo:hi]
        dst = b[lo:hi]
        for i in range(hi - lo):
            dst[i] = src[i]


@njit(parallel=True, fastmath=True, cache=True)
def triad(a, b, c, s):  # pragma: no cover - jitted
    """a = b + s * c (STREAM triad: 3 x a.nbytes moved)."""
    n = a.size
    step = (n + STREAM_CHUNKS - 1) // STREAM_CHUNKS
    for k in prange(STREAM_CHUNKS):
        lo = min(n, k * step)
        hi = min(n, lo + step)
        da = a[lo:hi]
        sb = b[lo:hi]
        sc = c[lo:hi]
        for i in range(hi - lo):
            da[i] = sb[i] + s * sc[i]


@njit(parallel=True, fastmath=True, cache=True)
def read(a):  # pragma: no cover - jitted
    """sum(a): a read-only stream, the access pattern of a GEMV's weights."""
    n = a.size
    step = (n + STREAM_CHUNKS - 1) // STREAM_CHUNKS
    partial = np.zeros(STREAM_CHUNKS, np.float32)
    for c in prange(STREAM_CHUNKS):
        lo = min(n, c * step)
        hi = min(n, lo + step)
        src = a[lo:hi]
        s = np.float32(0.0)
        for i in range(hi - lo):
            s += src[i]
        partial[c] = s
    return partial.sum()
