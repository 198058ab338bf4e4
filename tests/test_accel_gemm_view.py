"""Layers as GEMMs, candidate tiles, ragged blocks and conv input windows, checked by hand."""

from __future__ import annotations

from onnx import TensorProto, helper

from perfmodel.accel.gemm_view import Split, axis_windows, gemm_view, tile_sizes
from perfmodel.accel.layer_spec import layer_cost
from perfmodel.walk import analyze_model


def view_of(text: str):
    return gemm_view(layer_cost(text).layers[0])


def test_conv_is_an_implicit_gemm():
    # AlexNet conv1: 224x224x3, 64 filters 11x11 stride 4 pad 2 -> 55x55 outputs.
    v = view_of("conv:N=1,C=3,H=224,W=224,K=64,R=11,S=4,P=2,G=1")
    assert (v.m, v.k, v.n, v.groups) == (55 * 55, 3 * 11 * 11, 64, 1)
    assert v.k_unit == 121 and v.k_units == 3
    assert v.macs == layer_cost("conv:N=1,C=3,H=224,K=64,R=11,S=4,P=2").layers[0].macs


def test_grouped_conv_and_batch():
    v = view_of("conv:N=2,C=32,H=8,K=64,R=3,P=1,G=4")
    # per group: M = 2 x 8 x 8, K = 32/4 x 9, N = 64/4
    assert (v.m, v.k, v.n, v.groups) == (128, 72, 16, 4)
    assert v.a_elems == 2 * 8 * 8 * 8  # input pixels x channels of one group


def test_fc_and_bias():
    v = view_of("fc:M=32,K=256,N=128,bias=1")
    assert (v.m, v.k, v.n, v.groups, v.bias_rows) == (32, 256, 128, 1, 1)
    assert view_of("fc:M=32,K=256,N=128").bias_rows == 0


def test_gemm_trans_b_and_batched_matmul():
    def model(node, inputs, inits):
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                                                for n, s in inputs],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  [TensorProto(name=n, data_type=TensorProto.FLOAT, dims=s) for n, s in inits])
        return analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).layers[0]

    gemm = model(helper.make_node("Gemm", ["a", "w"], ["y"], transB=1), [("a", [4, 10])], [("w", [6, 10])])
    assert (gemm_view(gemm).m, gemm_view(gemm).k, gemm_view(gemm).n) == (4, 10, 6)
    shared = model(helper.make_node("MatMul", ["a", "w"], ["y"]), [("a", [2, 5, 10])], [("w", [10, 6])])
    assert (gemm_view(shared).m, gemm_view(shared).n, gemm_view(shared).groups) == (10, 6, 1)
    batched = model(helper.make_node("MatMul", ["a", "b"], ["y"]), [("a", [3, 5, 10]), ("b", [3, 10, 6])], [])
    v = gemm_view(batched)
    assert (v.m, v.k, v.n, v.groups) == (5, 10, 6, 3)


def test_non_gemm_layers_have_no_view():
    relu = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([relu], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    layer = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).layers[0]
    assert gemm_view(layer) is None


def test_tile_sizes_are_powers_of_two_even_splits_and_the_whole():
    # powers of two below 12: 1 2 4 8; ceil(12/j), j=1..8: 12 6 4 3 3 2 2 2
    assert tile_sizes(12) == (1, 2, 3, 4, 6, 8, 12)


def test_ragged_blocks_count_partial_array_passes():
    # K = 40 channels x 9 taps in tiles of 16 channels: 16, 16, 8 channels = 144, 144, 72 elements;
    # on 64 lanes: ceil(144/64) + ceil(144/64) + ceil(72/64) = 3 + 3 + 2 = 8 passes.
    split = Split(extent=40, tile=16, inner=9)
    assert split.count == 3 and split.size == 144
    assert split.blocks(64) == 8
    assert split.blocks(1) == 360  # one lane: every element


def test_conv_windows_with_halo_stride_and_padding():
    # 8 rows, 3x3 pad 1 stride 1, tiles of 4 output rows: rows [-1,5) -> 5, [3,9) -> 5 (clipped)
    assert axis_windows(8, 8, 3, 1, 1, 4) == (10, 5)
    # stride 2 (4 outputs), tiles of 2: [-1,4) -> 4 rows, [3,8) -> 5 rows
    assert axis_windows(4, 8, 3, 2, 1, 2) == (9, 5)
    # a 1x1 stride-2 conv reads only every other row: 28 of 56, whatever the tiling
    assert axis_windows(28, 56, 1, 2, 0, 28) == (28, 28)
    assert axis_windows(28, 56, 1, 2, 0, 1) == (28, 1)


def test_conv_m_tiles_read_their_windows():
    v = view_of("conv:C=1,H=8,K=1,R=3,P=1")
    tiles = {t.label: t for t in v.m_tiles}
    assert tiles["1 image"].rows_pass == 64 and tiles["1 image"].rows_tile == 64
    # 4 output rows read 5 input rows x 8 columns; both tiles together 10 rows
    assert (tiles["4 rows"].rows_tile, tiles["4 rows"].rows_pass, tiles["4 rows"].split.count) == (40, 80, 2)
    # 2 output pixels of a row read 3 rows x 4 columns (or 3 at the edges)
    assert tiles["2 px"].rows_tile == 12 and tiles["2 px"].split.size == 2
