"""`perfmodel report`: every study for a few models and machines, as Markdown, standalone HTML and JSON."""

from __future__ import annotations

import argparse
import sys

from perfmodel.commands.options import (
    add_fusion_option, add_hw_option, add_model_options, input_shapes, partial_status, positive_int,
)
from perfmodel.export import json_text

EXAMPLES = """examples:
  python -m perfmodel report alexnet vgg19 resnet152 --hw this-cpu.toml --hw seed-npu -o report/
  python -m perfmodel report lenet5 alexnet --hw seed-npu --top 3 --max-batch 32 -o small-report/
  python -m perfmodel report model.onnx --hw a100 --dtype fp16 -o report/
  python -m perfmodel report lenet5 --hw seed-npu --format json > report.json

writes report.md, report.html (standalone: plots embedded), report.json (every figure of the report)
and each plot as .png and .svg into the output folder; progress goes to stderr."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="model comparison, rooflines, speedups and what-ifs as Markdown/HTML/JSON",
                       description="Build the full report for one or more models on one or more machines: "
                                   "the model comparison (params, MACs, FLOPs, activations, memory), heaviest "
                                   "layers, roofline per model and machine, speedups of every machine over a "
                                   "scalar ALU, batch sweep 1..256, dtype, weight-sparsity and training-step "
                                   "what-ifs.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p, model_nargs="+")
    add_hw_option(p, repeatable=True)
    add_fusion_option(p, "inference")
    p.add_argument("-o", "--output", default="report", metavar="DIR", help="output folder (default: report)")
    p.add_argument("--top", type=positive_int, default=5, metavar="N", help="heaviest layers per model (default: 5)")
    p.add_argument("--max-batch", type=positive_int, default=256, metavar="N",
                   help="batch sweep over 1, 2, 4, ... up to N (default: 256)")
    p.add_argument("--format", choices=("files", "json"), default="files",
                   help="files: write the folder (default); json: print every figure as JSON to stdout")
    p.add_argument("--index-width", choices=("int32", "int16"), default="int32",
                   help="CSR column index width in the sparsity what-if (default: int32)")
    p.set_defaults(func=run)


def _stderr(message: str) -> None:
    print(f"perfmodel report: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from perfmodel.report.build import ReportOptions, build_report
    from perfmodel.report.write import write_report

    if args.format != "json":
        from perfmodel.files import check_folder

        check_folder(args.output)  # before minutes of work, not after
    batches = tuple(2**i for i in range(args.max_batch.bit_length()))
    options = ReportOptions(dtype=args.dtype, batch=args.batch, input_shapes=input_shapes(args), top=args.top,
                            fusion=args.fusion,
                            batches=batches, index_width=args.index_width)
    report = build_report(args.model, args.hw, options, progress=_stderr)
    if args.format == "json":
        print(json_text(report.data))
        return partial_status(args, report.costs)
    written = write_report(report, args.output)
    _stderr(f"wrote {len(written)} files to {args.output}")
    return partial_status(args, report.costs)
