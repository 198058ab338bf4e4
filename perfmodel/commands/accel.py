"""`perfmodel accel`: a model (or one layer) on a deep-learning accelerator: tiling, DRAM traffic, cycles."""

from __future__ import annotations

import argparse

from perfmodel.commands.options import (
    add_fusion_option, add_hw_option, add_model_options, add_output_options, fused, load_cost, partial_status,
    write_output,
)

EXAMPLES = """examples:
  python -m perfmodel accel alexnet --hw seed-npu --baseline scalar-alu
  python -m perfmodel accel resnet152 --hw tpu-v1 --baseline this-cpu.toml --top 10
  python -m perfmodel accel vgg19 --hw diannao --batch 8 --format markdown
  python -m perfmodel accel --layer fc:M=32,K=256,N=128 --hw seed-npu --program
  python -m perfmodel accel --layer conv:N=1,C=3,H=224,W=224,K=64,R=11,S=4,P=2,G=1 --hw seed-npu --program

"""


def register(sub: argparse._SubParsersAction) -> None:
    from perfmodel.accel.layer_spec import SYNTAX

    p = sub.add_parser(
        "accel", help="a model on a deep-learning accelerator: tiling, DRAM traffic, cycles, speedup",
        description="Tile every conv/FC layer into the accelerator's weight/input/output buffers (a search over "
                    "tile sizes and loop orders: the fastest schedule, then the fewest DRAM bytes), count DRAM "
                    "traffic per operand (reloads and partial-sum spills included) and "
                    "cycles (array utilisation, double-buffered overlap), and compare with a baseline. "
                    "--hw needs a spec with an [accelerator] section (seed-npu, dlp-ddr3, tpu-v1, diannao, "
                    "scalar-alu or your own .toml).",
        epilog=EXAMPLES + SYNTAX, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(p, model_nargs="?")
    add_hw_option(p, help="accelerator preset or .toml spec")
    add_fusion_option(p, "inference")
    p.add_argument("--baseline", metavar="SPEC",
                   help="compare with this machine: scalar-alu, another accelerator, or a CPU/GPU spec "
                        "(e.g. this-cpu.toml from `perfmodel calibrate`, timed by the roofline)")
    p.add_argument("--layer", metavar="KIND:KEY=VALUE,...", help="one layer instead of a model (syntax below)")
    p.add_argument("--program", action="store_true",
                   help="with --layer: print the tiled schedule as pseudo-ISA (move/compute/loop/sync) with times")
    add_output_options(p, ("table", "json", "markdown"), top="only the N slowest layers")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from perfmodel.errors import PerfmodelError

    if args.layer and args.model:
        raise PerfmodelError("give a MODEL or --layer, not both")
    if not args.layer and not args.model:
        raise PerfmodelError("give a MODEL (an .onnx file or a built-in name) or --layer KIND:KEY=VALUE,...")
    if args.layer and (args.batch is not None or args.input_shape):
        raise PerfmodelError("--batch and --input-shape apply to a MODEL; with --layer set N= (conv) or M= (fc)")
    if args.program and not args.layer:
        raise PerfmodelError("--program prints one layer's schedule: use it with --layer")
    if args.program and args.format == "json":
        raise PerfmodelError("--program prints text; drop --format json")


def run(args: argparse.Namespace) -> int:
    from perfmodel.accel import simulate
    from perfmodel.accel.baseline import time_model
    from perfmodel.accel.layer_spec import layer_cost
    from perfmodel.accel.program import format_program
    from perfmodel.accel.report import render
    from perfmodel.accel.model import accelerator_of
    from perfmodel.hardware import load_spec
    from perfmodel.units import seconds

    _check(args)
    spec = load_spec(args.hw)
    acc = accelerator_of(spec)
    baseline_spec = load_spec(args.baseline) if args.baseline else None
    cost = layer_cost(args.layer, args.dtype) if args.layer else load_cost(args)
    result = simulate(fused(args, cost), spec)
    baseline = time_model(fused(args, cost), baseline_spec) if baseline_spec else None
    if args.program:
        parts = [format_program(layer, acc, result.dtype, f"{args.layer} on {spec.name} ({result.dtype})")
                 for layer in result.layers]
        if baseline is not None:
            parts.append(f"; {baseline.hardware} ({baseline.method}): {seconds(baseline.time_s)} "
                         f"-> speedup {baseline.time_s / result.time_s:,.2f}x")
        text = "\n".join(parts)
    else:
        text = render(result, spec, baseline, args.format, args.top)
    write_output(args, text)
    return partial_status(args, [cost])


