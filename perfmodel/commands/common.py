"""Options every model-reading subcommand shares, and the one way they turn into a ModelCost."""

from __future__ import annotations

import argparse

from perfmodel.record import DTYPE_BYTES, ModelCost

MODEL_HELP = "an .onnx file or a built-in model name (see `perfmodel zoo list`)"


def add_model_options(parser: argparse.ArgumentParser, model_nargs: str | None = None) -> None:
    parser.add_argument("model", nargs=model_nargs, metavar="MODEL", help=MODEL_HELP)
    add_shape_options(parser)


def add_shape_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, metavar="N", help="batch size: sets axis 0 of every input")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=SHAPE",
                        help="static shape of an input, e.g. input=1x3x224x224 (repeatable)")
    parser.add_argument("--dtype", choices=list(DTYPE_BYTES), default="fp32",
                        help="element type for bytes and peak FLOP/s (default: fp32)")


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    from perfmodel.errors import PerfmodelError
    from perfmodel.graph import parse_shape

    shapes = {}
    for item in args.input_shape:
        name, sep, text = item.rpartition("=")
        if not sep or not name:
            raise PerfmodelError(f"--input-shape {item!r}: expected NAME=SHAPE, e.g. input=1x3x224x224")
        shapes[name] = parse_shape(text)
    return shapes


def load_cost(args: argparse.Namespace, model: str | None = None) -> ModelCost:
    """Analyze `model` (default: args.model) with the shared options."""
    from perfmodel.walk import analyze_model

    return analyze_model(model or args.model, batch=args.batch, input_shapes=input_shapes(args), dtype=args.dtype)


def write_output(args: argparse.Namespace, text: str) -> None:
    """Print `text`, or write it to `args.output` (-o FILE) and say so on stderr."""
    import sys

    from perfmodel.errors import PerfmodelError

    if not getattr(args, "output", None):
        print(text)
        return
    try:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    except OSError as exc:
        raise PerfmodelError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}", file=sys.stderr)
