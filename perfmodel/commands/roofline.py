"""`perfmodel roofline`: each layer's roofline time on a hardware spec, the totals, and a plot."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from perfmodel.commands.options import (
    add_hw_option, add_model_options, add_output_options, load_cost, tablefmt, write_output,
)
from perfmodel.errors import PerfmodelError

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
    add_output_options(p, top="only the N layers with the longest predicted time")
    p.add_argument("--plot", metavar="FILE", help="also draw the roofline to FILE (.png or .svg)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from perfmodel.hardware import load_spec
    from perfmodel.roofline import predict, prediction_dict

    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise PerfmodelError(f"--plot {args.plot!r}: give a file name ending in .png or .svg")
    hw = load_spec(args.hw)
    prediction = predict(load_cost(args), hw, args.dtype)
    if args.format == "json":
        text = json.dumps(prediction_dict(prediction), indent=2)
    elif args.format == "csv":
        text = layers_csv(prediction_dict(prediction)["layers"]).rstrip("\n")
    else:
        text = layer_table(prediction, args.top, tablefmt(args)) + "\n\n" + totals_table(prediction, tablefmt(args))
    write_output(args, text)
    if args.plot:
        from perfmodel.plots import roofline_figure, save_figure

        save_figure(roofline_figure(prediction), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def layers_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def layer_table(prediction, top: int | None = None, tablefmt: str = "simple") -> str:
    """One row per layer (or the `top` slowest), in schedule order; unknown layers show '?'."""
    from tabulate import tabulate

    from perfmodel.units import binary, seconds, si

    rows = list(enumerate(prediction.layers, 1))
    if top:
        rows = sorted(rows, key=lambda r: r[1].time_s or 0.0, reverse=True)[:top]
        rows.sort(key=lambda r: r[0])
    table = []
    for index, lp in rows:
        layer = lp.layer
        if lp.known:
            figures = [si(layer.flops), binary(layer.bytes_total), f"{lp.intensity:.3g}",
                       _plain(lp.attainable / 1e9), lp.bound, seconds(lp.time_s),
                       f"{100 * prediction.share(lp):.1f}"]
        else:
            figures = ["?"] * 4 + ["unknown", "?", "?"]
        table.append([index, layer.name, layer.op_type, *figures])
    heads = ["#", "name", "op", "FLOPs", "bytes", "FLOP/B", "attainable GFLOP/s", "bound", "time", "%time"]
    return tabulate(table, heads, tablefmt=tablefmt, disable_numparse=True,
                    colalign=("right", "left", "left") + ("right",) * 4 + ("left", "right", "right"))


def _plain(x: float) -> str:
    """4 significant digits without an exponent: 19500 -> '19,500', 31.98 -> '31.98'."""
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def totals_table(prediction, tablefmt: str = "simple") -> str:
    from tabulate import tabulate

    from perfmodel.units import byte_rate, flop_rate, seconds

    p = prediction
    share = ", ".join(f"{bound} {100 * value:.1f}%" for bound, value in p.share_by_bound.items())
    rows = [
        ["model", f"{p.model} (batch {p.batch}, {p.dtype})"],
        ["hardware", f"{p.hw.name}: peak {flop_rate(p.peak, p.dtype)}, bandwidth {byte_rate(p.bandwidth)}"],
        ["ridge point", f"{p.ridge_point:.4g} FLOP/B"],
        ["predicted time", seconds(p.total_s)],
        ["images/s", f"{p.images_per_s:.4g}"],
        ["share of time", share],
        *[["note", note] for note in p.notes],
    ]
    return tabulate(rows, ["total", "value"], tablefmt=tablefmt, disable_numparse=True)
