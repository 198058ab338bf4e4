"""pytest-benchmark suite: the numba kernels on the distinct conv and FC shapes of zoo models.

Shapes come from perfmodel itself (`models_onnx.build` + `perfmodel.walk.analyze_model`), so the
benchmark measures exactly the layers perfmodel predicts; options are in conftest.py.

    pytest                                                     # smoke: quick set, each run once
    pytest tests/benchmarks --benchmark-enable --benchmark-only \\
        --benchmark-json=kernels-bench.json                    # full set: alexnet, vgg16, resnet50, batch 1
    pytest tests/benchmarks --benchmark-enable --benchmark-only --bench-set quick   # CI-sized measurement
    pytest tests/benchmarks --benchmark-enable --benchmark-only --models resnet18,vgg11 --batch 1,8

JIT compilation and first-touch costs are excluded (`runner.warmup()` before timing). Each result's
`extra_info` holds the layer's MACs, FLOPs and ideal bytes (perfmodel's counts), the kernel used, the
models sharing the shape, and the achieved GFLOP/s and GB/s (from the median and from the best round).
"""

from __future__ import annotations

import pytest

from kernels.dispatch import make_runner


def test_layer(benchmark, bench_layer) -> None:
    layer = bench_layer.layer
    runner = make_runner(layer).warmup()
    bytes_moved = float(layer.bytes_read + layer.bytes_written)
    benchmark.extra_info.update({
        "model": bench_layer.model, "batch": bench_layer.batch, "layer": layer.name, "op_type": layer.op_type,
        "kernel": runner.kernel, "input_shapes": [list(s) for s in layer.input_shapes],
        "macs": layer.macs, "flops": layer.flops, "bytes_read": layer.bytes_read,
        "bytes_written": layer.bytes_written, "weight_bytes": layer.weight_bytes_read, "shared_with": bench_layer.also,
    })
    out = benchmark(runner)
    assert out.shape == tuple(layer.output_shapes[0])
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once as a smoke test
        return
    for label in ("median", "min"):
        seconds = getattr(stats.stats, label)
        if seconds > 0:
            benchmark.extra_info[f"gflops_{label}"] = layer.flops / seconds / 1e9
            benchmark.extra_info[f"gbps_{label}"] = bytes_moved / seconds / 1e9


@pytest.mark.parametrize("kind", ["resize_center_crop", "center_crop_resize"])
def test_preprocess(benchmark, kind: str) -> None:
    """The homework input pipeline on a 480x640 HWC uint8 image -> 3x224x224 float."""
    import numpy as np

    from kernels import preprocess

    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3)).astype(np.uint8)
    out = np.empty((3, 224, 224), np.float32)
    fn = getattr(preprocess, kind)
    fn(img, out=out)
    benchmark.extra_info.update({"input": [480, 640, 3], "output": [3, 224, 224]})
    benchmark(fn, img, out=out)
