"""The report as one standalone HTML file: inline CSS, plots embedded, no script, no external link.

Roofline plots (hundreds of points) are embedded as base64 PNG `<img>`; the batch-sweep line plots
as inline SVG. The page opens offline and from any folder.
"""

from __future__ import annotations

import base64
import html

from tabulate import tabulate

from perfmodel.report.build import Plot, Report
from perfmodel.report.document import Block, Heading, Image, Paragraph, Table, blocks

INLINE_SVG_SECTIONS = ("batch_sweep",)

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; }
th { background: #eee; }
figure { margin: 1em 0; }
figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
"""


def embed(plot: Plot) -> str:
    """Inline SVG (its XML prolog dropped) for line plots, a base64 PNG data URI otherwise."""
    alt = html.escape(plot.title)
    if plot.section in INLINE_SVG_SECTIONS:
        return plot.svg[plot.svg.index("<svg"):]
    data = base64.b64encode(plot.png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{alt}">'


def render_block(block: Block, plots: dict[str, Plot]) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        return tabulate(block.rows, block.headers, tablefmt="html", disable_numparse=True, colalign=block.colalign)
    if isinstance(block, Image):
        return f"<figure>{embed(plots[block.plot])}<figcaption>{html.escape(block.title)}</figcaption></figure>"
    raise TypeError(f"unknown block {block!r}")


def render(report: Report) -> str:
    plots = {p.name: p for p in report.plots}
    title = html.escape("perfmodel report: " + ", ".join(report.data["meta"]["models"]))
    body = "\n".join(render_block(b, plots) for b in blocks(report.data))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
