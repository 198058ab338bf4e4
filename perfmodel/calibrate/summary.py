"""A calibration as the tables `perfmodel calibrate` prints and as a hardware spec (with its header)."""

from __future__ import annotations

import datetime
import sys

from perfmodel import __version__
from perfmodel.calibrate.machine import round_figure, usable_cores
from perfmodel.calibrate.results import Calibration, Measurement
from perfmodel.hardware import HardwareSpec
from perfmodel.units import binary, byte_rate, flop_rate


def _g(x: float) -> str:
    return f"{x / 1e9:.4g}"


def report(cal: Calibration) -> str:
    """The tables `perfmodel calibrate` prints."""
    from tabulate import tabulate

    head = ["figure", "unit", "median", "min", "max", "spread", "repeats"]

    def row(m: Measurement, label: str | None = None) -> list[str]:
        return [label or m.label, m.unit, _g(m.median), _g(m.min), _g(m.max), f"{100 * m.spread:.1f}%",
                str(len(m.rates))]

    lines = [f"perfmodel calibrate: {cal.cpu}, {cal.threads} threads, "
             f"{'quick run' if cal.quick else 'full run'} in {cal.elapsed_s:.1f} s "
             f"(numba kernels ready in {cal.compile_s:.1f} s)", ""]
    rows = [row(m) for m in (cal.fma, *cal.gemm, cal.copy, cal.triad)]
    lines += [tabulate(rows, headers=head, disable_numparse=True, colalign=("left", "left") + ("right",) * 5), ""]

    where = {}
    inner = 0
    for level in cal.caches:
        for s, _ in cal.sweep:
            if inner < s <= level.size_bytes and s not in where:
                where[s] = level.name
        inner = level.size_bytes
    sweep_rows = []
    for s, m in cal.sweep:
        r = row(m, binary(s))
        sweep_rows.append(r + [where.get(s, "memory") + (" | step" if s in cal.sweep_steps else "")])
    lines += ["working-set sweep (every thread sums the same array; '| step' = bandwidth drops after it):",
              tabulate(sweep_rows, headers=["working set", *head[1:], "fits in"], disable_numparse=True,
                       colalign=("right", "left") + ("right",) * 5 + ("left",)), ""]

    src = {"sysfs": "sizes from /sys/devices/system/cpu/cpu0/cache", "sysconf": "sizes from os.sysconf",
           "sweep": "sizes estimated from the sweep's steps", "none": "no cache level found"}[cal.cache_source]
    levels = ", ".join(
        f"{c.name} {binary(c.size_bytes)}" + (f" ({byte_rate(c.bandwidth)})" if c.bandwidth else "")
        for c in cal.caches)
    lines.append(f"caches: {levels or '-'}; {src}; sweep steps after "
                 f"{', '.join(binary(s) for s in cal.sweep_steps) or 'none'}")
    peak, bw = cal.peak, cal.bandwidth
    peak_what = peak.label.split(": ", 1)[1]
    bw_what = bw.label.split(": ", 1)[1].split(",")[0]
    lines.append(f"spec: peak fp32 {flop_rate(round_figure(peak.best))} (best repeat of {peak_what}), "
                 f"bandwidth {byte_rate(round_figure(bw.best))} (best repeat of {bw_what}), "
                 f"ridge point {round_figure(peak.best) / round_figure(bw.best):.3g} FLOP/B")
    lines += [f"note: {n}" for n in cal.notes]
    return "\n".join(lines)


def to_spec(cal: Calibration, name: str = "this-cpu") -> HardwareSpec:
    peak, bw = cal.peak, cal.bandwidth
    today = datetime.date.today().isoformat()
    return HardwareSpec(
        name=name,
        description=f"{cal.cpu}, {cal.threads} threads, measured by perfmodel calibrate",
        source=(f"perfmodel {__version__} calibrate{' --quick' if cal.quick else ''} on {today}: "
                f"peak fp32 = best repeat of {peak.label.split(': ', 1)[1]}; "
                f"bandwidth = best repeat of STREAM {bw.label.split(': ', 1)[1].split(',')[0]}; "
                f"cache sizes from {cal.cache_source}, bandwidths from the read sweep"),
        peak_flops={"fp32": round_figure(peak.best)},
        mem_bandwidth=round_figure(bw.best),
        cores=usable_cores(),
        clock_hz=None,
        caches=cal.caches,
    )


def spec_header(cal: Calibration) -> str:
    """Comment block for the written spec: how it was measured and what it leaves out."""
    m = lambda x: f"{x.label}: median {_g(x.median)}, min {_g(x.min)}, max {_g(x.max)} {x.unit}"  # noqa: E731
    lines = [f"Measured by `python -m perfmodel calibrate{' --quick' if cal.quick else ''}` "
             f"({cal.threads} threads, {sys.platform}).",
             *(m(x) for x in (cal.fma, *cal.gemm, cal.copy, cal.triad)),
             "Figures are the best repeat, rounded to 4 significant digits.",
             "fp16/bf16/int8 are not measured (numpy/numba have no fast path for them on a CPU) and",
             "are left out: add e.g. `fp16 = ...` to the [peak_*] table if you measure them.",
             "Load it anywhere a preset is accepted: --hw this-file.toml"]
    return "\n".join(lines)

