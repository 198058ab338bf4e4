"""The sweep's plot: latency against energy per design point, coloured by on-chip bytes, front ringed."""

from __future__ import annotations

from typing import Any, Sequence


def pareto_figure(rows: Sequence[dict[str, Any]], sweep):
    from matplotlib.figure import Figure

    timed = [r for r in rows if r["latency_s"] not in ("", None)]
    with_energy = all(r["energy_J"] not in ("", None) for r in timed)
    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot()
    for model, batch in dict.fromkeys((r["model"], str(r["batch"])) for r in timed):
        mine = [r for r in timed if r["model"] == model and str(r["batch"]) == batch]
        x = [float(r["latency_s"]) for r in mine]
        y = [float(r["energy_J"]) if with_energy else float(r["on_chip_bytes"]) for r in mine]
        c = [float(r["on_chip_bytes"]) / 2**10 for r in mine]
        points = ax.scatter(x, y, c=c, cmap="viridis", s=14, alpha=0.7)
        front = [(xi, yi) for xi, yi, r in zip(x, y, mine) if r["pareto"] == "true"]
        if front:
            fx, fy = zip(*sorted(front))
            ax.plot(fx, fy, "o", mfc="none", mec="red", ms=7, label=f"Pareto front: {model}, batch {batch}")
    if timed:
        fig.colorbar(points, ax=ax, label="on-chip buffers (KiB)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency per inference (s)")
    ax.set_ylabel("energy per inference (J)" if with_energy else "on-chip bytes")
    ax.set_title(f"{sweep.path.name}: {len(sweep.points):,} design points on {sweep.base_label}")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig
