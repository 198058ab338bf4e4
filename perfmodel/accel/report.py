"""Text, markdown and JSON views of an `AccelResult`, with its speedup over a baseline when given."""

from __future__ import annotations


from tabulate import tabulate

from perfmodel.accel.baseline import ModelTiming, ratio
from perfmodel.accel.results import AccelResult
from perfmodel.export import json_text
from perfmodel.tables.render import numbered
from perfmodel.hardware import HardwareSpec
from perfmodel.units import binary, byte_rate, flop_rate, frequency, joules, number, seconds, si

ASSUMPTIONS = (
    "Conv/FC tiled into the buffers (fastest schedule, then fewest DRAM bytes); element-wise work on "
    "mac_cols vector lanes; "
    "layers (fused groups under --fusion inference: BN folded, the element-wise epilogue on the vector lanes "
    "overlapped with the array) run one after another.\nutil = useful MACs / (cycles x MACs per cycle); "
    "bound = memory when DRAM cycles exceed compute cycles; spill = partial sums written to DRAM and read back."
)


def describe_spec(spec: HardwareSpec) -> str:
    acc = spec.accelerator
    assert acc is not None
    return (f"{spec.name}: {acc.mac_rows}x{acc.mac_cols} {acc.dtype} MACs at {frequency(acc.clock_hz)} "
            f"({flop_rate(acc.peak_flops, acc.dtype)}), DRAM {byte_rate(acc.dram_bandwidth)}, buffers "
            f"weight {binary(acc.weight_buffer_bytes)} / input {binary(acc.input_buffer_bytes)} / "
            f"output {binary(acc.output_buffer_bytes)}, {acc.dataflow}"
            f"{', systolic' if acc.systolic else ''}{', double-buffered' if acc.double_buffering else ', no overlap'}")


def header(result: AccelResult, spec: HardwareSpec, baseline: ModelTiming | None) -> str:
    lines = [f"{result.model} on {describe_spec(spec)}; dtype {result.dtype}; fusion {result.fusion}"]
    if baseline is not None:
        lines.append(f"baseline: {baseline.hardware} ({baseline.method}, {baseline.dtype})")
    lines += [f"note: {n}" for n in result.notes]
    lines.append(ASSUMPTIONS)
    return "\n".join(lines)


def layer_table(result: AccelResult, baseline: ModelTiming | None = None, top: int | None = None,
                tablefmt: str = "simple") -> str:
    """One row per layer (or the `top` slowest), with the tiling of each conv/FC."""
    rows = numbered(result.layers, top, key=lambda layer: layer.time_s)
    table = []
    for index, layer in rows:
        s = layer.schedule
        x = ratio(baseline.layer_times[index - 1], layer.time_s) if baseline else None
        table.append([
            index, layer.name, layer.op_label, s.gemm if s else layer.kind,
            f"{s.tm}/{s.tk}/{s.tn}" if s else "", ">".join(s.loop_order) if s else "",
            binary(layer.dram_bytes) if layer.dram_bytes else "0",
            binary(layer.traffic.psum) if layer.traffic.psum else "",
            si(layer.compute_cycles), si(layer.memory_cycles), si(layer.total_cycles),
            seconds(layer.time_s) if layer.time_s else "0", f"{100 * layer.utilisation:.1f}" if layer.macs else "",
            layer.bound, f"{x:,.1f}x" if x is not None else "",
        ])
    heads = ["#", "name", "op", "GEMM MxKxN", "tm/tk/tn", "order", "DRAM", "spill", "compute", "memory",
             "cycles", "time", "util%", "bound"] + (["speedup"] if baseline else [])
    if not baseline:
        table = [row[:-1] for row in table]
    return tabulate(table, heads, tablefmt=tablefmt, disable_numparse=True,
                    colalign=("right", "left", "left", "left", "right", "left") + ("right",) * (len(heads) - 6))


def totals_table(result: AccelResult, baseline: ModelTiming | None = None, tablefmt: str = "simple") -> str:
    t = result.traffic
    rows = [
        ["time", seconds(result.time_s)],
        ["cycles", f"{result.total_cycles:,.0f}"],
        ["compute cycles / memory cycles", f"{result.compute_cycles:,.0f} / {result.memory_cycles:,.0f}"],
        ["MACs", f"{result.macs:,}"],
        ["MAC utilisation", f"{100 * result.utilisation:.1f}%"],
        ["DRAM traffic", f"{t.total:,.0f} B ({binary(t.total)})"],
        ["  input / weight / output", f"{binary(t.input)} / {binary(t.weight)} / {binary(t.output)}"],
        ["  partial-sum spills", binary(t.psum)],
        ["time in memory-bound layers", f"{100 * result.memory_bound_fraction:.1f}%"],
        ["time outside MAC layers", f"{100 * result.share_outside_mac:.1f}%"],
        *_energy_rows(result),
    ]
    if result.unknown_layers:
        rows.append(["layers not counted (no cost rule)", ", ".join(result.unknown_layers)])
    if baseline is not None:
        x = ratio(baseline.time_s, result.time_s)
        rows += [[f"time on {baseline.hardware} ({baseline.method})", seconds(baseline.time_s)],
                 [f"speedup over {baseline.hardware}", f"{x:,.2f}x" if x is not None else "-"]]
    return tabulate(rows, ["total", result.hardware], tablefmt=tablefmt, disable_numparse=True,
                    colalign=("left", "right"))


def _energy_rows(result: AccelResult) -> list[list[str]]:
    e = result.energy
    if e is None:
        return [["energy", "no [accelerator.energy] table in the spec"]]
    parts = " / ".join(f"{joules(getattr(e, c))}" for c in ("mac", "weight_buffer", "input_buffer", "output_buffer",
                                                            "dram"))
    bound = f" (LOWER BOUND: {len(result.unknown_layers)} layers not counted)" if result.unknown_layers else ""
    return [["energy per inference", joules(e.total) + bound],
            ["  MAC / weight / input / output buffer / DRAM", parts],
            ["average power", f"{number(result.power_W)} W"],
            ["energy-delay product", f"{result.edp_Js:.4g} J s"]]


def to_json(result: AccelResult, baseline: ModelTiming | None = None) -> str:
    data = result.to_dict()
    if baseline is not None:
        data["baseline"] = {"hardware": baseline.hardware, "method": baseline.method, "dtype": baseline.dtype,
                            "time_s": baseline.time_s, "speedup": ratio(baseline.time_s, result.time_s),
                            "layer_times_s": list(baseline.layer_times)}
    return json_text(data)


def render(result: AccelResult, spec: HardwareSpec, baseline: ModelTiming | None, fmt: str,
           top: int | None = None) -> str:
    """The whole report in `fmt`: table, markdown or json."""
    if fmt == "json":
        return to_json(result, baseline)
    tablefmt = "github" if fmt == "markdown" else "simple"
    return "\n\n".join([header(result, spec, baseline), layer_table(result, baseline, top, tablefmt),
                        totals_table(result, baseline, tablefmt)])
