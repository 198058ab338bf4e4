"""Normalization (NCHW, fp32): inference BatchNormalization, its folding into a conv, and LRN.

BatchNormalization (inference, ONNX):  y = scale * (x - mean) / sqrt(var + epsilon) + B
computed as one multiply-add per element, y = a[c] * x + b[c] with a = scale / sqrt(var + eps) and
b = B - a * mean (per-channel constants computed once in float64).

Folding into the preceding convolution y = conv(x, w) + bias gives w' = a[m] * w[m], bias' = a * bias + b,
the usual inference-time rewrite (the BN costs nothing afterwards).

LRN (ONNX, across channels), for channel c with half-window lo = floor((size-1)/2), hi = ceil((size-1)/2):
    square_sum[n, c, h, w] = sum_{i = max(0, c-lo)}^{min(C-1, c+hi)} x[n, i, h, w]^2
    y = x / (bias + alpha / size * square_sum) ** beta
Vectorized over the contiguous h*w axis; the window sum is recomputed per channel (size is 5 in
AlexNet), which keeps fp32 rounding identical to a direct sum (a running sum would drift).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_PJIT = dict(parallel=True, fastmath=True, cache=True)


def bn_coefficients(scale: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray,
                    epsilon: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (a, b) with BN(x) = a * x + b, computed in float64 and rounded once."""
    a = np.asarray(scale, np.float64) / np.sqrt(np.asarray(var, np.float64) + epsilon)
    b = np.asarray(bias, np.float64) - a * np.asarray(mean, np.float64)
    return a.astype(np.float32), b.astype(np.float32)


@njit(**_PJIT)
def _channel_affine(x3, a, b, out3):  # pragma: no cover - jitted
    """out3[n, c, :] = a[c] * x3[n, c, :] + b[c] over (N, C, H*W) views."""
    N, C, L = x3.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        ac = a[c]
        bc = b[c]
        src = x3[n, c]
        dst = out3[n, c]
        for i in range(L):
            dst[i] = ac * src[i] + bc


def batch_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray,
               epsilon: float = 1e-5, out: np.ndarray | None = None) -> np.ndarray:
    """ONNX BatchNormalization in inference mode for an (N, C, ...) tensor."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    a, b = bn_coefficients(scale, bias, mean, var, epsilon)
    if out is None:
        out = np.empty_like(x)
    n, c = x.shape[:2]
    _channel_affine(x.reshape(n, c, -1), a, b, out.reshape(n, c, -1))
    return out


def fold_batch_norm(w: np.ndarray, conv_bias: np.ndarray | None, scale: np.ndarray, bias: np.ndarray,
                    mean: np.ndarray, var: np.ndarray, epsilon: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Fold BN after a conv into the conv: returns (w', bias') with conv(x, w') + bias' == BN(conv(x, w) + bias)."""
    a, b = bn_coefficients(scale, bias, mean, var, epsilon)
    w64 = np.asarray(w, np.float64) * a.astype(np.float64).reshape((-1,) + (1,) * (np.ndim(w) - 1))
    cb = np.zeros(w64.shape[0]) if conv_bias is None else np.asarray(conv_bias, np.float64)
    new_bias = a.astype(np.float64) * cb + b
    return w64.astype(np.float32), new_bias.astype(np.float32)


@njit(**_PJIT)
def _lrn_core(x3, out3, size, alpha, beta, bias):  # pragma: no cover - jitted
    """LRN over (N, C, L) views, one task per (n, c) plane; see the module docstring."""
    N, C, L = x3.shape
    lo = (size - 1) // 2
    hi = size - 1 - lo
    coef = alpha / np.float32(size)
    for t in prange(N * C):
        n = t // C
        c = t % C
        c0 = max(0, c - lo)
        c1 = min(C - 1, c + hi)
        src = x3[n, c]
        dst = out3[n, c]
        for i in range(L):
            dst[i] = 0.0
        for j in range(c0, c1 + 1):
            row = x3[n, j]
            for i in range(L):
                v = row[i]
                dst[i] += v * v
        for i in range(L):
            dst[i] = src[i] * (bias + coef * dst[i]) ** (-beta)


def lrn(x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0,
        out: np.ndarray | None = None) -> np.ndarray:
    """ONNX LRN (local response normalization across channels) for an (N, C, ...) tensor."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if out is None:
        out = np.empty_like(x)
    n, c = x.shape[:2]
    _lrn_core(x.reshape(n, c, -1), out.reshape(n, c, -1), int(size), np.float32(alpha), np.float32(beta),
              np.float32(bias))
    return out
