"""Fully connected layers: a cache-blocked GEMM (batch >= 2) and a streaming GEMV (batch 1).

Everything here computes the "NT" product

    C[i, j] = sum_k A[i, k] * B[j, k]            (A: M x K, B: N x K, both row-major)

which is ONNX Gemm with transB=1: A is the activation (batch x K) and B the weight (N_out x K). The
same kernel is the inner engine of the lowered convolution in `kernels.conv` (A = weights, B = an
im2col block with one row per output pixel), so its micro-kernel is the one thing worth tuning.

Why the "dot-product" (reduction) form rather than the textbook broadcast form
(C[i, j:j+8] += A[i, k] * B[k, j:j+8])? Numba gives no control over registers. LLVM's loop vectorizer
reliably turns scalar reductions over a contiguous k into vector accumulators held in registers, so a
4 x 2 block of dot products (8 accumulators, 6 loads per 8 FMAs) runs near the FMA peak when its rows
sit in L1 (the inner loop compiles to 6 vmovups + 8 vfmadd231ps on ymm registers). The broadcast form needs its C tile in registers too, which LLVM only gives us as a C tile
in memory: one load and one store per FMA, half the peak at best (measured: ~20 vs ~75 GFLOP/s on one
Zen 3 core). The price of the reduction form is one horizontal sum per accumulator per k-block, which
is why k-blocks are long (`KC_TARGET`).

Blocking (per task: an `MC` x `NC` block of C, all k):
  for each k-block (<= ~KC_TARGET, a multiple of 8):
    for each 4-row panel of A    (4 x kc floats, stays in L1 across the j loop: `_panel_4`)
      for each 2-row tile of B   (streams from L2: the NC x kc block of B fits there)
        8 dot products of length kc, accumulated into C (assigned on the first k-block).
Tasks (blocks of C) are claimed dynamically by the threads (`kernels.sched`), so a thread slowed by
another process takes fewer. Measured on the shared 2-core Zen 3 box: 0.8-0.9x numpy's OpenBLAS
on one thread for the batch-64 FC shapes, 0.6-0.9x on two.

GEMV (batch 1) is memory-bound: `_gemv_core` streams W once, 4 rows per pass over x, in blocks of
`GEMV_BLOCK` rows claimed dynamically; it reaches the machine's streaming bandwidth.

Indexing note: rows are taken as 1-D views starting at k0 and indexed from 0. Indexing a 2-D array
with a k that numba cannot prove non-negative adds a wrap-around select per element and turns the
vector loads into gathers (measured 20x slower).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from kernels.sched import claim, new_counter

MC = 64
"""Rows of A (activations / output channels) per task block."""
NC = 64
"""Rows of B (weights / output pixels) per task block: NC x kc floats are reused from L2."""
KC_TARGET = 1152
"""Target k-block length. Long enough to amortize the horizontal sums, short enough that a 4 x kc
tile of A plus 2 x kc of B stay in L1 and NC x kc of B in L2."""

_JIT = dict(fastmath=True, cache=True)
_PJIT = dict(parallel=True, fastmath=True, cache=True)


# ----------------------------------------------------------------------------- micro-kernels
@njit(**_JIT)
def _panel_4(A, B, C, i, j0, j1, ci, cj, k0, k1, first):  # pragma: no cover - jitted
    """Rows i..i+3 of A against rows j0..j1-1 of B: 4x2 tiles of dot products, then a 4x1 tail.

    C[ci+i+r, cj+j] (=|+=) dot(A[i+r, k0:k1], B[j, k0:k1]). The four A rows (4 x kc floats) stay in
    L1 while the B rows stream past; one call per panel keeps call overhead off the tiles without
    asking numba to inline (which would multiply compile time).
    """
    n = k1 - k0
    a0 = A[i, k0:k1]
    a1 = A[i + 1, k0:k1]
    a2 = A[i + 2, k0:k1]
    a3 = A[i + 3, k0:k1]
    r = ci + i
    j = j0
    while j + 2 <= j1:
        b0 = B[j, k0:k1]
        b1 = B[j + 1, k0:k1]
        s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = np.float32(0.0)
        for k in range(n):
            x0 = b0[k]
            x1 = b1[k]
            s00 += a0[k] * x0
            s01 += a0[k] * x1
            s10 += a1[k] * x0
            s11 += a1[k] * x1
            s20 += a2[k] * x0
            s21 += a2[k] * x1
            s30 += a3[k] * x0
            s31 += a3[k] * x1
        c = cj + j
        if first:
            C[r, c] = s00
            C[r, c + 1] = s01
            C[r + 1, c] = s10
            C[r + 1, c + 1] = s11
            C[r + 2, c] = s20
            C[r + 2, c + 1] = s21
            C[r + 3, c] = s30
            C[r + 3, c + 1] = s31
        else:
            C[r, c] += s00
            C[r, c + 1] += s01
            C[r + 1, c] += s10
            C[r + 1, c + 1] += s11
            C[r + 2, c] += s20
            C[r + 2, c + 1] += s21
            C[r + 3, c] += s30
            C[r + 3, c + 1] += s31
        j += 2
    if j < j1:
        b0 = B[j, k0:k1]
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for k in range(n):
            x = b0[k]
            s0 += a0[k] * x
            s1 += a1[k] * x
            s2 += a2[k] * x
            s3 += a3[k] * x
        c = cj + j
        if first:
            C[r, c] = s0
            C[r + 1, c] = s1
            C[r + 2, c] = s2
            C[r + 3, c] = s3
        else:
            C[r, c] += s0
            C[r + 1, c] += s1
            C[r + 2, c] += s2
            C[r + 3, c] += s3


@njit(**_JIT)
def _panel_1(A, B, C, i, j0, j1, ci, cj, k0, k1, first):  # pragma: no cover - jitted
    """One row of A against rows j0..j1-1 of B: 1x4 tiles (x loaded once per 4 rows), then 1x1.

    Used for the rows a 4-row sweep leaves over, which is all of A for a batch-2/3 FC layer.
    """
    n = k1 - k0
    a0 = A[i, k0:k1]
    r = ci + i
    j = j0
    while j + 4 <= j1:
        b0 = B[j, k0:k1]
        b1 = B[j + 1, k0:k1]
        b2 = B[j + 2, k0:k1]
        b3 = B[j + 3, k0:k1]
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for k in range(n):
            x = a0[k]
            s0 += x * b0[k]
            s1 += x * b1[k]
            s2 += x * b2[k]
            s3 += x * b3[k]
        c = cj + j
        if first:
            C[r, c] = s0
            C[r, c + 1] = s1
            C[r, c + 2] = s2
            C[r, c + 3] = s3
        else:
            C[r, c] += s0
            C[r, c + 1] += s1
            C[r, c + 2] += s2
            C[r, c + 3] += s3
        j += 4
    while j < j1:
        b0 = B[j, k0:k1]
        s = np.float32(0.0)
        for k in range(n):
            s += a0[k] * b0[k]
        if first:
            C[r, cj + j] = s
        else:
            C[r, cj + j] += s
        j += 1


@njit(**_JIT)
def gemm_block(A, B, C, i0, i1, j0, j1, ci, cj, k0, k1, first):  # pragma: no cover - jitted
    """C[ci+i, cj+j] (=|+=) sum_{k0<=k<k1} A[i, k] B[j, k] for i0<=i<i1, j0<=j<j1 (one thread).

    `first` assigns instead of accumulating (the first k-block), so C needs no zeroing pass. The
    offsets ci/cj let a caller write a block of B (e.g. an im2col block) into the right columns of C.
    """
    i = i0
    while i + 4 <= i1:
        _panel_4(A, B, C, i, j0, j1, ci, cj, k0, k1, first)
        i += 4
    while i < i1:
        _panel_1(A, B, C, i, j0, j1, ci, cj, k0, k1, first)
        i += 1


@njit(**_JIT)
def k_block_length(K):  # pragma: no cover - jitted
    """Split K into equal blocks of at most ~KC_TARGET, each a multiple of 8 (a whole AVX vector)."""
    nk = (K + KC_TARGET - 1) // KC_TARGET
    kc = (K + nk - 1) // nk
    return ((kc + 7) // 8) * 8


# ----------------------------------------------------------------------------- GEMM
@njit(**_PJIT)
def _gemm_nt_core(A, B, C, workers):  # pragma: no cover - jitted
    """C = A @ B.T, parallel over MC x NC blocks of C claimed dynamically (kernels.sched)."""
    M, K = A.shape
    N = B.shape[0]
    kc = k_block_length(K)
    nib = (M + MC - 1) // MC
    njb = (N + NC - 1) // NC
    counter = new_counter()
    for _ in prange(workers):
        while True:
            t = claim(counter)
            if t >= nib * njb:
                break
            _gemm_task(A, B, C, t, nib, kc)


@njit(**_JIT)
def _gemm_task(A, B, C, t, nib, kc):  # pragma: no cover - jitted
    """Block t of C (MC x NC, i-blocks fastest) over all k-blocks in order."""
    M, K = A.shape
    N = B.shape[0]
    ib = t % nib
    jb = t // nib
    i0 = ib * MC
    i1 = min(M, i0 + MC)
    j0 = jb * NC
    j1 = min(N, j0 + NC)
    for k0 in range(0, K, kc):
        k1 = min(K, k0 + kc)
        gemm_block(A, B, C, i0, i1, j0, j1, 0, 0, k0, k1, k0 == 0)


@njit(**_PJIT)
def _bias_epilogue(C, bias, alpha, beta):  # pragma: no cover - jitted
    """C[i, j] = alpha * C[i, j] + beta * bias[j]  (ONNX Gemm's Y = alpha*A*B' + beta*C, C a row)."""
    M, N = C.shape
    for i in prange(M):
        for j in range(N):
            C[i, j] = alpha * C[i, j] + beta * bias[j]


# ----------------------------------------------------------------------------- GEMV
GEMV_ROWS = 4
"""Weight rows per GEMV step: x is loaded once for 4 rows (5 loads per 4 FMAs)."""
GEMV_BLOCK = 32
"""Rows per dynamically claimed GEMV task (32 x K floats: hundreds of KB to a few MB of weights)."""


@njit(**_PJIT)
def _gemv_core(W, x, bias, y, alpha, beta, workers):  # pragma: no cover - jitted
    """y[o] = alpha * dot(W[o, :], x) + beta * bias[o], parallel over blocks of output rows.

    Batch-1 FC is bound by streaming W from DRAM once (K*N_out*4 bytes for 2*K*N_out FLOPs), so the
    goal is a single pass over W with plenty of independent loads in flight: 4 rows per step (4
    sequential streams the prefetcher follows), blocks of GEMV_BLOCK rows claimed dynamically.
    """
    N, K = W.shape
    nblk = (N + GEMV_BLOCK - 1) // GEMV_BLOCK
    counter = new_counter()
    for _ in prange(workers):
        while True:
            blk = claim(counter)
            if blk >= nblk:
                break
            o0 = blk * GEMV_BLOCK
            _gemv_rows(W, x, bias, y, alpha, beta, o0, min(N, o0 + GEMV_BLOCK))


@njit(**_JIT)
def _gemv_rows(W, x, bias, y, alpha, beta, o0, o1):  # pragma: no cover - jitted
    """y[o] for o0 <= o < o1, GEMV_ROWS rows per pass over x."""
    K = W.shape[1]
    o = o0
    while o + GEMV_ROWS <= o1:
        w0 = W[o]
        w1 = W[o + 1]
        w2 = W[o + 2]
        w3 = W[o + 3]
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for k in range(K):
            v = x[k]
            s0 += w0[k] * v
            s1 += w1[k] * v
            s2 += w2[k] * v
            s3 += w3[k] * v
        y[o] = alpha * s0 + beta * bias[o]
        y[o + 1] = alpha * s1 + beta * bias[o + 1]
        y[o + 2] = alpha * s2 + beta * bias[o + 2]
        y[o + 3] = alpha * s3 + beta * bias[o + 3]
        o += GEMV_ROWS
    while o < o1:
        wr = W[o]
        s = np.float32(0.0)
        for k in range(K):
            s += wr[k] * x[k]
        y[o] = alpha * s + beta * bias[o]
        o += 1


# ----------------------------------------------------------------------------- public API
def _as_f32c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def gemm_nt(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """C = a @ b.T for a (M, K) and b (N, K), float32, with the blocked parallel kernel."""
    a = _as_f32c(a)
    b = _as_f32c(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"gemm_nt needs (M, K) and (N, K), got {a.shape} and {b.shape}")
    if out is None:
        out = np.empty((a.shape[0], b.shape[0]), np.float32)
    _gemm_nt_core(a, b, out, numba.get_num_threads())
    return out


def gemv(w: np.ndarray, x: np.ndarray, bias: np.ndarray | None = None, out: np.ndarray | None = None,
         alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """y = alpha * w @ x + beta * bias for w (N_out, K) and x (K,) (batch-1 fully connected)."""
    w = _as_f32c(w)
    x = _as_f32c(x).reshape(-1)
    n_out = w.shape[0]
    if out is None:
        out = np.empty(n_out, np.float32)
    b, beta = _bias_vector(bias, n_out, beta)
    _gemv_core(w, x, b, out.reshape(-1), np.float32(alpha), np.float32(beta),
                numba.get_num_threads())
    return out


def _bias_vector(bias: np.ndarray | None, n: int, beta: float) -> tuple[np.ndarray, float]:
    """A length-n float32 bias (zeros and beta=0 when absent); accepts (n,), (1, n) or a scalar."""
    if bias is None:
        return np.zeros(n, np.float32), 0.0
    b = np.asarray(bias, dtype=np.float32)
    if b.size == 1:
        return np.full(n, b.reshape(-1)[0], np.float32), beta
    return _as_f32c(b.reshape(n)), beta


def _is_row_bias(bias: np.ndarray | None, n: int) -> bool:
    """True when bias broadcasts along rows only: None, a scalar, (n,) or (1, n)."""
    if bias is None:
        return True
    shape = np.shape(bias)
    return np.size(bias) == 1 or shape == (n,) or shape == (1, n)


def fully_connected(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None,
                    out: np.ndarray | None = None, alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """ONNX Gemm with transA=0, transB=1: Y = alpha * x @ w.T + beta * bias.

    x: (batch, K); w: (N_out, K) (the ONNX/PyTorch FC layout); bias: (N_out,), (1, N_out) or scalar.
    Batch 1 takes the GEMV path (one streaming pass over w), larger batches the blocked GEMM.
    A bias of shape (batch, N_out) or (batch, 1) is added with numpy broadcasting after the product.
    """
    x = _as_f32c(x)
    w = _as_f32c(w)
    batch, n_out = x.shape[0], w.shape[0]
    if out is None:
        out = np.empty((batch, n_out), np.float32)
    row_bias = _is_row_bias(bias, n_out)
    b, eff_beta = _bias_vector(bias if row_bias else None, n_out, beta)
    if batch == 1:
        _gemv_core(w, x.reshape(-1), b, out.reshape(-1), np.float32(alpha), np.float32(eff_beta),
                   numba.get_num_threads())
    else:
        _gemm_nt_core(x, w, out, numba.get_num_threads())
        _bias_epilogue(out, b, np.float32(alpha), np.float32(eff_beta))
    if not row_bias:
        out += np.float32(beta) * np.broadcast_to(np.asarray(bias, np.float32), out.shape)
    return out


def num_threads() -> int:
    """Threads the parallel kernels use (numba's setting)."""
    return numba.get_num_threads()
