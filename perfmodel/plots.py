"""Roofline figures (matplotlib, Agg canvas: no display needed, no pyplot global state).

`roofline_figure(prediction)` draws one `RooflinePrediction`; `save_figure(fig, path)` writes PNG or
SVG by the file's extension. The report calls both; the `roofline --plot` option too. Imported only
when a figure is wanted: `import perfmodel` never loads matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from perfmodel.errors import PerfmodelError
from perfmodel.units import byte_rate, flop_rate
from perfmodel.roofline import RooflinePrediction

SAVE_FORMATS = {".png": "png", ".svg": "svg"}


def _ceiling(x: np.ndarray, peak: float, bandwidth: float) -> np.ndarray:
    """The roof in GFLOP/s: min(peak, intensity x bandwidth) (Williams et al. 2009)."""
    return np.minimum(peak, x * bandwidth) / 1e9


def roofline_figure(prediction: RooflinePrediction, labels: int = 5) -> Figure:
    """Log-log roofline: memory and compute ceilings (cache levels' ceilings in grey), one point per layer.

    Points are the layers with FLOPs and bytes (a log axis has no zero), coloured by op type, sized by
    their share of the predicted time; the `labels` slowest layers carry their name.
    """
    p = prediction
    peak, bandwidth, ridge = p.peak, p.bandwidth, p.ridge_point
    points = [lp for lp in p.layers if lp.known and lp.layer.flops > 0 and lp.layer.bytes_total > 0]
    intensities = [lp.intensity for lp in points] or [ridge]
    x = np.logspace(np.log10(min(min(intensities), ridge) / 4), np.log10(max(max(intensities), ridge) * 4), 256)

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(x, _ceiling(x, peak, bandwidth), color="black", linewidth=2,
            label=f"roof: {flop_rate(peak, p.dtype)}, {byte_rate(bandwidth)}")
    for k, level in enumerate(lv for lv in p.hw.caches if lv.bandwidth):
        ax.plot(x, _ceiling(x, peak, level.bandwidth), color="dimgrey", linewidth=1,
                linestyle=("--", "-.", ":")[k % 3],
                label=f"{level.name}: {byte_rate(level.bandwidth)}")
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"ridge {ridge:.3g} FLOP/B", (ridge, peak / 1e9), textcoords="offset points", xytext=(4, -12),
                fontsize=8, color="grey")

    ops = sorted({lp.layer.op_type for lp in points})
    for i, op in enumerate(ops):
        mine = [lp for lp in points if lp.layer.op_type == op]
        sizes = [12 + 300 * (p.share(lp) or 0.0) for lp in mine]
        ax.scatter([lp.intensity for lp in mine], [lp.attainable / 1e9 for lp in mine], s=sizes, alpha=0.75,
                   color=f"C{i % 10}", marker="os^Dv"[i // 10 % 5], edgecolors="black", linewidths=0.4,
                   label=op, zorder=3)
    heaviest = sorted(points, key=lambda lp: lp.time_s, reverse=True)[:labels]
    # Labels go under the roof, where nothing else is drawn, one line lower each so none overlap.
    for k, lp in enumerate(sorted(heaviest, key=lambda lp: lp.intensity)):
        ax.annotate(lp.layer.name, (lp.intensity, lp.attainable / 1e9), textcoords="offset points",
                    xytext=(8, -16 - 11 * k), fontsize=7, arrowprops={"arrowstyle": "-", "linewidth": 0.4})

    hidden = len(p.layers) - len(points)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable GFLOP/s")
    ax.set_title(f"{p.model} on {p.hw.name} ({p.dtype}, batch {p.batch}): predicted {p.total_s * 1e3:.4g} ms"
                 + (f"\nnot shown: {hidden} layer(s) without FLOPs, bytes or a cost rule" if hidden else ""),
                 fontsize=10)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    """`fig` as PNG or SVG bytes, the same bytes for the same figure: no date in the metadata, and
    SVG element ids from a fixed salt instead of random ones."""
    import io

    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "perfmodel"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as PNG or SVG, chosen by the extension, atomically; PerfmodelError for another one."""
    from perfmodel.files import write_atomic

    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PerfmodelError(f"cannot write a figure to {str(path)!r}: give a .png or .svg file name")
    write_atomic(path, figure_bytes(fig, fmt))
    return path
