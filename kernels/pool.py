"""Pooling (NCHW, fp32): MaxPool, AveragePool, GlobalAveragePool with ONNX semantics.

Output size per spatial axis (ONNX / PyTorch rule), with pads [top, left, bottom, right]:

    span = d*(k-1) + 1
    out  = floor((L + pad_begin + pad_end - span) / s) + 1         (ceil_mode=0)
    out  = ceil(...) + 1, minus 1 if the last window would start at or past L + pad_begin
                                                                    (ceil_mode=1)

Window o covers input positions o*s - pad_begin + t*d, t < k. Max pooling takes the maximum over the
taps inside the input (padding never wins). Average pooling divides by the number of taps inside
the input (count_include_pad=0, ONNX's default) or by the number of taps inside the explicitly
padded input [-pad_begin, L + pad_end) (count_include_pad=1); taps that only exist because of
ceil_mode are never counted. Every (n, c) plane is an independent task.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numba import njit, prange

_JIT = dict(fastmath=True, cache=True)
_PJIT = dict(parallel=True, fastmath=True, cache=True)


def pool_output_size(length: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """ONNX pooling output length along one axis (see the module docstring)."""
    span = dilation * (kernel - 1) + 1
    num = length + pad_begin + pad_end - span
    if not ceil_mode:
        return num // stride + 1
    out = math.ceil(num / stride) + 1
    if (out - 1) * stride >= length + pad_begin:
        out -= 1
    return out


def pool_output_shape(x_shape: Sequence[int], kernel_shape: Sequence[int], strides: Sequence[int] = (1, 1),
                      pads: Sequence[int] = (0, 0, 0, 0), dilations: Sequence[int] = (1, 1),
                      ceil_mode: bool = False) -> tuple[int, int, int, int]:
    """(N, C, OH, OW) of a 2-D pool."""
    n, c, h, w = x_shape
    oh = pool_output_size(h, kernel_shape[0], strides[0], pads[0], pads[2], dilations[0], ceil_mode)
    ow = pool_output_size(w, kernel_shape[1], strides[1], pads[1], pads[3], dilations[1], ceil_mode)
    return (int(n), int(c), oh, ow)


@njit(**_JIT)
def _tap_range(o, s, pad, d, k, L):  # pragma: no cover - jitted
    """Taps t in [t0, t1) of window o whose input position o*s - pad + t*d lies in [0, L)."""
    start = o * s - pad
    t0 = 0
    if start < 0:
        t0 = (-start + d - 1) // d
    t1 = k
    last = start + (k - 1) * d
    if last >= L:
        t1 = k - ((last - L) // d + 1)
    if t1 < t0:
        t1 = t0
    return start, t0, t1


@njit(**_JIT)
def _padded_taps(o, s, pad, d, k, L, pad_end):  # pragma: no cover - jitted
    """Number of taps of window o inside the explicitly padded range [-pad, L + pad_end)."""
    start = o * s - pad
    cnt = 0
    for t in range(k):
        pos = start + t * d
        if pos < L + pad_end:
            cnt += 1
    return cnt


@njit(**_PJIT)
def _max_pool_core(x, out, KH, KW, sh, sw, pt, pl, dh, dw):  # pragma: no cover - jitted
    N, C, H, W = x.shape
    OH = out.shape[2]
    OW = out.shape[3]
    for t in prange(N * C):
        src = x[t // C, t % C]
        dst = out[t // C, t % C]
        for oh in range(OH):
            hs, th0, th1 = _tap_range(oh, sh, pt, dh, KH, H)
            for ow in range(OW):
                ws, tw0, tw1 = _tap_range(ow, sw, pl, dw, KW, W)
                m = -np.inf
                for th in range(th0, th1):
                    row = src[hs + th * dh]
                    for tw in range(tw0, tw1):
                        v = row[ws + tw * dw]
                        if v > m:
                            m = v
                dst[oh, ow] = m


@njit(**_PJIT)
def _avg_pool_core(x, out, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, count_include_pad):  # pragma: no cover
    N, C, H, W = x.shape
    OH = out.shape[2]
    OW = out.shape[3]
    for t in prange(N * C):
        src = x[t // C, t % C]
        dst = out[t // C, t % C]
        for oh in range(OH):
            hs, th0, th1 = _tap_range(oh, sh, pt, dh, KH, H)
            nh = _padded_taps(oh, sh, pt, dh, KH, H, pb) if count_include_pad else th1 - th0
            for ow in range(OW):
                ws, tw0, tw1 = _tap_range(ow, sw, pl, dw, KW, W)
                nw = _padded_taps(ow, sw, pl, dw, KW, W, pr) if count_include_pad else tw1 - tw0
                s = np.float32(0.0)
                for th in range(th0, th1):
                    row = src[hs + th * dh]
                    for tw in range(tw0, tw1):
                        s += row[ws + tw * dw]
                cnt = nh * nw
                dst[oh, ow] = s / cnt if cnt > 0 else np.float32(0.0)


@njit(**_PJIT)
def _global_avg_pool_core(x2, out1):  # pragma: no cover - jitted
    """out1[t] = mean(x2[t, :]) for every (n, c) plane t (planes flattened to rows)."""
    R, L = x2.shape
    inv = np.float32(1.0) / np.float32(L)
    for t in prange(R):
        row = x2[t]
        s = np.float32(0.0)
        for i in range(L):
            s += row[i]
        out1[t] = s * inv


def _f32c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _pair(v: Sequence[int] | None, default: int) -> tuple[int, int]:
    if v is None:
        return default, default
    return int(v[0]), int(v[1])


def max_pool2d(x: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int] | None = None,
               pads: Sequence[int] | None = None, dilations: Sequence[int] | None = None,
               ceil_mode: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """ONNX MaxPool (2-D). pads = [top, left, bottom, right]; strides/dilations default to 1."""
    x = _f32c(x)
    sh, sw = _pair(strides, 1)
    dh, dw = _pair(dilations, 1)
    pads = tuple(int(p) for p in (pads or (0, 0, 0, 0)))
    shape = pool_output_shape(x.shape, kernel_shape, (sh, sw), pads, (dh, dw), ceil_mode)
    if out is None:
        out = np.empty(shape, np.float32)
    _max_pool_core(x, out, int(kernel_shape[0]), int(kernel_shape[1]), sh, sw, pads[0], pads[1], dh, dw)
    return out


def avg_pool2d(x: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int] | None = None,
               pads: Sequence[int] | None = None, dilations: Sequence[int] | None = None,
               ceil_mode: bool = False, count_include_pad: bool = False,
               out: np.ndarray | None = None) -> np.ndarray:
    """ONNX AveragePool (2-D); count_include_pad defaults to 0 as in ONNX."""
    x = _f32c(x)
    sh, sw = _pair(strides, 1)
    dh, dw = _pair(dilations, 1)
    pads = tuple(int(p) for p in (pads or (0, 0, 0, 0)))
    shape = pool_output_shape(x.shape, kernel_shape, (sh, sw), pads, (dh, dw), ceil_mode)
    if out is None:
        out = np.empty(shape, np.float32)
    _avg_pool_core(x, out, int(kernel_shape[0]), int(kernel_shape[1]), sh, sw, pads[0], pads[1], pads[2],
                   pads[3], dh, dw, bool(count_include_pad))
    return out


def global_avg_pool(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """ONNX GlobalAveragePool: (N, C, H, W) -> (N, C, 1, 1) mean over the spatial axes."""
    x = _f32c(x)
    n, c = x.shape[:2]
    if out is None:
        out = np.empty((n, c) + (1,) * (x.ndim - 2), np.float32)
    _global_avg_pool_core(x.reshape(n * c, -1), out.reshape(n * c))
    return out
