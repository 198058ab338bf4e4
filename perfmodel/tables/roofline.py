"""Tables of a roofline prediction: one row per layer, and the totals."""

from __future__ import annotations

from tabulate import tabulate

from perfmodel.tables.render import numbered, render
from perfmodel.units import binary, byte_rate, flop_rate, number, seconds, si


def layer_table(prediction, top: int | None = None, tablefmt: str = "simple") -> str:
    """One row per layer (or the `top` slowest), in schedule order; unknown layers show '?'."""
    rows = numbered(prediction.layers, top, key=lambda lp: lp.time_s or 0.0, schedule_order=True)
    table = []
    for index, lp in rows:
        layer = lp.layer
        if lp.known:
            figures = [si(layer.flops), binary(layer.bytes_total), f"{lp.intensity:.3g}",
                       number(lp.attainable / 1e9), lp.bound, seconds(lp.time_s),
                       f"{100 * prediction.share(lp):.1f}"]
        else:
            figures = ["?"] * 4 + ["unknown", "?", "?"]
        table.append([index, layer.name, layer.op_label, *figures])
    heads = ["#", "name", "op", "FLOPs", "bytes", "FLOP/B", "attainable GFLOP/s", "bound", "time", "%time"]
    return render(table, heads, tablefmt, ("right", "left", "left") + ("right",) * 4 + ("left", "right", "right"))


def totals_table(prediction, tablefmt: str = "simple") -> str:
    p = prediction
    share = ", ".join(f"{bound} {100 * value:.1f}%" for bound, value in p.share_by_bound.items())
    rows = [
        ["model", f"{p.model} (batch {p.batch}, {p.dtype}, fusion {p.fusion})"],
        ["hardware", f"{p.hw.name}: peak {flop_rate(p.peak, p.dtype)}, bandwidth {byte_rate(p.bandwidth)}"],
        ["ridge point", f"{p.ridge_point:.4g} FLOP/B"],
        ["predicted time", seconds(p.total_s) + (f" (calibrated; roofline bound {seconds(p.bound_s)})"
                                                 if p.calibrated else "")],
        ["images/s", f"{p.images_per_s:.4g}"],
        ["share of time", share],
        ["time outside MAC layers", f"{100 * p.share_outside_mac:.1f}%"],
        *[["note", note] for note in p.notes],
    ]
    return tabulate(rows, ["total", "value"], tablefmt=tablefmt, disable_numparse=True)
