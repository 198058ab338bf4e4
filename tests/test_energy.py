"""Energy (perfmodel.accel.energy) and the SCALE-Sim conventions: weight_load, accumulator_bits.

Expected figures are counted by hand from the schedules the tests first pin down.
"""

from __future__ import annotations

import pytest

from perfmodel.accel import simulate
from perfmodel.accel.layer_spec import layer_cost
from perfmodel.hardware import load_spec, spec_from_toml, spec_to_toml

NPU = """name = "npu"
description = "test"
source = "test"
[accelerator]
mac_rows = {rows}
mac_cols = {cols}
clock_GHz = 1
dtype = "fp32"
weight_buffer_KiB = 256
input_buffer_KiB = 64
output_buffer_KiB = 64
dram_bandwidth_GBps = 64
double_buffering = true
dataflow = "weight-stationary"
systolic = {systolic}
weight_load = "{load}"
accumulator_bits = {acc}
[accelerator.energy]
mac_pJ = 1
weight_buffer_pJ_per_byte = 0.5
input_buffer_pJ_per_byte = 0.25
output_buffer_pJ_per_byte = 2
dram_pJ_per_byte = 100
static_mW = 10
"""


def npu(rows=16, cols=16, systolic="false", load="overlapped", acc=32):
    return spec_from_toml(NPU.format(rows=rows, cols=cols, systolic=systolic, load=load, acc=acc))


def test_exercise_7_7_fc_energy_by_hand() -> None:
    """FC 32x256 by 256x128 on the course NPU (16x16, 64 GB/s, 256 KiB WRAM): the schedule the README
    prints (n > k > m, trips m 16, k 16, n 8), then each count by hand at 4 B per element:
    MACs 32 x 256 x 128 = 1,048,576 at 1 pJ; weights: 131,072 B filled + 256 x 128 x 4 x 16 M tiles =
    2,097,152 B read, at 0.5 pJ/B; inputs: 32,768 B filled + 32 x 256 x 4 x 8 N tiles = 262,144 B read,
    at 0.25 pJ/B; outputs: 32 x 128 x 4 x (2 x 16 - 1) = 507,904 B of partial sums + 16,384 B read out,
    at 2 pJ/B; DRAM 180,224 B at 100 pJ/B; static 10 mW x the layer's time."""
    result = simulate(layer_cost("fc:M=32,K=256,N=128"), npu())
    (layer,) = result.layers
    assert layer.schedule.trips == (16, 16, 8) and layer.traffic.total == 180_224
    e = layer.energy
    assert e.mac == pytest.approx(1_048_576e-12)
    assert e.weight_buffer == pytest.approx((131_072 + 2_097_152) * 0.5e-12)
    assert e.input_buffer == pytest.approx((32_768 + 262_144) * 0.25e-12)
    assert e.output_buffer == pytest.approx((507_904 + 16_384) * 2e-12)
    assert e.dram == pytest.approx(180_224 * 100e-12)
    assert e.static == pytest.approx(10e-3 * layer.time_s)
    assert result.energy.total == pytest.approx(e.total)
    assert result.edp_Js == pytest.approx(e.total * result.time_s)
    assert result.power_W == pytest.approx(e.total / result.time_s)


def test_energy_table_round_trips_and_presets_cite_horowitz() -> None:
    spec = npu()
    assert spec_from_toml(spec_to_toml(spec), default_name="npu") == spec
    for name in ("seed-npu", "dlp-ddr3", "tpu-v1", "diannao", "scalar-alu"):
        acc = load_spec(name).accelerator
        assert acc.energy is not None and all(v > 0 for v in acc.energy.mac_pJ.values())
    assert load_spec("seed-npu").accelerator.energy.mac("fp32") == 4.6  # Horowitz 2014: 3.7 + 0.9 pJ


def test_a_spec_without_energy_reports_none() -> None:
    result = simulate(layer_cost("fc:M=4,K=8,N=8"), _no_energy())
    assert result.energy is None and result.edp_Js is None


def _no_energy():
    return spec_from_toml(NPU.format(rows=4, cols=4, systolic="false", load="overlapped", acc=32)
                          .split("[accelerator.energy]")[0])


@pytest.mark.parametrize("load, expected", [("overlapped", 56), ("serial", 72)])
def test_weight_fold_cycles_by_hand(load: str, expected: int) -> None:
    """GEMM 8x8x8 on a 4x4 weight-stationary systolic array (however it is tiled): rows <- K,
    cols <- N, M streams. Folds of weights = K/4 x N/4 = 4, each streaming M = 8 rows: 8 x 2 x 2 = 32
    cycles, plus fill and drain 4 + 4 - 2 = 6 per fold (24). "serial" stalls 4 (rows) per fold to load
    it, as SCALE-Sim counts: 16 more; "overlapped" loads the next fold while this one computes."""
    (layer,) = simulate(layer_cost("fc:M=8,K=8,N=8"), npu(4, 4, "true", load)).layers
    assert layer.schedule.mapping == "rows<-K cols<-N" and layer.compute_cycles == expected


@pytest.mark.parametrize("bits", [16, 32, 64])
def test_accumulator_bits_set_the_partial_sum_spills(bits: int) -> None:
    """FC 32x256x128 spills partial sums on the course NPU only when the accumulators do not fit:
    psum bytes = (passes - 1) x M x N x (bits / 8) x 2 (tiling.py), whatever the width."""
    (layer,) = simulate(layer_cost("fc:M=64,K=4096,N=512"), npu(acc=bits)).layers
    s = layer.schedule
    passes = s.passes[2]
    assert layer.traffic.psum == (passes - 1) * 64 * 512 * (bits // 8) * 2 * s.groups
    assert s.accumulator_bytes == bits // 8


def test_bad_energy_tables_are_one_line_errors() -> None:
    from perfmodel.errors import PerfmodelError

    base = NPU.format(rows=4, cols=4, systolic="false", load="overlapped", acc=32)
    for bad, fragment in ((base.replace("mac_pJ = 1", "mac_pj = 1"), "did you mean"),
                          (base.replace("dram_pJ_per_byte = 100", "dram_pJ_per_byte = -1"), "positive"),
                          (base.replace('weight_load = "overlapped"', 'weight_load = "lazy"'), "weight_load"),
                          (base.replace("accumulator_bits = 32", "accumulator_bits = 12"), "accumulator_bits"),
                          (base.replace("mac_pJ = 1\n", "") + "[accelerator.energy.mac_pJ]\nint8 = 1\n",
                           "gives no energy")):
        with pytest.raises(PerfmodelError, match=fragment):
            spec_from_toml(bad)
