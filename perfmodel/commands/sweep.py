"""`perfmodel sweep`: a design-space sweep of accelerator configurations over models, to CSV, with the
Pareto front of latency, energy and on-chip bytes."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from perfmodel.commands.options import positive_int
from perfmodel.errors import PerfmodelError

EXAMPLES = """examples:
  python -m perfmodel sweep sweep.toml -o results.csv
  python -m perfmodel sweep sweep.toml -o results.csv --jobs 2 --plot pareto.png
  python -m perfmodel sweep sweep.toml -o results.csv --resume          # after an interruption
  python -m perfmodel sweep sweep.toml -o results.csv --scheduler tcp://10.0.0.5:8786   # a Dask cluster

A sweep file (TOML):
  base = "seed-npu"                      # preset or spec file (relative to the sweep file)
  models = ["resnet50", "alexnet"]
  batch = [1, 8]
  fusion = "inference"
  [grid]                                 # spec keys exactly as in a spec file
  mac_rows = [8, 16, 32]
  mac_cols = [8, 16, 32]
  weight_buffer_KiB = [64, 256, 1024]
  dram_bandwidth_GBps = [16, 64]
  dataflow = ["weight-stationary", "output-stationary"]
(or samples = 1000, seed = 0 and a [range] table of [low, high] per key). One CSV row per point, model
and batch: the swept keys, latency_s, energy_J, edp_Js, on_chip_bytes, dram_bytes, utilisation and
pareto (true when no other point of that model and batch is at least as good in latency, energy and
on-chip bytes and better in one). Rows stream to OUTPUT.partial as they arrive; the finished CSV
replaces OUTPUT at the end."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="design-space sweep of accelerator configs: CSV, Pareto front, plot",
                       description="Run every design point of a sweep file through the accelerator model for "
                                   "each model and batch, and mark the Pareto front.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_file", metavar="SWEEP.toml", help="the sweep file")
    p.add_argument("-o", "--output", default="sweep.csv", metavar="FILE.csv", help="results (default: sweep.csv)")
    p.add_argument("--resume", action="store_true", help="keep the rows an interrupted run already wrote")
    p.add_argument("--allow-partial", action="store_true",
                   help="exit 0 even when a model has layers of unknown cost (default: exit 3; its rows say so)")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://HOST:8786 (extra [cluster])")
    p.add_argument("--chunk", type=positive_int, metavar="N",
                   help="design points per task sent to a worker (default: the points / (4 x workers), "
                        "32 to 2,000: contiguous slabs of the grid, so a worker's memoized tiling serves many)")
    p.add_argument("--plot", metavar="FILE", help="also draw latency against energy, coloured by on-chip bytes "
                                                  "(.png or .svg)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="the Pareto summary on stdout: table (default) or json")
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="Pareto points shown per model and batch (default 10, fastest first)")
    p.set_defaults(func=run)


def _key(row: dict, keys) -> tuple:
    return (*(str(row[k]) for k in keys), str(row["model"]), str(row["batch"]))


def _read_rows(path: Path, fields) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != tuple(fields):
            raise PerfmodelError(f"--resume: {path} has other columns than this sweep's; remove it or drop --resume")
        return [row for row in reader if row.get("note") is not None]


