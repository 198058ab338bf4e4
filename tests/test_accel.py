"""The accelerator model against hand-derived traffic, cycles and times (derivations in the comments).

seed-npu: 16 x 16 fp32 MACs (256/cycle) at 1 GHz, 64 GB/s DRAM = 64 B/cycle, buffers weight 256 KiB,
input 64 KiB, output 64 KiB, double-buffered (half of each buffer per tile), weight-stationary.
"""

from __future__ import annotations

import dataclasses

import pytest
from onnx import TensorProto, helper

from perfmodel.accel import simulate
from perfmodel.accel.layer_spec import layer_cost
from perfmodel.errors import PerfmodelError
from perfmodel.hardware import load_spec
from perfmodel.walk import analyze_model

SEED = load_spec("seed-npu")


def npu(**changes):
    """seed-npu with some accelerator fields changed (buffer sizes in bytes, flags)."""
    return dataclasses.replace(SEED, accelerator=dataclasses.replace(SEED.accelerator, **changes))


def one_layer(text: str, spec=SEED, dtype: str = "fp32"):
    return simulate(layer_cost(text, dtype), spec).layers[0]


# ---------------------------------------------------------------- exercise 7.7


def test_exercise_7_7_vector_dot_product():
    # FC 1x256 by 256x1, fp32: input 256 x 4 = 1024 B, weights 256 x 1 x 4 = 1024 B, output 4 B.
    layer = one_layer("fc:M=1,K=256,N=1")
    assert (layer.traffic.input, layer.traffic.weight, layer.traffic.output, layer.traffic.psum) == (1024, 1024, 4, 0)
    assert layer.dram_bytes == 2052
    assert layer.memory_cycles == pytest.approx(2052 / 64)  # 32.06 ns at 64 GB/s, 1 GHz
    assert layer.time_s > 32.06e-9
    # 256 MACs on 256 MAC units: 1 cycle (the array's lanes all work on K).
    assert layer.compute_cycles == 1
    # Memory-bound: DRAM 32.0625 cycles, then the last (only) tile's compute before its store: 33.0625.
    assert layer.bound == "memory"
    assert layer.total_cycles == pytest.approx(33.0625)


def test_exercise_7_7_small_fc_layer():
    # FC 32x256 by 256x128, fp32: input 32*256*4 = 32,768 B; weights 256*128*4 = 131,072 B (128 KiB:
    # exactly half the 256 KiB WRAM, so it fits double-buffered: no reload); output 32*128*4 = 16,384 B.
    layer = one_layer("fc:M=32,K=256,N=128")
    t = layer.traffic
    assert (t.input, t.weight, t.output, t.psum) == (32768, 131072, 16384, 0)
    assert layer.dram_bytes == 180224
    assert layer.schedule.passes == (1, 1, 1)
    assert layer.memory_cycles == pytest.approx(2816)  # 180,224 / 64 = 2,816 cycles = 2.816 us
    assert layer.compute_cycles == 4096  # 32*256*128 / 256 = 4,096 cycles = 4.096 us, full use
    # Without overlap: 4.096 + 2.816 = 6.912 us; with double buffering about 4.1 us (compute plus
    # the first tiles' loads and the last store, a few cycles).
    assert layer.compute_cycles + layer.memory_cycles == pytest.approx(6912)
    assert 4096 < layer.total_cycles < 4096 * 1.01
    assert layer.bound == "compute"
    no_overlap = one_layer("fc:M=32,K=256,N=128", npu(double_buffering=False))
    assert no_overlap.total_cycles == pytest.approx(6912)
    assert no_overlap.time_s == pytest.approx(6.912e-6)


# ---------------------------------------------------------------- buffers, reloads, spills


