"""`perfmodel hw`: list the hardware presets, show one spec in human units."""

from __future__ import annotations

import argparse

from perfmodel.commands.options import add_output_options, tablefmt, write_output

EPILOG = """examples:
  python -m perfmodel hw list
  python -m perfmodel hw show a100
  python -m perfmodel hw show seed-npu
  python -m perfmodel hw show ./this-cpu.toml          # a file written by `perfmodel calibrate`
  python -m perfmodel hw show tpu-v1 --toml > my.toml  # start a custom spec from a preset

Spec files are TOML with the unit in each key name (mem_bandwidth_GBps = 64); the schema is
documented at the top of perfmodel/hardware/__init__.py and in perfmodel/hw/seed-npu.toml and a100.toml."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hw",
        help="list hardware presets, show a hardware spec",
        description="Hardware specs used by the roofline and accelerator models: presets "
        "(perfmodel/hw/*.toml) or your own .toml file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="hw_command", metavar="ACTION", required=True)
    p_list = sub.add_parser("list", help="table of the presets: peaks, bandwidth, ridge point",
                            description="Table of the built-in hardware presets.")
    add_output_options(p_list, ("table", "markdown"))
    p_list.set_defaults(func=run)
    p_show = sub.add_parser("show", help="every field of one spec, in human units",
                            description="Every field of one hardware spec, in human units.")
    p_show.add_argument("spec", metavar="NAME|FILE", help="a preset name (see `hw list`) or a .toml spec file")
    p_show.add_argument("--toml", action="store_true", help="print the spec as TOML instead (to edit a copy)")
    add_output_options(p_show, ("table", "markdown"))
    p_show.set_defaults(func=run)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.hw_command == "list":
        write_output(args, list_table(tablefmt(args)))
        return 0
    from perfmodel.hardware import load_spec, spec_to_toml

    spec = load_spec(args.spec)
    write_output(args, spec_to_toml(spec).rstrip("\n") if args.toml else show_text(spec, tablefmt(args)))
    return 0


def _ridge(spec, dtype: str) -> str:
    return f"{spec.ridge_point(dtype):.4g}"


def list_table(fmt: str = "simple") -> str:
    from tabulate import tabulate

    from perfmodel.hardware import list_presets, load_spec
    from perfmodel.units import byte_rate, flop_rate

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
    from tabulate import tabulate

    from perfmodel.units import binary, byte_rate, flop_rate, frequency

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
        ]
    if fmt == "github":
        return tabulate(rows, ["field", "value"], tablefmt=fmt, disable_numparse=True)
    return tabulate(rows, tablefmt="plain", disable_numparse=True)
