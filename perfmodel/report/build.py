"""Collect every figure of the report into one JSON-able dict, plus the plots as PNG and SVG.

The Markdown and HTML renderers read only `Report.data` (and the plots), so the JSON holds every
number the report shows. Sections, in order: meta, models, heaviest_layers, roofline,
accelerator, batch_sweep, dtype, sparsity, training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from perfmodel.errors import PerfmodelError
from perfmodel.hardware import HardwareSpec, load_spec
from perfmodel.fusion import fuse
from perfmodel.record import ModelCost
from perfmodel.report.document import SECTIONS
from perfmodel.whatif import batch, dtype, sparsity, training
from perfmodel.whatif.batch import BATCHES
from perfmodel.whatif.sparsity import DENSITIES

BASELINE = "scalar-alu"
TRAINING_CASES = (("fp32", "sgd-momentum"), ("fp32", "adam"), ("fp16", "sgd-momentum"), ("fp16", "adam"))
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plot:
    """One figure, rendered once, in both file formats."""

    name: str  # file stem in the report folder
    title: str
    section: str
    png: bytes
    svg: str


@dataclass
class Report:
    data: dict[str, Any]
    plots: list[Plot] = field(default_factory=list)
    costs: list[ModelCost] = field(default_factory=list)  # the analyses the report was built on

    def plots_of(self, section: str) -> list[Plot]:
        return [p for p in self.plots if p.section == section]


@dataclass(frozen=True)
class ReportOptions:
    """What to study; the defaults are the course's: batch 1..256, densities 1 / 0.5 / 0.25 / 0.1, top 5."""

    dtype: str = "fp32"
    batch: int | None = None
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    top: int = 5
    fusion: str = "inference"  # how layers are grouped before they are timed (perfmodel.fusion)
    batches: tuple[int, ...] = BATCHES
    densities: tuple[float, ...] = DENSITIES
    index_width: str = "int32"


def _quiet(message: str) -> None:
    pass


def _timed(hw: HardwareSpec, dtype_name: str) -> bool:
    return dtype_name in hw.peak_flops


def _no_peak(hw: HardwareSpec, dtype_name: str) -> str:
    return f"{hw.name} gives no {dtype_name} peak: not predicted"


# -- sections --------------------------------------------------------------------------------------


def hardware_dict(hw: HardwareSpec) -> dict[str, Any]:
    acc = hw.accelerator
    return {
        "name": hw.name, "description": hw.description, "source": hw.source,
        "peak_flops": dict(hw.peak_flops), "mem_bandwidth": hw.mem_bandwidth,
        "ridge_point": {d: hw.ridge_point(d) for d in hw.peak_flops},
        "accelerator": acc.to_dict() if acc else None,
    }


def models_section(costs: Sequence[ModelCost]) -> dict[str, Any]:
    """Totals of each model side by side (the course homework's comparison)."""
    return {c.model: {"inputs": {k: list(v) for k, v in c.inputs.items()}, "dtype": c.dtype, "layers": len(c.layers),
                      "unsupported_ops": list(c.unsupported_ops), **c.totals()} for c in costs}


def heaviest_section(costs: Sequence[ModelCost], top: int) -> dict[str, list[dict[str, Any]]]:
    """Top-N layers by FLOPs with their share of the model's FLOPs."""
    out = {}
    for c in costs:
        ranked = sorted(enumerate(c.layers, 1), key=lambda r: r[1].flops, reverse=True)[:top]
        out[c.model] = [{"index": i, "name": l.name, "op_type": l.op_type,
                         "output_shapes": [list(s) for s in l.output_shapes], "params": l.params, "macs": l.macs,
                         "flops": l.flops,
                         "flops_share": l.flops / c.flops if c.flops else 0.0} for i, l in ranked]
    return out


def roofline_section(costs, hws, dtype_name, progress) -> tuple[list[dict[str, Any]], list]:
    """One roofline prediction per model x hardware (none, with a note, when the spec lacks the dtype)."""
    from perfmodel.roofline import predict, prediction_dict

    entries, predictions = [], []
    for c in costs:
        for hw in hws:
            if not _timed(hw, dtype_name):
                entries.append({"model": c.model, "hw": hw.name, "dtype": dtype_name, "note": _no_peak(hw, dtype_name)})
                continue
            progress(f"roofline: {c.model} on {hw.name}")
            p = predict(c, hw, dtype_name)
            predictions.append(p)
            entries.append({**prediction_dict(p), "plot": plot_name("roofline", c.model, hw.name)})
    return entries, predictions


