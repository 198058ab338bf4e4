"""`perfmodel roofline`: each layer's roofline time on a hardware spec, the totals, and a plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from perfmodel.commands.options import (
    add_fusion_option, add_hw_option, add_model_options, add_output_options, fused, load_cost, partial_status,
    tablefmt, write_output,
)
from perfmodel.errors import PerfmodelError
from perfmodel.export import json_text

EXAMPLES = """examples:
  python -m perfmodel roofline resnet50 --hw a100
  python -m perfmodel roofline vgg16 --hw seed-npu --top 10 --plot roofline.png
  python -m perfmodel roofline model.onnx --hw this-cpu.toml --batch 8 --format json > roofline.json
  python -m perfmodel roofline resnet18 --hw h100 --dtype fp16 --plot roofline.svg

time = max(FLOPs / peak, bytes / bandwidth) per layer (Williams, Waterman & Patterson 2009),
bytes = each operand read once and each output written once; the model's time is the sum."""

PLOT_FORMATS = (".png", ".svg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("roofline", help="roofline time of each layer on a hardware spec; optional plot",
                       description="Predict each layer's time on a machine from its peak FLOP/s and memory "
                                   "bandwidth (the roofline model): attainable FLOP/s, compute- or "
                                   "memory-bound, predicted time and share; totals with images/s.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p)
    add_hw_option(p)
    add_fusion_option(p, "inference")
    add_output_options(p, top="only the N layers (fused groups) with the longest predicted time")
    p.add_argument("--plot", metavar="FILE", help="also draw the roofline to FILE (.png or .svg)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from perfmodel.export import rows_csv
    from perfmodel.hardware import load_spec
    from perfmodel.roofline import predict, prediction_dict
    from perfmodel.tables.roofline import layer_table, totals_table

    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise PerfmodelError(f"--plot {args.plot!r}: give a file name ending in .png or .svg")
    hw = load_spec(args.hw)
    cost = load_cost(args)
    prediction = predict(fused(args, cost), hw, args.dtype)
    if args.format == "json":
        text = json_text(prediction_dict(prediction))
    elif args.format == "csv":
        rows = [{**row, "layers": "+".join(row["layers"]), "op_types": "+".join(row["op_types"])}
                for row in prediction_dict(prediction)["layers"]]
        text = rows_csv(rows).rstrip("\n")
    else:
        text = layer_table(prediction, args.top, tablefmt(args)) + "\n\n" + totals_table(prediction, tablefmt(args))
    write_output(args, text)
    if args.plot:
        from perfmodel.plots import roofline_figure, save_figure

        save_figure(roofline_figure(prediction), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return partial_status(args, [cost])
