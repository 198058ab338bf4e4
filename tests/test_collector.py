"""The collector paused over an analysis (perfmodel.collector): back on after, nothing young left
for it to walk, and cyclic garbage made inside still freed by a full collection."""

from __future__ import annotations

import gc
import weakref

from perfmodel.collector import collector_paused


class _Node:
    pass


def test_the_collector_is_back_on_and_what_lives_on_is_old() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        kept = [[k] for k in range(10_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100  # the 10,000 lists are not waiting in the young generation
    assert gc.is_tracked(kept[0]) and len(kept) == 10_000


def test_cyclic_garbage_made_inside_is_freed_by_a_full_collection() -> None:
    with collector_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is not None  # a cycle: refcounts alone never free it
    gc.collect()
    assert gone() is None


def test_nested_pauses_leave_it_as_they_found_it() -> None:
    gc.disable()
    try:
        with collector_paused():
            with collector_paused():
                pass
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