def batch_section(sources, hws, options: ReportOptions, progress) -> list[dict[str, Any]]:
    """Per model: the walk at each batch size, then per hardware the time per image, intensity and bound."""
    entries = []
    for source in sources:
        costs = batch.analyze_batches(source, options.batches, dtype=options.dtype,
                                      input_shapes=options.input_shapes, progress=progress)
        model = costs[0].model
        for hw in hws:
            if not _timed(hw, options.dtype):
                entries.append({"model": model, "hw": hw.name, "note": _no_peak(hw, options.dtype), "points": []})
                continue
            points = [batch.batch_point(fuse(c, options.fusion), hw) for c in costs]
            entries.append({"model": model, "hw": hw.name, "ridge_point": hw.ridge_point(options.dtype),
                            "plot": plot_name("batch", model),
                            "points": [{**dataclasses.asdict(p), "time_per_image_s": p.time_per_image_s}
                                       for p in points]})
    return entries


def dtype_section(costs, hws) -> list[dict[str, Any]]:
    return [{"model": c.model, "hw": hw.name, "points": [dataclasses.asdict(p) for p in dtype.dtype_sweep(c, hw)]}
            for c in costs for hw in hws]


def sparsity_section(costs, hws, options: ReportOptions) -> list[dict[str, Any]]:
    entries = []
    for c in costs:
        for hw in hws:
            timed = hw if _timed(hw, c.dtype) else None
            points = sparsity.sparsity_sweep(c, options.densities, timed, options.index_width)
            entries.append({"model": c.model, "hw": hw.name, "index_width": options.index_width,
                            "note": "" if timed else _no_peak(hw, c.dtype),
                            "points": [dataclasses.asdict(p) for p in points]})
    return entries


def training_section(costs) -> list[dict[str, Any]]:
    """A training step per model, at fp32 and mixed fp16, with SGD-momentum and Adam."""
    entries = []
    for c in costs:
        for precision, optimizer in TRAINING_CASES:
            t = training.training_cost(c.with_dtype(precision), optimizer)
            entries.append({"model": c.model, "dtype": precision, "optimizer": optimizer,
                            "mixed_precision": t.mixed_precision, "forward_flops": t.forward_flops,
                            "backward_flops": t.backward_flops, "optimizer_flops": t.optimizer_flops,
                            "step_flops": t.step_flops, "step_over_forward": t.step_flops / t.forward_flops
                            if t.forward_flops else None, "weight_bytes": t.weight_bytes,
                            "gradient_bytes": t.gradient_bytes, "optimizer_state_bytes": t.optimizer_state_bytes,
                            "master_weight_bytes": t.master_weight_bytes, "activation_bytes": t.activation_bytes,
                            "memory_bytes": t.memory_bytes})
    return entries


def fusion_section(costs, hws, progress) -> list[dict[str, Any]]:
    """Per model x machine: time per inference unfused and fused (the accelerator model for an
    accelerator, the roofline for a processor) and the share of it outside MAC layers."""
    from perfmodel.accel.baseline import time_model
    from perfmodel.fusion import fuse, share_outside_mac

    entries = []
    for c in costs:
        for hw in hws:
            if hw.accelerator is None and not _timed(hw, c.dtype):
                entries.append({"model": c.model, "hw": hw.name, "note": _no_peak(hw, c.dtype)})
                continue
            progress(f"fusion: {c.model} on {hw.name}")
            entry: dict[str, Any] = {"model": c.model, "hw": hw.name}
            for policy in ("none", "inference"):
                grouped = fuse(c, policy)
                timing = time_model(grouped, hw)
                entry[policy] = {"time_s": timing.time_s, "method": timing.method, "layers": len(grouped.layers),
                                 "share_outside_mac": share_outside_mac(list(zip(grouped.layers, timing.layer_times)))}
            entry["speedup"] = entry["none"]["time_s"] / entry["inference"]["time_s"] \
                if entry["inference"]["time_s"] else None
            entries.append(entry)
    return entries


