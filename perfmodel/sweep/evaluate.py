"""One chunk of design points: every (point, model, batch) through the accelerator model, as CSV rows.

Runs in worker processes (local or Dask): a worker analyzes each (model, batch) once and keeps it, and
the tiling search is memoized per worker (perfmodel.accel.tiling), so a chunk pays for what is new in it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from perfmodel.errors import PerfmodelError
from perfmodel.record import ModelCost
from perfmodel.sweep.config import Sweep

RESULT_FIELDS = ("model", "batch", "latency_s", "energy_J", "edp_Js", "on_chip_bytes", "dram_bytes",
                 "utilisation", "pareto", "note")


def row_fields(sweep: Sweep) -> tuple[str, ...]:
    """CSV columns: the swept keys under their spec names, then the results."""
    return (*sweep.keys, *RESULT_FIELDS)


@lru_cache(maxsize=64)
def _cost(model: str, batch: int, dtype: str, fusion: str) -> ModelCost:
    from perfmodel.fusion import fuse
    from perfmodel.walk import analyze_model

    return fuse(analyze_model(model, batch=batch, dtype=dtype), fusion)


def analyzed(sweep: Sweep, model: str, batch: int) -> ModelCost:
    """The (fused) analysis a sweep's rows for `model` at `batch` are computed from."""
    return _cost(model, batch, sweep.dtype, sweep.fusion)


def evaluate(sweep: Sweep, indices: Sequence[int]) -> list[dict[str, Any]]:
    """Rows for the points at `indices` (every model and batch of each)."""
    from perfmodel.accel import simulate

    rows = []
    for index in indices:
        values = sweep.points[index]
        spec = sweep.spec(values)
        acc = spec.accelerator
        for model in sweep.models:
            for batch in sweep.batches:
                row: dict[str, Any] = dict(zip(sweep.keys, values))
                row.update(model=model, batch=batch, on_chip_bytes=acc.buffer_bytes, pareto="", note="")
                cost = _cost(model, batch, sweep.dtype, sweep.fusion)
                if not cost.complete:  # never a plausible number: its latency and energy are lower bounds
                    row["note"] = f"INCOMPLETE: {len(cost.unknown_layers)} layers of unknown cost; lower bounds"
                try:
                    result = simulate(cost, spec)
                except PerfmodelError as exc:
                    row.update(latency_s="", energy_J="", edp_Js="", dram_bytes="", utilisation="", note=str(exc))
                    rows.append(row)
                    continue
                energy = result.energy
                row.update(latency_s=result.time_s, energy_J=energy.total if energy is not None else "",
                           edp_Js=result.edp_Js if energy is not None else "", dram_bytes=result.traffic.total,
                           utilisation=result.utilisation)
                rows.append(row)
    return rows
