"""`perfmodel validate`: roofline and calibrated predictions against the numba kernels' measured times."""

from __future__ import annotations

import argparse
import sys
import time

from perfmodel.commands.options import add_hw_option, add_model_options, add_output_options, load_cost, partial_status, tablefmt, write_output
from perfmodel.errors import PerfmodelError
from perfmodel.export import json_text

EXAMPLES = """examples:
  python -m perfmodel calibrate --quick -o this-cpu.toml
  python -m perfmodel validate alexnet --hw this-cpu.toml
  python -m perfmodel validate vgg16 --hw this-cpu.toml --threads 1   # steadier on a shared machine
  python -m perfmodel validate resnet50 --hw this-cpu.toml --layers conv --repeats 7
  python -m perfmodel validate lenet5 --hw this-cpu.toml --quick

Each distinct layer shape is measured once (numba kernel, JIT warm-up excluded): every shape runs
once per round; its time is the median (or --stat min) of its rounds. Per op class (conv, fc),
time = a x FLOPs/peak + b x bytes/bandwidth is fitted on every other shape in order of roofline time,
smallest first, and scored on the others; the table marks which.
error = (predicted - measured) / measured; efficiency = roofline bound / measured."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="roofline and calibrated predictions vs measured kernel times",
                       description="Run every conv and FC layer with the project's numba kernels, compare the "
                                   "measured time with the roofline bound and with a calibrated model fitted "
                                   "on part of the layers, and score it on the rest. Layers are predicted "
                                   "unfused: the numba kernels run one layer at a time.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p)
    add_hw_option(p, help="spec of this machine, e.g. the output of `perfmodel calibrate -o this-cpu.toml`")
    p.add_argument("--repeats", type=int, default=None, metavar="N",
                   help="timed rounds, each running every layer shape once (default 9, --quick 3)")
    p.add_argument("--layers", default="conv,fc", metavar="CLASSES",
                   help="layers to validate: conv (Conv), fc (Gemm, MatMul); default conv,fc")
    p.add_argument("--stat", choices=("median", "min"), default="median",
                   help="a shape's time from its rounds: median (default) or min (on a machine shared with other "
                        "jobs, whose load only ever adds time)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads the kernels run on (default: numba's, all cores); 1 is steadier on a busy machine")
    p.add_argument("--quick", action="store_true",
                   help="only the few smallest shapes of each class (a smoke test, seconds)")
    p.add_argument("--runtime", metavar="NAME",
                   help="measure in a runtime instead of the numba kernels: onnxruntime runs the whole model "
                        "(all graph optimizations; its profiler's kernels joined to perfmodel's fused groups)")
    add_output_options(p, ("table", "json", "markdown"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from perfmodel.hardware import load_spec
    from perfmodel.roofline import predict
    from perfmodel.tables.validate import fit_table, layer_table, summary
    from perfmodel.validate import kernel_timer, parse_classes, validate, validation_dict

    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    if repeats < 1:
        raise PerfmodelError(f"--repeats must be at least 1, got {repeats}")
    if args.runtime:
        return run_runtime(args, repeats)
    classes = parse_classes(args.layers)
    if args.dtype != "fp32":
        raise PerfmodelError(f"--dtype {args.dtype}: the numba kernels run fp32 only, so validate does too")
    hw = load_spec(args.hw)
    cost = load_cost(args)
    prediction = predict(cost, hw, args.dtype)
    time_layers = kernel_timer(repeats, args.threads, args.stat)
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"validate [{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    result = validate(prediction, time_layers, classes, quick=args.quick, progress=progress)
    if args.format == "json":
        text = json_text(validation_dict(result))
    else:
        fmt = tablefmt(args)
        timing = f"{args.stat} of {repeats} rounds"
        text = "\n\n".join([layer_table(result, fmt), fit_table(result, fmt), summary(result, timing, args.threads)])
    write_output(args, text)
    return partial_status(args, [cost])


def run_runtime(args: argparse.Namespace, repeats: int) -> int:
    """`validate --runtime onnxruntime`: the whole model in the runtime, per group and end to end."""
    import tempfile

    from perfmodel.fusion import fuse
    from perfmodel.hardware import load_spec
    from perfmodel.roofline import predict
    from perfmodel.runtime import check_runtime, model_file, names_of_groups, profile
    from perfmodel.tables.validate import runtime_dict, runtime_text

    check_runtime(args.runtime)
    hw = load_spec(args.hw)
    cost = load_cost(args)
    groups = fuse(cost, "inference")  # what the runtime runs
    prediction = predict(groups, hw, args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = model_file(args.model, cost, tmp)
        measured = profile(path, cost.inputs, names_of_groups(cost, groups), runs=repeats, threads=args.threads)
    if args.format == "json":
        text = json_text(runtime_dict(prediction, measured))
    else:
        text = runtime_text(prediction, measured, tablefmt(args))
    write_output(args, text)
    return partial_status(args, [cost])