def accelerator_section(costs, hws, progress) -> dict[str, Any]:
    """Speedup of every hardware spec over the scalar-ALU baseline (perfmodel.accel)."""
    from perfmodel.report.accel_section import speedups

    return speedups(costs, hws, load_spec(BASELINE), progress)


# -- plots -----------------------------------------------------------------------------------------


def plot_name(kind: str, *parts: str) -> str:
    """File stem of a plot: kind and parts, lower case, characters outside [a-z0-9.-] as '-'."""
    text = "-".join((kind, *parts)).lower()
    return "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in text)


def render(fig, name: str, title: str, section: str) -> Plot:
    """The figure as PNG bytes and SVG text (Agg canvas; figures are never shown)."""
    from perfmodel.plots import figure_bytes

    return Plot(name=name, title=title, section=section, png=figure_bytes(fig, "png", dpi=110),
                svg=figure_bytes(fig, "svg").decode())


def roofline_plots(predictions, progress) -> list[Plot]:
    from perfmodel.plots import roofline_figure

    plots = []
    for p in predictions:
        progress(f"plot: roofline {p.model} on {p.hw.name}")
        plots.append(render(roofline_figure(p), plot_name("roofline", p.model, p.hw.name),
                            f"Roofline of {p.model} on {p.hw.name}", "roofline"))
    return plots


def batch_plots(entries: list[dict[str, Any]], progress) -> list[Plot]:
    from perfmodel.report.figures import batch_figure

    plots = []
    for model in dict.fromkeys(e["model"] for e in entries):
        mine = [e for e in entries if e["model"] == model and e["points"]]
        if mine:
            progress(f"plot: batch sweep {model}")
            plots.append(render(batch_figure(model, mine), plot_name("batch", model),
                                f"Batch sweep of {model}", "batch_sweep"))
    return plots


# -- the whole report ------------------------------------------------------------------------------


def build_report(sources: Sequence[str], hws: Sequence[str | HardwareSpec], options: ReportOptions | None = None,
                 progress: Progress | None = None) -> Report:
    """Analyze each model once (plus once per batch size), then every section and plot."""
    from perfmodel.walk import analyze_model

    options = options or ReportOptions()
    progress = progress or _quiet
    if not sources:
        raise PerfmodelError("the report needs at least one model")
    if not hws:
        raise PerfmodelError("the report needs at least one hardware spec (--hw)")
    specs = [hw if isinstance(hw, HardwareSpec) else load_spec(hw) for hw in hws]
    costs = []
    for source in sources:  # every model read before any output, so a bad name fails in one line
        costs.append(analyze_model(source, batch=options.batch, input_shapes=options.input_shapes,
                                   dtype=options.dtype))
    names = [c.model for c in costs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PerfmodelError(f"the report names models by their graph name, and {', '.join(twice)} comes twice")
    progress("analyzed " + ", ".join(f"{c.model} ({len(c.layers)} layers)" for c in costs))
    grouped = [fuse(c, options.fusion) for c in costs]  # what the timing sections predict
    roofline, predictions = roofline_section(grouped, specs, options.dtype, progress)
    data: dict[str, Any] = {
        "meta": {"models": [c.model for c in costs], "hardware": [hardware_dict(hw) for hw in specs],
                 "dtype": options.dtype, "top": options.top, "batches": list(options.batches),
                 "densities": list(options.densities), "index_width": options.index_width,
                 "fusion": options.fusion,
                 "baseline": BASELINE},
        "models": models_section(costs),
        "heaviest_layers": heaviest_section(costs, options.top),
        "roofline": roofline,
        "accelerator": accelerator_section(grouped, specs, progress),
        "fusion": fusion_section(costs, specs, progress),
        "batch_sweep": batch_section(sources, specs, options, progress),
        "dtype": dtype_section(grouped, specs),
        "sparsity": sparsity_section(grouped, specs, options),
        "training": training_section(costs),
    }
    assert list(data) == list(SECTIONS), "the data's sections and their renderers must agree"
    plots = roofline_plots(predictions, progress) + batch_plots(data["batch_sweep"], progress)
    return Report(data=data, plots=plots, costs=costs)
