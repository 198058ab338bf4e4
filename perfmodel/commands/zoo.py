"""`perfmodel zoo`: the built-in reference networks (list them, export them as .onnx files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from perfmodel.commands.options import add_output_options, tablefmt, write_output

EXAMPLES = """examples:
  python -m perfmodel zoo list
  python -m perfmodel zoo export resnet152 -o resnet152.onnx
  python -m perfmodel zoo export lenet5 -o lenet5.onnx --weights zeros --batch N   # dynamic batch axis"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list or export the built-in reference networks",
                       description="Reference CNNs built with onnx.helper, structure identical to torchvision's "
                                   "exports (random or zero weights: nothing is downloaded).",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    ls = zsub.add_parser("list", help="names, input shapes and sizes of the built-in models")
    add_output_options(ls, ("table", "markdown"))
    ls.set_defaults(func=run_list)
    ex = zsub.add_parser("export", help="write a built-in model as an .onnx file",
                         description="Write a built-in model; weights over 2 GB go to an external data file.")
    ex.add_argument("name", help="built-in model name")
    ex.add_argument("-o", "--output", metavar="FILE", help="output path (default: NAME.onnx)")
    ex.add_argument("--weights", choices=("random", "zeros"), default="random", help="weight values (default: random)")
    ex.add_argument("--batch", default="1", metavar="N",
                    help="batch size, or a name such as N for a dynamic batch axis (default: 1)")
    ex.set_defaults(func=run_export)


def run_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    import models_onnx
    from perfmodel.units import shape, si
    from perfmodel.walk import analyze_model

    rows = []
    for name in models_onnx.names():
        cost = analyze_model(name)
        rows.append([name, shape(models_onnx.INPUT_SHAPES[name]), f"{cost.params:,}", si(cost.macs, "MAC")])
    write_output(args, tabulate(rows, ["name", "input", "params", "MACs"], tablefmt=tablefmt(args),
                                disable_numparse=True, colalign=("left", "left", "right", "right")))
    return 0


def run_export(args: argparse.Namespace) -> int:
    import models_onnx
    from perfmodel.errors import PerfmodelError

    if args.name not in models_onnx.names():
        raise PerfmodelError(f"unknown model {args.name!r}; built-in: {', '.join(models_onnx.names())}")
    batch: int | str = int(args.batch) if args.batch.isdigit() else args.batch
    if batch == 0:
        raise PerfmodelError("--batch must be positive")
    out = args.output or f"{args.name}.onnx"
    target = Path(out)
    if target.is_dir():
        raise PerfmodelError(f"cannot write {out!r}: it is a directory; give a file name")
    if not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise PerfmodelError(f"cannot write {out!r}: folder {str(target.parent)!r} does not exist")
    print(f"building {args.name} with {args.weights} weights ...", file=sys.stderr)
    try:
        path = models_onnx.export(args.name, out, weights=args.weights, batch=batch)
    except OSError as exc:
        raise PerfmodelError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
    return 0
