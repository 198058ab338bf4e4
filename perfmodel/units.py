"""Every human-readable number perfmodel prints, with one policy (a leaf module: it imports nothing).

The policy, stated once: a value is scaled to the largest prefix it reaches and printed with 4
significant digits (`9.408 k`, `3.052 MiB`, `19.5 TFLOP/s`); a scaled value of 10,000 or more is
printed whole (`1555 GB/s`, bandwidths stay in GB/s so tables compare). Decimal prefixes are SI's
(`k` for kilo); byte sizes take binary prefixes (KiB = 1024 B). Exact integers below 1000 print as
integers. Also the shared arithmetic helpers `ceil_div` and `numel`, and the `Shape` alias.
"""

from __future__ import annotations

import math

Shape = tuple[int, ...]

DIGITS = 4
"""Significant digits of every scaled number."""

SI_PREFIXES = (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
BINARY_PREFIXES = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for integers, exactly."""
    return -(-a // b)


def numel(shape: Shape | None) -> int:
    """Elements of a tensor of `shape`: 1 for a scalar (), 0 for an unknown shape (None)."""
    return math.prod(shape) if shape else (1 if shape == () else 0)


def number(value: float) -> str:
    """4 significant digits, or the whole number from 10,000 up (no exponent notation)."""
    if abs(value) >= 9999.5:  # would round to 5 digits: print it whole
        return f"{value:.0f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{DIGITS}g}"


def _prefixed(value: float, steps: tuple[tuple[str, float], ...], unit: str) -> str:
    """`value` in the largest step it reaches (`steps` largest first, each a full unit), else in `unit`."""
    for label, scale in steps:
        if abs(value) >= scale:
            return f"{number(value / scale)} {label}".rstrip()
    return f"{number(value)} {unit}".rstrip()


def si(value: float, unit: str = "") -> str:
    """Counts with SI prefixes: 1234567 -> '1.235 M', 9408 MACs -> '9.408 kMAC'; below 1000 as is."""
    return _prefixed(value, tuple((p + unit, s) for p, s in SI_PREFIXES), unit)


def binary(nbytes: float) -> str:
    """Bytes with binary prefixes: 1536 -> '1.5 KiB', 25165824 -> '24 MiB'."""
    return _prefixed(nbytes, BINARY_PREFIXES, "B")


def flop_rate(value: float, dtype: str | None = None) -> str:
    """19.5e12 -> '19.5 TFLOP/s'; int8 rates read 'TOP/s'."""
    op = "OP/s" if dtype == "int8" else "FLOP/s"
    return _prefixed(value, tuple((p + op, s) for p, s in SI_PREFIXES[1:]), op)


def byte_rate(value: float) -> str:
    """1555e9 -> '1555 GB/s', 3.35e12 -> '3350 GB/s' (GB/s from 1 GB/s up, so tables compare)."""
    return _prefixed(value, (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)), "B/s")


def frequency(value: float) -> str:
    """1e9 -> '1 GHz', 7e8 -> '700 MHz'."""
    return _prefixed(value, (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)), "Hz")


def seconds(value: float) -> str:
    """Durations from ns to s: 3.2e-6 -> '3.2 us'."""
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale:
            return f"{number(value / scale)} {unit}"
    return f"{number(value / 1e-9)} ns"


def printable(text: str | bytes) -> str:
    """`text` safe to print on one line: control characters (newlines, terminal escapes) and other
    unprintables written as Python escapes ('\\n', '\\x1b'), so a name can never break a table or a
    one-line error."""
    if isinstance(text, bytes):  # protobuf hands back invalid UTF-8 as bytes
        text = text.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def joules(value: float) -> str:
    """Energy from pJ to J: 3.2e-6 -> '3.2 uJ'."""
    for scale, unit in ((1, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ")):
        if abs(value) >= scale:
            return f"{number(value / scale)} {unit}"
    return f"{number(value / 1e-12)} pJ"


def shape(dims: Shape) -> str:
    """(1, 3, 224, 224) -> '1x3x224x224'; () -> 'scalar'."""
    return "x".join(map(str, dims)) if dims else "scalar"
