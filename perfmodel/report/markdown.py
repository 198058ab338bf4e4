"""The report as Markdown (GitHub tables); plots are linked as the PNG files next to it."""

from __future__ import annotations

from tabulate import tabulate

from perfmodel.report.build import Report
from perfmodel.report.document import Block, Heading, Image, Paragraph, Table, blocks


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Table):
        rows = [[_cell(c) for c in row] for row in block.rows]
        return tabulate(rows, [_cell(h) for h in block.headers], tablefmt="github", disable_numparse=True,
                        colalign=block.colalign)
    if isinstance(block, Image):
        return f"![{block.title}]({block.plot}.png)"
    raise TypeError(f"unknown block {block!r}")


def render(report: Report) -> str:
    return "\n\n".join(render_block(b) for b in blocks(report.data)) + "\n"
