"""Hardware specs: presets, hand-derived figures, validation errors, TOML round trip, `hw` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.errors import PerfmodelError
from tests.conftest import perfmodel
from perfmodel.units import binary, byte_rate, flop_rate
from perfmodel.hardware import (
    AcceleratorSpec,
    CacheLevel,
    HardwareSpec,
    list_presets,
    load_spec,
    spec_from_toml,
    spec_to_toml,
)

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_PRESETS = {"seed-npu", "dlp-ddr3", "scalar-alu", "v100", "a100", "h100", "tpu-v1", "diannao"}


# --------------------------------------------------------------------------------------------------
# Presets


def test_expected_presets_exist():
    assert EXPECTED_PRESETS <= set(list_presets())


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_loads(name):
    spec = load_spec(name)
    assert spec.name == name
    assert spec.description and spec.source
    assert spec.mem_bandwidth > 0
    assert spec.peak_flops and all(v > 0 for v in spec.peak_flops.values())
    for dtype in spec.peak_flops:
        assert spec.ridge_point(dtype) == pytest.approx(spec.peak(dtype) / spec.mem_bandwidth)
    if spec.accelerator is not None:
        acc = spec.accelerator
        assert spec.mem_bandwidth == acc.dram_bandwidth
        assert spec.clock_hz == acc.clock_hz
        assert all(spec.peak(d) == 2 * acc.macs_per_cycle * acc.clock_hz for d in acc.dtypes)


def test_seed_npu_by_hand():
    spec = load_spec("seed-npu")
    acc = spec.accelerator
    assert (acc.mac_rows, acc.mac_cols, acc.macs_per_cycle) == (16, 16, 256)
    assert acc.clock_hz == 1e9 and acc.dtype == "fp32"
    assert spec.peak("fp32") == 512e9
    assert spec.mem_bandwidth == 64e9
    assert spec.ridge_point("fp32") == 8.0
    assert acc.weight_buffer_bytes == 256 * 1024
    assert acc.input_buffer_bytes == acc.output_buffer_bytes == 64 * 1024
    assert acc.double_buffering is True
    assert acc.dataflow in ("weight-stationary", "output-stationary")


def test_other_presets_by_hand():
    a100 = load_spec("a100")
    assert a100.ridge_point("fp32") == pytest.approx(19.5e12 / 1555e9)
    assert a100.peak("fp16") == a100.peak("bf16") == pytest.approx(312e12)
    assert a100.peak("int8") == pytest.approx(624e12)
    v100 = load_spec("v100")
    assert (v100.peak("fp32"), v100.peak("fp16"), v100.mem_bandwidth) == pytest.approx((15.7e12, 125e12, 900e9))
    h100 = load_spec("h100")
    assert h100.peak("fp32") == pytest.approx(67e12)
    assert h100.peak("fp16") == pytest.approx(989.4e12)
    assert h100.peak("int8") == pytest.approx(1979e12)
    assert h100.mem_bandwidth == pytest.approx(3.35e12)
    tpu = load_spec("tpu-v1")
    assert tpu.peak("int8") == pytest.approx(2 * 256 * 256 * 700e6)  # 91.75 TOPS, "92 TOPS"
    assert tpu.mem_bandwidth == 34e9
    assert tpu.accelerator.input_buffer_bytes == 24 * 2**20
    assert tpu.accelerator.systolic is True
    diannao = load_spec("diannao")
    assert diannao.peak("fp16") == pytest.approx(2 * 256 * 0.98e9)
    assert diannao.accelerator.input_buffer_bytes == diannao.accelerator.output_buffer_bytes == 2048
    assert diannao.accelerator.weight_buffer_bytes == 32 * 1024
    scalar = load_spec("scalar-alu")
    assert scalar.peak("fp32") == 2e9
    assert scalar.accelerator.macs_per_cycle == 1 and scalar.accelerator.double_buffering is False
    dlp = load_spec("dlp-ddr3")
    assert dlp.mem_bandwidth == 12.8e9
    assert set(dlp.dtypes) >= {"fp32", "fp16", "int8"}
    assert dlp.ridge_point("fp32") == pytest.approx(40.0)


@pytest.mark.parametrize("spelling", ["SEED_NPU", "seed_npu", "Seed-Npu", " seed-npu "])
def test_preset_names_case_and_separator_insensitive(spelling):
    assert load_spec(spelling) == load_spec("seed-npu")


def test_peak_of_missing_dtype_names_spec_and_dtype():
    with pytest.raises(PerfmodelError, match=r"'v100'.*'int8'"):
        load_spec("v100").peak("int8")
    with pytest.raises(PerfmodelError, match="fp64"):
        load_spec("v100").peak("fp64")


def test_spec_is_hashable_and_immutable():
    spec = load_spec("a100")
    assert hash(spec) == hash(load_spec("a100"))
    with pytest.raises(TypeError):
        spec.peak_flops["fp32"] = 1.0  # type: ignore[index]


def test_human_units():
    assert flop_rate(19.5e12) == "19.5 TFLOP/s"
    assert flop_rate(512e9) == "512 GFLOP/s"
    assert flop_rate(624e12, "int8") == "624 TOP/s"
    assert byte_rate(1555e9) == "1555 GB/s"
    assert byte_rate(12.8e9) == "12.8 GB/s"
    assert binary(256 * 1024) == "256 KiB"
    assert binary(24 * 2**20) == "24 MiB"


# --------------------------------------------------------------------------------------------------
# Writing specs by hand


PROCESSOR = """\
description = "test CPU"
source = "made up for a test"
mem_bandwidth_GBps = 64
cores = 8
clock_GHz = 3

