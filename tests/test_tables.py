"""perfmodel.tables.render prints what tabulate prints (the reference), on random tables."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from perfmodel.tables.render import render

TEXT = st.text(alphabet="abc XYZ0123.,%-", min_size=0, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(TEXT.filter(lambda s: s.strip() == s and s), min_size=n, max_size=n),
    st.lists(st.lists(TEXT, min_size=n, max_size=n), min_size=0, max_size=6),
    st.lists(st.sampled_from(["left", "right"]), min_size=n, max_size=n),
    st.sampled_from(["simple", "github"]))))
def test_render_matches_tabulate(case) -> None:
    headers, rows, align, fmt = case
    rows = [[c.strip() for c in row] for row in rows]  # tabulate strips cell padding; ours are never padded
    assert render(rows, headers, fmt, align) == tabulate(rows, headers, tablefmt=fmt, disable_numparse=True,
                                                         colalign=align)


def test_the_analyze_table_is_unchanged() -> None:
    from perfmodel import tables
    from perfmodel.walk import analyze_model

    cost = analyze_model("resnet50")
    for fmt in ("simple", "github"):
        text = tables.layer_table(cost, None, fmt)
        rows = [line for line in text.splitlines()]
        assert len(rows) == len(cost.layers) + 2
