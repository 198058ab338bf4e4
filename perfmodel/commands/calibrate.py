"""`perfmodel calibrate`: measure this machine, write a hardware spec usable wherever a preset is."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from perfmodel.errors import PerfmodelError

EPILOG = """examples:
  python -m perfmodel calibrate -o this-cpu.toml          # well under a minute
  python -m perfmodel calibrate --quick -o this-cpu.toml  # a few seconds, noisier
  python -m perfmodel hw show this-cpu.toml
  python -m perfmodel roofline resnet50 --hw this-cpu.toml

Measures peak fp32 FLOP/s (numba FMA chains and numpy GEMM), STREAM copy/triad bandwidth and a
working-set sweep that shows the cache levels. The first run compiles numba kernels (cached after).
Each figure is repeated; the table shows median, min, max and spread, the spec takes the best."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="measure this machine's peak FLOP/s, bandwidth and caches; write a hardware spec",
        description="Measure this machine (peak fp32 FLOP/s, memory bandwidth, cache levels) and "
        "write a hardware spec (.toml) that every --hw option accepts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-o", "--output", metavar="FILE.toml",
                        help="write the spec here (without it, only the tables are printed)")
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds (fewer, shorter repeats)")
    parser.add_argument("--repeats", type=int, metavar="N", help="repeats of each figure (default 7, --quick 5)")
    parser.add_argument("--name", help="name of the spec (default: the output file's stem, or this-cpu)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.repeats is not None and args.repeats < 1:
        raise PerfmodelError(f"--repeats must be at least 1, got {args.repeats}")
    out = Path(args.output) if args.output else None
    if out is not None:
        if out.is_dir():
            raise PerfmodelError(f"--output {str(out)!r} is a directory; give a file name such as this-cpu.toml")
        if not out.parent.exists():
            raise PerfmodelError(f"--output {str(out)!r}: directory {str(out.parent)!r} does not exist")
    name = args.name or (out.stem if out is not None else "this-cpu")

    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"calibrate [{time.perf_counter() - started:5.1f} s] {msg}", file=sys.stderr, flush=True)

    from perfmodel.calibrate import calibrate, report, spec_header, to_spec
    from perfmodel.files import write_atomic
    from perfmodel.hardware import spec_to_toml

    cal = calibrate(quick=args.quick, repeats=args.repeats, progress=progress)
    print(report(cal))
    spec = to_spec(cal, name=name)
    if out is None:
        print("(give -o FILE.toml to save these figures as a hardware spec)", file=sys.stderr)
        return 0
    write_atomic(out, spec_to_toml(spec, header=spec_header(cal)))
    print(f"wrote {out} (python -m perfmodel hw show {out})")
    return 0