def run(args: argparse.Namespace) -> int:
    from perfmodel.export import json_text
    from perfmodel.files import check_not_input, write_atomic
    from perfmodel.sweep.config import load_sweep
    from perfmodel.sweep.evaluate import row_fields
    from perfmodel.sweep.pareto import mark_pareto

    from perfmodel.commands.options import partial_status
    from perfmodel.sweep.evaluate import analyzed

    sweep = load_sweep(args.sweep_file)
    out = Path(args.output)
    check_not_input(out, (args.sweep_file,))
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg"):
        raise PerfmodelError(f"--plot {args.plot!r}: give a file name ending in .png or .svg")
    for values in sweep.points:  # every point a valid spec before any work
        sweep.spec(values)
    fields = row_fields(sweep)
    journal = out.with_name(out.name + ".partial")
    done = []
    if args.resume:
        done = _read_rows(out, fields) + _read_rows(journal, fields)
    elif journal.exists():
        journal.unlink()
    have = {_key(r, sweep.keys) for r in done}
    per_point = len(sweep.models) * len(sweep.batches)
    point_rows = [[_key({**dict(zip(sweep.keys, values)), "model": m, "batch": b}, sweep.keys)
                   for m in sweep.models for b in sweep.batches] for values in sweep.points]
    todo = [i for i, keys in enumerate(point_rows) if not all(k in have for k in keys)]
    print(f"perfmodel sweep: {len(sweep.points):,} points x {per_point} (model, batch); {len(todo):,} to run"
          + (f", {len(sweep.points) - len(todo):,} already done" if args.resume else ""), file=sys.stderr)
    rows = list(done)
    if todo:
        rows += _run(sweep, todo, args, journal, fields, bool(done))
    order = {key: (i, j) for i, keys in enumerate(point_rows) for j, key in enumerate(keys)}
    unique = {_key(r, sweep.keys): r for r in rows}
    rows = sorted(unique.values(), key=lambda r: order.get(_key(r, sweep.keys), (len(order),)))
    mark_pareto(rows)
    write_atomic(out, _csv(rows, fields))
    if journal.exists():
        journal.unlink()
    print(f"perfmodel sweep: wrote {out} ({len(rows):,} rows)", file=sys.stderr)
    if args.plot:
        from perfmodel.plots import save_figure
        from perfmodel.sweep.plot import pareto_figure

        save_figure(pareto_figure(rows, sweep), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    front = [r for r in rows if r["pareto"] == "true"]
    if args.format == "json":
        print(json_text({"sweep": str(sweep.path), "base": sweep.base_label, "points": len(sweep.points),
                         "rows": len(rows), "output": str(out), "pareto": front}))
    else:
        print(_summary(front, sweep, args.top))
    return partial_status(args, [analyzed(sweep, m, b) for m in sweep.models for b in sweep.batches])


def _run(sweep, todo, args, journal: Path, fields, appending: bool) -> list[dict]:
    from tqdm import tqdm

    from perfmodel.sweep import engine

    rows = []
    new_file = not (appending and journal.exists())
    with open(journal, "a", newline="") as f, tqdm(total=len(todo), unit="point", file=sys.stderr,
                                                   disable=None, desc="sweep") as bar:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        if new_file:
            writer.writeheader()
        per_point = len(sweep.models) * len(sweep.batches)
        for chunk in engine.run(sweep, todo, args.jobs, args.scheduler, args.chunk):
            writer.writerows(chunk)
            f.flush()
            os.fsync(f.fileno())
            rows += [{k: ("" if v is None else v) for k, v in r.items()} for r in chunk]
            bar.update(len(chunk) // per_point)
    return rows


def _csv(rows, fields) -> str:
    from perfmodel.export import rows_csv

    return rows_csv(rows, list(fields))


def _summary(front, sweep, top: int) -> str:
    from tabulate import tabulate

    from perfmodel.units import binary, joules, seconds

    blocks = []
    groups: dict[tuple, list] = {}
    for row in front:
        groups.setdefault((row["model"], row["batch"]), []).append(row)
    for (model, batch), members in groups.items():
        members = sorted(members, key=lambda r: float(r["latency_s"]))
        table = [[*(r[k] for k in sweep.keys), seconds(float(r["latency_s"])),
                  joules(float(r["energy_J"])) if r["energy_J"] not in ("", None) else "n/a",
                  binary(float(r["on_chip_bytes"])), f"{100 * float(r['utilisation']):.1f}%"] for r in members[:top]]
        heads = [*sweep.keys, "latency", "energy", "on-chip", "MAC util"]
        more = f" (fastest {top} of {len(members)})" if len(members) > top else ""
        blocks.append(f"Pareto front, {model} at batch {batch}: {len(members)} points{more}\n"
                      + tabulate(table, heads, disable_numparse=True))
    return "\n\n".join(blocks) if blocks else "no point ran (see the note column of the CSV)"
