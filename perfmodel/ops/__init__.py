"""Op cost rules: one small pure function per op family, registered by ONNX op type with its traits.

A rule sees a `Node` (static input/output shapes, the attributes with the ONNX schema's defaults,
and for window ops the normalized `Geometry`) and returns a `Cost`. Adding an op is adding one
decorated function (and one test). The registration declares what the rest of perfmodel needs to
know about the op, so nothing downstream keeps its own list of op types:

- `kind`: what the op does (MAC, WINDOW, ELEMENTWISE, NORMALIZATION, REDUCTION, VIEW, MOVEMENT,
  CONTROL). A MAC rule returns its implicit-GEMM dims (`Cost.gemm`), from which its MACs follow. A
  CONTROL op (If, Loop, Scan) costs what its subgraphs cost, which the walk derives by walking them
  (`perfmodel.control_flow`); its rule gives the op's own work (none).
- `spatial`: the op slides a window over the spatial axes (kernel, strides, pads, dilations), so the
  walk normalizes that geometry once into the record.
- `weights` / `buffers`: input indices holding trainable parameters and non-trainable buffers
  (BatchNorm's running mean/var), so parameter counting follows the op, not the initializer's name.
- `check`: the op spec's rules onnx's own shape inference does not enforce (a conv's group divides
  its channels, a Reshape keeps the element count...): a function returning the broken rule's text,
  or None. A node that breaks one makes the model invalid (an error naming the node), never a
  plausible number.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

from perfmodel.record import GemmDims, Geometry
from perfmodel.units import Shape, numel

__all__ = ["ANY_INITIALIZER", "GLOBAL", "KINDS", "Cost", "GemmDims", "Geometry", "Node", "Rule", "RULES",
           "lookup", "numel", "op_types", "rule", "schema_defaults"]

MAC, WINDOW, ELEMENTWISE, NORMALIZATION, REDUCTION, VIEW, MOVEMENT, CONTROL = (
    "mac", "window", "elementwise", "normalization", "reduction", "view", "movement", "control")
KINDS = (MAC, WINDOW, ELEMENTWISE, NORMALIZATION, REDUCTION, VIEW, MOVEMENT, CONTROL)

GLOBAL = -1
"""Window stride marker: the op sees its whole spatial input (global pooling, FC after flatten)."""


@dataclass(frozen=True)
class Node:
    """What a cost rule may read: shapes (None for an absent optional input), attributes, geometry."""

    op_type: str
    inputs: tuple[Shape | None, ...]
    outputs: tuple[Shape, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    geometry: Geometry | None = None

    @property
    def out(self) -> Shape:
        return self.outputs[0]

    @property
    def out_elems(self) -> int:
        return sum(numel(s) for s in self.outputs)


@dataclass(frozen=True)
class Cost:
    """MACs, FLOPs, the spatial window (kernel extent, stride) for receptive-field tracking, and for a
    MAC op its implicit-GEMM dims."""

    macs: int = 0
    flops: int = 0
    window: tuple[int, int] | None = None
    gemm: GemmDims | None = None

    @classmethod
    def of_gemm(cls, gemm: GemmDims, window: tuple[int, int] | None) -> "Cost":
        """MACs = groups x M x K x N; FLOPs = 2 x MACs (bias adds and alpha/beta scaling not counted)."""
        return cls(gemm.macs, 2 * gemm.macs, window, gemm)


Check = Callable[[Node], "str | None"]


@dataclass(frozen=True)
class Rule:
    fn: Callable[[Node], Cost]
    kind: str
    weights: tuple[int, ...] | str = ()
    buffers: tuple[int, ...] = ()
    spatial: bool = False
    check: Check | None = None

    def violation(self, node: Node) -> str | None:
        """The op-spec rule `node` breaks, or None. MAC and window ops never have an empty output."""
        if self.kind in (MAC, WINDOW) and any(d <= 0 for s in node.outputs for d in s):
            return f"its output {'x'.join(map(str, node.out))} is empty (the window is larger than the padded input)"
        return self.check(node) if self.check is not None else None

    @property
    def view(self) -> bool:
        """The op only relabels its input's storage (no data moved)."""
        return self.kind == VIEW

    @property
    def weight_input(self) -> int | None:
        """The input slot of a MAC op's weight operand (the GEMM's B), None for other ops."""
        if self.kind != MAC or not isinstance(self.weights, tuple) or not self.weights:
            return None
        return self.weights[0]


RULES: dict[str, Rule] = {}

ANY_INITIALIZER = "any"
"""`weights=ANY_INITIALIZER`: any float initializer input is a parameter (a bias Add, a scale Mul)."""


def rule(*op_types: str, kind: str, weights: tuple[int, ...] | str = (), buffers: tuple[int, ...] = (),
         spatial: bool = False, check: Check | None = None) -> Callable[[Callable[[Node], Cost]], Callable[[Node], Cost]]:
    """Register `fn` as the cost rule of `op_types`, with the op's traits (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown op kind {kind!r}; one of {', '.join(KINDS)}")

    def register(fn: Callable[[Node], Cost]) -> Callable[[Node], Cost]:
        for op in op_types:
            RULES[op] = Rule(fn, kind, weights, buffers, spatial, check)
        return fn

    return register


def lookup(op_type: str) -> Rule | None:
    return RULES.get(op_type)


def op_types(kind: str) -> tuple[str, ...]:
    """Every registered op type of one kind, sorted: e.g. `op_types(MAC)` for the conv/FC layers."""
    return tuple(sorted(op for op, r in RULES.items() if r.kind == kind))


@lru_cache(maxsize=None)
def schema(op_type: str, opset: int, latest: bool = False):
    """The `onnx.defs` schema of a default-domain op at `opset` (or, with `latest`, its newest one when
    the op is not defined at that opset); None when onnx has none. The one place perfmodel asks."""
    from onnx import defs

    try:
        return defs.get_schema(op_type, opset, "")
    except Exception:
        if not latest:
            return None
    try:
        return defs.get_schema(op_type)
    except Exception:
        return None


@lru_cache(maxsize=None)
def schema_defaults(op_type: str, opset: int) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(attribute defaults, required attribute names) of `op_type` at `opset`, from `onnx.defs`.

    Strings come back as str, lists as tuples. An op onnx has no schema for gives ({}, ()).
    """
    from onnx import AttributeProto, helper

    found = schema(op_type, opset, latest=True)
    if found is None:
        return {}, ()
    defaults: dict[str, Any] = {}
    required = []
    for name, attr in found.attributes.items():
        if attr.required:
            required.append(name)
        if attr.default_value.type == AttributeProto.UNDEFINED:
            continue
        value = helper.get_attribute_value(attr.default_value)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = tuple(v.decode() if isinstance(v, bytes) else v for v in value)
        defaults[name] = value
    return defaults, tuple(required)


_FAMILIES = ("conv", "gemm", "recurrent", "norm", "pool", "elementwise", "tensor", "reduce", "control")
for _family in _FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
