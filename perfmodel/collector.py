"""Python's cyclic garbage collector paused over work whose objects all live on (or die by refcount).

An analysis allocates a few objects per node (nodes, shapes, records, the JSON rows) and frees almost
none until it ends, and none of them form cycles: each pass of the collector over them finds nothing
to free (a twentieth of analyzing a 50,000-node graph, at Python's default thresholds a third).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off inside; after, what was allocated inside and lives on is moved to the oldest
    generation unscanned (gc.freeze, then gc.unfreeze), so no later young-generation pass walks it.
    Any cyclic garbage made inside is freed by the next full collection, as any old object's."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
