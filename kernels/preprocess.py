"""Input pipeline of the course homework: bilinear resize + center crop, image -> float CHW.

Two pipelines, both ending in a `size` x `size` (224) float32 CHW tensor:
  * `resize_center_crop`: resize the whole image to `resize` x `resize` (256), then keep the centered
    `size` x `size` window (offset (resize - size) // 2 = 16 on each axis).
  * `center_crop_resize`: keep the centered `fraction` (0.875) of each side, rounded to whole pixels
    (crop = round(fraction * L), start = (L - crop) // 2), then resize that crop to `size` x `size`.

Bilinear convention (identical to ONNX Resize mode="linear", coordinate_transformation_mode=
"half_pixel", no antialias, followed or preceded by Slice): an output index i of a length-R resize of a
length-L source maps to the source coordinate

    x = (i + 0.5) * L / R - 0.5,   x0 = floor(x),   f = x - x0,
    value = (1 - f) * src[clamp(x0)] + f * src[clamp(x0 + 1)],   clamp to [0, L - 1]

(clamping equals ONNX's edge padding). The crop is applied as an index offset, so nothing is
materialized between the two steps: per axis a small table (i0, i1, f) is computed once in float64
and the kernel does 4 loads and 3 multiply-adds per output value. Input may be HWC or CHW, uint8 or
float; uint8 values are converted to float (0..255, no scaling).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_PJIT = dict(parallel=True, fastmath=True, cache=True)


def axis_table(src_start: int, src_len: int, resized_len: int, offset: int, out_len: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, f) for output indices offset..offset+out_len-1 of a half-pixel linear resize of
    src[src_start : src_start + src_len] to resized_len samples. Indices are absolute in src."""
    i = np.arange(offset, offset + out_len, dtype=np.float64)
    x = (i + 0.5) * (src_len / resized_len) - 0.5
    x0 = np.floor(x)
    f = (x - x0).astype(np.float32)
    x0 = x0.astype(np.int64)
    i0 = np.clip(x0, 0, src_len - 1) + src_start
    i1 = np.clip(x0 + 1, 0, src_len - 1) + src_start
    return i0.astype(np.int64), i1.astype(np.int64), f


@njit(**_PJIT)
def _bilinear_core(src, channels_last, y0, y1, fy, x0, x1, fx, out):  # pragma: no cover - jitted
    """out[c, i, j] = bilinear sample of src at (table row i, table column j), src CHW or HWC."""
    C, OH, OW = out.shape
    for t in prange(C * OH):
        c = t // OH
        i = t % OH
        a = y0[i]
        b = y1[i]
        wy = fy[i]
        dst = out[c, i]
        for j in range(OW):
            wx = fx[j]
            if channels_last:
                p00 = np.float32(src[a, x0[j], c])
                p01 = np.float32(src[a, x1[j], c])
                p10 = np.float32(src[b, x0[j], c])
                p11 = np.float32(src[b, x1[j], c])
            else:
                p00 = np.float32(src[c, a, x0[j]])
                p01 = np.float32(src[c, a, x1[j]])
                p10 = np.float32(src[c, b, x0[j]])
                p11 = np.float32(src[c, b, x1[j]])
            top = p00 + wx * (p01 - p00)
            bot = p10 + wx * (p11 - p10)
            dst[j] = top + wy * (bot - top)


def _prepare(img: np.ndarray, layout: str) -> tuple[np.ndarray, bool, int, int, int]:
    """Validate the image; returns (array, channels_last, C, H, W)."""
    if layout not in ("HWC", "CHW"):
        raise ValueError(f"layout must be 'HWC' or 'CHW', got {layout!r}")
    if img.ndim == 2:
        img = img[:, :, None] if layout == "HWC" else img[None]
    if img.ndim != 3:
        raise ValueError(f"expected a 3-D image, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = img.astype(np.float32, copy=False)
    img = np.ascontiguousarray(img)
    if layout == "HWC":
        h, w, c = img.shape
        return img, True, c, h, w
    c, h, w = img.shape
    return img, False, c, h, w


def _run(img: np.ndarray, channels_last: bool, c: int, ytab, xtab, out: np.ndarray | None) -> np.ndarray:
    oh, ow = len(ytab[0]), len(xtab[0])
    if out is None:
        out = np.empty((c, oh, ow), np.float32)
    _bilinear_core(img, channels_last, ytab[0], ytab[1], ytab[2], xtab[0], xtab[1], xtab[2], out)
    return out


def resize_center_crop(img: np.ndarray, resize: int = 256, size: int = 224, layout: str = "HWC",
                       out: np.ndarray | None = None) -> np.ndarray:
    """Resize to resize x resize (bilinear, half-pixel), then center-crop size x size -> float32 CHW."""
    img, cl, c, h, w = _prepare(img, layout)
    off = (resize - size) // 2
    return _run(img, cl, c, axis_table(0, h, resize, off, size), axis_table(0, w, resize, off, size), out)


def center_crop_box(length: int, fraction: float) -> tuple[int, int]:
    """(start, length) of the centered crop keeping `fraction` of an axis, in whole pixels."""
    crop = max(1, int(round(length * fraction)))
    return (length - crop) // 2, crop


def center_crop_resize(img: np.ndarray, fraction: float = 0.875, size: int = 224, layout: str = "HWC",
                       out: np.ndarray | None = None) -> np.ndarray:
    """Center-crop `fraction` of each side, then resize to size x size (bilinear) -> float32 CHW."""
    img, cl, c, h, w = _prepare(img, layout)
    top, ch = center_crop_box(h, fraction)
    left, cw = center_crop_box(w, fraction)
    return _run(img, cl, c, axis_table(top, ch, size, 0, size), axis_table(left, cw, size, 0, size), out)
