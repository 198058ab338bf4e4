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
