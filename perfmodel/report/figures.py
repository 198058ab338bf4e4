"""The report's own figure: the batch sweep (the roofline figure is perfmodel.plots')."""

from __future__ import annotations

from typing import Any, Sequence


def batch_figure(model: str, entries: Sequence[dict[str, Any]]):
    """Left: predicted time per image vs batch, one line per hardware, filled markers where the model
    is compute-bound. Right: model intensity vs batch with each hardware's ridge point: the bound
    flips where the intensity line crosses a ridge (per layer, so the crossing is gradual)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)  # fixed: layout engines are slow
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    batches = [p["batch"] for p in entries[0]["points"]]
    for k, entry in enumerate(entries):
        color = f"C{k % 10}"
        per_image = [p["time_per_image_s"] * 1e3 for p in entry["points"]]
        left.plot(batches, per_image, color=color, label=entry["hw"])
        for b, t, p in zip(batches, per_image, entry["points"]):
            left.plot(b, t, "o", color=color, markerfacecolor=color if p["bound"] == "compute" else "white")
        right.axhline(entry["ridge_point"], color=color, linestyle=":", label=f"ridge of {entry['hw']}")
    right.plot(batches, [p["intensity"] for p in entries[0]["points"]], "k-o", label="model intensity")
    for ax, ylabel in ((left, "predicted time per image (ms)"), (right, "FLOP/byte")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=7)
    left.set_title(f"{model}: time per image (filled: compute-bound)", fontsize=10)
    right.set_title(f"{model}: arithmetic intensity vs batch", fontsize=10)
    return fig
