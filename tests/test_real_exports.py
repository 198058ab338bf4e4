"""Real torch exports (tests/data, made by tests/data/export_small_torch.py with torch 2.13).

Expected figures are torch's own: sum(p.numel() for p in parameters()) = 21,914, BatchNorm buffers
(running mean + var) = 288, and FlopCounterMode's conv+matmul FLOPs / 2 = 9,011,840 MACs at batch 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.walk import analyze_model

DATA = Path(__file__).parent / "data"
EXPORTS = ["small_legacy_op13.onnx", "small_legacy_op17.onnx", "small_dynamo.onnx"]


@pytest.mark.parametrize("name", EXPORTS)
def test_real_export_matches_torch(name: str) -> None:
    cost = analyze_model(DATA / name, batch=2)
    assert cost.params == 21_914
    assert cost.non_trainable_params == 288
    assert cost.macs == 9_011_840
    assert cost.unsupported_ops == ()
    assert all(layer.supported for layer in cost.layers)
    convs = cost.layers_of("Conv")
    assert [c.output_shapes[0] for c in convs[:2]] == [(2, 16, 32, 32), (2, 16, 16, 16)]


@pytest.mark.parametrize("name", EXPORTS)
def test_real_export_batch_is_dynamic(name: str) -> None:
    with pytest.raises(PerfmodelError, match="dynamic dimension"):
        analyze_model(DATA / name)
    assert analyze_model(DATA / name, batch=6).macs == 3 * 9_011_840


def test_export_layers_agree_across_exporters() -> None:
    """Same network, three exporters: the conv/FC layers cost the same."""
    costs = [analyze_model(DATA / name, batch=1) for name in EXPORTS]
    key = [[(l.macs, l.params) for l in c.layers_of("Conv", "Gemm", "MatMul")] for c in costs]
    assert key[0] == key[1] == key[2]


@pytest.mark.parametrize("batch", [1, 3])
def test_channel_shuffle_and_shifted_windows_at_any_batch(batch: int) -> None:
    """tests/data/export_shape_chains.py: a torch legacy export (dynamic batch) whose forward reads
    tensor sizes for a channel shuffle and a shifted-window partition in each of 6 blocks. torch:
    9,258 params, 2,273,440 MACs at batch 1 (FlopCounterMode)."""
    cost = analyze_model(DATA / "small_shuffle_swin_legacy.onnx", batch=batch)
    assert cost.complete and (cost.params, cost.macs) == (9_258, batch * 2_273_440)


def test_a_real_keep_initializers_as_inputs_export() -> None:
    """torch.onnx.export(..., keep_initializers_as_inputs=True) of the tiny ResNet: every initializer is
    also a graph input, all read at weight slots, so params = every float initializer's elements
    (counted here from the file alone) = torch's 21,914 less the 144 channels of the BatchNorms the
    exporter folded into the convs."""
    import math

    import onnx

    model = onnx.load(str(DATA / "small_keep_inits.onnx"))
    inits = {t.name: t for t in model.graph.initializer}
    assert inits and all(name in {i.name for i in model.graph.input} for name in inits)
    independent = sum(math.prod(t.dims) for t in inits.values() if t.data_type == onnx.TensorProto.FLOAT)
    cost = analyze_model(DATA / "small_keep_inits.onnx", batch=2)
    assert cost.params == independent == 21_914 - 144 and cost.macs == 9_011_840
    assert list(cost.inputs) == ["input"]


def test_a_real_scripted_export_with_a_loop_and_a_branch() -> None:
    """tests/data/export_shape_chains.py: torch.jit.script of a module that loops x.size(1) // 4 times
    over conv + ReLU and branches on x.mean() > 0, exported by the legacy exporter as an ONNX Loop (its
    condition an Identity of an outer constant true) and an If. torch: 620 params, 294,944 MACs
    (FlopCounterMode, the branch taken; both heads cost 32 MACs)."""
    cost = analyze_model(DATA / "small_control_flow.onnx")
    assert [layer.op_type for layer in cost.layers if layer.op_type in ("Loop", "If")] == ["Loop", "If"]
    assert cost.complete and (cost.params, cost.macs) == (620, 294_944)