def test_input_buffer_that_just_fits_vs_one_byte_too_small():
    # FC M=4, K=8, N=8 fp32: input 4*8*4 = 128 B, weights 8*8*4 = 256 B, output 4*8*4 = 128 B.
    # Weight buffer 256 B -> 128 B per tile: the weights need >= 2 tiles. Output buffer 128 B -> 64 B
    # = 16 fp32 partial sums per tile.
    small = dict(weight_buffer_bytes=256, output_buffer_bytes=128)
    # Input buffer 256 B: all 128 B of input stay resident while the N tiles go by: 128+256+128 = 512.
    fits = one_layer("fc:M=4,K=8,N=8", npu(input_buffer_bytes=256, **small))
    assert (fits.traffic.input, fits.traffic.weight, fits.traffic.output, fits.traffic.psum) == (128, 256, 128, 0)
    # 255 B: 127.5 B per half, the 128 B input no longer fits. Either it is reloaded once per N tile
    # (2 tiles of 8x4 weights = 128 B each: input 2 x 128 = 256 B, total 640), or K is split and the
    # 4x8 outputs (128 B of partial sums > 64 B) spill once: 2 x 128 B psum, total 768. Cheaper: reload.
    tight = one_layer("fc:M=4,K=8,N=8", npu(input_buffer_bytes=255, **small))
    assert (tight.traffic.input, tight.traffic.weight, tight.traffic.output, tight.traffic.psum) == (256, 256, 128, 0)
    assert tight.schedule.passes[0] == 2 and tight.schedule.trips[2] == 2


def test_partial_sums_spill_when_k_is_tiled_and_outputs_cannot_stay():
    # FC M=8, K=8, N=1: weights 32 B in a 32 B buffer (16 B per tile: K cut in 2 tiles of 4), 8 partial
    # sums (32 B) in a 32 B output buffer (16 B = 4 sums per tile: M cut in 2). The outputs are visited
    # once per K tile: one extra pass writes and reads back 8 x 4 B: psum = 2 x 32 = 64 B.
    layer = one_layer("fc:M=8,K=8,N=1", npu(weight_buffer_bytes=32, output_buffer_bytes=32))
    t = layer.traffic
    assert (t.input, t.weight, t.output, t.psum) == (256, 32, 32, 64)
    assert layer.schedule.psum_spill and layer.schedule.passes[2] == 2


def test_batch_raises_fc_weight_reuse():
    # K=256, N=128: 128 KiB of weights, loaded once for the whole batch.
    one = one_layer("fc:M=1,K=256,N=128")
    eight = one_layer("fc:M=8,K=256,N=128")
    assert one.traffic.weight == eight.traffic.weight == 131072
    # batch 8: input 8*256*4 = 8,192 B, output 8*128*4 = 4,096 B: 143,360 B for 8x the MACs.
    assert eight.dram_bytes == 131072 + 8192 + 4096
    # compute 8*256*128 / 256 = 1,024 cycles < DRAM 143,360 / 64 = 2,240 cycles: still memory-bound,
    # but 8 samples cost far less than 8 single ones.
    assert eight.compute_cycles == 1024 and eight.bound == "memory"
    assert eight.time_s < 2 * one.time_s
    # Weight-stationary streams the whole batch past each weight tile: even when the weights do not
    # fit the WRAM (64 KiB -> 32 KiB tiles), they are read once while the 8 KiB input stays resident.
    small_wram = one_layer("fc:M=8,K=256,N=128", npu(weight_buffer_bytes=64 * 1024))
    assert small_wram.traffic.weight == 131072 and small_wram.traffic.input == 8192


def test_conv_halo_is_read_again_per_row_tile():
    # Conv 1x1x8x8 input, 3x3 kernel, pad 1, one output channel, fp32; no double buffering.
    # Input buffer 200 B = 50 values: the 64-pixel image does not fit; 4 output rows read input rows
    # [-1, 5) -> 5 rows x 8 = 40 values. Tiles rows 0-3 and 4-7 read 5 + 5 = 10 rows: 80 values = 320 B
    # (the 2 halo rows twice). Weights 9 x 4 = 36 B, output 64 x 4 = 256 B.
    layer = one_layer("conv:C=1,H=8,K=1,R=3,P=1", npu(input_buffer_bytes=200, double_buffering=False))
    assert (layer.traffic.input, layer.traffic.weight, layer.traffic.output) == (320, 36, 256)
    assert layer.schedule.m_tile == "4 rows"
    whole = one_layer("conv:C=1,H=8,K=1,R=3,P=1", npu(double_buffering=False))
    assert whole.traffic.input == 256  # the whole image fits: read once


