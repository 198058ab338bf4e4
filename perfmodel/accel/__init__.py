"""The accelerator model: a MAC array with on-chip buffers, a clock and a DRAM link.

Every conv/FC layer is tiled into the buffers (a search over tile sizes, loop orders and array
mappings: the fastest schedule, then the fewest DRAM bytes), its DRAM traffic and cycles counted in
closed form; element-wise work runs on vector lanes. Modules: gemm_view (layer -> GEMM), dataflow,
tiling (the search), cost (cycles, overlap), model (`simulate`), baseline, speedup, program
(pseudo-ISA), layer_spec (`--layer` text), report.
`simulate(cost, spec)` is the entry point; `perfmodel accel` and `perfmodel
speedup` print it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"AccelResult": "results", "LayerResult": "results", "LayerSchedule": "results", "Traffic": "results",
            "simulate": "model"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Lazy exports: `perfmodel --help` reads layer_spec.SYNTAX without importing numpy."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"perfmodel.accel.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'perfmodel.accel' has no attribute {name!r}")
