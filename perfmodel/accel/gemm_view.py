"""A MAC-bearing layer seen as GEMMs, and the tile sizes the search may try along each GEMM dim.

Conv is an implicit GEMM: M = batch x out pixels, K = (C / groups) x prod(kernel), N = OC / groups,
repeated over the groups. Gemm/MatMul are GEMMs as they stand (batched MatMul repeats like groups).
Only the record's `gemm` dims and `geometry` are read, never ONNX attributes or input positions.

The input operand of a conv is not the M x K im2col matrix: DRAM holds the input tensor, and a tile
of output pixels needs the window of input pixels under it (its halo included). So the input is
counted in "A rows" (input pixels) x "A cols" (input channels), and an M tile knows how many input
pixels it reads (`rows_tile`) and how many all M tiles read together (`rows_pass`: neighbouring
tiles re-read their shared halo; no on-chip halo reuse between tiles). For a GEMM, A rows = M.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

from perfmodel.record import LayerCost
from perfmodel.units import ceil_div

MAX_EVEN_SPLITS = 8
"""Tile sizes ceil(extent / j) for j = 1..8: near-even splits that avoid a tiny ragged last tile."""


def tile_sizes(extent: int) -> tuple[int, ...]:
    """Candidate tile sizes along one dim: powers of two below it, near-even splits, the full extent."""
    sizes = {extent}
    sizes.update(1 << i for i in range(extent.bit_length()) if (1 << i) < extent)
    sizes.update(ceil_div(extent, j) for j in range(1, MAX_EVEN_SPLITS + 1))
    return tuple(sorted(sizes))


@dataclass(frozen=True)
class Split:
    """`outer` repeats of a dim of `extent` cut into tiles of `tile`, each tile unit `inner` elements wide.

    Tiles are `tile` units, the last one ragged (`extent % tile`); a unit is `inner` GEMM elements
    (a conv K unit is one input channel = prod(kernel) elements of K).
    """

    extent: int
    tile: int
    inner: int = 1
    outer: int = 1

    @property
    def count(self) -> int:
        """Number of tiles: outer x ceil(extent / tile)."""
        return self.outer * ceil_div(self.extent, self.tile)

    @property
    def size(self) -> int:
        """Elements of a full tile along the GEMM dim: tile x inner."""
        return self.tile * self.inner

    def blocks(self, lanes: int) -> int:
        """Sum over tiles of ceil(tile elements / lanes): array passes along this dim, ragged edges included."""
        full, rest = divmod(self.extent, self.tile)
        per = full * ceil_div(self.tile * self.inner, lanes)
        if rest:
            per += ceil_div(rest * self.inner, lanes)
        return self.outer * per


@dataclass(frozen=True)
class MTile:
    """One way to tile M, with the input pixels it reads (per input channel)."""

    split: Split
    rows_tile: int  # input pixels of the largest tile (halo included, padding excluded)
    rows_pass: int  # input pixels read by all M tiles together (shared halos counted per tile)
    label: str


def axis_windows(out_len: int, in_len: int, k_eff: int, stride: int, pad: int, tile: int) -> tuple[int, int]:
    """(sum, max) over output tiles [o0, o0 + tile) of the input indices they read along one axis.

    Output o reads input [o s - pad, o s - pad + k_eff), clipped to [0, in_len) (padding is generated,
    not read). Overlapping windows (stride < k_eff) read one span [o0 s - pad, (o1 - 1) s - pad + k_eff);
    disjoint ones (stride >= k_eff, e.g. a 1x1 stride-2 conv) read only their own windows, the skipped
    input in between is never fetched.
    """

    def extent(lo: int, hi: int) -> int:
        return max(min(hi, in_len) - max(lo, 0), 0)

    total = largest = 0
    for o0 in range(0, out_len, tile):
        o1 = min(o0 + tile, out_len)
        if stride >= k_eff:
            size = sum(extent(o * stride - pad, o * stride - pad + k_eff) for o in range(o0, o1))
        else:
            size = extent(o0 * stride - pad, (o1 - 1) * stride - pad + k_eff)
        total += size
        largest = max(largest, size)
    return total, largest


@dataclass(frozen=True)
class ConvGeometry:
    """Spatial geometry of a conv's input windows (per spatial axis)."""

    batch: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    kernel_eff: tuple[int, ...]  # d (k - 1) + 1
    strides: tuple[int, ...]
    pads_begin: tuple[int, ...]

    def windows(self, axis: int, tile: int) -> tuple[int, int]:
        return axis_windows(self.out_spatial[axis], self.in_spatial[axis], self.kernel_eff[axis],
                            self.strides[axis], self.pads_begin[axis], tile)

    def m_tiles(self) -> list[MTile]:
        """M tiles in whole-image, whole-row(-plane) or partial-row shapes (row-major output pixels).

        Level 0 tiles the batch (b images); level a >= 1 takes 1 output index on the axes before a,
        `e` on axis a and all of the axes after it. Input pixels multiply over the axes.
        """
        dims = (self.batch, *self.out_spatial)
        tiles = []
        for level, extent in enumerate(dims):
            sizes = tile_sizes(extent) if level == 0 else [e for e in tile_sizes(extent) if e < extent]
            outer = math.prod(dims[:level])
            inner = math.prod(dims[level + 1:])
            for e in sizes:
                rows_tile = e if level == 0 else 1
                rows_pass = self.batch
                for axis in range(len(self.out_spatial)):
                    if axis + 1 < level:
                        tile = 1
                    elif axis + 1 == level:
                        tile = e
                    else:
                        tile = self.out_spatial[axis]
                    total, largest = self.windows(axis, tile)
                    rows_tile *= largest
                    rows_pass *= total
                if level == 0:
                    label = f"{e} image{'s' if e != 1 else ''}"
                elif level == len(dims) - 1:
                    label = f"{e} px"
                else:
                    label = f"{e} row{'s' if e != 1 else ''}"
                tiles.append(MTile(Split(extent, e, inner, outer), rows_tile, rows_pass, label))
        return tiles


