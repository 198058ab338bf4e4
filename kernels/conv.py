"""2-D convolution (NCHW, fp32): a direct kernel, a lowered (im2col + GEMM) kernel, and a chooser.

Semantics are ONNX Conv's: x (N, C, H, W), w (M, C/group, kH, kW), optional bias (M,),
strides (sh, sw), pads [top, left, bottom, right] (asymmetric allowed), dilations (dh, dw), group:

    OH = (H + top + bottom - dh*(kH-1) - 1) // sh + 1          (same for OW)
    y[n, m, oh, ow] = b[m] + sum_{c<C/g, kh, kw} w[m, c, kh, kw] * xpad[n, g*C/g + c, oh*sh + kh*dh, ow*sw + kw*dw]

with g = m // (M/group) and xpad the zero-padded input. Both strategies first copy x into a
zero-padded buffer held by the `Conv2d` plan (allocated once): that removes every bounds test from
the inner loops for one cheap pass over the input.

Strategies
  * "gemm" (`_conv_gemm_core`): im2col fused with the blocked GEMM of `kernels.gemm`. The input is
    first copied to padded channels-last (N, Hp, Wp, C), so a pixel's patch is KH*KW contiguous runs
    of C/g floats (one run of KW*C per kernel row when group == 1). Each task takes a block of `nb`
    output pixels of one image and group, writes their patches as rows of a per-thread `nb x Kp`
    buffer (K = C/g*kH*kW in (kh, kw, c) order, padded to a multiple of 8 with zeros) and multiplies
    it by the group's weights (M/g x Kp, packed once in the same order) with the 4x2 dot-product
    micro-kernel. The block stays in L2, so the lowered matrix never travels to DRAM (the textbook
    full im2col of VGG's conv1_2 would be 115 MB). A 1x1/stride-1/unpadded convolution skips the
    im2col: its channels-last input already is the GEMM operand.
  * "direct" (`_conv_direct_core`): no lowering, NCHW throughout. Each task owns one output row for
    two output channels; for every (c, kh) and up to three kw taps at once it sweeps the row with
    the vectorized loop  y0[ow] += w0a*x[ow*s] + w0b*x[ow*s+d] + w0c*x[ow*s+2d]  (and the same for y1),
    i.e. it is register-blocked over 2 output channels x 3 taps x 8 output columns: 6 FMAs per
    3 loads of x and 2 loads + 2 stores of y. Unit stride vectorizes; larger strides gather. It wins
    where the GEMM is starved: depthwise / few output channels per group, tiny K.
Both distribute their tasks dynamically over the threads (`kernels.sched`).

Choosing: `Conv2d(..., strategy="auto")` applies `heuristic_strategy`, a rule read off measuring both
strategies on every distinct conv of AlexNet, VGG16 and ResNet-50 (the GEMM won all of them except
VGG's conv1_1, K = 27) plus depthwise/grouped shapes; `Conv2d.autotune(x)` instead times both once
and caches the winner per shape.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np
from numba import njit, prange

from kernels.gemm import gemm_block, k_block_length
from kernels.sched import claim, new_counter

STRATEGIES = ("gemm", "direct")

NB_MAX = 64
"""Output pixels per im2col block (rows of B in the GEMM): 64 x kc floats stay in L2."""

_JIT = dict(fastmath=True, cache=True)
_PJIT = dict(parallel=True, fastmath=True, cache=True)


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class ConvGeometry:
    """Shapes and hyper-parameters of one convolution, with derived sizes (all plain ints)."""

    N: int
    C: int
    H: int
    W: int
    M: int
    KH: int
    KW: int
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    pb: int = 0
    pr: int = 0
    dh: int = 1
    dw: int = 1
    group: int = 1

    @classmethod
    def from_onnx(cls, x_shape: Sequence[int], w_shape: Sequence[int], strides: Sequence[int] = (1, 1),
                  pads: Sequence[int] = (0, 0, 0, 0), dilations: Sequence[int] = (1, 1),
                  group: int = 1) -> "ConvGeometry":
        """Build from ONNX shapes/attributes (pads = [top, left, bottom, right])."""
        n, c, h, w = (int(v) for v in x_shape)
        m, cg, kh, kw = (int(v) for v in w_shape)
        if len(pads) != 4 or len(strides) != 2 or len(dilations) != 2:
            raise ValueError("conv2d handles 2-D convolutions only (4 pads, 2 strides, 2 dilations)")
        if c % group or m % group or cg != c // group:
            raise ValueError(f"inconsistent group={group} for input {tuple(x_shape)} and weights {tuple(w_shape)}")
        geo = cls(n, c, h, w, m, kh, kw, int(strides[0]), int(strides[1]), int(pads[0]), int(pads[1]),
                  int(pads[2]), int(pads[3]), int(dilations[0]), int(dilations[1]), int(group))
        if geo.OH <= 0 or geo.OW <= 0:
            raise ValueError(f"empty convolution output {geo.out_shape}")
        return geo

    @property
    def Hp(self) -> int:
        return self.H + self.pt + self.pb

    @property
    def Wp(self) -> int:
        return self.W + self.pl + self.pr

    @property
    def OH(self) -> int:
        return (self.Hp - self.dh * (self.KH - 1) - 1) // self.sh + 1

    @property
    def OW(self) -> int:
        return (self.Wp - self.dw * (self.KW - 1) - 1) // self.sw + 1

    @property
    def Cg(self) -> int:
        return self.C // self.group

    @property
    def Mg(self) -> int:
        return self.M // self.group

    @property
    def K(self) -> int:
        """Reduction length per output: C/group * kH * kW."""
        return self.Cg * self.KH * self.KW

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.M, self.OH, self.OW)

    @property
    def macs(self) -> int:
        return self.N * self.M * self.OH * self.OW * self.K

    @property
    def padded(self) -> bool:
        return bool(self.pt or self.pl or self.pb or self.pr)

    def key(self) -> tuple[int, ...]:
        """Hashable identity for caching per-shape choices."""
        return (self.N, self.C, self.H, self.W, self.M, self.KH, self.KW, self.sh, self.sw, self.pt,
                self.pl, self.pb, self.pr, self.dh, self.dw, self.group)


# ----------------------------------------------------------------------------- shared pieces
@njit(**_JIT)
def _pad_plane(x, xp, t, pt, pl):  # pragma: no cover - jitted
    """Plane t (= n * C + c) of xp: x's plane at offset (pt, pl) inside zeros."""
    C = x.shape[1]
    H = x.shape[2]
    W = x.shape[3]
    dst = xp[t // C, t % C]
    src = x[t // C, t % C]
    dst[:pt, :] = 0.0
    dst[pt + H:, :] = 0.0
    for i in range(H):
        drow = dst[pt + i]
        drow[:pl] = 0.0
        drow[pl + W:] = 0.0
        d = drow[pl:pl + W]
        s = src[i]
        for j in range(W):
            d[j] = s[j]


@njit(**_PJIT)
def _pad_input(x, xp, pt, pl):  # pragma: no cover - jitted
    """xp = x placed at offset (pt, pl) inside zeros; xp is (N, C, Hp, Wp)."""
    for t in prange(x.shape[0] * x.shape[1]):
        _pad_plane(x, xp, t, pt, pl)


@njit(**_JIT)
def _transpose_row(x, n, ih, dst):  # pragma: no cover - jitted
    """dst[j, c] = x[n, c, ih, j]: one image row to channels-last, 8 channels at a time.

    Reading 8 channel rows together turns the transpose's strided scalar stores into one contiguous
    8-float store per pixel (measured 4x faster than a channel-by-channel transpose).
    """
    C = x.shape[1]
    W = x.shape[3]
    c = 0
    while c + 8 <= C:
        s0 = x[n, c, ih]
        s1 = x[n, c + 1, ih]
        s2 = x[n, c + 2, ih]
        s3 = x[n, c + 3, ih]
        s4 = x[n, c + 4, ih]
        s5 = x[n, c + 5, ih]
        s6 = x[n, c + 6, ih]
        s7 = x[n, c + 7, ih]
        for j in range(W):
            d = dst[j, c:c + 8]
            d[0] = s0[j]
            d[1] = s1[j]
            d[2] = s2[j]
            d[3] = s3[j]
            d[4] = s4[j]
            d[5] = s5[j]
            d[6] = s6[j]
            d[7] = s7[j]
        c += 8
    for cc in range(c, C):
        src = x[n, cc, ih]
        for j in range(W):
            dst[j, cc] = src[j]


@njit(**_JIT)
def _nhwc_row(x, xh, t, pt, pl):  # pragma: no cover - jitted
    """Padded channels-last row t (= n * Hp + i) of xh from x, zeros outside the image."""
    H = x.shape[2]
    W = x.shape[3]
    Hp = xh.shape[1]
    n = t // Hp
    i = t % Hp
    ih = i - pt
    row = xh[n, i]
    if ih < 0 or ih >= H:
        row[:, :] = 0.0
        return
    row[:pl, :] = 0.0
    row[pl + W:, :] = 0.0
    _transpose_row(x, n, ih, row[pl:pl + W])


@njit(**_PJIT)
def _to_padded_nhwc(x, xh, pt, pl):  # pragma: no cover - jitted
    """xh[n, pt + h, pl + w, c] = x[n, c, h, w], zeros in the border; xh is (N, Hp, Wp, C).

    Channels-last makes every im2col run (the C/g channels of one input pixel) contiguous.
    One task per padded row.
    """
    for t in prange(xh.shape[0] * xh.shape[1]):
        _nhwc_row(x, xh, t, pt, pl)


@njit(**_JIT)
def _copy(dst, src, n):  # pragma: no cover - jitted
    """dst[:n] = src[:n] for 1-D views (a vectorized copy loop)."""
    for i in range(n):
        dst[i] = src[i]


@njit(**_JIT)
def _im2col_block(xh, c0, Cg, KH, KW, sh, sw, dh, dw, OW, p0, p1, col):  # pragma: no cover - jitted
    """col[r, (kh*KW + kw)*Cg + c] = xh[oh*sh + kh*dh, ow*sw + kw*dw, c0 + c] for p = p0 + r = oh*OW + ow.

    xh is one image, channels-last and padded (Hp, Wp, C). One row per output pixel, so each GEMM
    dot product reads one contiguous patch; each (kh, kw) contributes a contiguous run of Cg floats,
    and with a single group and no width dilation a whole kernel row is one run of KW*C floats.
    """
    C = xh.shape[2]
    whole_rows = Cg == C and dw == 1
    for r in range(p1 - p0):
        p = p0 + r
        oh = p // OW
        ow = p - oh * OW
        h0 = oh * sh
        w0 = ow * sw
        dst = col[r]
        for kh in range(KH):
            src_row = xh[h0 + kh * dh]
            if whole_rows:
                run = KW * C
                _copy(dst[kh * run:kh * run + run], src_row[w0:w0 + KW].reshape(run), run)
            else:
                for kw in range(KW):
                    k = (kh * KW + kw) * Cg
                    _copy(dst[k:k + Cg], src_row[w0 + kw * dw, c0:c0 + Cg], Cg)


@njit(**_JIT)
def _add_row_bias(C, bias, m0, m1, p0, p1):  # pragma: no cover - jitted
    """C[m, p0:p1] += bias[m] for m0 <= m < m1."""
    for m in range(m0, m1):
        b = bias[m]
        row = C[m, p0:p1]
        for p in range(p1 - p0):
            row[p] += b


# ----------------------------------------------------------------------------- GEMM strategy
@njit(**_PJIT)
def _conv_gemm_core(xh, wk, bias, has_bias, out3, scratch, Cg, KH, KW, sh, sw, dh, dw, OW, nb,
                    pointwise):  # pragma: no cover - jitted
    """out3[n, g*Mg + m, p] = sum_k wk[g, m, k] * im2col(xh)[n, g][p, k] (+ bias).

    xh: padded channels-last input (N, Hp, Wp, C); wk: packed weights (G, Mg, Kp), zero beyond K;
    out3: output viewed as (N, M, OH*OW); scratch: (workers, nb, Kp) zeros, one im2col block per worker.
    `pointwise` (1x1, stride 1, no padding, one group, C % 8 == 0): the channels-last input already
    is the im2col matrix, so the GEMM reads it in place.
    Tasks (image, group, block of nb pixels) are claimed dynamically by the workers (kernels.sched).
    """
    N = xh.shape[0]
    G, Mg, Kp = wk.shape
    P = out3.shape[2]
    npb = (P + nb - 1) // nb
    ntasks = N * G * npb
    workers = scratch.shape[0]
    kc = k_block_length(Kp)
    counter = new_counter()
    for wid in prange(workers):
        col = scratch[wid]
        while True:
            task = claim(counter)
            if task >= ntasks:
                break
            _conv_gemm_task(xh, wk, bias, has_bias, out3, col, task, npb, nb, kc, Cg, KH, KW, sh, sw, dh, dw, OW,
                            pointwise)


@njit(**_JIT)
def _conv_gemm_task(xh, wk, bias, has_bias, out3, col, task, npb, nb, kc, Cg, KH, KW, sh, sw, dh, dw, OW,
                    pointwise):  # pragma: no cover - jitted
    """One task of `_conv_gemm_core`: pixels [p0, p1) of one image and group, all output channels."""
    G, Mg, Kp = wk.shape
    P = out3.shape[2]
    pb = task % npb
    g = (task // npb) % G
    n = task // (npb * G)
    p0 = pb * nb
    p1 = min(P, p0 + nb)
    A = wk[g]
    C = out3[n]
    if pointwise:  # B rows are the input's own pixels p0..p1-1
        B = xh[n].reshape((P, Kp))
        j0, j1, cj = p0, p1, 0
    else:  # B rows are the block's patches, written to C's columns p0..p1-1
        _im2col_block(xh[n], g * Cg, Cg, KH, KW, sh, sw, dh, dw, OW, p0, p1, col)
        B = col
        j0, j1, cj = 0, p1 - p0, p0
    for k0 in range(0, Kp, kc):  # one call site: every copy of the micro-kernel costs compile time
        gemm_block(A, B, C, 0, Mg, j0, j1, g * Mg, cj, k0, min(Kp, k0 + kc), k0 == 0)
    if has_bias:
        _add_row_bias(C, bias, g * Mg, (g + 1) * Mg, p0, p1)


# ----------------------------------------------------------------------------- direct strategy
@njit(**_JIT)
def _direct_taps2(y0, y1, xr, w0a, w0b, w0c, w1a, w1b, w1c, ntap, sw, dw, OW):  # pragma: no cover
    """y0/y1[ow] += sum over up to 3 taps t of w?t * xr[ow*sw + t*dw] (two output channels).

    Unit stride gets its own loops over 0-based views: an index numba cannot prove non-negative
    (like ow*sw) carries a wrap-around select that turns vector loads into gathers.
    """
    if sw == 1:
        xa = xr[:OW]
        xb = xr[dw:dw + OW] if ntap > 1 else xa
        xc = xr[2 * dw:2 * dw + OW] if ntap > 2 else xa
        if ntap == 3:
            for ow in range(OW):
                a = xa[ow]
                b = xb[ow]
                c = xc[ow]
                y0[ow] += w0a * a + w0b * b + w0c * c
                y1[ow] += w1a * a + w1b * b + w1c * c
        elif ntap == 2:
            for ow in range(OW):
                a = xa[ow]
                b = xb[ow]
                y0[ow] += w0a * a + w0b * b
                y1[ow] += w1a * a + w1b * b
        else:
            for ow in range(OW):
                a = xa[ow]
                y0[ow] += w0a * a
                y1[ow] += w1a * a
    else:
        for ow in range(OW):
            i = ow * sw
            a = xr[i]
            b = xr[i + dw] if ntap > 1 else np.float32(0.0)
            c = xr[i + 2 * dw] if ntap > 2 else np.float32(0.0)
            y0[ow] += w0a * a + w0b * b + w0c * c
            y1[ow] += w1a * a + w1b * b + w1c * c


@njit(**_JIT)
def _direct_taps1(y0, xr, w0a, w0b, w0c, ntap, sw, dw, OW):  # pragma: no cover
    """y0[ow] += sum over up to 3 taps t of w0t * xr[ow*sw + t*dw] (one output channel)."""
    if sw == 1:
        xa = xr[:OW]
        xb = xr[dw:dw + OW] if ntap > 1 else xa
        xc = xr[2 * dw:2 * dw + OW] if ntap > 2 else xa
        if ntap == 3:
            for ow in range(OW):
                y0[ow] += w0a * xa[ow] + w0b * xb[ow] + w0c * xc[ow]
        elif ntap == 2:
            for ow in range(OW):
                y0[ow] += w0a * xa[ow] + w0b * xb[ow]
        else:
            for ow in range(OW):
                y0[ow] += w0a * xa[ow]
    else:
        for ow in range(OW):
            i = ow * sw
            a = xr[i]
            b = xr[i + dw] if ntap > 1 else np.float32(0.0)
            c = xr[i + 2 * dw] if ntap > 2 else np.float32(0.0)
            y0[ow] += w0a * a + w0b * b + w0c * c


@njit(**_PJIT)
def _conv_direct_core(xp, w, bias, has_bias, out, G, sh, sw, dh, dw, workers):  # pragma: no cover - jitted
    """Direct convolution over the padded input; one task = (image, pair of output channels, output row)."""
    N = xp.shape[0]
    M, Cg, KH, KW = w.shape
    OH = out.shape[2]
    OW = out.shape[3]
    Mg = M // G
    npair = (Mg + 1) // 2
    ntasks = N * G * npair * OH
    counter = new_counter()
    for _ in prange(workers):
        while True:
            t = claim(counter)
            if t >= ntasks:
                break
            _direct_task(xp, w, bias, has_bias, out, t, G, Mg, npair, sh, sw, dh, dw)


@njit(**_JIT)
def _direct_task(xp, w, bias, has_bias, out, t, G, Mg, npair, sh, sw, dh, dw):  # pragma: no cover - jitted
    """One direct-convolution task: output row oh of output channels m0, m0+1 of image n."""
    M, Cg, KH, KW = w.shape
    OH = out.shape[2]
    OW = out.shape[3]
    oh = t % OH
    pair = (t // OH) % npair
    g = (t // (OH * npair)) % G
    n = t // (OH * npair * G)
    m0 = g * Mg + 2 * pair
    two = 2 * pair + 1 < Mg
    y0 = out[n, m0, oh]
    y1 = out[n, m0 + 1, oh] if two else y0
    b0 = bias[m0] if has_bias else np.float32(0.0)
    b1 = bias[m0 + 1] if has_bias and two else np.float32(0.0)
    for ow in range(OW):
        y0[ow] = b0
    if two:
        for ow in range(OW):
            y1[ow] = b1
    for c in range(Cg):
        plane = xp[n, g * Cg + c]
        for kh in range(KH):
            row = plane[oh * sh + kh * dh]
            for kw in range(0, KW, 3):
                ntap = min(3, KW - kw)
                xr = row[kw * dw:]
                w0a = w[m0, c, kh, kw]
                w0b = w[m0, c, kh, kw + 1] if ntap > 1 else np.float32(0.0)
                w0c = w[m0, c, kh, kw + 2] if ntap > 2 else np.float32(0.0)
                if two:
                    w1a = w[m0 + 1, c, kh, kw]
                    w1b = w[m0 + 1, c, kh, kw + 1] if ntap > 1 else np.float32(0.0)
                    w1c = w[m0 + 1, c, kh, kw + 2] if ntap > 2 else np.float32(0.0)
                    _direct_taps2(y0, y1, xr, w0a, w0b, w0c, w1a, w1b, w1c, ntap, sw, dw, OW)
                else:
                    _direct_taps1(y0, xr, w0a, w0b, w0c, ntap, sw, dw, OW)


# ----------------------------------------------------------------------------- plan object
def _f32c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def pack_weights(w: np.ndarray, group: int) -> np.ndarray:
    """(M, C/g, kH, kW) -> (G, M/g, Kp): each group's weights as GEMM rows in (kh, kw, c) order.

    The order matches the channels-last im2col rows; the zero padding of K up to a multiple of 8
    keeps every k-block a whole number of 8-float vectors (no scalar tail).
    """
    m, cg, kh, kw = w.shape
    k = cg * kh * kw
    kp = ((k + 7) // 8) * 8
    packed = np.zeros((group, m // group, kp), np.float32)
    packed[:, :, :k] = w.transpose(0, 2, 3, 1).reshape(group, m // group, k)
    return packed


def gemm_block_pixels(geo: ConvGeometry, workers: int) -> int:
    """Output pixels per im2col block: NB_MAX, smaller when that would leave threads idle."""
    P = geo.OH * geo.OW
    blocks = max(-(-P // NB_MAX), -(-2 * workers // (geo.N * geo.group)))
    blocks = min(blocks, max(1, P // 8))
    nb = -(-P // blocks)
    return nb + (nb & 1)


def is_pointwise(geo: ConvGeometry) -> bool:
    """1x1, stride 1, unpadded, one group, C % 8 == 0: the channels-last input is the im2col matrix."""
    return (geo.KH == geo.KW == 1 and geo.sh == geo.sw == 1 and not geo.padded and geo.group == 1
            and geo.C % 8 == 0)


def heuristic_strategy(geo: ConvGeometry) -> str:
    """Cheap rule read off measurements on Zen 3 (2 cores): the GEMM wins unless starved.

    The GEMM needs >= 4 output channels per group to fill its 4x2 micro-tile and enough depth K to
    amortize one horizontal sum per output and k-block; depthwise (M/g = 1) and K < 32 go direct.
    Timing both strategies on all 37 distinct convs of AlexNet, VGG16 and ResNet-50 plus depthwise
    and grouped cases agreed with this rule everywhere (the direct kernel won only VGG's conv1_1,
    K = 27, by 1.9x, and depthwise 3x3, by 5-12x; the GEMM won the rest by 1.1x to over 100x).
    """
    if geo.Mg < 4 or geo.K < 32:
        return "direct"
    return "gemm"


class Conv2d:
    """A convolution bound to its shapes and weights, with workspaces allocated once.

    `Conv2d(x_shape, w, bias, strides, pads, dilations, group, strategy)` packs the weights for both
    strategies; `plan(x, out)` runs. strategy "auto" uses `heuristic_strategy`; `plan.autotune(x)`
    instead times each strategy once (best of a few runs, after compilation) and keeps the faster
    for this shape, caching the choice per shape key in `Conv2d.tuned`. A plan reuses its workspaces
    (padded input, im2col blocks), so one plan must not run in two Python threads at once.
    """

    tuned: dict[tuple[int, ...], str] = {}

    def __init__(self, x_shape: Sequence[int], w: np.ndarray, bias: np.ndarray | None = None,
                 strides: Sequence[int] = (1, 1), pads: Sequence[int] = (0, 0, 0, 0),
                 dilations: Sequence[int] = (1, 1), group: int = 1, strategy: str = "auto") -> None:
        self.geo = ConvGeometry.from_onnx(x_shape, w.shape, strides, pads, dilations, group)
        if strategy not in STRATEGIES + ("auto",):
            raise ValueError(f"unknown conv strategy {strategy!r}; choose from {STRATEGIES + ('auto',)}")
        geo = self.geo
        self.w = _f32c(w)
        self.has_bias = bias is not None
        self.bias = _f32c(bias).reshape(geo.M) if bias is not None else np.zeros(geo.M, np.float32)
        self.strategy = self.tuned.get(geo.key(), heuristic_strategy(geo)) if strategy == "auto" else strategy
        self.xp: np.ndarray | None = None
        self.xh: np.ndarray | None = None
        self._wk: np.ndarray | None = None
        self._scratch: np.ndarray | None = None

    # -- workspaces, built on first use so a plan only holds those of the strategies it runs
    def _gemm_buffers(self) -> tuple[np.ndarray, np.ndarray, int]:
        workers = numba.get_num_threads()
        nb = gemm_block_pixels(self.geo, workers)
        if self._wk is None:
            self._wk = pack_weights(self.w, self.geo.group)
        if self._scratch is None or self._scratch.shape[:2] != (workers, nb):
            self._scratch = np.zeros((workers, nb, self._wk.shape[2]), np.float32)
        return self._wk, self._scratch, nb

    def padded_input(self, x: np.ndarray) -> np.ndarray:
        """The zero-padded NCHW input (x itself when there is no padding)."""
        geo = self.geo
        if not geo.padded:
            return x
        if self.xp is None:
            self.xp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), np.float32)
        _pad_input(x, self.xp, geo.pt, geo.pl)
        return self.xp

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None, strategy: str | None = None) -> np.ndarray:
        geo = self.geo
        x = _f32c(x)
        if x.shape != (geo.N, geo.C, geo.H, geo.W):
            raise ValueError(f"input shape {x.shape} does not match the plan's {(geo.N, geo.C, geo.H, geo.W)}")
        if out is None:
            out = np.empty(geo.out_shape, np.float32)
        if (strategy or self.strategy) == "gemm":
            wk, scratch, nb = self._gemm_buffers()
            if self.xh is None:
                self.xh = np.zeros((geo.N, geo.Hp, geo.Wp, geo.C), np.float32)
            _to_padded_nhwc(x, self.xh, geo.pt, geo.pl)
            _conv_gemm_core(self.xh, wk, self.bias, self.has_bias, out.reshape(geo.N, geo.M, geo.OH * geo.OW),
                            scratch, geo.Cg, geo.KH, geo.KW, geo.sh, geo.sw, geo.dh, geo.dw, geo.OW, nb,
                            is_pointwise(geo))
        else:
            xp = self.padded_input(x)
            _conv_direct_core(xp, self.w, self.bias, self.has_bias, out, geo.group, geo.sh, geo.sw,
                              geo.dh, geo.dw, numba.get_num_threads())
        return out

    def autotune(self, x: np.ndarray, repeats: int = 3) -> str:
        """Time every strategy on x (first call compiles, then best of `repeats`) and keep the fastest."""
        key = self.geo.key()
        if key not in self.tuned:
            out = np.empty(self.geo.out_shape, np.float32)
            best = {}
            for name in STRATEGIES:
                self(x, out, strategy=name)
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    self(x, out, strategy=name)
                    times.append(time.perf_counter() - t0)
                best[name] = min(times)
            self.tuned[key] = min(best, key=best.get)
        self.strategy = self.tuned[key]
        return self.strategy


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, strides: Sequence[int] = (1, 1),
           pads: Sequence[int] = (0, 0, 0, 0), dilations: Sequence[int] = (1, 1), group: int = 1,
           out: np.ndarray | None = None, strategy: str = "auto") -> np.ndarray:
    """ONNX Conv (2-D, NCHW, fp32). One-shot convenience over `Conv2d` (workspaces not kept)."""
    return Conv2d(x.shape, w, bias, strides, pads, dilations, group, strategy)(x, out)


def conv_output_shape(x_shape: Sequence[int], w_shape: Sequence[int], strides: Sequence[int] = (1, 1),
                      pads: Sequence[int] = (0, 0, 0, 0), dilations: Sequence[int] = (1, 1),
                      group: int = 1) -> tuple[int, int, int, int]:
    """ONNX Conv output shape (N, M, OH, OW)."""
    return ConvGeometry.from_onnx(x_shape, w_shape, strides, pads, dilations, group).out_shape
