"""Facts about this machine the OS reports (CPU name, cores, free memory, cache sizes), and the
reading of a working-set sweep into cache levels. No timing here."""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path

from perfmodel.hardware import CacheLevel

KiB = 1 << 10
MiB = 1 << 20


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory free now (a large figure where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _parse_size(text: str) -> int | None:
    text = text.strip().upper()
    scale = {"K": KiB, "M": MiB, "G": 1 << 30}.get(text[-1:], 1)
    digits = text.rstrip("KMGB").strip()
    return int(digits) * scale if digits.isdigit() else None


def os_cache_levels(sysfs_root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> tuple[list[tuple[str, int]], str]:
    """Data/unified cache levels of cpu0 as (name, size in bytes), innermost first, and where from."""
    levels: list[tuple[int, str, int]] = []
    root = Path(sysfs_root)
    try:
        for index in sorted(root.glob("index*")):
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = int((index / "level").read_text().strip())
            size = _parse_size((index / "size").read_text())
            if size:
                levels.append((level, f"L{level}" + ("d" if kind == "Data" else ""), size))
    except (OSError, ValueError):
        levels = []
    if levels:
        return [(name, size) for _, name, size in sorted(levels)], "sysfs"
    found = []
    for level, key in ((1, "SC_LEVEL1_DCACHE_SIZE"), (2, "SC_LEVEL2_CACHE_SIZE"), (3, "SC_LEVEL3_CACHE_SIZE"),
                       (4, "SC_LEVEL4_CACHE_SIZE")):
        try:
            size = os.sysconf(key)
        except (ValueError, OSError, AttributeError):
            continue
        if size and size > 0:
            found.append((f"L{level}" + ("d" if level == 1 else ""), int(size)))
    return (found, "sysconf") if found else ([], "none")


def sweep_steps(sizes: list[int], bandwidths: list[float], drop: float = 0.8) -> list[int]:
    """Working-set sizes after which the read bandwidth steps down: a cache level's edge.

    A step after `sizes[i]` means every larger size reads slower than `drop` x `bandwidths[i]`
    (a dip at one size, from a noisy neighbour, is not a step; pass the best repeats, since noise
    only ever slows a run down). A fall spread over consecutive sizes is one step, reported at the
    size before it starts. The last two sizes cannot start a step: nothing would confirm it.
    """
    steps: list[int] = []
    previous = -2
    for i in range(len(sizes) - 2):
        if max(bandwidths[i + 1:]) < drop * bandwidths[i]:
            if i != previous + 1:
                steps.append(sizes[i])
            previous = i
    return steps


def cache_bandwidths(levels: list[tuple[str, int]], sweep: list[tuple[int, float]]) -> tuple[CacheLevel, ...]:
    """Each level with the best sweep bandwidth among the sizes that fit it (at most half of it)
    and not the level inside it."""
    out = []
    inner = 0
    for name, size in levels:
        inside = [bw for s, bw in sweep if inner < s <= size // 2]
        out.append(CacheLevel(name=name, size_bytes=size, bandwidth=round_figure(max(inside)) if inside else None))
        inner = size
    return tuple(out)


def round_figure(x: float, digits: int = 4) -> float:
    """`x` to `digits` significant digits, so the written spec reads 97.41 GFLOPS, not 97.4123..."""
    if x <= 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits - 1}e}")