@dataclass(frozen=True)
class GemmView:
    """`groups` independent GEMMs (M x K) @ (K x N) -> (M x N), with what the tiling needs to know.

    K is tiled in units of `k_unit` elements (conv: one input channel = prod(kernel) elements; GEMM: 1).
    `bias_rows` is 1 when a bias vector of N values is loaded with the weights (0 without bias).
    """

    kind: str  # "conv", "gemm", "convtranspose"
    m: int
    k: int
    n: int
    groups: int = 1
    k_unit: int = 1
    bias_rows: int = 0
    conv: ConvGeometry | None = None

    @property
    def k_units(self) -> int:
        """K in tiling units: input channels per group for a conv, K for a GEMM."""
        return self.k // self.k_unit

    @property
    def macs(self) -> int:
        return self.groups * self.m * self.k * self.n

    @property
    def a_elems(self) -> int:
        """Input elements per group in DRAM: input pixels x channels (conv), M x K (GEMM)."""
        rows = self.conv.batch * math.prod(self.conv.in_spatial) if self.conv else self.m
        return rows * self.k_units

    def describe(self) -> str:
        groups = f" x{self.groups} groups" if self.groups > 1 else ""
        return f"{self.m}x{self.k}x{self.n}{groups}"

    @cached_property
    def m_tiles(self) -> tuple[MTile, ...]:
        return _m_tiles(self.m, self.conv)

    @cached_property
    def k_tiles(self) -> tuple[Split, ...]:
        return tuple(Split(self.k_units, t, self.k_unit) for t in tile_sizes(self.k_units))

    @cached_property
    def n_tiles(self) -> tuple[Split, ...]:
        return tuple(Split(self.n, t) for t in tile_sizes(self.n))


@lru_cache(maxsize=4096)
def _m_tiles(m: int, conv: ConvGeometry | None) -> tuple[MTile, ...]:
    """M tiles of a GEMM (memoized: a design-space sweep asks for the same layer's tiles at every point)."""
    if conv is not None:
        return tuple(conv.m_tiles())
    return tuple(MTile(Split(m, t), t, m, f"{t} row{'s' if t != 1 else ''}") for t in tile_sizes(m))


def gemm_view(layer: LayerCost) -> GemmView | None:
    """The GEMM view of a MAC layer (the record's `gemm` dims); None for any other op.

    A conv also gets its window geometry (the input pixels a tile of outputs reads); a transposed
    conv's GEMM output is the M x N column matrix (col2im's overlapping adds are not modelled).
    """
    dims = layer.gemm
    if not layer.supported or dims is None or dims.macs == 0:
        return None
    bias = layer.input_shapes[dims.bias_input] if dims.bias_input is not None else ()
    bias_rows = ceil_div(math.prod(bias), dims.n * dims.groups) if bias else 0
    geo = layer.geometry
    if geo is None or layer.op_type == "ConvTranspose":
        kind = "convtranspose" if geo is not None else "gemm"
        return GemmView(kind, m=dims.m, k=dims.k, n=dims.n, groups=dims.groups, bias_rows=bias_rows)
    x, out = layer.input_shapes[0], layer.output_shapes[0]
    geometry = ConvGeometry(batch=x[0], in_spatial=tuple(x[2:]), out_spatial=tuple(out[2:]),
                            kernel_eff=geo.kernel_eff, strides=geo.strides, pads_begin=geo.pads_begin)
    return GemmView("conv", m=dims.m, k=dims.k, n=dims.n, groups=dims.groups, k_unit=math.prod(geo.kernel),
                    bias_rows=bias_rows, conv=geometry)
