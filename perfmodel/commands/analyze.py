"""`perfmodel analyze`: per-layer and total cost of a model."""

from __future__ import annotations

import argparse

from perfmodel.commands.options import (
    add_fusion_option, add_model_options, add_output_options, fused, load_cost, partial_status, positive_int, tablefmt,
    write_output,
)

EXAMPLES = """examples:
  python -m perfmodel analyze resnet50
  python -m perfmodel analyze model.onnx --batch 8 --top 10
  python -m perfmodel analyze model.onnx --input-shape input=1x3x299x299 --format json > cost.json
  python -m perfmodel analyze vgg16 --dtype int8 --format markdown"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="params, MACs, FLOPs, activations and bytes per layer and in total",
                       description="Walk an ONNX graph and cost every layer: shapes, params (trainable and "
                                   "not), MACs, FLOPs, activations, bytes read/written, arithmetic intensity, "
                                   "receptive field; totals with peak live activation memory.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p)
    add_fusion_option(p, "none")
    p.add_argument("--depth", type=positive_int, metavar="N",
                   help="also total the layers by name scope, N levels deep (/layer1/layer1.0/conv1/Conv, "
                        "layer1.0.conv1): params, MACs, FLOPs and bytes per scope, in every format")
    add_output_options(p, top="only the N layers with the most FLOPs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from perfmodel import export

    cost = load_cost(args)
    groups = fused(args, cost)
    if args.format == "json":
        text = export.to_json(cost, groups, args.depth)
    elif args.format == "csv":
        text = export.scopes_csv(cost, args.depth) if args.depth else export.to_csv(cost)
    else:
        from perfmodel import tables  # tabulate: tables only

        fmt = tablefmt(args)
        parts = [tables.header(cost), tables.layer_table(cost, args.top, fmt)]
        if args.fusion != "none":
            parts.append(tables.group_table(groups, args.top, fmt))
        if args.depth:
            parts.append(tables.scope_table(cost, args.depth, fmt))
        text = "\n\n".join(parts + [tables.totals_table(cost, fmt)])
    write_output(args, text)
    return partial_status(args, [cost])
