"""What-if studies (batch, dtype, sparsity, training) against figures derived by hand in the comments.

Machine used throughout: 1 GFLOP/s at fp32, 2 GFLOP/s at fp16, 1 GB/s, so a roofline time in ns is
max(FLOPs, bytes) at fp32 (ridge point 1 FLOP/B) and max(FLOPs / 2, bytes) at fp16.
"""

from __future__ import annotations


import pytest
from onnx import helper

from perfmodel.errors import PerfmodelError
from perfmodel.hardware import HardwareSpec
from perfmodel.walk import analyze_model
from perfmodel.whatif import batch, dtype, sparsity, training
from perfmodel.whatif.mac_layers import has_weight_matrix
from tests.onnx_graphs import model, tensor, value

HW = HardwareSpec(name="toy", description="toy machine", source="test", peak_flops={"fp32": 1e9, "fp16": 2e9},
                  mem_bandwidth=1e9)
NS = 1e-9


def fc_model():
    """x (N, 16) -> Gemm, B (8, 16) transB=1, C (8): per image MACs 8 x 16 = 128, FLOPs 256.
    Weight elements 128 + 8 = 136; traffic per batch N: 4 B x (136 + 16 N + 8 N) = 544 + 96 N bytes."""
    node = helper.make_node("Gemm", ["x", "B", "C"], ["y"], name="fc", transB=1)
    return model([node], [value("x", ["N", 16])], [value("y", None)], [tensor("B", 8, 16), tensor("C", 8)])


