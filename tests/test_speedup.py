"""Speedup tables and exercise 6.3's FC bound, against independent hand and roofline arithmetic."""

from __future__ import annotations

import tomllib

import pytest

from perfmodel.accel import simulate
from perfmodel.accel.baseline import time_model
from perfmodel.accel.speedup import fc_bound, format_speedup, speedup_tables
from perfmodel.hardware import PRESET_DIR, load_spec, spec_from_dict
from perfmodel.walk import analyze_model
from tests.conftest import assert_one_line_error, perfmodel


def test_exercise_6_3_fc_speedup_is_set_by_bandwidth():
    # fp32 FC at batch 1: each 4-byte weight feeds 1 MAC = 2 FLOPs -> I = 0.5 FLOP/B.
    # DLP: 12.8 GB/s x 0.5 = 6.4 GFLOP/s (3.2 GMAC/s) << its 512 GFLOP/s peak: memory-bound.
    # Scalar ALU: min(2 GFLOP/s peak, 64 GB/s x 0.5) = 2 GFLOP/s (1 GMAC/s). Speedup 6.4 / 2 = 3.2.
    bound = fc_bound(load_spec("dlp-ddr3"), load_spec("scalar-alu"))
    assert bound.intensity == 0.5
    assert bound.attainable == pytest.approx(6.4e9)
    assert bound.baseline_attainable == pytest.approx(2e9)
    assert bound.speedup == pytest.approx(3.2)
    assert any("3.2x" in line for line in bound.lines())


def test_exercise_6_3_does_not_depend_on_the_array_size():
    data = tomllib.loads((PRESET_DIR / "dlp-ddr3.toml").read_text())
    data["accelerator"].update(mac_rows=64, mac_cols=64)  # 16x the MACs
    big = spec_from_dict(data, label="big-dlp")
    assert fc_bound(big, load_spec("scalar-alu")).speedup == pytest.approx(3.2)
    # batch 4 reuses each weight 4 times: I = 2 FLOP/B, 25.6 GFLOP/s, still memory-bound: 12.8x
    assert fc_bound(big, load_spec("scalar-alu"), batch=4).speedup == pytest.approx(12.8)


def test_roofline_baseline_is_max_of_compute_and_memory_time():
    cost = analyze_model("lenet5")
    a100 = load_spec("a100")
    timing = time_model(cost, a100)
    expected = sum(max(l.flops / 19.5e12, l.bytes_total / 1555e9) for l in cost.layers
                   if l.supported and not l.is_view)
    assert timing.method == "roofline" and timing.time_s == pytest.approx(expected)
    assert timing.layer_times[0] == pytest.approx(max(cost.layers[0].flops / 19.5e12,
                                                                     cost.layers[0].bytes_total / 1555e9))


def test_speedup_table_cells_are_baseline_time_over_time():
    costs = [analyze_model("lenet5"), analyze_model("alexnet")]
    seed, tpu = load_spec("seed-npu"), load_spec("tpu-v1")
    tables = speedup_tables(costs, [seed, tpu], [load_spec("scalar-alu"), load_spec("a100")])
    assert [t.baseline for t in tables] == ["scalar-alu", "a100"]
    scalar, gpu = tables
    for cost in costs:
        on_seed = simulate(cost, seed).time_s
        base = simulate(cost, load_spec("scalar-alu")).time_s
        cell = scalar.cell(cost.model, "seed-npu")
        assert cell.time_s == pytest.approx(on_seed) and cell.speedup == pytest.approx(base / on_seed)
        assert gpu.cell(cost.model, "tpu-v1").dtype == "int8"
    assert gpu.baseline_method == "roofline"
    text = format_speedup(scalar, "markdown")
    assert text.splitlines()[2].startswith("| model") and "| alexnet" in text and "int8" in text


def test_speedup_cli_markdown_and_fc_bound():
    result = perfmodel("speedup", "lenet5", "alexnet", "--hw", "seed-npu", "--hw", "diannao",
                       "--baseline", "scalar-alu", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "| lenet5" in result.stdout and "| alexnet" in result.stdout and "seed-npu" in result.stdout
    bound = perfmodel("speedup", "--fc-bound", "--hw", "dlp-ddr3", "--baseline", "scalar-alu")
    assert bound.returncode == 0, bound.stderr
    assert "0.5 FLOP/B" in bound.stdout and "= 3.2x" in bound.stdout


def test_speedup_cli_errors():
    assert_one_line_error(perfmodel("speedup", "--hw", "seed-npu", "--baseline", "scalar-alu"), "MODEL")
    assert_one_line_error(perfmodel("speedup", "alexnet", "--hw", "nope", "--baseline", "scalar-alu"), "nope")
    assert_one_line_error(perfmodel("speedup", "alexnet", "--fc-bound", "--hw", "seed-npu",
                                    "--baseline", "scalar-alu"), "no MODEL")


def test_two_specs_named_alike_are_two_columns(tmp_path) -> None:
    """Two different this-cpu.toml files: both timed, labelled by file, never one over the other."""
    from perfmodel.accel.speedup import speedup_tables

    text = ('description = "d"\nsource = "s"\nmem_bandwidth_GBps = {bw}\n[peak_GFLOPS]\nfp32 = 100\n')
    paths = []
    for folder, bw in (("a", 10), ("b", 40)):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "this-cpu.toml")
        paths[-1].write_text(text.format(bw=bw))
    specs = [load_spec(p) for p in paths]
    (table,) = speedup_tables([analyze_model("lenet5")], specs, [load_spec("scalar-alu")])
    assert len(table.hardware) == 2 and all("this-cpu (" in h for h in table.hardware)
    slow, fast = (table.cell("lenet5", h).time_s for h in table.hardware)
    assert slow > fast  # the 10 GB/s machine is slower: two different answers, not one copied
    assert any("2 different specs are named 'this-cpu'" in n for n in table.notes)
