"""Tables of hardware specs: the presets side by side, and every field of one spec."""

from __future__ import annotations

from tabulate import tabulate

from perfmodel.hardware import list_presets, load_spec
from perfmodel.units import binary, byte_rate, flop_rate, frequency


def _ridge(spec, dtype: str) -> str:
    return f"{spec.ridge_point(dtype):.4g}"


def list_table(fmt: str = "simple") -> str:
    rows = []
    for name in list_presets():
        spec = load_spec(name)

        def peak(dtype: str) -> str:
            return flop_rate(spec.peak_flops[dtype], dtype) if dtype in spec.peak_flops else "-"

        ridge_dtype = "fp32" if "fp32" in spec.peak_flops else spec.dtypes[0]
        ridge = _ridge(spec, ridge_dtype) + ("" if ridge_dtype == "fp32" else f" ({ridge_dtype})")
        rows.append([name, peak("fp32"), peak("fp16"), peak("int8"), byte_rate(spec.mem_bandwidth),
                     ridge, spec.description])
    headers = ["name", "peak fp32", "peak fp16", "peak int8", "bandwidth", "ridge FLOP/B", "description"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def show_text(spec, fmt: str = "simple") -> str:
    rows: list[list[str]] = [
        ["name", spec.name],
        ["description", spec.description],
        ["source", spec.source],
    ]
    if spec.path is not None:
        rows.append(["file", str(spec.path)])
    kind = "accelerator (MAC array)" if spec.accelerator is not None else "processor"
    rows.append(["kind", kind])
    for dtype, value in spec.peak_flops.items():
        per_byte = "OP/B" if dtype == "int8" else "FLOP/B"
        ridge = f"(ridge point {_ridge(spec, dtype)} {per_byte})"
        rows.append([f"peak {dtype}", f"{flop_rate(value, dtype):<14}  {ridge}"])
    rows.append(["memory bandwidth", byte_rate(spec.mem_bandwidth)])
    if spec.cores is not None:
        rows.append(["cores", str(spec.cores)])
    if spec.clock_hz is not None:
        rows.append(["clock", frequency(spec.clock_hz)])
    for level in spec.caches:
        text = binary(level.size_bytes)
        if level.bandwidth is not None:
            text += f" at {byte_rate(level.bandwidth)}"
        rows.append([f"cache {level.name}", text])
    if spec.efficiency:
        rows.append(["runtime run cost", f"{spec.run_us:g} us per inference"])
        for cls, e in spec.efficiency.items():
            rows.append([f"efficiency {cls}", f"{e.fixed_us:g} us + {e.compute_scale:.4g} x F/P + "
                                              f"{e.memory_scale:.4g} x B/W"])
    acc = spec.accelerator
    if acc is not None:
        also = ", ".join(acc.extra_dtypes)
        peak = flop_rate(acc.peak_flops, acc.dtype)
        rows += [
            ["MAC array", f"{acc.mac_rows} x {acc.mac_cols} = {acc.macs_per_cycle} MACs/cycle"],
            ["array clock", frequency(acc.clock_hz)],
            ["dtype", acc.dtype + (f" (also {also} at the same rate)" if also else "")],
            ["peak (derived)", f"2 x {acc.macs_per_cycle} x {frequency(acc.clock_hz)} = {peak}"],
            ["weight buffer", binary(acc.weight_buffer_bytes)],
            ["input buffer", binary(acc.input_buffer_bytes)],
            ["output buffer", binary(acc.output_buffer_bytes)],
            ["DRAM bandwidth", byte_rate(acc.dram_bandwidth)],
            ["double buffering", "yes" if acc.double_buffering else "no"],
            ["dataflow", acc.dataflow],
            ["systolic", "yes (fill/drain counted)" if acc.systolic else "no"],
            ["weight load", acc.weight_load + (" (mac_rows cycles per fold)" if acc.weight_load == "serial" else "")],
            ["accumulators", f"{acc.accumulator_bits} bits"],
        ]
        e = acc.energy
        if e is not None:
            macs = ", ".join(f"{d} {v:g} pJ" for d, v in e.mac_pJ.items())
            rows += [["energy per MAC", macs],
                     ["energy per byte", f"weight buffer {e.weight_buffer_pJ_per_byte:g} pJ, input buffer "
                                         f"{e.input_buffer_pJ_per_byte:g} pJ, output buffer "
                                         f"{e.output_buffer_pJ_per_byte:g} pJ, DRAM {e.dram_pJ_per_byte:g} pJ"],
                     ["static power", f"{e.static_mW:g} mW"]]
    if fmt == "github":
        return tabulate(rows, ["field", "value"], tablefmt=fmt, disable_numparse=True)
    return tabulate(rows, tablefmt="plain", disable_numparse=True)
