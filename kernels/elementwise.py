"""Element-wise ops (fp32): ReLU and Add, flat parallel loops that stream memory once.

Both are bandwidth-bound (ReLU: 8 bytes moved per FLOP, Add: 12), so the kernels are one pass over
contiguous memory split into a few large chunks per thread, which the loop vectorizer turns into
plain vector loads/max/add/stores. ONNX Add broadcasts numpy-style; the common CNN case (equal
shapes, the residual connection) runs the kernel directly, other shapes are broadcast to the output
shape first.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_PJIT = dict(parallel=True, fastmath=True, cache=True)

CHUNK = 1 << 14
"""Elements per parallel chunk (64 KiB of fp32): large enough to amortize scheduling."""


@njit(**_PJIT)
def _relu_core(x, out):  # pragma: no cover - jitted
    """out = max(x, 0) over flat arrays."""
    n = x.size
    nchunks = (n + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        src = x[lo:hi]
        dst = out[lo:hi]
        for i in range(hi - lo):
            v = src[i]
            dst[i] = v if v > 0.0 else np.float32(0.0)


@njit(**_PJIT)
def _add_core(a, b, out):  # pragma: no cover - jitted
    """out = a + b over flat arrays of equal length."""
    n = a.size
    nchunks = (n + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        sa = a[lo:hi]
        sb = b[lo:hi]
        dst = out[lo:hi]
        for i in range(hi - lo):
            dst[i] = sa[i] + sb[i]


def relu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """ONNX Relu: max(x, 0). `out` may be x itself (in place)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if out is None:
        out = np.empty_like(x)
    _relu_core(x.reshape(-1), out.reshape(-1))
    return out


def add(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """ONNX Add with numpy broadcasting; equal shapes take the streaming kernel without copies."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    shape = np.broadcast_shapes(a.shape, b.shape)
    # broadcast_to gives read-only views, a second numba signature: materialize only when needed
    a = np.ascontiguousarray(a) if a.shape == shape else np.array(np.broadcast_to(a, shape))
    b = np.ascontiguousarray(b) if b.shape == shape else np.array(np.broadcast_to(b, shape))
    if out is None:
        out = np.empty(shape, np.float32)
    _add_core(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out
