"""Write a built report into a folder: report.md, report.html, report.json and every plot as PNG and SVG."""

from __future__ import annotations

import json
from pathlib import Path

from perfmodel.errors import PerfmodelError
from perfmodel.report import html, markdown
from perfmodel.report.build import Report


def write_report(report: Report, folder: str | Path) -> list[Path]:
    """Create `folder` if needed and write every file; returns the paths written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PerfmodelError(f"cannot create report folder {str(folder)!r}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise PerfmodelError(f"report folder {str(folder)!r} is not a directory")
    files = {"report.md": markdown.render(report), "report.html": html.render(report),
             "report.json": json.dumps(report.data, indent=2, allow_nan=False) + "\n"}
    written = []
    for name, text in files.items():
        written.append(folder / name)
        written[-1].write_text(text, encoding="utf-8")
    for plot in report.plots:
        written.append(folder / f"{plot.name}.png")
        written[-1].write_bytes(plot.png)
        written.append(folder / f"{plot.name}.svg")
        written[-1].write_text(plot.svg, encoding="utf-8")
    return written
