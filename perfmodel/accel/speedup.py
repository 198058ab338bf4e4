"""Speedups: models x hardware against a baseline, and the ideal FC-layer bound of exercise 6.3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from tabulate import tabulate

from perfmodel.accel.baseline import ModelTiming, ratio, time_model
from perfmodel.export import json_text
from perfmodel.fusion import share_outside_mac
from perfmodel.hardware import HardwareSpec
from perfmodel.record import ModelCost, dtype_bytes
from perfmodel.units import byte_rate, flop_rate, joules, seconds

METHODS_NOTE = ("Times: accelerators by perfmodel's accelerator model (tiled layers, DRAM traffic, double "
                "buffering); processors by the roofline, max(FLOPs / peak, bytes / bandwidth) per layer. "
                "Layers (fused groups under --fusion inference) run one after another; speedup = baseline time / "
                "time.")


@dataclass(frozen=True)
class SpeedupCell:
    model: str
    hardware: str
    time_s: float
    baseline_s: float
    dtype: str
    share_outside_mac: float = 0.0  # of time_s: layers (groups) whose work is not conv/gemm
    energy_J: float | None = None
    baseline_energy_J: float | None = None

    @property
    def energy_ratio(self) -> float | None:
        """Baseline energy / energy (how many times less energy), where both have energy tables."""
        if self.energy_J and self.baseline_energy_J:
            return self.baseline_energy_J / self.energy_J
        return None

    @property
    def speedup(self) -> float | None:
        return ratio(self.baseline_s, self.time_s)


@dataclass(frozen=True)
class SpeedupTable:
    """Rows: models; columns: hardware; cells: total speedup over `baseline` (and the time)."""

    baseline: str
    baseline_method: str
    models: tuple[str, ...]
    hardware: tuple[str, ...]
    cells: tuple[SpeedupCell, ...]
    notes: tuple[str, ...] = ()

    def cell(self, model: str, hardware: str) -> SpeedupCell:
        return next(c for c in self.cells if c.model == model and c.hardware == hardware)

    def baseline_time(self, model: str) -> float:
        return next(c.baseline_s for c in self.cells if c.model == model)


def machine_labels(machines: Sequence[HardwareSpec]) -> tuple[list[str], list[str]]:
    """A distinct column label per distinct spec: its name, or where two specs share a name, the name
    and its file. Returns (labels, notes saying which names collided)."""
    by_name: dict[str, list[HardwareSpec]] = {}
    for spec in machines:
        if spec not in by_name.setdefault(spec.name, []):
            by_name[spec.name].append(spec)
    labels, notes = [], []
    for spec in machines:
        alike = by_name[spec.name]
        if len(alike) == 1:
            labels.append(spec.name)
            continue
        where = str(spec.path) if spec.path is not None else f"#{alike.index(spec) + 1}"
        labels.append(f"{spec.name} ({where})")
        note = f"{len(alike)} different specs are named {spec.name!r}: their columns are labelled by file"
        if note not in notes:
            notes.append(note)
    return labels, notes


def speedup_tables(costs: Sequence[ModelCost], specs: Sequence[HardwareSpec], baselines: Sequence[HardwareSpec],
                   progress: Callable[[str], None] | None = None) -> list[SpeedupTable]:
    """One table per baseline; each (model, machine) is timed once and shared by all tables.

    Machines are told apart by their whole spec, not their name: two specs named alike (two
    `this-cpu.toml` in different folders) are two columns, labelled by file, never one overwriting
    the other.
    """
    say = progress or (lambda _msg: None)
    machines: list[HardwareSpec] = []
    for spec in (*specs, *baselines):
        if spec not in machines:
            machines.append(spec)
    labels, notes = machine_labels(machines)
    label = dict(zip(range(len(machines)), labels))
    timings: dict[tuple[int, int], ModelTiming] = {}
    steps = len(costs) * len(machines)
    for i, cost in enumerate(costs):
        for j, spec in enumerate(machines):
            say(f"{cost.model} on {label[j]} ({i * len(machines) + j + 1}/{steps})")
            timings[i, j] = time_model(cost, spec)
    for timing in timings.values():
        for note in timing.accel.notes if timing.accel else ():
            if note not in notes:
                notes.append(note)
    notes += [f"INCOMPLETE: {len(c.unknown_layers)} layers of {c.model} have unknown cost and are left out: its "
              f"times are lower bounds and its speedups uncertain" for c in costs if not c.complete]
    tables = []
    columns = [machines.index(s) for s in specs]
    for base in baselines:
        b = machines.index(base)
        cells = tuple(SpeedupCell(cost.model, label[j], timings[i, j].time_s, timings[i, b].time_s,
                                  timings[i, j].dtype,
                                  share_outside_mac(list(zip(cost.layers, timings[i, j].layer_times))),
                                  timings[i, j].energy_J, timings[i, b].energy_J)
                      for i, cost in enumerate(costs) for j in columns)
        tables.append(SpeedupTable(label[b], timings[0, b].method, tuple(c.model for c in costs),
                                   tuple(label[j] for j in columns), cells, tuple(notes)))
    return tables


def speedup_cell(speedup: float | None, time_s: float) -> str:
    """One speedup cell: '12.3x (4.5 ms)', or 'n/a' where there is no speedup (a zero time)."""
    return f"{speedup:,.1f}x ({seconds(time_s)})" if speedup is not None else "n/a"


def format_speedup(table: SpeedupTable, fmt: str = "table") -> str:
    """The table as text (fmt 'table') or GitHub markdown ('markdown'), title and notes included."""
    heads = ["model", f"{table.baseline} (baseline)", *table.hardware]
    rows = []
    for model in table.models:
        row = [model, seconds(table.baseline_time(model))]
        for hw in table.hardware:
            cell = table.cell(model, hw)
            row.append(speedup_cell(cell.speedup, cell.time_s))
        rows.append(row)
    title = f"Speedup over {table.baseline} ({table.baseline_method}); cells: speedup (time per inference)"
    tablefmt = "github" if fmt == "markdown" else "simple"
    body = tabulate(rows, heads, tablefmt=tablefmt, disable_numparse=True,
                    colalign=("left",) + ("right",) * (len(heads) - 1))
    shares = [[model, *(f"{100 * table.cell(model, hw).share_outside_mac:.1f}%" for hw in table.hardware)]
              for model in table.models]
    body += "\n\nShare of each time spent outside MAC layers (BatchNorm, activations, pooling, adds...):\n" + \
        ("\n" if fmt == "markdown" else "") + tabulate(shares, ["model", *table.hardware], tablefmt=tablefmt, disable_numparse=True,
                 colalign=("left",) + ("right",) * len(table.hardware))
    if any(table.cell(m, hw).energy_J is not None for m in table.models for hw in table.hardware):
        energy = []
        for model in table.models:
            row = [model]
            for hw in table.hardware:
                c = table.cell(model, hw)
                ratio_text = f" ({c.energy_ratio:,.2f}x)" if c.energy_ratio else ""
                row.append(joules(c.energy_J) + ratio_text if c.energy_J is not None else "n/a")
            energy.append(row)
        body += ("\n\nEnergy per inference (in brackets: the baseline's energy / this one, where both have "
                 "energy tables):\n"
                 + ("\n" if fmt == "markdown" else "")
                 + tabulate(energy, ["model", *table.hardware], tablefmt=tablefmt, disable_numparse=True,
                            colalign=("left",) + ("right",) * len(table.hardware)))
    notes = [METHODS_NOTE, *table.notes]
    if fmt == "markdown":
        return "\n".join([f"**{title}**", "", body, "", *(f"- {n}" for n in notes)])
    return "\n".join([title, body, *notes])


def speedup_records(tables: Sequence[SpeedupTable]) -> list[dict]:
    """The tables as plain data (the JSON form, and the report's section)."""
    return [{
        "baseline": t.baseline, "baseline_method": t.baseline_method, "notes": list(t.notes),
        "cells": [{"model": c.model, "hardware": c.hardware, "dtype": c.dtype, "time_s": c.time_s,
                   "baseline_time_s": c.baseline_s, "speedup": c.speedup,
                   "share_outside_mac": c.share_outside_mac, "energy_J": c.energy_J,
                   "baseline_energy_J": c.baseline_energy_J, "energy_ratio": c.energy_ratio} for c in t.cells],
    } for t in tables]


def speedup_json(tables: Sequence[SpeedupTable]) -> str:
    return json_text(speedup_records(tables))


# --------------------------------------------------------------------------------------------------
# Exercise 6.3: the ideal speedup of an FC layer, from bandwidth and arithmetic intensity


@dataclass(frozen=True)
class FcBound:
    """Roofline bound of a fully-connected layer on two machines.

    An FC layer at batch B does B x K x N MACs (2 B K N FLOPs) and must read its K x N weights once;
    for large K and N the weights dominate the traffic, so intensity = 2 B K N / (K N bytes) =
    2 B / bytes per element. Attainable rate = min(peak, bandwidth x intensity).
    """

    hardware: str
    baseline: str
    dtype: str
    batch: int
    peak: float
    bandwidth: float
    baseline_peak: float
    baseline_bandwidth: float
    clock_hz: float | None

    @property
    def intensity(self) -> float:
        """FLOPs per DRAM byte: 2 x batch / bytes per element (weights read once, dominate the traffic)."""
        return 2 * self.batch / dtype_bytes(self.dtype)

    @property
    def attainable(self) -> float:
        """min(peak, bandwidth x intensity), FLOP/s."""
        return min(self.peak, self.bandwidth * self.intensity)

    @property
    def baseline_attainable(self) -> float:
        return min(self.baseline_peak, self.baseline_bandwidth * self.intensity)

    @property
    def speedup(self) -> float:
        return self.attainable / self.baseline_attainable

    def lines(self) -> list[str]:
        b, i = dtype_bytes(self.dtype), self.intensity
        side = lambda att, peak: "memory-bound" if att < peak else "compute-bound"  # noqa: E731
        out = [
            f"Ideal speedup of an FC layer on {self.hardware} over {self.baseline} ({self.dtype}, batch {self.batch})",
            f"1. An FC layer y = W x, W of K x N, does {self.batch} x K x N MACs = {2 * self.batch} x K x N FLOPs and "
            f"reads each weight once: K x N x {b} B. Inputs and outputs ({self.batch} x (K + N) x {b} B) vanish "
            f"next to the weights for large K, N.",
            f"2. Intensity I = {2 * self.batch} K N FLOP / ({b} K N B) = {i:g} FLOP/B.",
            f"3. {self.hardware}: attainable = min(peak {flop_rate(self.peak)}, {byte_rate(self.bandwidth)} "
            f"x {i:g} FLOP/B = {flop_rate(self.bandwidth * i)}) = {flop_rate(self.attainable)} "
            f"= {flop_rate(self.attainable / 2).replace('FLOP', 'MAC')}: {side(self.attainable, self.peak)}.",
            f"4. {self.baseline}: attainable = min(peak {flop_rate(self.baseline_peak)}, "
            f"{byte_rate(self.baseline_bandwidth)} x {i:g} FLOP/B = "
            f"{flop_rate(self.baseline_bandwidth * i)}) = {flop_rate(self.baseline_attainable)} "
            f"= {flop_rate(self.baseline_attainable / 2).replace('FLOP', 'MAC')}: "
            f"{side(self.baseline_attainable, self.baseline_peak)}.",
            f"5. Speedup = {flop_rate(self.attainable)} / {flop_rate(self.baseline_attainable)} "
            f"= {self.speedup:.3g}x.",
        ]
        if self.attainable < self.peak:
            need = self.attainable / 2
            per_cycle = (f" = {need / self.clock_hz:.3g} MACs/cycle at {self.clock_hz / 1e9:g} GHz"
                         if self.clock_hz else "")
            out.append(f"   The MAC array does not matter: any array faster than "
                       f"{flop_rate(need).replace('FLOP', 'MAC')}{per_cycle} is starved by the "
                       f"{byte_rate(self.bandwidth)} link; only more bandwidth "
                       f"or a larger batch raises it (batch B reuses each weight B times: I = 2B / {b} FLOP/B).")
        return out


def fc_check(spec: HardwareSpec, baseline: HardwareSpec, dtype: str = "fp32", batch: int = 1,
             k: int = 9216, n: int = 4096) -> tuple[float, float]:
    """Times of one concrete FC layer (default: alexnet's fc6) on both machines, by the full models."""
    from perfmodel.accel.layer_spec import layer_cost

    cost = layer_cost(f"fc:M={batch},K={k},N={n}", dtype)
    return time_model(cost, spec).time_s, time_model(cost, baseline).time_s


def fc_bound(spec: HardwareSpec, baseline: HardwareSpec, dtype: str = "fp32", batch: int = 1) -> FcBound:
    """Exercise 6.3's bound for `spec` over `baseline` (PerfmodelError if either lacks `dtype`)."""
    clock = spec.accelerator.clock_hz if spec.accelerator else spec.clock_hz
    return FcBound(spec.name, baseline.name, dtype, batch, spec.peak(dtype), spec.mem_bandwidth,
                   baseline.peak(dtype), baseline.mem_bandwidth, clock)


__all__ = ["FcBound", "SpeedupCell", "SpeedupTable", "fc_bound", "fc_check", "format_speedup",
           "speedup_json", "speedup_tables"]
