"""Weight-sparsity what-if: skip the MACs on zero weights and store the weights compressed.

Only the weight tensors of conv/FC layers (input 1 of Conv, ConvTranspose, Gemm, MatMul) are
sparsified, at a uniform density d (fraction of non-zeros); biases and BatchNorm parameters stay
dense. Two compressed formats, index overhead counted:

* CSR of the tensor as stored, viewed as a shape[0] x prod(shape[1:]) matrix: nnz values, nnz
  column indices of `index_width` (int16 or int32), and rows + 1 row pointers kept int32 (nnz
  overflows int16 on any real layer).
* bitmap: nnz values plus one bit per element (ceil(elems / 8) bytes).

At d = 1 the skip-zeros MACs equal the dense MACs exactly, and both formats are larger than dense.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

from perfmodel.errors import PerfmodelError
from perfmodel.hardware import HardwareSpec
from perfmodel.record import LayerCost, ModelCost, dtype_bytes
from perfmodel.whatif.mac_layers import has_weight_matrix, model_intensity, weight_matrix_shape, weight_tensor_elems
from perfmodel.whatif.timing import predict_timing

DENSITIES = (1.0, 0.5, 0.25, 0.1)
INDEX_BYTES = {"int16": 2, "int32": 4}
ROW_POINTER_BYTES = 4
FORMATS = ("dense", "csr", "bitmap")


def nonzeros(elems: int, density: float) -> int:
    """nnz = round(d x elems): the non-zero weights left at density d."""
    return round(elems * density)


def sparse_macs(macs: int, density: float) -> int:
    """MACs when zero weights are skipped = round(MACs x d) (each weight takes part in equally many MACs)."""
    return round(macs * density)


def csr_bytes(rows: int, nnz: int, value_bytes: int, index_bytes: int) -> int:
    """CSR = nnz x (value + column index) + (rows + 1) x int32 row pointer bytes."""
    return nnz * (value_bytes + index_bytes) + (rows + 1) * ROW_POINTER_BYTES


def bitmap_bytes(elems: int, nnz: int, value_bytes: int) -> int:
    """Bitmap = nnz x value bytes + ceil(elems / 8) bytes of one-bit masks."""
    return nnz * value_bytes + math.ceil(elems / 8)


@dataclass(frozen=True)
class SparseLayer:
    """One conv/FC weight tensor at density d, in every storage format."""

    name: str
    op_type: str
    elems: int
    rows: int
    cols: int
    nnz: int
    dense_macs: int
    sparse_macs: int
    dense_bytes: int
    csr_bytes: int
    bitmap_bytes: int

    def stored_bytes(self, fmt: str) -> int:
        return {"dense": self.dense_bytes, "csr": self.csr_bytes, "bitmap": self.bitmap_bytes}[fmt]


def _check(density: float, index_width: str) -> int:
    if not 0 < density <= 1:
        raise PerfmodelError(f"weight density must be in (0, 1], got {density}")
    if index_width not in INDEX_BYTES:
        raise PerfmodelError(f"index width {index_width!r}: choose one of {', '.join(INDEX_BYTES)}")
    return INDEX_BYTES[index_width]


def sparse_layer(layer: LayerCost, density: float, index_width: str = "int32") -> SparseLayer:
    """Storage and MACs of one conv/FC weight tensor at density d."""
    index_bytes = _check(density, index_width)
    elems = weight_tensor_elems(layer)
    rows, cols = weight_matrix_shape(layer)
    if cols > 1 << (8 * index_bytes - 1):
        raise PerfmodelError(f"layer {layer.name!r}: {cols} columns do not fit {index_width} column indices")
    nnz = nonzeros(elems, density)
    value = dtype_bytes(layer.dtype)
    return SparseLayer(
        name=layer.name, op_type=layer.op_type, elems=elems, rows=rows, cols=cols, nnz=nnz,
        dense_macs=layer.macs, sparse_macs=sparse_macs(layer.macs, density), dense_bytes=elems * value,
        csr_bytes=csr_bytes(rows, nnz, value, index_bytes), bitmap_bytes=bitmap_bytes(elems, nnz, value),
    )


def sparse_layers(cost: ModelCost, density: float, index_width: str = "int32") -> list[SparseLayer]:
    return [sparse_layer(layer, density, index_width) for layer in cost.layers if has_weight_matrix(layer)]


def apply_sparsity(cost: ModelCost, density: float, fmt: str = "csr", index_width: str = "int32") -> ModelCost:
    """The record as the roofline sees a sparse model: skipped MACs (2 FLOPs each) leave, weight traffic
    becomes the format's bytes (rounded up to whole elements of the dtype, at most dtype-1 bytes per layer)."""
    if fmt not in FORMATS:
        raise PerfmodelError(f"sparse format {fmt!r}: choose one of {', '.join(FORMATS)}")
    layers = []
    for layer in cost.layers:
        if not has_weight_matrix(layer):
            layers.append(layer)
            continue
        s = sparse_layer(layer, density, index_width)
        stored_elems = math.ceil(s.stored_bytes(fmt) / dtype_bytes(layer.dtype))
        layers.append(dataclasses.replace(
            layer, macs=s.sparse_macs, flops=layer.flops - 2 * (s.dense_macs - s.sparse_macs),
            weight_elems=layer.weight_elems - s.elems + stored_elems))
    return dataclasses.replace(cost, layers=tuple(layers))


@dataclass(frozen=True)
class SparsityPoint:
    """The model at one density: MACs, weight storage per format, and the roofline per format."""

    density: float
    index_width: str
    dense_macs: int
    sparse_macs: int
    dense_weight_bytes: int  # the sparsified tensors only, stored dense
    csr_weight_bytes: int
    bitmap_weight_bytes: int
    other_weight_bytes: float  # biases, BatchNorm: stay dense
    intensity: dict[str, float]  # per format: model FLOPs / model traffic
    time_s: dict[str, float | None]  # per format: roofline time (None without a hardware spec)
    bound: dict[str, str | None]


def sparsity_point(cost: ModelCost, density: float, hw: HardwareSpec | None = None,
                   index_width: str = "int32") -> SparsityPoint:
    """Everything the sparsity table shows for one density (and one hardware spec, if given)."""
    layers = sparse_layers(cost, density, index_width)
    dense = sum(s.dense_bytes for s in layers)
    intensity, time_s, bound = {}, {}, {}
    for fmt in FORMATS:
        shifted = apply_sparsity(cost, density, fmt, index_width) if fmt != "dense" else cost
        intensity[fmt] = model_intensity(shifted)
        timing = predict_timing(shifted, hw) if hw is not None else None
        time_s[fmt] = timing.total_s if timing else None
        bound[fmt] = timing.bound if timing else None
    return SparsityPoint(
        density=density, index_width=index_width,
        dense_macs=cost.macs, sparse_macs=cost.macs - sum(s.dense_macs - s.sparse_macs for s in layers),
        dense_weight_bytes=dense, csr_weight_bytes=sum(s.csr_bytes for s in layers),
        bitmap_weight_bytes=sum(s.bitmap_bytes for s in layers),
        other_weight_bytes=cost.weight_bytes - dense,  # storage, each tensor once (not per-layer reads)
        intensity=intensity, time_s=time_s, bound=bound,
    )


def sparsity_sweep(cost: ModelCost, densities: Sequence[float] = DENSITIES, hw: HardwareSpec | None = None,
                   index_width: str = "int32") -> list[SparsityPoint]:
    return [sparsity_point(cost, d, hw, index_width) for d in densities]