def conv_chain():
    """x (1,2,5,5) -> conv1 W1 (4,2,3,3) -> relu -> conv2 W2 (4,4,1,1) -> flatten -> fc W3 (3,36) transB=1.

    conv1: out 4x3x3 = 36, MACs 36 x 18 = 648, FLOPs 1296; relu: 36 FLOPs; conv2: MACs 36 x 4 = 144,
    FLOPs 288; flatten: view; fc: MACs 3 x 36 = 108, FLOPs 216. Forward FLOPs 1836.
    Params: conv1 72 + 4, conv2 16 + 4, fc 108 + 3 = 207."""
    nodes = [
        helper.make_node("Conv", ["x", "W1", "b1"], ["c1"], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "W2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "W3", "b3"], ["y"], name="fc", transB=1),
    ]
    inits = [tensor("W1", 4, 2, 3, 3), tensor("b1", 4), tensor("W2", 4, 4, 1, 1), tensor("b2", 4),
             tensor("W3", 3, 36), tensor("b3", 3)]
    return model(nodes, [value("x", [1, 2, 5, 5])], [value("y", None)], inits)


# -- sparsity --------------------------------------------------------------------------------------


def test_skip_zero_macs_equal_dense_at_density_one() -> None:
    cost = analyze_model("alexnet")
    point = sparsity.sparsity_point(cost, 1.0)
    assert point.sparse_macs == point.dense_macs == cost.macs  # exactly, not approximately
    for layer in cost.layers:
        if has_weight_matrix(layer):
            assert sparsity.sparse_layer(layer, 1.0).sparse_macs == layer.macs


def test_compressed_storage_is_larger_than_dense_at_density_one() -> None:
    # fc: 128 weights. Dense 128 x 4 = 512 B. CSR int32: 128 x (4 + 4) + (8 + 1) x 4 = 1060 B.
    # Bitmap: 128 x 4 + 128 / 8 = 528 B.
    fc = analyze_model(fc_model(), batch=1).layers[0]
    s = sparsity.sparse_layer(fc, 1.0)
    assert (s.dense_bytes, s.csr_bytes, s.bitmap_bytes) == (512, 1060, 528)


def test_storage_at_half_density_counts_index_overhead() -> None:
    # nnz = 64. CSR int32: 64 x 8 + 9 x 4 = 548; CSR int16: 64 x (4 + 2) + 9 x 4 = 420; bitmap: 256 + 16 = 272.
    fc = analyze_model(fc_model(), batch=1).layers[0]
    assert sparsity.sparse_layer(fc, 0.5).csr_bytes == 548
    assert sparsity.sparse_layer(fc, 0.5, "int16").csr_bytes == 420
    assert sparsity.sparse_layer(fc, 0.5).bitmap_bytes == 272
    assert sparsity.sparse_layer(fc, 0.5).sparse_macs == 64


def test_conv_weight_is_a_rows_by_kernel_matrix() -> None:
    # conv1 W1 (4,2,3,3): 4 rows x 18 columns; d = 0.5: nnz 36, CSR int16 = 36 x 6 + 5 x 4 = 236 B;
    # MACs 648 -> 324.
    conv1 = analyze_model(conv_chain()).layers[0]
    s = sparsity.sparse_layer(conv1, 0.5, "int16")
    assert (s.rows, s.cols, s.nnz, s.csr_bytes, s.sparse_macs) == (4, 18, 36, 236, 324)


def test_sparsity_shifts_the_roofline() -> None:
    # Dense: 256 FLOPs, 640 B -> 640 ns, intensity 0.4.
    # d = 0.5 CSR: 256 - 2 x 64 = 128 FLOPs; weights 548 B -> 137 elems; (8 + 137 + 16 + 8) x 4 = 676 B -> 676 ns.
    # d = 0.5 bitmap: weights 272 B = 68 elems; (8 + 68 + 16 + 8) x 4 = 400 B -> 400 ns, intensity 128 / 400.
    cost = analyze_model(fc_model(), batch=1)
    point = sparsity.sparsity_point(cost, 0.5, HW)
    assert point.time_s["dense"] == pytest.approx(640 * NS)
    assert point.time_s["csr"] == pytest.approx(676 * NS)
    assert point.time_s["bitmap"] == pytest.approx(400 * NS)
    assert point.intensity["dense"] == pytest.approx(0.4)
    assert point.intensity["bitmap"] == pytest.approx(128 / 400)
    assert point.bound["csr"] == "memory"
    assert (point.dense_weight_bytes, point.csr_weight_bytes, point.other_weight_bytes) == (512, 548, 32)


def test_bad_density_and_narrow_index_are_errors() -> None:
    cost = analyze_model(fc_model(), batch=1)
    for d in (0.0, 1.5, -0.1):
        with pytest.raises(PerfmodelError, match="density"):
            sparsity.sparsity_point(cost, d)
    wide = model([helper.make_node("Gemm", ["x", "B"], ["y"], name="wide", transB=1)], [value("x", [1, 40000])],
                 [value("y", None)], [tensor("B", 2, 40000)])
    with pytest.raises(PerfmodelError, match="int16"):
        sparsity.sparse_layers(analyze_model(wide), 0.5, "int16")


# -- training --------------------------------------------------------------------------------------


def test_fc_and_inner_conv_train_at_three_times_forward() -> None:
    # conv2 and fc are not the first trainable layer: dX + dW each repeat the forward MACs x 2 FLOPs.
    layers = {l.name: l for l in training.training_layers(analyze_model(conv_chain()))}
    assert layers["conv2"].step_flops == 3 * 2 * 144
    assert layers["fc"].step_flops == 3 * 2 * 108


def test_first_layer_skips_its_input_gradient() -> None:
    # DECISION under test: conv1 reads the data, which is not trained: no dX, only dW -> 2 x forward.
    layers = {l.name: l for l in training.training_layers(analyze_model(conv_chain()))}
    assert layers["conv1"].input_grad_flops == 0
    assert layers["conv1"].weight_grad_flops == 2 * 648
    assert layers["relu"].backward_flops == 36  # ~ forward (assumption)
    assert layers["flatten"].backward_flops == 0  # a view routes dY


def test_training_step_flops_and_memory_by_hand() -> None:
    # Backward: conv1 1296 (dW) + relu 36 + conv2 2 x 288 + fc 2 x 216 = 2340. SGD momentum: 4 x 207 = 828.
    # Memory fp32: weights, grads, momentum 207 x 4 = 828 B each; activations kept: input 50 + conv1 36
    # + relu 36 + conv2 36 + fc 3 (flatten is a view) = 161 elems x 4 = 644 B. Total 3 x 828 + 644 = 3128 B.
    t = training.training_cost(analyze_model(conv_chain()), "sgd-momentum")
    assert (t.forward_flops, t.backward_flops, t.optimizer_flops) == (1836, 2340, 828)
    assert t.step_flops == 1836 + 2340 + 828
    assert (t.weight_bytes, t.gradient_bytes, t.optimizer_state_bytes, t.master_weight_bytes) == (828, 828, 828, 0)
    assert t.activation_bytes == 644 and t.memory_bytes == 3128


def test_mixed_precision_adam_memory() -> None:
    # fp16 + Adam: weights 207 x 2 = 414, grads 414, Adam m and v in fp32 207 x 2 x 4 = 1656,
    # fp32 master 207 x 4 = 828, activations 161 x 2 = 322. Adam update 12 x 207 = 2484 FLOPs.
    t = training.training_cost(analyze_model(conv_chain(), dtype="fp16"), "adam")
    assert t.mixed_precision
    assert (t.weight_bytes, t.gradient_bytes, t.optimizer_state_bytes, t.master_weight_bytes,
            t.activation_bytes) == (414, 414, 1656, 828, 322)
    assert t.optimizer_flops == 2484


def test_alexnet_conv_and_fc_layers_train_at_three_times_forward() -> None:
    layers = analyze_model("alexnet").layers
    steps = training.training_layers(analyze_model("alexnet"))
    mac_layers = [(l, s) for l, s in zip(layers, steps) if has_weight_matrix(l)]
    first, rest = mac_layers[0], mac_layers[1:]
    assert first[1].step_flops == 2 * 2 * first[0].macs  # the first conv: no input gradient
    assert len(rest) == 7
    for layer, step in rest:
        assert step.step_flops == 3 * 2 * layer.macs, layer.name


def test_training_rejects_int8_and_unknown_optimizer() -> None:
    cost = analyze_model(conv_chain())
    with pytest.raises(PerfmodelError, match="int8"):
        training.training_cost(cost.with_dtype("int8"))
    with pytest.raises(PerfmodelError, match="optimizer"):
        training.training_cost(cost, "lion")


# -- dtype -----------------------------------------------------------------------------------------


def test_dtype_bytes_intensity_and_time() -> None:
    # fc at batch 1: 256 FLOPs, 160 elements moved, 136 weight elements.
    # fp32: 640 B, I = 0.4, 640 ns; fp16: 320 B, I = 0.8, max(128, 320) = 320 ns; int8: 160 B, I = 1.6, no peak.
    # fp16 training weights: 136 x 2 + 136 trainable x 4 (fp32 master) = 816 B.
    points = {p.dtype: p for p in dtype.dtype_sweep(analyze_model(fc_model(), batch=1), HW)}
    assert [points[d].traffic_bytes for d in ("fp32", "fp16", "bf16", "int8")] == [640, 320, 320, 160]
    assert points["fp32"].intensity == pytest.approx(0.4) and points["int8"].intensity == pytest.approx(1.6)
    assert points["fp32"].time_s == pytest.approx(640 * NS)
    assert points["fp16"].time_s == pytest.approx(320 * NS)
    assert points["fp16"].training_weight_bytes == 816
    assert points["fp32"].training_weight_bytes == 544


def test_dtype_without_a_peak_says_so() -> None:
    points = {p.dtype: p for p in dtype.dtype_sweep(analyze_model(fc_model(), batch=1), HW)}
    for d in ("bf16", "int8"):
        assert points[d].time_s is None and points[d].peak_flops is None
        assert points[d].time_note == f"toy gives no {d} peak: no time predicted"
    assert points["fp16"].time_note == "" and "fp32 master" in points["fp16"].note


# -- batch -----------------------------------------------------------------------------------------


def test_batch_sweep_by_hand() -> None:
    # time(N) = max(256 N, 544 + 96 N) ns; intensity 256 N / (544 + 96 N) crosses the ridge (1) at N = 3.4.
    messages = []
    points = batch.batch_sweep(fc_model(), HW, (1, 2, 4, 8), progress=messages.append)
    assert [p.batch for p in points] == [1, 2, 4, 8]
    assert [p.time_s / NS for p in points] == pytest.approx([640, 736, 1024, 2048])
    assert [p.time_per_image_s / NS for p in points] == pytest.approx([640, 368, 256, 256])
    assert [p.intensity for p in points] == pytest.approx([256 / 640, 512 / 736, 1024 / 928, 2048 / 1312])
    assert [p.bound for p in points] == ["memory", "memory", "compute", "compute"]
    assert len(messages) == 4 and "batch 8" in messages[-1]


def test_batch_sweep_sets_axis_0_of_given_input_shapes() -> None:
    costs = batch.analyze_batches("lenet5", (1, 4), input_shapes={"input": (1, 1, 28, 28)})
    assert [c.inputs["input"] for c in costs] == [(1, 1, 28, 28), (4, 1, 28, 28)]


def test_default_batches_are_powers_of_two_to_256() -> None:
    assert batch.BATCHES == (1, 2, 4, 8, 16, 32, 64, 128, 256)
