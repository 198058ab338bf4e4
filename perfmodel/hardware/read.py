"""Read and validate hardware spec files (TOML): presets by name, user files by path.

Every error is one line naming the file and the field (the schema: `perfmodel.hardware`).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from perfmodel.accel.dataflow import DATAFLOWS
from perfmodel.errors import PerfmodelError
from perfmodel.hardware.spec import (
    EFFICIENCY_CLASSES, PRESET_DIR, RATE_UNITS, UNITS_OF_KIND, WEIGHT_LOADS, AcceleratorSpec, CacheLevel, Efficiency,
    EnergySpec, HardwareSpec,
)
from perfmodel.record import DTYPE_BYTES


MAX_COUNT = 2**31 - 1
"""Largest count (MAC rows, cores) a spec may give."""
MAX_QUANTITY = 1e30
"""Largest quantity in base units (bytes/s, Hz, bytes, FLOP/s): far past any machine, far below overflow."""


def decimal_of(x: int | float | Decimal) -> Decimal:
    """A number as a decimal: Decimal and int as they are, a float as its shortest repr."""
    if isinstance(x, (Decimal, int)):
        return Decimal(x)
    return Decimal(repr(float(x)))


def list_presets() -> list[str]:
    """Names of the built-in specs (stems of perfmodel/hw/*.toml), sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _preset_path(name: str) -> Path | None:
    for stem in list_presets():
        if _norm(stem) == _norm(name):
            return PRESET_DIR / f"{stem}.toml"
    return None


def _presets_hint() -> str:
    return f"presets: {', '.join(list_presets())}"


def _resolve(name_or_path: str | Path) -> tuple[Path, str]:
    """(file, label) of a preset name (`a100`, `SEED_NPU`) or a spec file path (`my-cpu.toml`)."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.lower().endswith(".toml")
    if not looks_like_path:
        preset = _preset_path(text)
        if preset is not None:
            return preset, preset.name
        if not Path(text).is_file():
            raise PerfmodelError(
                f"unknown hardware {text!r}; {_presets_hint()} (or give the path of a .toml spec)"
            )
    path = Path(text).expanduser()
    if not path.exists():
        raise PerfmodelError(f"no such hardware spec file {text!r}; {_presets_hint()}")
    if path.is_dir():
        raise PerfmodelError(f"{text!r} is a directory, not a .toml hardware spec")
    return path, text


def load_spec(name_or_path: str | Path) -> HardwareSpec:
    """A preset by name (`a100`, `SEED_NPU`) or a spec file by path (`my-cpu.toml`)."""
    path, label = _resolve(name_or_path)
    return _load_file(path, label=label)


def spec_data(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a preset or spec file (not yet validated) and its label: what a sweep edits."""
    path, label = _resolve(name_or_path)
    return _read_toml(path, label), label


SPEC_LIMIT = 1 << 20
"""Bytes a hardware spec file may have: a spec is a page of TOML."""


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """TOML with floats read as the decimals they are written; one-line errors, nesting bounded."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PerfmodelError(f"{label}: invalid TOML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise PerfmodelError(f"{label}: invalid TOML: nested too deeply") from None


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    from perfmodel.files import read_regular

    raw = read_regular(path, label, SPEC_LIMIT)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PerfmodelError(f"{label}: not UTF-8 text, so not a TOML hardware spec") from None
    return parse_toml(text, label)


def _load_file(path: Path, label: str) -> HardwareSpec:
    return spec_from_dict(_read_toml(path, label), label=label, default_name=path.stem, path=path.resolve())


def spec_from_toml(text: str, label: str = "<spec>", default_name: str = "custom") -> HardwareSpec:
    """Parse and validate spec text; `label` names the file in errors."""
    return spec_from_dict(parse_toml(text, label), label=label, default_name=default_name)


def spec_from_dict(data: Mapping[str, Any], label: str = "<spec>", default_name: str = "custom",
                   path: Path | None = None) -> HardwareSpec:
    """Build and validate a spec from parsed TOML (a dict); `label` names the file in errors.

    Numbers may be int, float or Decimal (what `tomllib.loads(text, parse_float=Decimal)` gives, so
    that `17.12` in GBps is read as exactly 17.12e9).
    """
    return _Reader(label).spec(data, default_name, path)


class _Reader:
    """Validation with one-line errors that name the file and the field."""

    def __init__(self, label: str):
        self.label = label

    def fail(self, msg: str) -> PerfmodelError:
        return PerfmodelError(f"{self.label}: {msg}")

    # -- values ------------------------------------------------------------------------------------

    @staticmethod
    def _show(value: Any) -> str:
        if isinstance(value, bool):
            return f"{str(value).lower()} (a boolean)"
        if isinstance(value, str):
            hint = "; write the number alone, the unit is in the key name" if any(c.isdigit() for c in value) else ""
            return f"{value!r} (a string{hint})"
        if isinstance(value, dict):
            return "a table"
        if isinstance(value, list):
            return "an array"
        if isinstance(value, float):
            return repr(value)
        return str(value)  # int, Decimal

    def positive_number(self, fld: str, value: Any) -> int | float | Decimal:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_QUANTITY:
            raise self.fail(f"field '{fld}' is {str(value)[:20]}... ({len(str(value))} digits): too large")
        if (isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not math.isfinite(value)
                or value <= 0):
            raise self.fail(f"field '{fld}' must be a positive number, got {self._show(value)}")
        return value

    def positive_int(self, fld: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(f"field '{fld}' must be a positive integer, got {self._show(value)}")
        if value > MAX_COUNT:
            raise self.fail(f"field '{fld}' is {str(value)[:20]}...: over {MAX_COUNT:,}, surely a mistake")
        return value

    def converted(self, fld: str, value: Decimal) -> float:
        """A quantity in base units as a float: still finite and positive after the conversion
        (1e-400 underflows to 0, a 400-digit number overflows)."""
        try:
            result = float(value)
        except OverflowError:
            result = math.inf
        if not math.isfinite(result) or result <= 0 or result > MAX_QUANTITY:
            raise self.fail(f"field '{fld}' = {str(value)[:24]} is out of range once in base units "
                            f"(must be > 0 and at most {MAX_QUANTITY:.0e})")
        return result

    def string(self, fld: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"field '{fld}' must be a non-empty string, got {self._show(value)}")
        return value

    def boolean(self, fld: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"field '{fld}' must be true or false, got {self._show(value)}")
        return value

    def dtype(self, fld: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(f"field '{fld}' must be a dtype name, got {self._show(value)}")
        if value not in DTYPE_BYTES:
            raise self.fail(f"field '{fld}': unknown dtype {value!r}; choose one of {', '.join(DTYPE_BYTES)}")
        return value

    def table(self, fld: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"field '{fld}' must be a table, got {self._show(value)}")
        return value

    # -- keys --------------------------------------------------------------------------------------

    def check_keys(self, table: Mapping[str, Any], prefix: str, plain: tuple[str, ...],
                   quantities: Mapping[str, str]) -> None:
        """Reject unknown keys: `plain` keys as is, `quantities` base -> kind take a unit suffix."""
        allowed = set(plain)
        for base, kind in quantities.items():
            allowed.update(f"{base}_{unit}" for unit in UNITS_OF_KIND[kind])
        for key in table:
            if key in allowed:
                continue
            where = f"{prefix}{key}"
            for base in sorted(quantities, key=len, reverse=True):
                kind = quantities[base]
                choices = ", ".join(f"{base}_{u}" for u in UNITS_OF_KIND[kind])
                if key == base:
                    raise self.fail(f"field '{where}' needs a unit in its name: one of {choices}")
                if key.startswith(base + "_"):
                    unit = key[len(base) + 1:]
                    raise self.fail(f"field '{where}': {unit!r} is not a {kind} unit; use one of {choices}")
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise self.fail(f"unknown field '{where}'{hint}")

    def quantity(self, table: Mapping[str, Any], prefix: str, base: str, kind: str,
                 required: bool) -> float | None:
        """The value of `<base>_<unit>` in base units (bytes/s, Hz, bytes, FLOP/s)."""
        units = UNITS_OF_KIND[kind]
        given = [u for u in units if f"{base}_{u}" in table]
        if len(given) > 1:
            both = " and ".join(f"'{prefix}{base}_{u}'" for u in given)
            raise self.fail(f"fields {both} give the same quantity twice; keep one")
        if not given:
            if required:
                choices = ", ".join(f"{base}_{u}" for u in units)
                raise self.fail(f"missing field '{prefix}{base}_<unit>' (one of {choices})")
            return None
        key = f"{base}_{given[0]}"
        value = decimal_of(self.positive_number(prefix + key, table[key])) * units[given[0]]
        converted = self.converted(prefix + key, value)
        if kind == "size":
            if value != value.to_integral_value():
                raise self.fail(f"field '{prefix}{key}' must be a whole number of bytes, got {table[key]!r}")
            return int(value)
        return converted

    def required(self, table: Mapping[str, Any], prefix: str, key: str) -> Any:
        if key not in table:
            raise self.fail(f"missing field '{prefix}{key}'")
        return table[key]

    # -- sections ----------------------------------------------------------------------------------

    def spec(self, data: Mapping[str, Any], default_name: str, path: Path | None) -> HardwareSpec:
        is_accel = "accelerator" in data
        quantities = {} if is_accel else {"mem_bandwidth": "bandwidth", "clock": "frequency", "peak": "rate"}
        plain = ("name", "description", "source", "cores", "cache", "accelerator", "efficiency")
        if is_accel:
            for key in data:
                for base in ("mem_bandwidth", "clock", "peak"):
                    if key == base or key.startswith(base + "_"):
                        raise self.fail(
                            f"field '{key}' is derived from [accelerator] (peak = 2 x macs_per_cycle x clock, "
                            f"bandwidth = dram_bandwidth); remove it"
                        )
        self.check_keys(data, "", plain, quantities)

        name = self.string("name", data["name"]) if "name" in data else default_name
        description = self.string("description", self.required(data, "", "description"))
        source = self.string("source", self.required(data, "", "source"))
        cores = self.positive_int("cores", data["cores"]) if "cores" in data else None
        caches = self.caches(data.get("cache", []))

        if is_accel:
            acc = self.accelerator(self.table("accelerator", data["accelerator"]))
            peak = {dt: acc.peak_flops for dt in acc.dtypes}
            return HardwareSpec(name=name, description=description, source=source, peak_flops=peak,
                                mem_bandwidth=acc.dram_bandwidth, cores=cores, clock_hz=acc.clock_hz,
                                caches=caches, accelerator=acc, path=path)

        mem_bandwidth = self.quantity(data, "", "mem_bandwidth", "bandwidth", required=True)
        clock = self.quantity(data, "", "clock", "frequency", required=False)
        peak = self.peak_table(data)
        efficiency, run_us = None, 0.0
        if "efficiency" in data:
            table = dict(self.table("efficiency", data["efficiency"]))
            run_us = table.pop("run_us", 0)
            if isinstance(run_us, bool) or not isinstance(run_us, (int, float, Decimal)) or not 0 <= run_us <= 1e9:
                raise self.fail(f"field 'efficiency.run_us' must be a number of microseconds >= 0, got "
                                f"{self._show(run_us)}")
            efficiency = self.efficiency(table)
        return HardwareSpec(name=name, description=description, source=source, peak_flops=peak,
                            mem_bandwidth=mem_bandwidth, cores=cores, clock_hz=clock, caches=caches,
                            accelerator=None, path=path, efficiency=efficiency, run_us=float(run_us))

    def peak_table(self, data: Mapping[str, Any]) -> dict[str, float]:
        given = [u for u in RATE_UNITS if f"peak_{u}" in data]
        if not given:
            choices = ", ".join(f"[peak_{u}]" for u in RATE_UNITS)
            raise self.fail(f"missing field 'peak_<unit>': a table of FLOP/s per dtype, one of {choices}")
        if len(given) > 1:
            both = " and ".join(f"'peak_{u}'" for u in given)
            raise self.fail(f"fields {both} both give peaks; keep one table")
        key = f"peak_{given[0]}"
        table = self.table(key, data[key])
        if not table:
            raise self.fail(f"field '{key}' is empty; give at least one dtype, e.g. fp32 = ...")
        peak: dict[str, float] = {}
        for dtype, value in table.items():
            if dtype not in DTYPE_BYTES:
                raise self.fail(f"field '{key}.{dtype}': unknown dtype {dtype!r}; "
                                f"choose one of {', '.join(DTYPE_BYTES)}")
            peak[dtype] = self.converted(f"{key}.{dtype}", decimal_of(self.positive_number(f"{key}.{dtype}", value))
                                         * RATE_UNITS[given[0]])
        return peak

    def caches(self, value: Any) -> tuple[CacheLevel, ...]:
        if not isinstance(value, list):
            raise self.fail(f"field 'cache' must be an array of tables ([[cache]]), got {self._show(value)}")
        levels = []
        for i, entry in enumerate(value):
            prefix = f"cache[{i}]."
            if not isinstance(entry, dict):
                raise self.fail(f"field 'cache[{i}]' must be a table, got {self._show(entry)}")
            self.check_keys(entry, prefix, ("name",), {"size": "size", "bandwidth": "bandwidth"})
            name = self.string(prefix + "name", self.required(entry, prefix, "name"))
            size = self.quantity(entry, prefix, "size", "size", required=True)
            bandwidth = self.quantity(entry, prefix, "bandwidth", "bandwidth", required=False)
            levels.append(CacheLevel(name=name, size_bytes=int(size), bandwidth=bandwidth))
        return tuple(levels)

    def accelerator(self, t: Mapping[str, Any]) -> AcceleratorSpec:
        p = "accelerator."
        self.check_keys(
            t, p,
            ("mac_rows", "mac_cols", "macs_per_cycle", "dtype", "extra_dtypes", "double_buffering", "dataflow",
             "systolic", "weight_load", "accumulator_bits", "energy"),
            {"clock": "frequency", "weight_buffer": "size", "input_buffer": "size", "output_buffer": "size",
             "dram_bandwidth": "bandwidth"},
        )
        if "macs_per_cycle" in t:
            if "mac_rows" in t or "mac_cols" in t:
                raise self.fail(f"give '{p}mac_rows' and '{p}mac_cols', or '{p}macs_per_cycle' alone, not both")
            rows, cols = 1, self.positive_int(p + "macs_per_cycle", t["macs_per_cycle"])
        else:
            if "mac_rows" not in t and "mac_cols" not in t:
                raise self.fail(f"missing field '{p}mac_rows' and '{p}mac_cols' (or '{p}macs_per_cycle')")
            rows = self.positive_int(p + "mac_rows", self.required(t, p, "mac_rows"))
            cols = self.positive_int(p + "mac_cols", self.required(t, p, "mac_cols"))
        dtype = self.dtype(p + "dtype", self.required(t, p, "dtype"))
        extra_raw = t.get("extra_dtypes", [])
        if not isinstance(extra_raw, list):
            raise self.fail(f"field '{p}extra_dtypes' must be an array of dtype names, got {self._show(extra_raw)}")
        extra = tuple(self.dtype(f"{p}extra_dtypes[{i}]", v) for i, v in enumerate(extra_raw))
        if dtype in extra or len(set(extra)) != len(extra):
            raise self.fail(f"field '{p}extra_dtypes' repeats a dtype: {', '.join((dtype, *extra))}")
        dataflow = self.required(t, p, "dataflow")
        if dataflow not in DATAFLOWS:
            raise self.fail(f"field '{p}dataflow' must be one of {', '.join(map(repr, DATAFLOWS))}, "
                            f"got {self._show(dataflow)}")
        weight_load = t.get("weight_load", "overlapped")
        if weight_load not in WEIGHT_LOADS:
            raise self.fail(f"field '{p}weight_load' must be one of {', '.join(map(repr, WEIGHT_LOADS))}, "
                            f"got {self._show(weight_load)}")
        bits = self.positive_int(p + "accumulator_bits", t.get("accumulator_bits", 32))
        if bits % 8 or bits > 64:
            raise self.fail(f"field '{p}accumulator_bits' must be 8, 16, 24, 32, 40, 48, 56 or 64, got {bits}")
        energy = self.energy(self.table(p + "energy", t["energy"]), (dtype, *extra)) if "energy" in t else None
        return AcceleratorSpec(
            weight_load=weight_load, accumulator_bits=bits, energy=energy,
            mac_rows=rows,
            mac_cols=cols,
            clock_hz=self.quantity(t, p, "clock", "frequency", required=True),
            dtype=dtype,
            weight_buffer_bytes=self.quantity(t, p, "weight_buffer", "size", required=True),
            input_buffer_bytes=self.quantity(t, p, "input_buffer", "size", required=True),
            output_buffer_bytes=self.quantity(t, p, "output_buffer", "size", required=True),
            dram_bandwidth=self.quantity(t, p, "dram_bandwidth", "bandwidth", required=True),
            double_buffering=self.boolean(p + "double_buffering", self.required(t, p, "double_buffering")),
            dataflow=dataflow,
            systolic=self.boolean(p + "systolic", t.get("systolic", False)),
            extra_dtypes=extra,
        )

    def energy(self, t: Mapping[str, Any], dtypes: tuple[str, ...]) -> EnergySpec:
        """[accelerator.energy]: mac_pJ (a number, or a table per dtype), per-byte buffer and DRAM energies."""
        p = "accelerator.energy."
        per_byte = ("weight_buffer_pJ_per_byte", "input_buffer_pJ_per_byte", "output_buffer_pJ_per_byte",
                    "dram_pJ_per_byte")
        for key in t:
            if key not in ("mac_pJ", "static_mW", *per_byte):
                close = difflib.get_close_matches(key, ["mac_pJ", "static_mW", *per_byte], n=1, cutoff=0.6)
                hint = f" (did you mean '{p}{close[0]}'?)" if close else ""
                raise self.fail(f"unknown field '{p}{key}'{hint}")
        raw = self.required(t, p, "mac_pJ")
        if isinstance(raw, dict):
            mac = {}
            for dtype, value in raw.items():
                if dtype not in DTYPE_BYTES:
                    raise self.fail(f"field '{p}mac_pJ.{dtype}': unknown dtype {dtype!r}")
                mac[dtype] = self.converted(f"{p}mac_pJ.{dtype}",
                                            decimal_of(self.positive_number(f"{p}mac_pJ.{dtype}", value)))
            missing = [d for d in dtypes if d not in mac]
            if missing:
                raise self.fail(f"field '{p}mac_pJ' gives no energy for {', '.join(missing)}, which the array runs")
        else:
            value = self.converted(p + "mac_pJ", decimal_of(self.positive_number(p + "mac_pJ", raw)))
            mac = {d: value for d in dtypes}
        values = {k: self.converted(p + k, decimal_of(self.positive_number(p + k, self.required(t, p, k))))
                  for k in per_byte}
        static = t.get("static_mW", 0)
        if static:
            static = self.converted(p + "static_mW", decimal_of(self.positive_number(p + "static_mW", static)))
        return EnergySpec(mac_pJ=mac, static_mW=float(static), **values)

    def efficiency(self, t: Mapping[str, Any]) -> dict[str, Efficiency]:
        """[efficiency.<class>] tables: fixed_us, compute_scale, memory_scale (all >= 0), every class given."""
        out = {}
        for cls, table in t.items():
            if cls not in EFFICIENCY_CLASSES:
                raise self.fail(f"unknown field 'efficiency.{cls}'; the classes are {', '.join(EFFICIENCY_CLASSES)}")
            table = self.table(f"efficiency.{cls}", table)
            values = {}
            for key in ("fixed_us", "compute_scale", "memory_scale"):
                value = self.required(table, f"efficiency.{cls}.", key)
                if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not math.isfinite(value) \
                        or value < 0 or value > MAX_QUANTITY:
                    raise self.fail(f"field 'efficiency.{cls}.{key}' must be a number >= 0, got {self._show(value)}")
                values[key] = float(value)
            extra = set(table) - set(values)
            if extra:
                raise self.fail(f"unknown field 'efficiency.{cls}.{sorted(extra)[0]}'")
            out[cls] = Efficiency(**values)
        missing = [c for c in EFFICIENCY_CLASSES if c not in out]
        if missing:
            raise self.fail(f"field 'efficiency' lacks the classes {', '.join(missing)}")
        return out
