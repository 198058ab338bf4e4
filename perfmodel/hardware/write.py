"""Write a `HardwareSpec` back as TOML that `load_spec` reads to an equal spec."""

from __future__ import annotations

from decimal import localcontext
from typing import Mapping

from perfmodel.hardware.read import decimal_of as _decimal
from perfmodel.hardware.spec import BANDWIDTH_UNITS, FREQUENCY_UNITS, RATE_UNITS, SIZE_UNITS, HardwareSpec

def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _number(x: float | int, scale: int) -> str:
    """`x / scale` as a TOML number that reads back, times `scale`, to exactly `x`.

    Works in decimal: `repr(x)` is the shortest decimal that is `x`, and dividing it by a power of
    ten (or two) is exact, so `17.12e9` is written `17.12` in GBps.
    """
    with localcontext() as ctx:
        ctx.prec = 80
        d = (_decimal(x) / scale).normalize()
    if d == d.to_integral_value() and abs(d) < 2**53:
        return str(int(d))
    text = format(d, "f")
    return text if len(text) <= 24 else format(d, "e")


def _pick_unit(values: list[float | int], units: Mapping[str, int]) -> str:
    """The unit that writes `values` shortest (values >= 1 only; the larger unit on a tie)."""
    best = None
    for unit, scale in units.items():
        if scale != 1 and min(values) < scale:
            continue
        key = (sum(len(_number(v, scale)) for v in values), -scale)
        if best is None or key < best[0]:
            best = (key, unit)
    return best[1]


def _quantity_line(base: str, value: float | int, units: Mapping[str, int]) -> str:
    unit = _pick_unit([value], units)
    return f"{base}_{unit} = {_number(value, units[unit])}"


def spec_to_toml(spec: HardwareSpec, header: str = "") -> str:
    """The spec as a TOML file that `load_spec` reads back to an equal spec.

    Human units where they are exact (64 GBps, 256 KiB), base units otherwise. `header` becomes a
    leading comment block.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"name = {_toml_str(spec.name)}",
              f"description = {_toml_str(spec.description)}",
              f"source = {_toml_str(spec.source)}"]
    if spec.cores is not None:
        lines.append(f"cores = {int(spec.cores)}")
    acc = spec.accelerator
    if acc is None:
        lines.append(_quantity_line("mem_bandwidth", spec.mem_bandwidth, BANDWIDTH_UNITS))
        if spec.clock_hz is not None:
            lines.append(_quantity_line("clock", spec.clock_hz, FREQUENCY_UNITS))
        unit = _pick_unit(list(spec.peak_flops.values()), RATE_UNITS)
        lines += ["", f"[peak_{unit}]"]
        lines += [f"{dt} = {_number(v, RATE_UNITS[unit])}" for dt, v in spec.peak_flops.items()]
    else:
        derived = {dt: acc.peak_flops for dt in acc.dtypes}
        if (dict(spec.peak_flops) != derived or spec.mem_bandwidth != acc.dram_bandwidth
                or spec.clock_hz != acc.clock_hz):
            raise ValueError(f"spec {spec.name!r}: peak_flops, mem_bandwidth and clock_hz must be the ones "
                             "derived from its accelerator to be written as TOML")
    if spec.efficiency:
        lines += ["", "[efficiency]", f"run_us = {_number(spec.run_us, 1)}"]
        for cls, e in spec.efficiency.items():
            lines += ["", f"[efficiency.{cls}]", f"fixed_us = {_number(e.fixed_us, 1)}",
                      f"compute_scale = {_number(e.compute_scale, 1)}", f"memory_scale = {_number(e.memory_scale, 1)}"]
    for level in spec.caches:
        lines += ["", "[[cache]]", f"name = {_toml_str(level.name)}",
                  _quantity_line("size", level.size_bytes, SIZE_UNITS)]
        if level.bandwidth is not None:
            lines.append(_quantity_line("bandwidth", level.bandwidth, BANDWIDTH_UNITS))
    if acc is not None:
        lines += ["", "[accelerator]",
                  f"mac_rows = {acc.mac_rows}",
                  f"mac_cols = {acc.mac_cols}",
                  _quantity_line("clock", acc.clock_hz, FREQUENCY_UNITS),
                  f"dtype = {_toml_str(acc.dtype)}"]
        if acc.extra_dtypes:
            lines.append(f"extra_dtypes = [{', '.join(_toml_str(d) for d in acc.extra_dtypes)}]")
        lines += [_quantity_line("weight_buffer", acc.weight_buffer_bytes, SIZE_UNITS),
                  _quantity_line("input_buffer", acc.input_buffer_bytes, SIZE_UNITS),
                  _quantity_line("output_buffer", acc.output_buffer_bytes, SIZE_UNITS),
                  _quantity_line("dram_bandwidth", acc.dram_bandwidth, BANDWIDTH_UNITS),
                  f"double_buffering = {str(acc.double_buffering).lower()}",
                  f"dataflow = {_toml_str(acc.dataflow)}",
                  f"systolic = {str(acc.systolic).lower()}",
                  f"weight_load = {_toml_str(acc.weight_load)}",
                  f"accumulator_bits = {acc.accumulator_bits}"]
        e = acc.energy
        if e is not None:
            lines += ["", "[accelerator.energy]"]
            lines += [f"{k} = {_number(getattr(e, k), 1)}" for k in
                      ("weight_buffer_pJ_per_byte", "input_buffer_pJ_per_byte", "output_buffer_pJ_per_byte",
                       "dram_pJ_per_byte")]
            if e.static_mW:
                lines.append(f"static_mW = {_number(e.static_mW, 1)}")
            lines += ["", "[accelerator.energy.mac_pJ]"] + [f"{d} = {_number(v, 1)}" for d, v in e.mac_pJ.items()]
    return "\n".join(lines) + "\n"
