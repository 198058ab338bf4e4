"""The Pareto front of a sweep: per (model, batch), the points no other point beats.

A point is on the front when no other point of the same model and batch is at least as good in
latency, energy and on-chip bytes and better in one (energy is left out where the spec has none).
"""

from __future__ import annotations

from typing import Any, Sequence


def _objectives(row: dict[str, Any]) -> tuple[float, ...]:
    energy = row.get("energy_J")
    return (float(row["latency_s"]), float(energy) if energy not in ("", None) else 0.0, float(row["on_chip_bytes"]))


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a is at least as good as b everywhere and better somewhere (smaller is better)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def mark_pareto(rows: Sequence[dict[str, Any]]) -> None:
    """Set row["pareto"] to "true"/"false" in place (rows without a latency are never on the front).

    Sorted by the objectives, a point can only be dominated by one before it, and only a point of the
    front so far needs checking: O(n x front size), not O(n^2)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        row["pareto"] = "false"
        if row.get("latency_s") not in ("", None):
            groups.setdefault((row["model"], str(row["batch"])), []).append(row)
    for members in groups.values():
        ranked = sorted(members, key=_objectives)
        front: list[tuple[float, ...]] = []
        for row in ranked:
            point = _objectives(row)
            if not any(dominates(f, point) for f in front):
                front.append(point)
                row["pareto"] = "true"
        # equal points: a later copy of a front point is not dominated either (same objectives)
