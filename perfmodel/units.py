"""Human-readable numbers: SI prefixes for counts and rates, binary prefixes for bytes."""

from __future__ import annotations

SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """1234567 -> '1.23 M'; exact integers below 1000 stay as they are."""
    for scale, prefix in SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    if float(value).is_integer():
        return f"{int(value)} {unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def binary(nbytes: float, digits: int = 3) -> str:
    """Bytes with binary prefixes: 1536 -> '1.5 KiB'."""
    for power, prefix in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(nbytes) >= 1024**power:
            return f"{nbytes / 1024**power:.{digits}g} {prefix}"
    return f"{nbytes:.0f} B"


def seconds(value: float, digits: int = 3) -> str:
    """Durations from ns to s: 3.2e-6 -> '3.2 us'."""
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {unit}"
    return f"{value / 1e-9:.{digits}g} ns"


def shape(dims: tuple[int, ...]) -> str:
    return "x".join(map(str, dims)) if dims else "scalar"
