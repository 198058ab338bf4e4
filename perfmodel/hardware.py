"""Hardware specs: one TOML file per machine, one loader, presets in `perfmodel/hw/`.

The roofline model reads `HardwareSpec.peak_flops` and `mem_bandwidth`; the accelerator model reads
`HardwareSpec.accelerator`. `load_spec("a100")` finds a preset (file stem in perfmodel/hw/, case
and `-`/`_` insensitive); `load_spec("my-cpu.toml")` reads a user file, e.g. the output of
`python -m perfmodel calibrate -o my-cpu.toml`. `spec_to_toml(spec)` writes a spec back, and
`load_spec` reads that file to an equal spec (`spec_from_toml(text)` does the same for a string).

Spec file schema
----------------
Every number carries its unit in its key name: `<quantity>_<unit>`, e.g. `mem_bandwidth_GBps = 64`.
Values are plain TOML numbers (a string such as "64 GB/s" is rejected: the unit is in the key),
read as the decimal written: `clock_GHz = 0.98` is exactly 0.98e9 Hz.
Give each quantity once, in any one of its units:

    bandwidth   <q>_Bps, <q>_MBps, <q>_GBps, <q>_TBps    (decimal: 1 GBps = 1e9 bytes/s)
    frequency   <q>_Hz, <q>_MHz, <q>_GHz                  (decimal)
    size        <q>_bytes, <q>_KiB, <q>_MiB, <q>_GiB      (binary: 1 KiB = 1024 bytes; whole bytes)
    peak rate   [peak_FLOPS], [peak_GFLOPS], [peak_TFLOPS] tables, one number per dtype
                (operations/s; for int8 read "OPS": 1 TFLOPS of int8 = 1e12 int8 ops/s)

A processor (CPU, GPU) spec:

    name = "a100"                 # optional; defaults to the file's stem
    description = "..."           # required, one line
    source = "..."                # required: datasheet, paper, exercise, or `perfmodel calibrate`
    mem_bandwidth_GBps = 1555     # required: DRAM/HBM bandwidth
    cores = 108                   # optional, a positive integer (SMs for a GPU)
    clock_GHz = 1.41              # optional

    [peak_TFLOPS]                 # required: FLOP/s per dtype; dtypes are perfmodel's
    fp32 = 19.5                   #   fp32, fp16, bf16, int8 (see perfmodel.record)
    fp16 = 312

    [[cache]]                     # optional, repeated, innermost level first
    name = "L2"
    size_MiB = 40
    bandwidth_GBps = 5000         # optional

An accelerator spec replaces `mem_bandwidth_*`, `clock_*` and `[peak_*]` with one `[accelerator]`
table; its peak is derived, never typed twice: peak = 2 x macs_per_cycle x clock for `dtype` and
each of `extra_dtypes`, its memory bandwidth is `dram_bandwidth_*`, its clock the array's clock.

    [accelerator]
    mac_rows = 16                 # MAC array rows x cols; or `macs_per_cycle = 256` alone (rows = 1)
    mac_cols = 16
    clock_GHz = 1
    dtype = "fp32"                # the array's native dtype
    extra_dtypes = ["int8"]       # optional: dtypes it also runs at the same MAC rate
    weight_buffer_KiB = 256       # on-chip buffers (required, > 0)
    input_buffer_KiB = 64
    output_buffer_KiB = 64
    dram_bandwidth_GBps = 64
    double_buffering = true       # required: DRAM transfers overlap compute
    dataflow = "weight-stationary"   # required: "weight-stationary" or "output-stationary"
    systolic = false              # optional (default false): count array fill/drain cycles

Any missing required field, non-positive number, unknown key (typo), unknown dtype, wrong type or
wrong unit raises `PerfmodelError` with one line naming the file and the field. The commented preset
`perfmodel/hw/seed-npu.toml` shows the accelerator form, `perfmodel/hw/a100.toml` the processor form.
"""

from __future__ import annotations

import difflib
import math
import tomllib
import types
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, Mapping

from perfmodel.errors import PerfmodelError
from perfmodel.record import DTYPE_BYTES

PRESET_DIR = Path(__file__).resolve().parent / "hw"

