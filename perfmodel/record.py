"""The per-layer cost record: the one data structure every part of perfmodel reads.

The graph walk (`perfmodel.walk`) produces a `ModelCost` holding one `LayerCost` per ONNX node.
Roofline, accelerator model, kernels' validation and reports read these records and never the
ONNX graph again. Records store element counts; bytes of float tensors follow from the record's
dtype, so a dtype what-if is `cost.with_dtype("int8")`, not a second walk; integer tensors (a
quantized model's uint8 activations and int8 weights) keep their stored widths (`Fixed`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, Mapping

from perfmodel.units import Shape

DTYPE_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a perfmodel dtype name (fp32, fp16, bf16, int8)."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}") from None


@dataclass(frozen=True)
class Geometry:
    """A window op's spatial geometry, normalized once by the walk from the ONNX attributes.

    Per spatial axis: kernel, strides, dilations and the padding at each end (auto_pad resolved to
    explicit pads, missing attributes given the ONNX spec's defaults: stride 1, dilation 1, no pad,
    the kernel from the weight's shape). `groups` is Conv's `group` (1 for pools). `ceil_mode` is a
    pool's output rounding (ONNX MaxPool/AveragePool).
    """

    kernel: Shape
    strides: Shape
    dilations: Shape
    pads_begin: Shape
    pads_end: Shape
    groups: int = 1
    ceil_mode: bool = False

    @property
    def kernel_eff(self) -> Shape:
        """Effective kernel extent per axis: d (k - 1) + 1 (ONNX Conv, dilated window)."""
        return tuple(d * (k - 1) + 1 for d, k in zip(self.dilations, self.kernel))

    @property
    def pads(self) -> Shape:
        """Pads in ONNX order: all begins, then all ends."""
        return self.pads_begin + self.pads_end


@dataclass(frozen=True)
class GemmDims:
    """A MAC op as `groups` independent GEMMs (M x K) @ (K x N) -> (M x N), derived by its cost rule.

    `weight_input` is the input slot of the B operand when it is a stored weight (None when both
    operands are activations, a MatMul of two tensors); `bias_input` the slot of a bias, if any.
    """

    m: int
    k: int
    n: int
    groups: int = 1
    weight_input: int | None = None
    bias_input: int | None = None

    @property
    def macs(self) -> int:
        """groups x M x K x N."""
        return self.groups * self.m * self.k * self.n


@dataclass(frozen=True)
class Fixed:
    """The integer-typed share of an element count (quantized data, int32 biases, int64 indices):
    how many of the elements are integers, and their bytes at the widths they are stored at. Float
    elements take the analysis dtype's width (`perfmodel.graph.fixed_widths` states the rule)."""

    elems: int = 0
    bytes: int = 0

    def __add__(self, other: "Fixed") -> "Fixed":
        return Fixed(self.elems + other.elems, self.bytes + other.bytes)

    def bytes_of(self, elems: int, dtype: str) -> int:
        """Bytes of `elems` elements of which these are integers: the rest at `dtype`'s width."""
        if not self.elems:
            return elems * DTYPE_BYTES[dtype]
        return (elems - self.elems) * DTYPE_BYTES[dtype] + self.bytes

    @classmethod
    def of(cls, pairs) -> "Fixed":
        """The share of (elements, bytes per element or None for a float tensor) pairs."""
        total = cls()
        for elems, width in pairs:
            if width:
                total = total + cls(elems, elems * width)
        return total


NO_INTEGERS = Fixed()


@dataclass(frozen=True)
class LayerCost:
    """Cost of one ONNX node.

    `macs` counts multiply-accumulates (conv, gemm); `flops` counts every floating-point operation,
    2 per MAC plus the op's own element-wise work. `activations` is the element count of the outputs.
    Element counts (`weight_elems`, `input_elems`, `output_elems`) are the traffic of an ideal memory
    system (each operand read once, each output written once); bytes are these times the dtype's
    size, except for the integer-typed share (`int_*`), at its own widths. A view op (Reshape,
    Flatten, ...) has activations but moves nothing. `supported` is False for an op with no cost
    rule: its figures are then unknown, not zero, and reports say so.

    `kind` is the op's kind from the registry (`perfmodel.ops.KINDS`; "unknown" without a rule);
    `geometry` is set for window ops (conv, pool), `gemm` for MAC ops. Downstream code reads these,
    never the ONNX attributes. `input_names` / `output_names` are the tensors it reads and writes
    (aligned with the shapes; "" for an absent optional input), `activation_slots` the inputs that
    are activations (not stored constants): the topology the fusion pass needs.

    A fused group (`perfmodel.fusion`) is a LayerCost too: its anchor's name, op, geometry and GEMM
    dims, `members` its layers' names, `fused_ops` their ops, MACs/FLOPs/params summed, and traffic at
    the group's boundary (intermediates never touch memory). `epilogue_flops` is the element-wise work
    of its members after the anchor, `epilogue_input_elems` what that work reads from memory (a
    residual Add's other operand).
    """

    name: str
    op_type: str
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    params: int = 0
    non_trainable_params: int = 0
    macs: int = 0
    flops: int = 0
    activations: int = 0
    weight_elems: int = 0
    input_elems: int = 0
    output_elems: int = 0
    receptive_field: int | None = None
    supported: bool = True
    dtype: str = "fp32"
    kind: str = "unknown"
    geometry: Geometry | None = None
    gemm: GemmDims | None = None
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    activation_slots: tuple[int, ...] = ()
    members: tuple[str, ...] = ()
    fused_ops: tuple[str, ...] = ()
    epilogue_flops: int = 0
    epilogue_input_elems: int = 0
    folded: tuple[str, ...] = ()  # members folded into the anchor's weights ahead of time (no run-time work)
    # the integer-typed share of weight_elems, input_elems, output_elems, activations, and of the
    # params + buffers first stored here: bytes at their real widths (Fixed)
    int_weights: Fixed = NO_INTEGERS
    int_inputs: Fixed = NO_INTEGERS
    int_outputs: Fixed = NO_INTEGERS
    int_activations: Fixed = NO_INTEGERS
    int_stored: Fixed = NO_INTEGERS
    widths: Mapping[str, int] = field(default_factory=dict)  # its integer-typed tensors' bytes per element
    # a control-flow node's subgraphs: (name, MACs, FLOPs) of each If branch, or of a loop's whole run
    branches: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def of(cls, **fields: Any) -> "LayerCost":
        """The same record as `LayerCost(**fields)`, built as the walk needs it for every node: a frozen
        dataclass's __init__ sets its ~50 fields one `object.__setattr__` at a time (6 us a record
        here), this fills the instance's dict at once (2.5 us). Unknown field names are refused as by __init__."""
        if not (fields.keys() <= _LAYER_FIELDS and _LAYER_REQUIRED <= fields.keys()):
            return cls(**fields)  # raises the TypeError __init__ would
        record = object.__new__(cls)
        record.__dict__.update(_LAYER_DEFAULTS)
        record.__dict__.update(fields)
        return record

    @property
    def epilogue_ops(self) -> tuple[str, ...]:
        """The ops a fused group runs after its anchor, on its output tile (folded ones excluded)."""
        return tuple(op for name, op in zip(self.members[1:], self.fused_ops[1:]) if name not in self.folded)

    @property
    def op_label(self) -> str:
        """'Conv+BatchNormalization+Relu' for a fused group, the op type otherwise."""
        return "+".join(self.fused_ops) if len(self.fused_ops) > 1 else self.op_type

    @property
    def is_view(self) -> bool:
        """True for ops that only relabel their input's storage (no data moved)."""
        return self.supported and self.activations > 0 and self.output_elems == 0

    @cached_property
    def weight_bytes_read(self) -> float:
        """Bytes of constant operands this layer reads (traffic: a weight shared by two layers is read by each)."""
        return self.int_weights.bytes_of(self.weight_elems, self.dtype)

    @cached_property
    def input_bytes(self) -> float:
        return self.int_inputs.bytes_of(self.input_elems, self.dtype)

    @cached_property
    def bytes_read(self) -> float:
        return self.weight_bytes_read + self.input_bytes

    @cached_property
    def bytes_written(self) -> float:
        return self.int_outputs.bytes_of(self.output_elems, self.dtype)

    @cached_property
    def stored_bytes(self) -> float:
        """Storage of the params and buffers first counted at this layer."""
        return self.int_stored.bytes_of(self.params + self.non_trainable_params, self.dtype)

    @cached_property
    def activation_bytes(self) -> float:
        return self.int_activations.bytes_of(self.activations, self.dtype)

    @cached_property
    def bytes_total(self) -> float:
        return self.bytes_read + self.bytes_written

    @cached_property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte of ideal DRAM traffic (read once, write once)."""
        moved = self.bytes_total
        return self.flops / moved if moved else 0.0

    def with_dtype(self, dtype: str) -> "LayerCost":
        dtype_bytes(dtype)
        return dataclasses.replace(self, dtype=dtype)


_LAYER_REQUIRED = {f.name for f in dataclasses.fields(LayerCost) if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING}
_LAYER_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LayerCost) if f.default is not dataclasses.MISSING}
_LAYER_DEFAULTS.update({f.name: f.default_factory() for f in dataclasses.fields(LayerCost)
                        if f.default_factory is not dataclasses.MISSING})  # read-only: records are never mutated
_LAYER_FIELDS = {f.name for f in dataclasses.fields(LayerCost)}


@dataclass(frozen=True)
class ModelCost:
    """All layers of one model in schedule order, plus what only the whole graph knows."""

    model: str
    inputs: Mapping[str, Shape]
    layers: tuple[LayerCost, ...]
    peak_activation_elems: int = 0
    # (float elements, integer bytes) of the live sets that can be the peak in bytes (perfmodel.walk.peak_live)
    peak_live_points: tuple[tuple[int, int], ...] = ()
    input_elems: int = 0
    dtype: str = "fp32"
    unsupported_ops: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()  # the graph's output tensors
    fusion: str = "none"  # the policy its layers were grouped by (perfmodel.fusion)

    def with_dtype(self, dtype: str) -> "ModelCost":
        return dataclasses.replace(self, dtype=dtype, layers=tuple(l.with_dtype(dtype) for l in self.layers))

    @property
    def unknown_layers(self) -> tuple[str, ...]:
        """Layers whose cost is unknown (no cost rule, or shapes inference left unknown)."""
        return tuple(layer.name for layer in self.layers if not layer.supported)

    @property
    def complete(self) -> bool:
        """Every layer costed: the totals are exact. Otherwise they are lower bounds, and every
        output says so (the CLI exits with status 3 unless --allow-partial)."""
        return not self.unknown_layers

    def _sum(self, attr: str) -> int:
        return sum(map(attrgetter(attr), self.layers))

    @property
    def params(self) -> int:
        """Trainable parameters, torch's `model.parameters()`: what torchvision publishes."""
        return self._sum("params")

    @property
    def trainable_params(self) -> int:
        return self.params

    @property
    def non_trainable_params(self) -> int:
        """Stored constants that are not trained (BatchNorm running mean/var, torch's buffers)."""
        return self._sum("non_trainable_params")

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def flops(self) -> int:
        return self._sum("flops")

    @property
    def activations(self) -> int:
        return self._sum("activations")

    @property
    def neurons(self) -> int:
        """Output elements of the MAC-bearing layers (conv, FC): the course's "neurons"."""
        return sum(layer.activations for layer in self.layers if layer.macs > 0)

    @property
    def weight_bytes(self) -> float:
        """Storage: bytes of all parameters (trainable and not), each stored once (not the per-layer
        traffic `LayerCost.weight_bytes_read`, which counts a shared weight at each reader)."""
        return self._sum("stored_bytes")

    @property
    def activation_bytes(self) -> float:
        """Bytes of every layer output, each stored once (no reuse of buffers)."""
        return self._sum("activation_bytes")

    @property
    def peak_activation_bytes(self) -> float:
        """Largest set of live activations at any step of the schedule (tensors freed after last use)."""
        if not self.peak_live_points:
            return self.peak_activation_elems * dtype_bytes(self.dtype)
        return max(floats * dtype_bytes(self.dtype) + int_bytes for floats, int_bytes in self.peak_live_points)

    def totals(self) -> dict[str, float]:
        """The totals of the JSON contract, in one place so every report agrees (the sums of the
        properties above, taken in one pass over the layers)."""
        summed = ("params", "non_trainable_params", "macs", "flops", "activations", "stored_bytes", "activation_bytes")
        columns = zip(*map(attrgetter(*summed), self.layers)) if self.layers else [()] * len(summed)
        params, buffers, macs, flops, activations, weight_bytes, activation_bytes = map(sum, columns)
        return {
            "params": params,
            "trainable_params": params,
            "non_trainable_params": buffers,
            "macs": macs,
            "flops": flops,
            "activations": activations,
            "neurons": self.neurons,
            "weight_bytes": weight_bytes,
            "activation_bytes": activation_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
        }

    def layers_of(self, *op_types: str) -> list[LayerCost]:
        return [layer for layer in self.layers if layer.op_type in op_types]
