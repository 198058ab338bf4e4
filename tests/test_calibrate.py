"""Calibration: pure helpers on synthetic data, the written spec, and one `calibrate --quick` run.

No assertion on how fast anything is: shared machines are noisy. Figures must only be positive and
the written file must load wherever a preset does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfmodel import calibrate
from perfmodel.hardware import CacheLevel, load_spec, spec_from_toml, spec_to_toml
from tests.conftest import perfmodel

ROOT = Path(__file__).resolve().parent.parent
KiB, MiB = 1024, 1024 * 1024


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perfmodel", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def test_measurement_statistics():
    m = calibrate.Measurement("x", "GB/s", (10e9, 12e9, 8e9, 11e9, 9e9))
    assert m.median == 10e9 and m.min == 8e9 and m.max == m.best == 12e9
    assert m.spread == pytest.approx(0.4)


def test_sweep_steps_finds_levels_and_ignores_a_dip():
    sizes = [16 * KiB * 2**i for i in range(15)]  # 16 KiB .. 256 MiB
    # L1 up to 32 KiB, L2 up to 512 KiB, L3 up to 16 MiB, then DRAM; one noisy dip at 2 MiB.
    bw = [200, 200, 120, 120, 118, 115, 60, 35, 60, 58, 56, 20, 19, 19, 18]
    assert calibrate.sweep_steps(sizes, [b * 1e9 for b in bw]) == [32 * KiB, 512 * KiB, 16 * MiB]
    assert calibrate.sweep_steps(sizes, [100e9] * len(sizes)) == []


def test_sweep_steps_merges_a_gradual_fall():
    sizes = [2**i for i in range(8)]
    bw = [100, 100, 70, 45, 30, 30, 30, 30]
    assert calibrate.sweep_steps(sizes, bw) == [2]


def test_cache_bandwidths_take_sizes_that_fit():
    sweep = [(16 * KiB, 200e9), (32 * KiB, 190e9), (64 * KiB, 120e9), (256 * KiB, 118e9), (1 * MiB, 40e9)]
    levels = calibrate.cache_bandwidths([("L1d", 32 * KiB), ("L2", 512 * KiB), ("L3", 1 * MiB)], sweep)
    assert levels[0] == CacheLevel("L1d", 32 * KiB, 200e9)  # only 16 KiB fits half of L1
    assert levels[1] == CacheLevel("L2", 512 * KiB, 120e9)
    assert levels[2].bandwidth is None  # no sweep size in (512 KiB, 512 KiB]


def test_os_cache_levels_from_a_fake_sysfs(tmp_path):
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"),
                                             (3, "Unified", "32M")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    levels, source = calibrate.os_cache_levels(tmp_path)
    assert source == "sysfs"
    assert levels == [("L1d", 48 * KiB), ("L2", 2 * MiB), ("L3", 32 * MiB)]


def test_os_cache_levels_without_sysfs(tmp_path):
    levels, source = calibrate.os_cache_levels(tmp_path / "missing")
    assert source in ("sysconf", "none")
    assert all(size > 0 for _, size in levels)


def fake_calibration(**overrides):
    M = calibrate.Measurement
    values = dict(
        fma=M("peak fp32: FMA, 64 chains/thread (numba)", "GFLOP/s", (90.1234e9, 95.4321e9, 93e9)),
        gemm=(M("peak fp32: GEMM numpy @ 2048^3 (BLAS)", "GFLOP/s", (80e9, 81e9, 79e9)),),
        copy=M("memory: copy, 2 x 256 MiB (numba)", "GB/s", (15e9, 16e9, 14e9)),
        triad=M("memory: triad, 3 x 256 MiB (numba)", "GB/s", (17.1234e9, 16e9, 15e9)),
        sweep=((16 * KiB, M("read 16 KiB", "GB/s", (200e9, 190e9, 180e9))),
               (1 * MiB, M("read 1 MiB", "GB/s", (100e9, 90e9, 95e9))),
               (256 * MiB, M("read 256 MiB", "GB/s", (20e9, 19e9, 18e9)))),
        caches=(CacheLevel("L1d", 32 * KiB, 200e9), CacheLevel("L2", 512 * KiB, None)),
        cache_source="sysfs", sweep_steps=(16 * KiB,), threads=2, cpu="Test CPU", quick=True,
        stream_bytes=256 * MiB, compile_s=1.0, elapsed_s=3.0,
        notes=("project GEMM: none importable",),
    )
    values.update(overrides)
    return calibrate.Calibration(**values)


def test_spec_from_calibration_takes_the_best_and_round_trips(tmp_path):
    cal = fake_calibration()
    spec = calibrate.to_spec(cal, name="test-cpu")
    assert spec.peak("fp32") == 95.43e9  # best FMA repeat, 4 significant digits
    assert spec.mem_bandwidth == 17.12e9  # best of copy and triad
    assert set(spec.peak_flops) == {"fp32"}
    assert spec.caches == cal.caches
    text = spec_to_toml(spec, header=calibrate.spec_header(cal))
    assert "fp32 = 95.43" in text and "mem_bandwidth_GBps = 17.12" in text
    path = tmp_path / "test-cpu.toml"
    path.write_text(text)
    assert load_spec(str(path)) == spec
    assert spec_from_toml(text) == spec


def test_report_lists_every_figure():
    text = calibrate.report(fake_calibration())
    for words in ("FMA", "GEMM", "copy", "triad", "16 KiB", "256 MiB", "median", "spread", "L1d 32 KiB",
                  "peak fp32 95.43 GFLOP/s", "project GEMM"):
        assert words in text


def test_cli_rejects_bad_options(tmp_path):
    for args in (["--repeats", "0"], ["-o", str(tmp_path / "no" / "dir" / "x.toml")], ["-o", str(tmp_path)]):
        out = perfmodel("calibrate", "--quick", *args)
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("perfmodel: error: ")


@pytest.mark.slow  # a few seconds; up to ~15 s more on the very first run, when numba compiles
def test_cli_calibrate_quick_writes_a_loadable_spec(tmp_path):
    path = tmp_path / "this-cpu.toml"
    out = cli("calibrate", "--quick", "-o", str(path))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "calibrate [" in out.stderr  # progress goes to stderr
    for words in ("FMA", "GEMM", "copy", "triad", "median", "working-set sweep"):
        assert words in out.stdout
    spec = load_spec(str(path))
    assert spec.name == "this-cpu"
    assert spec.peak("fp32") > 0 and spec.mem_bandwidth > 0 and spec.ridge_point("fp32") > 0
    assert spec.caches, "calibrate found no cache level"  # all() below would pass on none
    assert all(level.size_bytes > 0 for level in spec.caches)
    assert all(level.bandwidth is None or level.bandwidth > 0 for level in spec.caches)
    shown = cli("hw", "show", str(path), timeout=60)
    assert shown.returncode == 0 and "GFLOP/s" in shown.stdout
