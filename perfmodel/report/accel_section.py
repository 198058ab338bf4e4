"""The speedup section of the report: perfmodel.accel's speedup table over the scalar-ALU baseline.

Accelerators are timed by the accelerator model, processors (e.g. this-cpu.toml) by the roofline,
both inside `perfmodel.accel.speedup_tables`; this module only calls it and lays out its cells.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from perfmodel.hardware import HardwareSpec
from perfmodel.record import ModelCost


def speedups(costs: Sequence[ModelCost], specs: Sequence[HardwareSpec], baseline: HardwareSpec,
             progress: Callable[[str], None]) -> dict[str, Any]:
    """{"baseline", "methods", "tables": speedup_records(...), "note"}; a processor without a peak for the
    models' dtype is left out with a note (an accelerator falls back to its native dtype by itself)."""
    from perfmodel.accel.speedup import METHODS_NOTE, speedup_records, speedup_tables

    dtype = costs[0].dtype
    timed = [s for s in specs if s.accelerator is not None or dtype in s.peak_flops]
    left_out = [s.name for s in specs if s not in timed]
    note = f"left out (no {dtype} peak): {', '.join(left_out)}" if left_out else ""
    tables = speedup_tables(costs, timed, [baseline], lambda m: progress(f"speedup: {m}")) if timed else []
    return {"baseline": baseline.name, "methods": METHODS_NOTE, "note": note,
            "tables": speedup_records(tables)}


def energy_table(table: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """(headers, rows) of energy per inference (and the baseline's energy over it); None without energy."""
    from perfmodel.units import joules

    cells = table["cells"]
    if not any(c["energy_J"] is not None for c in cells):
        return None
    models = list(dict.fromkeys(c["model"] for c in cells))
    hardware = list(dict.fromkeys(c["hardware"] for c in cells))
    by = {(c["model"], c["hardware"]): c for c in cells}
    rows = [[m, *(joules(by[m, h]["energy_J"]) + (f" ({by[m, h]['energy_ratio']:,.2f}x)" if by[m, h]["energy_ratio"]
                                                    else "") if by[m, h]["energy_J"] is not None else "n/a"
                  for h in hardware)] for m in models]
    return ["model", *hardware], rows


def accelerator_tables(section: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) per baseline: rows are models, cells 'speedup x (time per inference)'."""
    from perfmodel.accel.speedup import speedup_cell
    from perfmodel.units import seconds

    out = []
    for table in section["tables"]:
        models = list(dict.fromkeys(c["model"] for c in table["cells"]))
        hardware = list(dict.fromkeys(c["hardware"] for c in table["cells"]))
        cells = {(c["model"], c["hardware"]): c for c in table["cells"]}
        rows = []
        for model in models:
            row = [model, seconds(cells[model, hardware[0]]["baseline_time_s"])]
            for hw in hardware:
                c = cells[model, hw]
                row.append(speedup_cell(c["speedup"], c["time_s"]))
            rows.append(row)
        title = f"Speedup over {table['baseline']} ({table['baseline_method']}): speedup (time per inference)"
        out.append((title, ["model", f"{table['baseline']} (baseline)", *hardware], rows))
    return out