# Unit suffix -> base units per unit (bytes/s, Hz, bytes, FLOP/s). A file's number is read as the
# decimal it is written as, times the scale, rounded once: `clock_GHz = 0.98` is exactly 0.98e9.
BANDWIDTH_UNITS: dict[str, int] = {"TBps": 10**12, "GBps": 10**9, "MBps": 10**6, "Bps": 1}
FREQUENCY_UNITS: dict[str, int] = {"GHz": 10**9, "MHz": 10**6, "Hz": 1}
SIZE_UNITS: dict[str, int] = {"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "bytes": 1}
RATE_UNITS: dict[str, int] = {"TFLOPS": 10**12, "GFLOPS": 10**9, "FLOPS": 1}

_KIND_UNITS: dict[str, Mapping[str, int]] = {
    "bandwidth": BANDWIDTH_UNITS,
    "frequency": FREQUENCY_UNITS,
    "size": SIZE_UNITS,
    "rate": RATE_UNITS,
}

DATAFLOWS = ("weight-stationary", "output-stationary")


# --------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class CacheLevel:
    """One level of a processor's memory hierarchy (or an on-chip memory)."""

    name: str
    size_bytes: int
    bandwidth: float | None = None  # bytes/s, when known


@dataclass(frozen=True)
class AcceleratorSpec:
    """A MAC array with on-chip buffers, as the accelerator model sees it."""

    mac_rows: int
    mac_cols: int
    clock_hz: float
    dtype: str
    weight_buffer_bytes: int
    input_buffer_bytes: int
    output_buffer_bytes: int
    dram_bandwidth: float  # bytes/s
    double_buffering: bool
    dataflow: str  # "weight-stationary" | "output-stationary"
    systolic: bool = False  # count fill/drain of the array
    extra_dtypes: tuple[str, ...] = ()  # dtypes also run at the same MAC rate

    @property
    def macs_per_cycle(self) -> int:
        return self.mac_rows * self.mac_cols

    @property
    def peak_macs(self) -> float:
        """MACs per second."""
        return self.macs_per_cycle * self.clock_hz

    @property
    def peak_flops(self) -> float:
        """2 FLOPs (multiply + add) per MAC per cycle."""
        return 2.0 * self.macs_per_cycle * self.clock_hz

    @property
    def dtypes(self) -> tuple[str, ...]:
        return (self.dtype, *self.extra_dtypes)

    @property
    def buffer_bytes(self) -> int:
        return self.weight_buffer_bytes + self.input_buffer_bytes + self.output_buffer_bytes


@dataclass(frozen=True)
class HardwareSpec:
    """A machine for the roofline (peak_flops, mem_bandwidth) and, if it has one, the accelerator model."""

    name: str
    description: str
    source: str
    peak_flops: Mapping[str, float]  # FLOP/s (ops/s for int8) per perfmodel dtype name
    mem_bandwidth: float  # bytes/s (DRAM bandwidth of an accelerator)
    cores: int | None = None
    clock_hz: float | None = None
    caches: tuple[CacheLevel, ...] = ()
    accelerator: AcceleratorSpec | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak_flops", types.MappingProxyType(dict(self.peak_flops)))
        object.__setattr__(self, "caches", tuple(self.caches))

    def __hash__(self) -> int:
        return hash((self.name, self.description, self.source, tuple(self.peak_flops.items()),
                     self.mem_bandwidth, self.cores, self.clock_hz, self.caches, self.accelerator))

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(self.peak_flops)

    def peak(self, dtype: str) -> float:
        """Peak FLOP/s for `dtype`; PerfmodelError if this spec gives none."""
        if dtype not in DTYPE_BYTES:
            raise PerfmodelError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
        try:
            return self.peak_flops[dtype]
        except KeyError:
            have = ", ".join(self.peak_flops) or "none"
            raise PerfmodelError(
                f"hardware {self.name!r} has no peak for dtype {dtype!r} (it gives: {have})"
            ) from None

    def ridge_point(self, dtype: str) -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline turns: peak / memory bandwidth."""
        return self.peak(dtype) / self.mem_bandwidth


# --------------------------------------------------------------------------------------------------
# Human units (shared by `hw show`, `hw list`, calibrate and reports)


def _num(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def _prefixed(x: float, steps: tuple[tuple[str, float], ...], unit: str) -> str:
    """x in the largest step it reaches (`steps` largest first), else in plain `unit`."""
    for prefix, scale in steps:
        if abs(x) >= scale:
            return f"{_num(x / scale)} {prefix}"
    return f"{_num(x)} {unit}"


def format_flops(x: float, dtype: str | None = None) -> str:
    """19.5e12 -> '19.5 TFLOP/s'; int8 rates read 'TOP/s'."""
    op = "OP/s" if dtype == "int8" else "FLOP/s"
    steps = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
    return _prefixed(x, tuple((prefix + op, scale) for prefix, scale in steps), op)


def format_bandwidth(x: float) -> str:
    """1555e9 -> '1555 GB/s', 3.35e12 -> '3350 GB/s' (GB/s from 1 GB/s up, so tables compare)."""
    return _prefixed(x, (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)), "B/s")


def format_bytes(n: float) -> str:
    """262144 -> '256 KiB', 25165824 -> '24 MiB' (binary prefixes)."""
    return _prefixed(n, (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)), "B")


def format_hz(x: float) -> str:
    """1e9 -> '1 GHz', 7e8 -> '700 MHz'."""
    return _prefixed(x, (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)), "Hz")


# --------------------------------------------------------------------------------------------------
# Loading


def _decimal(x: int | float | Decimal) -> Decimal:
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


def load_spec(name_or_path: str | Path) -> HardwareSpec:
    """A preset by name (`a100`, `SEED_NPU`) or a spec file by path (`my-cpu.toml`)."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.lower().endswith(".toml")
    if not looks_like_path:
        preset = _preset_path(text)
        if preset is not None:
            return _load_file(preset, label=preset.name)
        if not Path(text).is_file():
            raise PerfmodelError(
                f"unknown hardware {text!r}; {_presets_hint()} (or give the path of a .toml spec)"
            )
    path = Path(text).expanduser()
    if not path.exists():
        raise PerfmodelError(f"no such hardware spec file {text!r}; {_presets_hint()}")
    if path.is_dir():
        raise PerfmodelError(f"{text!r} is a directory, not a .toml hardware spec")
    return _load_file(path, label=text)


def _load_file(path: Path, label: str) -> HardwareSpec:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PerfmodelError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise PerfmodelError(f"{label}: not UTF-8 text, so not a TOML hardware spec") from None
    except tomllib.TOMLDecodeError as exc:
        msg = " ".join(str(exc).split())
        raise PerfmodelError(f"{label}: invalid TOML: {msg}") from None
    return spec_from_dict(data, label=label, default_name=path.stem, path=path.resolve())


def spec_from_toml(text: str, label: str = "<spec>", default_name: str = "custom") -> HardwareSpec:
    """Parse and validate spec text; `label` names the file in errors."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PerfmodelError(f"{label}: invalid TOML: {' '.join(str(exc).split())}") from None
    return spec_from_dict(data, label=label, default_name=default_name)


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
        if (isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not math.isfinite(value)
                or value <= 0):
            raise self.fail(f"field '{fld}' must be a positive number, got {self._show(value)}")
        return value

    def positive_int(self, fld: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(f"field '{fld}' must be a positive integer, got {self._show(value)}")
        return value

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
            allowed.update(f"{base}_{unit}" for unit in _KIND_UNITS[kind])
        for key in table:
            if key in allowed:
                continue
            where = f"{prefix}{key}"
            for base in sorted(quantities, key=len, reverse=True):
                kind = quantities[base]
                choices = ", ".join(f"{base}_{u}" for u in _KIND_UNITS[kind])
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
        units = _KIND_UNITS[kind]
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
        value = _decimal(self.positive_number(prefix + key, table[key])) * units[given[0]]
        if kind == "size":
            if value != value.to_integral_value():
                raise self.fail(f"field '{prefix}{key}' must be a whole number of bytes, got {table[key]!r}")
            return int(value)
        return float(value)

    def required(self, table: Mapping[str, Any], prefix: str, key: str) -> Any:
        if key not in table:
            raise self.fail(f"missing field '{prefix}{key}'")
        return table[key]

    # -- sections ----------------------------------------------------------------------------------

    def spec(self, data: Mapping[str, Any], default_name: str, path: Path | None) -> HardwareSpec:
        is_accel = "accelerator" in data
        quantities = {} if is_accel else {"mem_bandwidth": "bandwidth", "clock": "frequency", "peak": "rate"}
        plain = ("name", "description", "source", "cores", "cache", "accelerator")
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
        return HardwareSpec(name=name, description=description, source=source, peak_flops=peak,
                            mem_bandwidth=mem_bandwidth, cores=cores, clock_hz=clock, caches=caches,
                            accelerator=None, path=path)

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
            peak[dtype] = float(_decimal(self.positive_number(f"{key}.{dtype}", value)) * RATE_UNITS[given[0]])
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
             "systolic"),
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
        return AcceleratorSpec(
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


# --------------------------------------------------------------------------------------------------
# Writing


def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _number(x: float | int, scale: int) -> str:
    """`x / scale` as a TOML number that reads back, times `scale`, to exactly `x`.

    Works in decimal: `repr(x)` is the shortest decimal that is `x`, and dividing it by a power of
    ten (or two) is exact, so `17.12e9` is written `17.12` in GBps.
    """
    with localcontext() as ctx:
        ctx.prec = 80
        d = (_decimal(x) / scale).normalize()
    if d == d.to_integral_value() and abs(d) < 2**53:
        return str(int(d))
    text = format(d, "f")
    return text if len(text) <= 24 else format(d, "e")


def _pick_unit(values: list[float | int], units: Mapping[str, int]) -> str:
    """The unit that writes `values` shortest (values >= 1 only; the larger unit on a tie)."""
    best = None
    for unit, scale in units.items():
        if scale != 1 and min(values) < scale:
            continue
        key = (sum(len(_number(v, scale)) for v in values), -scale)
        if best is None or key < best[0]:
            best = (key, unit)
    return best[1]


def _quantity_line(base: str, value: float | int, units: Mapping[str, int]) -> str:
    unit = _pick_unit([value], units)
    return f"{base}_{unit} = {_number(value, units[unit])}"


def spec_to_toml(spec: HardwareSpec, header: str = "") -> str:
    """The spec as a TOML file that `load_spec` reads back to an equal spec.

    Human units where they are exact (64 GBps, 256 KiB), base units otherwise. `header` becomes a
    leading comment block.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"name = {_toml_str(spec.name)}",
              f"description = {_toml_str(spec.description)}",
              f"source = {_toml_str(spec.source)}"]
    if spec.cores is not None:
        lines.append(f"cores = {int(spec.cores)}")
    acc = spec.accelerator
    if acc is None:
        lines.append(_quantity_line("mem_bandwidth", spec.mem_bandwidth, BANDWIDTH_UNITS))
        if spec.clock_hz is not None:
            lines.append(_quantity_line("clock", spec.clock_hz, FREQUENCY_UNITS))
        unit = _pick_unit(list(spec.peak_flops.values()), RATE_UNITS)
        lines += ["", f"[peak_{unit}]"]
        lines += [f"{dt} = {_number(v, RATE_UNITS[unit])}" for dt, v in spec.peak_flops.items()]
    else:
        derived = {dt: acc.peak_flops for dt in acc.dtypes}
        if (dict(spec.peak_flops) != derived or spec.mem_bandwidth != acc.dram_bandwidth
                or spec.clock_hz != acc.clock_hz):
            raise ValueError(f"spec {spec.name!r}: peak_flops, mem_bandwidth and clock_hz must be the ones "
                             "derived from its accelerator to be written as TOML")
    for level in spec.caches:
        lines += ["", "[[cache]]", f"name = {_toml_str(level.name)}",
                  _quantity_line("size", level.size_bytes, SIZE_UNITS)]
        if level.bandwidth is not None:
            lines.append(_quantity_line("bandwidth", level.bandwidth, BANDWIDTH_UNITS))
    if acc is not None:
        lines += ["", "[accelerator]",
                  f"mac_rows = {acc.mac_rows}",
                  f"mac_cols = {acc.mac_cols}",
                  _quantity_line("clock", acc.clock_hz, FREQUENCY_UNITS),
                  f"dtype = {_toml_str(acc.dtype)}"]
        if acc.extra_dtypes:
            lines.append(f"extra_dtypes = [{', '.join(_toml_str(d) for d in acc.extra_dtypes)}]")
        lines += [_quantity_line("weight_buffer", acc.weight_buffer_bytes, SIZE_UNITS),
                  _quantity_line("input_buffer", acc.input_buffer_bytes, SIZE_UNITS),
                  _quantity_line("output_buffer", acc.output_buffer_bytes, SIZE_UNITS),
                  _quantity_line("dram_bandwidth", acc.dram_bandwidth, BANDWIDTH_UNITS),
                  f"double_buffering = {str(acc.double_buffering).lower()}",
                  f"dataflow = {_toml_str(acc.dataflow)}",
                  f"systolic = {str(acc.systolic).lower()}"]
    return "\n".join(lines) + "\n"
