"""`perfmodel speedup`: total speedup of models (rows) on machines (columns) over a baseline."""

from __future__ import annotations

import argparse
import sys

from perfmodel.commands.options import (
    add_fusion_option, add_hw_option, add_model_options, add_output_options, fused, load_cost, partial_status,
    write_output,
)

EXAMPLES = """examples:
  python -m perfmodel speedup alexnet vgg19 resnet152 --hw seed-npu --hw dlp-ddr3 --hw tpu-v1 --baseline scalar-alu
  python -m perfmodel speedup alexnet vgg19 resnet152 --hw seed-npu --hw tpu-v1 --hw diannao \\
      --baseline scalar-alu --baseline this-cpu.toml --format markdown
  python -m perfmodel speedup --fc-bound --hw dlp-ddr3 --baseline scalar-alu     # exercise 6.3

Each accelerator runs the model in the model's dtype (--dtype) when it has MACs for it, else in its
native dtype (tpu-v1: int8, diannao: 16-bit); the notes under the table say so. Processor specs (no
[accelerator] section) are timed by the roofline: max(FLOPs / peak, bytes / bandwidth) per layer."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "speedup", help="speedup table: models x hardware over a baseline (accelerator model / roofline)",
        description="Time every MODEL on every --hw machine and on each --baseline, and print the total speedup "
                    "(baseline time / time) with the time per inference: one table per baseline, rows models, "
                    "columns hardware. --fc-bound instead derives the ideal speedup of a fully-connected layer "
                    "from bandwidth and arithmetic intensity (exercise 6.3).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p, model_nargs="*")
    add_hw_option(p, repeatable=True, help="a machine to time: accelerator or processor preset, or a .toml spec")
    p.add_argument("--baseline", action="append", required=True, metavar="SPEC",
                   help="the machine speedups are measured against (repeatable: one table each)")
    p.add_argument("--fc-bound", action="store_true",
                   help="derive the ideal FC-layer speedup of each --hw over each --baseline (no MODEL needed; "
                        "--batch sets the FC batch, default 1)")
    add_fusion_option(p, "inference")
    add_output_options(p, ("table", "markdown", "json"))
    p.set_defaults(func=run)


def _progress(message: str) -> None:
    """Progress on an interactive stderr only, rewritten in place (logs and pipes stay clean)."""
    if sys.stderr.isatty():
        print(f"\rperfmodel speedup: {message}\033[K", end="", file=sys.stderr, flush=True)


def _done() -> None:
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from perfmodel.errors import PerfmodelError
    from perfmodel.hardware import load_spec

    specs = [load_spec(name) for name in args.hw]
    baselines = [load_spec(name) for name in args.baseline]
    if args.fc_bound:
        if args.model:
            raise PerfmodelError("--fc-bound derives a bound for an FC layer: give no MODEL")
        text = _fc_bound_text(specs, baselines, args)
    else:
        if not args.model:
            raise PerfmodelError("give at least one MODEL (an .onnx file or a built-in name), or --fc-bound")
        costs = []
        for i, model in enumerate(args.model, 1):
            _progress(f"analyzing {model} ({i}/{len(args.model)})")
            costs.append(load_cost(args, model))
        text = _tables_text(costs, specs, baselines, args)
        write_output(args, text)
        return partial_status(args, costs)
    write_output(args, text)
    return 0


def _tables_text(costs, specs, baselines, args: argparse.Namespace) -> str:
    from perfmodel.accel.speedup import format_speedup, speedup_json, speedup_tables

    try:
        tables = speedup_tables([fused(args, c) for c in costs], specs, baselines, progress=_progress)
    finally:
        _done()
    if args.format == "json":
        return speedup_json(tables)
    return "\n\n".join(format_speedup(t, args.format) for t in tables)


def _fc_bound_text(specs, baselines, args: argparse.Namespace) -> str:
    from perfmodel.export import json_text

    from perfmodel.accel.speedup import fc_bound, fc_check
    from perfmodel.units import seconds

    batch = args.batch or 1
    blocks, records = [], []
    for spec in specs:
        for base in baselines:
            bound = fc_bound(spec, base, args.dtype, batch)
            t_spec, t_base = fc_check(spec, base, args.dtype, batch)
            records.append({"hardware": spec.name, "baseline": base.name, "dtype": args.dtype, "batch": batch,
                            "intensity_flop_per_byte": bound.intensity, "attainable_flops": bound.attainable,
                            "baseline_attainable_flops": bound.baseline_attainable, "speedup": bound.speedup,
                            "check_fc6": {"time_s": t_spec, "baseline_time_s": t_base, "speedup": t_base / t_spec}})
            lines = bound.lines()
            lines.append(f"6. Check, full models on one FC of K=9216, N=4096 (alexnet's fc6), batch {batch}: "
                         f"{spec.name} {seconds(t_spec)}, {base.name} {seconds(t_base)} -> {t_base / t_spec:.3g}x. "
                         f"The models add what the bound leaves out: input/output bytes, the first load and "
                         f"last store, and loads that do not overlap compute on a machine without double "
                         f"buffering.")
            blocks.append("\n".join(lines))
    return json_text(records) if args.format == "json" else "\n\n".join(blocks)
