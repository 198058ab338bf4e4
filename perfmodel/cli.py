"""Command-line entry point: `python -m perfmodel SUBCOMMAND ...`.

Each subcommand lives in `perfmodel/commands/<name>.py` and exposes `register(subparsers)`, which adds
its parser and sets `func(args) -> int`. Heavy imports (numba, matplotlib) happen inside `func`, so
`--help` and `analyze` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import sys
import warnings
from typing import Iterator

from perfmodel import __version__
from perfmodel.errors import PerfmodelError
from perfmodel.units import printable

COMMANDS = ("analyze", "zoo", "hw", "roofline", "calibrate", "validate", "accel", "speedup", "report", "sweep")

EPILOG = """examples:
  python -m perfmodel analyze resnet152                 # a built-in model, no file needed
  python -m perfmodel analyze model.onnx --batch 8 --format json
  python -m perfmodel zoo export resnet152 -o resnet152.onnx
  python -m perfmodel roofline vgg16 --hw a100 --plot roofline.png
  python -m perfmodel accel resnet50 --hw seed-npu --baseline scalar-alu   # fused, with energy
  python -m perfmodel sweep sweep.toml -o results.csv --jobs 2 --plot pareto.png

Run `python -m perfmodel SUBCOMMAND --help` for each subcommand's options."""


class Parser(argparse.ArgumentParser):
    """argparse with perfmodel's error style: one line on stderr, exit status 2 (subcommands too)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"perfmodel: error: {printable(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="perfmodel",
        description="Cost (params, MACs, FLOPs, bytes) and performance models of CNNs in ONNX.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"perfmodel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name in COMMANDS:  # a missing or broken command module is an error here, never skipped
        importlib.import_module(f"perfmodel.commands.{name}").register(sub)
    return parser


GC_THRESHOLD = (100_000, 50, 1000)
"""The cyclic collector runs after 100,000 net allocations rather than Python's 2,000: the work on a
model's layers (tables, the accelerator model, reports) allocates a few objects per layer and frees
almost none until it ends. (The analysis itself and its JSON run with the collector paused:
perfmodel.collector.)"""


@contextlib.contextmanager
def _unencodable_escaped(stream) -> Iterator[None]:
    """Characters `stream`'s encoding lacks (a Greek layer name on a Latin-1 terminal, any accent
    under PYTHONIOENCODING=ascii) written as Python escapes, as stderr writes them, never a
    UnicodeEncodeError; the stream's own setting is back afterwards. (JSON goes out as UTF-8 bytes,
    whatever the encoding: commands.options.write_output.)"""
    errors = getattr(stream, "errors", None)
    if errors is None or not hasattr(stream, "reconfigure"):  # (a StringIO: it encodes nothing)
        yield
        return
    stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        stream.reconfigure(errors=errors)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"perfmodel: warning: {printable(str(message))}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        with _unencodable_escaped(sys.stdout):
            return int(args.func(args) or 0)
    except PerfmodelError as exc:
        print(f"perfmodel: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfmodel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        gc.set_threshold(*before)
