"""`perfmodel hw`: list the hardware presets, show one spec in human units."""

from __future__ import annotations

import argparse

from perfmodel.commands.options import add_output_options, tablefmt, write_output

EPILOG = """examples:
  python -m perfmodel hw list
  python -m perfmodel hw show a100
  python -m perfmodel hw show seed-npu
  python -m perfmodel hw show ./this-cpu.toml          # a file written by `perfmodel calibrate`
  python -m perfmodel hw show tpu-v1 --toml > my.toml  # start a custom spec from a preset

Spec files are TOML with the unit in each key name (mem_bandwidth_GBps = 64); the schema is
documented at the top of perfmodel/hardware/__init__.py and in perfmodel/hw/seed-npu.toml and a100.toml."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hw",
        help="list hardware presets, show a hardware spec",
        description="Hardware specs used by the roofline and accelerator models: presets "
        "(perfmodel/hw/*.toml) or your own .toml file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="hw_command", metavar="ACTION", required=True)
    p_list = sub.add_parser("list", help="table of the presets: peaks, bandwidth, ridge point",
                            description="Table of the built-in hardware presets.")
    add_output_options(p_list, ("table", "markdown"))
    p_list.set_defaults(func=run)
    p_show = sub.add_parser("show", help="every field of one spec, in human units",
                            description="Every field of one hardware spec, in human units.")
    p_show.add_argument("spec", metavar="NAME|FILE", help="a preset name (see `hw list`) or a .toml spec file")
    p_show.add_argument("--toml", action="store_true", help="print the spec as TOML instead (to edit a copy)")
    add_output_options(p_show, ("table", "markdown"))
    p_show.set_defaults(func=run)
    parser.set_defaults(func=run)


def run(args) -> int:
    from perfmodel.tables.hw import list_table, show_text

    if args.hw_command == "list":
        write_output(args, list_table(tablefmt(args)))
        return 0
    from perfmodel.hardware import load_spec, spec_to_toml

    spec = load_spec(args.spec)
    write_output(args, spec_to_toml(spec).rstrip("\n") if args.toml else show_text(spec, tablefmt(args)))
    return 0