def test_grouped_conv_runs_each_group_as_its_own_gemm():
    # C=4 -> K=4 channels in G=2 groups, 1x1 kernel on 4x4: per group M=16 pixels, K=2, N=2.
    layer = one_layer("conv:C=4,H=4,K=4,R=1,G=2")
    assert layer.schedule.gemm == "16x2x2 x2 groups" and layer.schedule.groups == 2
    # input 4*16*4 = 256 B, weights 4 x (4/2) x 4 B = 32 B, output 4*16*4 = 256 B
    assert (layer.traffic.input, layer.traffic.weight, layer.traffic.output) == (256, 32, 256)
    assert layer.macs == 2 * 16 * 2 * 2
    # Per group 2 cycles: 16 pixels on the 16 rows, 2 channels on the columns, K=2 streams (no mapping
    # covers three dims at once); two groups: 4 cycles.
    assert layer.compute_cycles == 4
    dense = one_layer("conv:C=4,H=4,K=4,R=1")
    assert dense.traffic.weight == 64 and dense.macs == 2 * layer.macs


# ---------------------------------------------------------------- cycles


def test_systolic_fill_and_drain():
    # 4x4 weight-stationary systolic array: a 4x4 weight block, 8 input rows stream through in
    # 8 cycles plus rows + cols - 2 = 6 of fill and drain. K=5 needs 2 blocks: 2 x (8 + 6) = 28.
    spec = npu(mac_rows=4, mac_cols=4, systolic=True, double_buffering=False)
    assert one_layer("fc:M=8,K=4,N=4", spec).compute_cycles == 8 + 6
    assert one_layer("fc:M=8,K=5,N=4", spec).compute_cycles == 2 * (8 + 6)
    # The same array without systolic wiring: 8 cycles (rows <- M, cols <- N, K=4 streams: 2 x 4).
    flat = npu(mac_rows=4, mac_cols=4, double_buffering=False)
    assert one_layer("fc:M=8,K=4,N=4", flat).compute_cycles == 8


def test_scalar_alu_takes_one_cycle_per_mac_plus_its_loads():
    # FC 2x3 by 3x4: 24 MACs = 24 cycles; bytes (6 + 12 + 8) x 4 = 104 B / 64 B per cycle = 1.625
    # cycles, not overlapped (no double buffering): 25.625 cycles.
    layer = one_layer("fc:M=2,K=3,N=4", load_spec("scalar-alu"))
    assert layer.compute_cycles == 24 and layer.dram_bytes == 104
    assert layer.total_cycles == pytest.approx(25.625)


def test_elementwise_layers_run_on_vector_lanes():
    # ReLU over 1x16x4x4 = 256 values: 256 ops / 16 lanes = 16 cycles; 2 x 1024 B / 64 = 32 cycles.
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    graph = helper.make_graph([node], "relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    cost = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    layer = simulate(cost, SEED).layers[0]
    assert layer.kind == "vector" and layer.compute_cycles == 16 and layer.memory_cycles == 32
    assert layer.total_cycles == 32 and layer.bound == "memory"


# ---------------------------------------------------------------- whole models


def test_alexnet_totals_are_the_sum_of_its_layers():
    cost = analyze_model("alexnet")
    result = simulate(cost, SEED)
    assert len(result.layers) == len(cost.layers)
    assert result.macs == cost.macs
    assert result.time_s == pytest.approx(sum(l.time_s for l in result.layers))
    for layer, record in zip(result.layers, cost.layers):
        if layer.kind == "gemm":
            assert layer.traffic.output == record.bytes_written  # every output written once
            assert layer.traffic.weight >= record.weight_bytes_read  # weights at least once
            assert 0 < layer.utilisation <= 1
    # batch-1 FC layers read 4 B of weight per MAC at 64 B/cycle: memory-bound.
    assert all(l.bound == "memory" for l in result.layers if l.op_type == "Gemm")


def test_int8_array_runs_the_model_in_int8():
    result = simulate(analyze_model("lenet5"), load_spec("tpu-v1"))
    assert result.dtype == "int8" and "int8" in result.notes[0]


def test_processor_spec_is_refused_with_a_clear_error():
    with pytest.raises(PerfmodelError, match="no \\[accelerator\\]"):
        simulate(analyze_model("lenet5"), load_spec("a100"))
