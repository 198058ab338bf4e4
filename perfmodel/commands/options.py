"""The one CLI options layer: every option two commands share is declared, checked and used here.

Model options (MODEL, --batch, --input-shape, --dtype), hardware (--hw), output (--format, -o, --top)
and the one writer of command output (atomic, never onto an input). Commands call these helpers and
never declare these options themselves.
"""

from __future__ import annotations

import argparse
import sys

from perfmodel.errors import PerfmodelError
from perfmodel.record import DTYPE_BYTES, ModelCost

MODEL_HELP = "an .onnx file or a built-in model name (see `perfmodel zoo list`)"
FORMATS = ("table", "json", "csv", "markdown")
HW_HELP = "hardware preset (see `perfmodel hw list`) or a .toml spec file"


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (`--top 0`, `--top -2`, `--batch x` are usage errors)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


PARTIAL_EXIT = 3
"""Exit status of a run whose model has layers of unknown cost (after printing everything)."""


def add_model_options(parser: argparse.ArgumentParser, model_nargs: str | None = None) -> None:
    parser.add_argument("model", nargs=model_nargs, metavar="MODEL", help=MODEL_HELP)
    add_shape_options(parser)
    parser.add_argument("--allow-partial", action="store_true",
                        help=f"exit 0 even when some layers have unknown cost (default: exit {PARTIAL_EXIT} after "
                             f"printing, since every total is then a lower bound)")


def add_shape_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=positive_int, metavar="N", help="batch size: sets axis 0 of every input")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=SHAPE",
                        help="static shape of an input, e.g. input=1x3x224x224 (repeatable)")
    parser.add_argument("--dtype", choices=list(DTYPE_BYTES), default="fp32",
                        help="element type for bytes and peak FLOP/s (default: fp32)")


def add_fusion_option(parser: argparse.ArgumentParser, default: str) -> None:
    """--fusion none|inference: how layers are grouped before they are timed (perfmodel.fusion)."""
    from perfmodel.fusion import POLICIES

    parser.add_argument("--fusion", choices=POLICIES, default=default,
                        help=f"none: every layer alone, its tensors through memory; inference: BatchNorm folded "
                             f"into convs, element-wise ops in the producer's output stage, as runtimes run a "
                             f"model (default: {default})")


def add_hw_option(parser: argparse.ArgumentParser, *, repeatable: bool = False, help: str = HW_HELP) -> None:
    parser.add_argument("--hw", required=True, metavar="NAME|FILE", action="append" if repeatable else "store",
                        help=help + (" (repeatable)" if repeatable else ""))


def add_output_options(parser: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS,
                       top: str | None = None) -> None:
    """--format (one of `formats`, the first is the default), -o FILE and, with a `top` help, --top N."""
    parser.add_argument("--format", choices=formats, default=formats[0],
                        help=f"output format (default: {formats[0]})")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    if top is not None:
        parser.add_argument("--top", type=positive_int, metavar="N", help=top)


def tablefmt(args: argparse.Namespace) -> str:
    """tabulate's format for --format table or markdown."""
    return "github" if args.format == "markdown" else "simple"


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    from perfmodel.graph import parse_shape

    shapes = {}
    for item in args.input_shape:
        name, sep, text = item.rpartition("=")
        if not sep or not name:
            raise PerfmodelError(f"--input-shape {item!r}: expected NAME=SHAPE, e.g. input=1x3x224x224")
        shapes[name] = parse_shape(text)
    return shapes


def load_cost(args: argparse.Namespace, model: str | None = None) -> ModelCost:
    """Analyze `model` (default: args.model) with the shared options (layer by layer, unfused)."""
    from perfmodel.walk import analyze_model

    return analyze_model(model or args.model, batch=args.batch, input_shapes=input_shapes(args), dtype=args.dtype)


def fused(args: argparse.Namespace, cost: ModelCost) -> ModelCost:
    """`cost` grouped by --fusion (the commands that predict time read these groups)."""
    from perfmodel.fusion import fuse

    return fuse(cost, getattr(args, "fusion", "none"))


def partial_status(args: argparse.Namespace, costs) -> int:
    """0 when every model was costed completely; else say so on stderr and return PARTIAL_EXIT
    (0 with --allow-partial). Every command built on the analysis returns this."""
    partial = [c for c in costs if not c.complete]
    if partial:
        from perfmodel.tables import incomplete_line

        for cost in partial:
            print(f"perfmodel: {incomplete_line(cost)}", file=sys.stderr)
    if partial and not getattr(args, "allow_partial", False):
        print(f"perfmodel: exit status {PARTIAL_EXIT}: results are partial (--allow-partial to accept them)",
              file=sys.stderr)
        return PARTIAL_EXIT
    return 0


def run_inputs(args: argparse.Namespace) -> tuple[str | None, ...]:
    """Files this run reads (models, specs): an output must not overwrite one of them."""
    found: list[str | None] = []
    for key in ("model", "hw", "baseline", "spec"):
        value = getattr(args, key, None)
        found.extend(value if isinstance(value, list) else [value])
    return tuple(found)


def write_output(args: argparse.Namespace, text: str | bytes | list[bytes | memoryview]) -> None:
    """Print `text` (or UTF-8 bytes, or bytes in pieces: perfmodel.export.json_pieces), or write it to
    `args.output` (-o FILE) atomically and say so on stderr."""
    from perfmodel.files import check_not_input, write_atomic

    pieces = [text] if isinstance(text, bytes) else text if isinstance(text, list) else None
    if not getattr(args, "output", None):
        if pieces is not None and (stdout := getattr(sys.stdout, "buffer", None)) is not None:
            sys.stdout.flush()  # whatever was printed as text before comes first
            stdout.writelines(pieces)
            stdout.write(b"\n")
        else:
            print(text if pieces is None else b"".join(pieces).decode())
        return
    check_not_input(args.output, run_inputs(args))
    write_atomic(args.output, text + "\n" if pieces is None else [*pieces, b"\n"])
    print(f"wrote {args.output}", file=sys.stderr)
