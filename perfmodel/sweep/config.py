"""A sweep file (TOML) and the design points it names.

    base = "seed-npu"            # a preset, or a spec file (a path relative to the sweep file)
    models = ["resnet50"]        # built-in names or .onnx files (relative to the sweep file)
    batch = [1, 8]               # optional, default [1]
    dtype = "fp32"               # optional
    fusion = "inference"         # optional: none | inference

    [grid]                       # spec keys exactly as written in a spec, each with a list of values
    mac_rows = [8, 16, 32]
    weight_buffer_KiB = [64, 256]
    dataflow = ["weight-stationary", "output-stationary"]

or, instead of [grid], `samples = N` and `seed = S` at the top and a [range] table of [low, high]
bounds per key (integers drawn as integers, numbers as numbers) or a list to choose from. A key is
looked for in [accelerator] first, then at the top of the spec; a quantity given in another unit in
the base spec (weight_buffer_KiB over weight_buffer_bytes) replaces it. Every error is one line
naming the file and the key.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from perfmodel.errors import PerfmodelError
from perfmodel.fusion import POLICIES
from perfmodel.hardware.read import SPEC_LIMIT, parse_toml, spec_data, spec_from_dict
from perfmodel.hardware.spec import UNITS_OF_KIND, HardwareSpec
from perfmodel.record import DTYPE_BYTES

TOP_KEYS = ("base", "models", "batch", "dtype", "fusion", "grid", "range", "samples", "seed")
MAX_POINTS = 10_000_000
"""A sweep of more points than this is surely a typo in the grid."""


@dataclass(frozen=True)
class Sweep:
    path: Path
    base_label: str
    base: dict[str, Any]  # the base spec as parsed TOML
    models: tuple[str, ...]
    batches: tuple[int, ...]
    dtype: str
    fusion: str
    keys: tuple[str, ...]  # the swept spec keys, in the file's order
    points: tuple[tuple[Any, ...], ...]  # one value per key, per design point

    def spec(self, values: tuple[Any, ...]) -> HardwareSpec:
        """The base spec with one point's values in place (validated like any spec file)."""
        data = apply(self.base, dict(zip(self.keys, values)))
        return spec_from_dict(data, label=f"{self.path.name} point {dict(zip(self.keys, values))}",
                              default_name="sweep-point")


def _fail(path: Path, key: str, why: str) -> PerfmodelError:
    return PerfmodelError(f"{path}: key '{key}': {why}")


def apply(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with each override in [accelerator] (or at the top level where the key lives there)."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in overrides.items():
        table = data["accelerator"] if "accelerator" in data and (key in data["accelerator"] or key not in data) \
            else data
        for other in _same_quantity(key):
            table.pop(other, None)
        table[key] = value
    return data


def _same_quantity(key: str) -> list[str]:
    """Other spellings of the same quantity in other units: weight_buffer_KiB -> weight_buffer_bytes, ..."""
    for units in UNITS_OF_KIND.values():
        for unit in units:
            if key.endswith("_" + unit):
                stem = key[: -len(unit) - 1]
                return [f"{stem}_{u}" for u in units if u != unit]
    return []


def load_sweep(path_text: str) -> Sweep:
    from perfmodel.files import read_regular

    path = Path(path_text)
    raw = read_regular(path, str(path), SPEC_LIMIT)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PerfmodelError(f"{path}: not UTF-8 text, so not a TOML sweep file") from None
    data = parse_toml(text, str(path))
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(path, key, f"unknown key; a sweep file has {', '.join(TOP_KEYS)}")
    if "base" not in data or not isinstance(data["base"], str):
        raise _fail(path, "base", "required: a preset name or a spec file path")
    base_ref = data["base"]
    if base_ref.endswith(".toml") or "/" in base_ref:
        base_ref = str((path.parent / base_ref))
    base, label = spec_data(base_ref)
    spec_from_dict(base, label=label)  # the base itself must be a valid spec
    if "accelerator" not in base:
        raise _fail(path, "base", f"{label} has no [accelerator] section: a sweep explores accelerators")
    models = data.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise _fail(path, "models", "required: a non-empty list of model names or .onnx paths")
    models = tuple(m if not m.endswith(".onnx") else str(path.parent / m) for m in models)
    batches = data.get("batch", [1])
    if not isinstance(batches, list) or not batches or not all(
            isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in batches):
        raise _fail(path, "batch", "a non-empty list of positive integers")
    dtype = data.get("dtype", "fp32")
    if dtype not in DTYPE_BYTES:
        raise _fail(path, "dtype", f"one of {', '.join(DTYPE_BYTES)}")
    fusion = data.get("fusion", "inference")
    if fusion not in POLICIES:
        raise _fail(path, "fusion", f"one of {', '.join(POLICIES)}")
    if ("grid" in data) == ("samples" in data):
        raise _fail(path, "grid", "give a [grid] table, or samples = N with a [range] table (one of the two)")
    if "grid" in data:
        keys, points = _grid(path, data["grid"])
    else:
        keys, points = _samples(path, data)
    return Sweep(path, label, base, models, tuple(batches), dtype, fusion, keys, points)


def _plain(value: Any) -> Any:
    """TOML's decimals as floats (the repr of a float is the decimal written: 0.98 stays 0.98)."""
    return float(value) if isinstance(value, Decimal) else value


def _grid(path: Path, grid: Any) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    if not isinstance(grid, dict) or not grid:
        raise _fail(path, "grid", "a table of spec keys, each with a list of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise _fail(path, f"grid.{key}", "a non-empty list of values")
    grid = {key: [_plain(v) for v in values] for key, values in grid.items()}
    count = 1
    for values in grid.values():
        count *= len(values)
    if count > MAX_POINTS:
        raise _fail(path, "grid", f"{count:,} points: over {MAX_POINTS:,}")
    return tuple(grid), tuple(itertools.product(*grid.values()))


def _samples(path: Path, data: dict[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    samples, seed, bounds = data.get("samples"), data.get("seed", 0), data.get("range")
    if not isinstance(samples, int) or isinstance(samples, bool) or not 0 < samples <= MAX_POINTS:
        raise _fail(path, "samples", f"a positive integer up to {MAX_POINTS:,}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(path, "seed", "an integer")
    if not isinstance(bounds, dict) or not bounds:
        raise _fail(path, "range", "a table of spec keys, each [low, high] or a list of choices")
    rng = random.Random(seed)
    draws = []
    for key, spec in bounds.items():
        if not isinstance(spec, list) or not spec:
            raise _fail(path, f"range.{key}", "[low, high] or a list of choices")
        draws.append((key, [_plain(v) for v in spec]))
    points = []
    for _ in range(samples):
        point = []
        for key, spec in draws:
            numeric = len(spec) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec)
            if numeric and all(isinstance(v, int) for v in spec):
                point.append(rng.randint(min(spec), max(spec)))
            elif numeric:
                point.append(rng.uniform(float(min(spec)), float(max(spec))))
            else:
                point.append(rng.choice(spec))
        points.append(tuple(point))
    return tuple(bounds), tuple(points)
