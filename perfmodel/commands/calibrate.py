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
  python -m perfmodel calibrate --runtime onnxruntime -o ort-cpu.toml   # + onnxruntime, about 35 s
  python -m perfmodel validate resnet50 --runtime onnxruntime --hw ort-cpu.toml

Measures peak fp32 FLOP/s (numba FMA chains and numpy GEMM), STREAM copy/triad bandwidth and a
working-set sweep that shows the cache levels. The first run compiles numba kernels (cached after).
Each figure is repeated; the table shows median, min, max and spread, the spec takes the best.
With --runtime, microbenchmarks (conv chains, mobile-network blocks, GEMMs, element-wise, pooling) run in
the runtime in 3 interleaved rounds, and one fit per layer class of fixed + a x FLOPs/peak + b x
near-memory time is written as [efficiency] (perfmodel/calibrate/runtime.py)."""


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
    parser.add_argument("--runtime", metavar="NAME",
                        help="also fit a runtime's achieved efficiency per layer class (onnxruntime): "
                             "microbenchmarks run in it, written as the spec's [efficiency] tables")
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

    if args.runtime:
        from perfmodel.runtime import check_runtime

        check_runtime(args.runtime)
    cal = calibrate(quick=args.quick, repeats=args.repeats, progress=progress)
    print(report(cal))
    spec = to_spec(cal, name=name)
    if args.runtime:
        spec = runtime_efficiency(spec, args, progress)
    if out is None:
        print("(give -o FILE.toml to save these figures as a hardware spec)", file=sys.stderr)
        return 0
    write_atomic(out, spec_to_toml(spec, header=spec_header(cal)))
    print(f"wrote {out} (python -m perfmodel hw show {out})")
    return 0


def runtime_efficiency(spec, args, progress):
    """The spec with [efficiency] fitted on microbenchmarks run in the runtime; prints the fit."""
    import dataclasses

    from tabulate import tabulate

    from perfmodel.calibrate.runtime import fit, measure
    samples, run_s = measure(spec, quick=args.quick, runs=args.repeats, progress=progress)
    efficiency = fit(samples)
    rows = []
    for s in samples:
        predicted = s.predicted(efficiency)
        rows.append([s.name, s.cls, f"{s.measured_s * 1e6:.1f}", f"{predicted * 1e6:.1f}",
                     f"{100 * (predicted - s.measured_s) / s.measured_s:+.1f}"])
    print("\n" + tabulate(rows, ["microbenchmark", "class", "measured us", "fitted us", "error %"],
                          disable_numparse=True, colalign=("left", "left", "right", "right", "right")))
    print("\n" + tabulate([[c, f"{e.fixed_us:g}", f"{e.compute_scale:.4g}", f"{e.memory_scale:.4g}"]
                           for c, e in efficiency.items()], ["class", "fixed us", "x F/P", "x B/W"],
                          disable_numparse=True))
    return dataclasses.replace(
        spec, efficiency=efficiency, run_us=round(run_s * 1e6, 3),
        description=spec.description + f", {args.runtime} efficiency fitted",
        source=spec.source + f"; [efficiency] fitted on {len(samples)} {args.runtime} microbenchmarks "
                             f"(perfmodel.calibrate.runtime)")
