"""A table renderer for the per-layer tables, byte for byte what tabulate prints for the "simple" and
"github" formats with `disable_numparse=True` (tests/test_tables.py holds it to that), in linear
time: tabulate types every cell, which takes seconds on a 50,000-layer model.
"""

from __future__ import annotations

from typing import Sequence

MIN_PADDING = 2
"""Header cells get this many columns of room beyond their text, as tabulate gives them."""


def numbered(items: Sequence[object], top: int | None = None, key=None,
             schedule_order: bool = False) -> list[tuple[int, object]]:
    """(1-based index, item) of every item, or of the `top` with the largest `key` (largest first, or
    back in schedule order): the rows a --top table shows, numbered as in the full table."""
    rows = list(enumerate(items, 1))
    if top:
        rows = sorted(rows, key=lambda r: key(r[1]), reverse=True)[:top]
        if schedule_order:
            rows.sort(key=lambda r: r[0])
    return rows


def _pad(text: str, width: int, align: str) -> str:
    if align == "right":
        return text.rjust(width)
    if align == "center":
        return text.center(width)
    return text.ljust(width)


def render(rows: Sequence[Sequence[object]], headers: Sequence[str], tablefmt: str = "simple",
           colalign: Sequence[str] | None = None) -> str:
    """Rows under headers, columns as wide as their widest cell (headers + 2), aligned per `colalign`."""
    if not rows:  # tabulate aligns the headers of an empty table its own way: let it
        from tabulate import tabulate

        return tabulate([], list(headers), tablefmt=tablefmt, disable_numparse=True, colalign=colalign)
    cells = [[str(c) for c in row] for row in rows]
    heads = [str(h) for h in headers]
    align = list(colalign or ()) + ["left"] * (len(heads) - len(colalign or ()))
    widths = [len(h) + MIN_PADDING for h in heads]
    for row in cells:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    if tablefmt == "github":
        def line(row: Sequence[str]) -> str:
            return "| " + " | ".join(_pad(c, w, a) for c, w, a in zip(row, widths, align)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([line(heads), rule, *(line(row) for row in cells)])
    if tablefmt != "simple":
        raise ValueError(f"render: unsupported table format {tablefmt!r}")

    def plain(row: Sequence[str]) -> str:
        return "  ".join(_pad(c, w, a) for c, w, a in zip(row, widths, align)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([plain(heads), rule, *(plain(row) for row in cells)])
