"""Where the points run: this process, local worker processes (--jobs N), or a Dask cluster
(--scheduler tcp://HOST:8786). Work goes out in chunks so scheduling costs stay small next to the
chunk's work, and rows come back as each chunk finishes (in whatever order they finish)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Iterator, Sequence

from perfmodel.errors import PerfmodelError
from perfmodel.sweep.config import Sweep
from perfmodel.sweep.evaluate import evaluate


def chunks(indices: Sequence[int], size: int) -> list[list[int]]:
    return [list(indices[i:i + size]) for i in range(0, len(indices), size)]


def default_chunk(points: int, workers: int) -> int:
    """Points per task: a quarter of each worker's share, 32 to 2,000. Neighbouring grid points share
    most of their spec (the grid's last keys vary fastest), so a contiguous slab lets one worker's
    memoized tiling serve the whole slab instead of every worker searching every array shape."""
    return max(32, min(2000, -(-points // (4 * max(workers, 1)))))


def run(sweep: Sweep, indices: Sequence[int], jobs: int = 1, scheduler: str | None = None,
        chunk: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yield the rows of each finished chunk of `indices`."""
    workers = jobs if not scheduler else 4
    parts = chunks(indices, chunk or default_chunk(len(indices), workers))
    if scheduler:
        yield from _dask(sweep, parts, scheduler)
    elif jobs <= 1:
        for part in parts:
            yield evaluate(sweep, part)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(evaluate, sweep, part) for part in parts]
            for future in as_completed(futures):
                yield future.result()


def _dask(sweep: Sweep, parts: list[list[int]], scheduler: str) -> Iterator[list[dict[str, Any]]]:
    try:
        from dask.distributed import Client, as_completed as dask_completed
    except ImportError:
        raise PerfmodelError("--scheduler needs Dask distributed: pip install -e \".[cluster]\"") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise PerfmodelError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
    try:
        shared = client.scatter(sweep, broadcast=True)  # sent once, not with every chunk
        futures = client.map(evaluate, [shared] * len(parts), parts, pure=False)
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.close()