[peak_GFLOPS]
fp32 = 1000
fp16 = 2000

[[cache]]
name = "L1d"
size_KiB = 48
bandwidth_GBps = 500
"""

ACCEL = """\
description = "test NPU"
source = "made up for a test"

[accelerator]
mac_rows = 8
mac_cols = 32
clock_MHz = 500
dtype = "int8"
extra_dtypes = ["fp16"]
weight_buffer_KiB = 128
input_buffer_KiB = 32
output_buffer_bytes = 4096
dram_bandwidth_GBps = 16
double_buffering = false
dataflow = "output-stationary"
"""


def write(tmp_path: Path, text: str, name: str = "cpu.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_processor_file(tmp_path):
    spec = load_spec(str(write(tmp_path, PROCESSOR)))
    assert spec.name == "cpu"  # file stem
    assert spec.peak("fp32") == 1e12 and spec.peak("fp16") == 2e12
    assert spec.mem_bandwidth == 64e9 and spec.cores == 8 and spec.clock_hz == 3e9
    assert spec.caches == (CacheLevel("L1d", 48 * 1024, 500e9),)
    assert spec.accelerator is None
    assert spec.path == (tmp_path / "cpu.toml").resolve()


def test_accelerator_file(tmp_path):
    spec = load_spec(str(write(tmp_path, ACCEL, "npu.toml")))
    acc = spec.accelerator
    assert acc.macs_per_cycle == 256 and acc.systolic is False
    assert spec.peak("int8") == spec.peak("fp16") == 2 * 256 * 500e6
    assert spec.mem_bandwidth == 16e9 and acc.output_buffer_bytes == 4096


def test_macs_per_cycle_alone_is_one_row(tmp_path):
    text = ACCEL.replace("mac_rows = 8\nmac_cols = 32", "macs_per_cycle = 64")
    acc = load_spec(str(write(tmp_path, text))).accelerator
    assert (acc.mac_rows, acc.mac_cols, acc.macs_per_cycle) == (1, 64, 64)


# --------------------------------------------------------------------------------------------------
# Bad specs: one PerfmodelError, one line, naming the file and the field


BAD = {
    # name: (text, words the message must contain)
    "missing description": (PROCESSOR.replace('description = "test CPU"\n', ""), ["'description'"]),
    "missing bandwidth": (PROCESSOR.replace("mem_bandwidth_GBps = 64\n", ""), ["'mem_bandwidth_<unit>'", "mem_bandwidth_GBps"]),
    "missing peak": (PROCESSOR.split("[peak_GFLOPS]")[0], ["'peak_<unit>'"]),
    "missing accel field": (ACCEL.replace('dtype = "int8"\n', ""), ["'accelerator.dtype'"]),
    "missing mac_cols": (ACCEL.replace("mac_cols = 32\n", ""), ["'accelerator.mac_cols'"]),
    "missing buffer": (ACCEL.replace("weight_buffer_KiB = 128\n", ""), ["'accelerator.weight_buffer_<unit>'"]),
    "negative": (PROCESSOR.replace("mem_bandwidth_GBps = 64", "mem_bandwidth_GBps = -3"),
                 ["field 'mem_bandwidth_GBps' must be a positive number, got -3"]),
    "zero": (PROCESSOR.replace("fp16 = 2000", "fp16 = 0"), ["'peak_GFLOPS.fp16'", "positive", "got 0"]),
    "zero clock": (ACCEL.replace("clock_MHz = 500", "clock_MHz = 0.0"), ["'accelerator.clock_MHz'", "got 0.0"]),
    "negative int": (ACCEL.replace("mac_rows = 8", "mac_rows = -8"), ["'accelerator.mac_rows'", "positive integer"]),
    "nan": (PROCESSOR.replace("clock_GHz = 3", "clock_GHz = nan"), ["'clock_GHz'"]),
    "unknown key typo": (PROCESSOR.replace("cores = 8", "coers = 8"), ["unknown field 'coers'", "did you mean 'cores'"]),
    "unknown accel key": (ACCEL.replace("double_buffering", "double_buffer"), ["'accelerator.double_buffer'", "double_buffering"]),
    "unknown cache key": (PROCESSOR.replace('name = "L1d"', 'nam = "L1d"'), ["'cache[0].nam'"]),
    "unknown dtype": (PROCESSOR.replace("fp16 = 2000", "fp64 = 2000"), ["'peak_GFLOPS.fp64'", "unknown dtype"]),
    "unknown accel dtype": (ACCEL.replace('dtype = "int8"', 'dtype = "int4"'), ["'accelerator.dtype'", "int4"]),
    "repeated dtype": (ACCEL.replace('["fp16"]', '["int8"]'), ["'accelerator.extra_dtypes'"]),
    "string with unit": (PROCESSOR.replace("mem_bandwidth_GBps = 64", 'mem_bandwidth_GBps = "64 GB/s"'),
                         ["'mem_bandwidth_GBps'", "'64 GB/s'", "unit is in the key name"]),
    "boolean number": (PROCESSOR.replace("cores = 8", "cores = true"), ["'cores'", "positive integer", "boolean"]),
    "float cores": (PROCESSOR.replace("cores = 8", "cores = 8.5"), ["'cores'", "positive integer", "8.5"]),
    "number for string": (PROCESSOR.replace('description = "test CPU"', "description = 3"), ["'description'", "string"]),
    "not a bool": (ACCEL.replace("double_buffering = false", 'double_buffering = "no"'), ["'accelerator.double_buffering'", "true or false"]),
    "bad dataflow": (ACCEL.replace("output-stationary", "row-stationary"), ["'accelerator.dataflow'", "weight-stationary"]),
    "peak not a table": (PROCESSOR.split("[peak_GFLOPS]")[0].replace("cores = 8", "peak_GFLOPS = 5\ncores = 8"), ["'peak_GFLOPS'", "table"]),
    "wrong unit": (PROCESSOR.replace("mem_bandwidth_GBps", "mem_bandwidth_GHz"), ["'mem_bandwidth_GHz'", "'GHz' is not a bandwidth unit"]),
    "wrong size unit": (ACCEL.replace("weight_buffer_KiB", "weight_buffer_KB"), ["'accelerator.weight_buffer_KB'", "weight_buffer_KiB"]),
    "no unit": (PROCESSOR.replace("mem_bandwidth_GBps", "mem_bandwidth"), ["'mem_bandwidth'", "needs a unit"]),
    "two units": (PROCESSOR.replace("clock_GHz = 3", "clock_GHz = 3\nclock_MHz = 3000"), ["'clock_GHz'", "'clock_MHz'"]),
    "two peak tables": (PROCESSOR + "\n[peak_TFLOPS]\nfp32 = 1\n", ["'peak_TFLOPS'", "'peak_GFLOPS'"]),
    "peak typed twice": (ACCEL.replace('source = "made up for a test"', 'source = "x"\n[peak_TFLOPS]\nint8 = 1'), ["'peak_TFLOPS'", "derived"]),
    "bandwidth typed twice": (ACCEL.replace('source = "made up for a test"', 'source = "x"\nmem_bandwidth_GBps = 1'), ["'mem_bandwidth_GBps'", "derived"]),
    "rows and macs": (ACCEL.replace("mac_rows = 8", "mac_rows = 8\nmacs_per_cycle = 256"), ["macs_per_cycle"]),
    "fractional bytes": (ACCEL.replace("output_buffer_bytes = 4096", "output_buffer_KiB = 0.3"), ["'accelerator.output_buffer_KiB'", "whole number of bytes"]),
    "cache not array": (PROCESSOR.split("[[cache]]")[0].replace("cores = 8", "cache = 5\ncores = 8"), ["'cache'"]),
    "bad toml": (PROCESSOR.replace("cores = 8", "cores = = 8"), ["invalid TOML", "line 4, column 9"]),
    "bad toml string": ('description = "unterminated\n', ["invalid TOML", "line 1"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_is_one_line_naming_file_and_field(tmp_path, case):
    text, words = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(PerfmodelError) as info:
        load_spec(str(path))
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    for word in words:
        assert word in msg, (case, msg)


def test_missing_file_lists_presets(tmp_path):
    with pytest.raises(PerfmodelError) as info:
        load_spec(str(tmp_path / "nope.toml"))
    msg = str(info.value)
    assert "nope.toml" in msg and "seed-npu" in msg and "a100" in msg and "\n" not in msg


def test_unknown_preset_lists_presets():
    with pytest.raises(PerfmodelError) as info:
        load_spec("a1000")
    msg = str(info.value)
    assert "'a1000'" in msg and all(name in msg for name in EXPECTED_PRESETS) and "\n" not in msg


def test_directory_is_not_a_spec(tmp_path):
    with pytest.raises(PerfmodelError, match="directory"):
        load_spec(str(tmp_path) + "/")


def test_binary_file(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(PerfmodelError, match="x.toml"):
        load_spec(str(path))


# --------------------------------------------------------------------------------------------------
# spec_to_toml round trip


@pytest.mark.parametrize("name", list_presets())
def test_presets_round_trip_through_a_file(tmp_path, name):
    spec = load_spec(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(spec_to_toml(spec, header="written by a test\nsecond line"))
    again = load_spec(str(path))
    assert again == spec
    assert again.path == path.resolve()


def test_writer_uses_human_units():
    text = spec_to_toml(load_spec("seed-npu"))
    assert "weight_buffer_KiB = 256" in text and "dram_bandwidth_GBps = 64" in text and "clock_GHz = 1" in text
    text = spec_to_toml(load_spec("a100"))
    assert "[peak_TFLOPS]" in text and "fp32 = 19.5" in text and "size_MiB = 40" in text


def test_writer_refuses_inconsistent_accelerator_spec():
    spec = load_spec("seed-npu")
    broken = HardwareSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "mem_bandwidth": 1.0})
    with pytest.raises(ValueError):
        spec_to_toml(broken)


positive = st.floats(min_value=1e-9, max_value=1e21, allow_nan=False, allow_infinity=False, allow_subnormal=False)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip())
dtypes = st.sampled_from(["fp32", "fp16", "bf16", "int8"])
sizes = st.integers(min_value=1, max_value=2**44)
caches = st.lists(st.builds(CacheLevel, name=text, size_bytes=sizes, bandwidth=st.none() | positive), max_size=4)


@st.composite
def processor_specs(draw):
    peak = draw(st.dictionaries(dtypes, positive, min_size=1))
    return HardwareSpec(
        name=draw(text), description=draw(text), source=draw(text), peak_flops=peak,
        mem_bandwidth=draw(positive), cores=draw(st.none() | st.integers(1, 10**6)),
        clock_hz=draw(st.none() | positive), caches=tuple(draw(caches)),
    )


@st.composite
def accelerator_specs(draw):
    dtype = draw(dtypes)
    extra = draw(st.lists(dtypes.filter(lambda d: d != dtype), unique=True, max_size=3))
    acc = AcceleratorSpec(
        mac_rows=draw(st.integers(1, 4096)), mac_cols=draw(st.integers(1, 4096)), clock_hz=draw(positive),
        dtype=dtype, weight_buffer_bytes=draw(sizes), input_buffer_bytes=draw(sizes),
        output_buffer_bytes=draw(sizes), dram_bandwidth=draw(positive), double_buffering=draw(st.booleans()),
        dataflow=draw(st.sampled_from(["weight-stationary", "output-stationary"])), systolic=draw(st.booleans()),
        extra_dtypes=tuple(extra),
    )
    return HardwareSpec(
        name=draw(text), description=draw(text), source=draw(text),
        peak_flops={d: acc.peak_flops for d in acc.dtypes}, mem_bandwidth=acc.dram_bandwidth,
        cores=draw(st.none() | st.integers(1, 10**6)), clock_hz=acc.clock_hz, caches=tuple(draw(caches)),
        accelerator=acc,
    )


@settings(max_examples=150, deadline=None)
@given(processor_specs() | accelerator_specs())
def test_spec_to_toml_round_trip(spec):
    text = spec_to_toml(spec)
    assert spec_from_toml(text, label="generated.toml") == spec


# --------------------------------------------------------------------------------------------------
# CLI


def cli(*args: str):
    return perfmodel(*args, cwd=ROOT)


def test_cli_hw_list():
    out = cli("hw", "list")
    assert out.returncode == 0, out.stderr
    for name in EXPECTED_PRESETS:
        assert name in out.stdout
    assert "512 GFLOP/s" in out.stdout and "1555 GB/s" in out.stdout


def test_cli_hw_show_preset_and_toml(tmp_path):
    out = cli("hw", "show", "seed-npu")
    assert out.returncode == 0, out.stderr
    for words in ("512 GFLOP/s", "64 GB/s", "256 KiB", "64 KiB", "16 x 16", "ridge point 8 FLOP/B", "1 GHz"):
        assert words in out.stdout
    out = cli("hw", "show", "tpu_v1", "--toml")
    assert out.returncode == 0, out.stderr
    path = write(tmp_path, out.stdout, "tpu.toml")
    assert load_spec(str(path)) == load_spec("tpu-v1")


def test_cli_hw_show_file(tmp_path):
    out = cli("hw", "show", str(write(tmp_path, PROCESSOR)))
    assert out.returncode == 0, out.stderr
    assert "1 TFLOP/s" in out.stdout and "48 KiB at 500 GB/s" in out.stdout and "3 GHz" in out.stdout


@pytest.mark.parametrize("case", ["negative", "unknown key typo", "bad toml", "string with unit", "missing peak", "wrong unit"])
def test_cli_bad_spec_one_line_no_traceback(tmp_path, case):
    path = write(tmp_path, BAD[case][0])
    out = cli("hw", "show", str(path))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfmodel: error: ") and "cpu.toml" in lines[0]


@pytest.mark.parametrize("arg", ["no-such-hw", "missing/file.toml"])
def test_cli_unknown_preset_or_missing_file(arg):
    out = cli("hw", "show", arg)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "seed-npu" in lines[0]
