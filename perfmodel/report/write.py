"""Write a built report into a folder: report.md, report.html, report.json and every plot as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

from perfmodel.errors import PerfmodelError
from perfmodel.export import json_text
from perfmodel.files import write_atomic
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
             "report.json": json_text(report.data) + "\n"}
    for plot in report.plots:
        files[f"{plot.name}.png"] = plot.png
        files[f"{plot.name}.svg"] = plot.svg
    written = []
    for name, data in files.items():  # each file atomically: a failed run keeps the previous report's
        written.append(folder / name)
        write_atomic(written[-1], data)
    return written
