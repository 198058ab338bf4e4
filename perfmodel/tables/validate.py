"""Tables of a validation: per layer (roofline, calibrated, measured), the fits, and the summary."""

from __future__ import annotations

from tabulate import tabulate

from perfmodel.units import seconds
from perfmodel.validate import TARGET_MEDIAN, TARGET_SHARE, TARGET_WITHIN, report_rows


def layer_table(result, tablefmt: str) -> str:
    rows = [[r["name"], r["op_type"], r["role"], seconds(r["bound_s"]), seconds(r["predicted_s"]),
             seconds(r["measured_s"]), f"{100 * r['error']:+.1f}", f"{100 * r['efficiency']:.3g}"]
            for r in report_rows(result)]
    heads = ["layer", "op", "role", "roofline", "calibrated", "measured", "error %", "efficiency %"]
    return tabulate(rows, heads, tablefmt=tablefmt, disable_numparse=True,
                    colalign=("left", "left", "left") + ("right",) * 5)


def fit_table(result, tablefmt: str) -> str:
    rows = [[cls, f"{f.compute_scale:.4g}", f"{f.memory_scale:.4g}", f.describe(), len(f.fitted_on)]
            for cls, f in result.fits.items()]
    return tabulate(rows, ["class", "a (x F/P)", "b (x B/W)", "achieved", "fitting shapes (role 'fit')"],
                    tablefmt=tablefmt, disable_numparse=True)


def summary(result, timing: str, threads: int | None = None) -> str:
    threads_text = f", {threads} thread(s)" if threads else ""
    head = (f"{result.model} on {result.hw} ({result.dtype}, batch {result.batch}{threads_text}); "
            f"{timing}; "
            f"calibrated time = a x FLOPs/peak + b x bytes/bandwidth per class")
    if result.skipped:
        head += f"\nnot timed (no kernel for their shape): {', '.join(result.skipped)}"
    held = len(result.held_out)
    if not held:
        return head + "\nno held-out layers: every shape was used for fitting (too few shapes to score)"
    verdict = "met" if result.target_met else "NOT met"
    return (f"{head}\nheld-out layers (not used for fitting): {held} of {len(result.checks)}\n"
            f"median |error| {100 * result.median_abs_error:.1f}%, 90th percentile {100 * result.p90_abs_error:.1f}%, "
            f"{100 * result.share_within:.0f}% within {100 * TARGET_WITHIN:.0f}%\n"
            f"target (median <= {100 * TARGET_MEDIAN:.0f}%, {100 * TARGET_SHARE:.0f}% of layers within "
            f"{100 * TARGET_WITHIN:.0f}%): {verdict}")


def runtime_rows(prediction, measured) -> list[dict]:
    """Per group: predicted (roofline) and measured seconds, and the error where both are known."""
    rows = []
    for lp in prediction.layers:
        group = lp.layer
        got = measured.group_s.get(group.name)
        rows.append({"group": group.name, "ops": group.op_label, "predicted_s": lp.time_s, "measured_s": got,
                     "error": (lp.time_s - got) / got if got and lp.time_s is not None else None})
    return rows


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def runtime_dict(prediction, measured) -> dict:
    rows = runtime_rows(prediction, measured)
    errors = [abs(r["error"]) for r in rows if r["error"] is not None]
    return {
        "model": prediction.model, "hw": prediction.hw.name, "runtime": measured.runtime, "runs": measured.runs,
        "predicted_s": prediction.total_s, "measured_wall_s": measured.wall_s,
        "measured_kernels_s": measured.kernel_sum_s,
        "end_to_end_error": (prediction.total_s - measured.wall_s) / measured.wall_s if measured.wall_s else None,
        "median_abs_error": _percentile(errors, 0.5), "p90_abs_error": _percentile(errors, 0.9),
        "kernels": len(measured.kernels), "unmatched_kernels": [k.name for k in measured.unmatched],
        "groups": rows,
    }


def runtime_text(prediction, measured, tablefmt: str) -> str:
    data = runtime_dict(prediction, measured)
    table = [[r["group"], r["ops"], seconds(r["predicted_s"]) if r["predicted_s"] is not None else "?",
              seconds(r["measured_s"]) if r["measured_s"] else "-", f"{100 * r['error']:+.1f}" if r["error"] is not None
              else ""] for r in data["groups"]]
    method = "calibrated" if prediction.calibrated else "roofline"
    body = tabulate(table, ["group", "ops", f"predicted ({method})", f"measured ({measured.runtime})", "error %"],
                    tablefmt=tablefmt, disable_numparse=True, colalign=("left", "left", "right", "right", "right"))
    pct = lambda x: f"{100 * x:.1f}%" if x is not None else "n/a"  # noqa: E731
    lines = [
        f"{data['model']} on {data['hw']} vs {measured.runtime} ({measured.runs} runs; kernel times median, "
        f"end to end best)",
        f"end to end: predicted {seconds(data['predicted_s'])}, measured {seconds(data['measured_wall_s'])} "
        f"(kernels {seconds(data['measured_kernels_s'])}): error {pct(data['end_to_end_error'])}",
        f"per group |error|: median {pct(data['median_abs_error'])}, 90th percentile {pct(data['p90_abs_error'])}; "
        f"{data['kernels']} kernels, every one counted once"
        + (f"; unmatched: {', '.join(data['unmatched_kernels'])}" if data["unmatched_kernels"] else ""),
    ]
    return body + "\n\n" + "\n".join(lines)
