"""Op cost rules: one small pure function per op family, registered by ONNX op type.

A rule sees a `Node` (static input/output shapes and the attributes with the spec's defaults) and
returns a `Cost`. Adding an op is adding one decorated function (and one test). The registry also
says which inputs hold trainable parameters and which hold non-trainable buffers (BatchNorm's
running mean/var), so parameter counting follows the op, not a guess from the initializer's name.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

Shape = tuple[int, ...]

GLOBAL = -1
"""Window stride marker: the op sees its whole spatial input (global pooling, FC after flatten)."""


def numel(shape: Shape | None) -> int:
    return math.prod(shape) if shape else (1 if shape == () else 0)


@dataclass(frozen=True)
class Node:
    """What a cost rule may read: shapes (None for an absent optional input) and attributes."""

    op_type: str
    inputs: tuple[Shape | None, ...]
    outputs: tuple[Shape, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Shape:
        return self.outputs[0]

    @property
    def out_elems(self) -> int:
        return sum(numel(s) for s in self.outputs)


@dataclass(frozen=True)
class Cost:
    """MACs, FLOPs and the spatial window (kernel extent, stride) for receptive-field tracking."""

    macs: int = 0
    flops: int = 0
    window: tuple[int, int] | None = None


@dataclass(frozen=True)
class Rule:
    fn: Callable[[Node], Cost]
    weights: tuple[int, ...] | str = ()
    buffers: tuple[int, ...] = ()
    view: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)


RULES: dict[str, Rule] = {}

ANY_INITIALIZER = "any"
"""`weights=ANY_INITIALIZER`: any float initializer input is a parameter (a bias Add, a scale Mul)."""


def rule(
    *op_types: str,
    weights: tuple[int, ...] | str = (),
    buffers: tuple[int, ...] = (),
    view: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[Node], Cost]], Callable[[Node], Cost]]:
    """Register `fn` as the cost rule of `op_types`.

    weights: input indices holding trainable parameters; buffers: non-trainable ones;
    view: the op only relabels its input (no data moved); defaults: ONNX attribute defaults.
    """

    def register(fn: Callable[[Node], Cost]) -> Callable[[Node], Cost]:
        for op in op_types:
            RULES[op] = Rule(fn, weights, buffers, view, dict(defaults or {}))
        return fn

    return register


_FAMILIES = ("conv", "gemm", "norm", "pool", "elementwise", "tensor", "reduce")
for _family in _FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")


def lookup(op_type: str) -> Rule | None:
    return RULES.get(op_type)
